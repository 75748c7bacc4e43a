"""Benchmark: the district x day emergency table (``Registry.status_frame``).

The analysis and the demo ask, for every district and day, which spell (if any) was in
force. ``status_frame`` works per decree period; the in-run reference asks
``spell_on`` for each district-day, which is what a per-day loop would cost. Target:
the table for the 58 Lima, Callao and Sullana districts over 2022-2025 in milliseconds
(< 10 ms), and identical to the reference.

Run: ``python -m benchmarks.bench_declarations [--quick]``
"""

from __future__ import annotations

import sys
from datetime import date, timedelta

from benchmarks._common import Figure, median_time, print_figures
from geo.declarations import Registry

START, END = date(2022, 1, 1), date(2025, 12, 31)
DISTRICTS = [f"1501{i:02d}" for i in range(1, 44)] + [f"0701{i:02d}" for i in range(1, 8)] + [f"2006{i:02d}" for i in range(1, 9)]


def _reference(registry: Registry) -> dict:
    days = [START + timedelta(days=k) for k in range((END - START).days + 1)]
    return {(u, d): s.spell_id for u in DISTRICTS for d in days if (s := registry.spell_on(u, d)) is not None}


def run(quick: bool = False) -> list[Figure]:
    figures = []
    for include_unconfirmed in (False, True):
        registry = Registry.load(include_unconfirmed=include_unconfirmed)
        t, frame = median_time(lambda: registry.status_frame(DISTRICTS, START, END), runs=5 if quick else 21, warmup=1)
        t_ref, ref = median_time(lambda: _reference(registry), runs=1 if quick else 3)
        got = {(u, d.date()): s for u, d, s in frame.itertuples(index=False)}
        label = "with unconfirmed rows" if include_unconfirmed else "confirmed rows"
        figures.append(Figure(
            name=f"status_frame, {len(DISTRICTS)} districts x {(END - START).days + 1} days, {label}",
            value=t * 1e3, unit="ms", reference_name="spell_on per district-day", reference_value=t_ref * 1e3,
            ratio=t_ref / t, target="< 10 ms and identical to the reference", met=t < 0.010 and got == ref,
            runs=5 if quick else 21, extra={"rows": len(frame), "identical": got == ref}))
    return figures


if __name__ == "__main__":
    print_figures("declarations: district x day emergency table", run(quick="--quick" in sys.argv))
