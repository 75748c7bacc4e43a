"""The "¿Funcionó? / Did it work?" panel: :mod:`geo.analysis` for one declaration spell."""
