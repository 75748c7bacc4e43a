"""The "Todas las declaratorias / All declarations" section: every spell the data cover, per area."""
