"""Shared helpers for benchmarks: medians of repeated runs, figures with an in-run reference.

A benchmark module ``benchmarks/bench_<topic>.py`` exposes ``run(quick: bool = False) ->
list[Figure]`` and is runnable alone (``python -m benchmarks.bench_<topic>``). Each
figure is printed beside its reference as a ratio, because the machines are shared and
noisy: the ratio is what is compared with the target, never a raw time.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable


@dataclass
class Figure:
    """One measured figure. ``ratio`` = reference / value for times (higher is better:
    "x times faster than the reference") unless ``ratio_kind`` says otherwise."""

    name: str
    value: float
    unit: str
    reference_name: str | None = None
    reference_value: float | None = None
    ratio: float | None = None
    ratio_kind: str = "speedup"  # "speedup" (ref/value), "fraction" (value/ref), or "" for absolute figures
    target: str | None = None
    met: bool | None = None
    runs: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        s = f"{self.name}: {self.value:.4g} {self.unit} (median of {self.runs})"
        if self.reference_name is not None and self.reference_value is not None:
            s += f" | reference {self.reference_name}: {self.reference_value:.4g} {self.unit}"
        if self.ratio is not None:
            s += f" | ratio {self.ratio:.2f}x ({self.ratio_kind})"
        if self.target:
            s += f" | target {self.target}: {'MET' if self.met else 'NOT MET'}"
        return s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def median_time(fn: Callable[[], Any], runs: int = 3, warmup: int = 0) -> tuple[float, Any]:
    """Median wall time in seconds of ``runs`` calls of ``fn``, and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def machine() -> dict[str, Any]:
    import os

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"== {title}")
    for f in figures:
        print("  " + f.line())
