"""Time to open the "¿Funcionó?" panel on the 1,000,000-incident demo store (DS 105-2023-PCM).

The panel runs :func:`geo.analysis.analyze` when it is opened and keeps the result in a
per-process LRU. Figures (medians):

- **first open in a fresh worker**: a new Python process builds the app, then the
  panel is opened once (imports of statsmodels/scipy, adjacency, analysis, layout).
  Reference: ``analyze(store, spell)`` alone in a fresh process.
- **open, not cached** (a spell or source not yet analysed in a warm process), for the
  points (weekly) and SIDPOL (monthly) sources. Reference: ``analyze`` alone, warm; it
  reads the study boundaries for the neighbours on every call, which the panel does
  once per app, so the panel can be the faster of the two.
- **open, cached** (another reader, or a language switch), over HTTP through the real
  callback (Flask test client, JSON included), and its response size. Reference: the
  uncached open.

The brief's threshold for precomputing at store build is ~2 s; the analysis stays lazy.
Run: ``python -m benchmarks.bench_impact [--quick]`` (quick: one run each).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks._common import Figure, median_time, print_figures

SPELL = "DS-105-2023-PCM"
N = 1_000_000

_FRESH_PANEL = """
import sys, time
from dashboard import create_app
from dashboard.pages.impact.callbacks import impact_body
from dashboard.state import UIState
app = create_app(sys.argv[1]); ctx = app.hexwatch
state = UIState.from_query("declaration={spell}&area=lima_callao", ctx.catalog())
t = time.perf_counter(); impact_body(ctx, state, "points"); print(time.perf_counter() - t)
"""
_FRESH_ANALYZE = """
import sys, time
t = time.perf_counter()
from geo.analysis import analyze
analyze(sys.argv[1], "{spell}"); print(time.perf_counter() - t)
"""


def _fresh(script: str, store) -> float:
    out = subprocess.run([sys.executable, "-c", script.format(spell=SPELL), str(store)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Figure]:
    from benchmarks.bench_dashboard import demo_store
    from dashboard import create_app
    from dashboard.access import AccessConfig
    from dashboard.pages.impact.callbacks import cached_analysis, impact_body
    from dashboard.state import UIState
    from dashboard.testing import update_request
    from geo.analysis import analyze

    from geo import boundaries

    runs = 1 if quick else 3
    boundaries.fetch()  # the dashboard draws (and the analysis neighbours) the study districts
    store = demo_store(N)
    size = {"store": f"{N:,} incidents", "spell": SPELL}
    figures = []

    fresh_panel = statistics.median(_fresh(_FRESH_PANEL, store) for _ in range(runs))
    fresh_analyze = statistics.median(_fresh(_FRESH_ANALYZE, store) for _ in range(runs))
    figures.append(Figure("first panel open in a fresh worker (points)", fresh_panel, "s", "analyze() in a fresh process",
                          fresh_analyze, fresh_analyze / fresh_panel, runs=runs, extra=size))

    # An official's requests, without a login round trip (the panel is officials-only).
    app = create_app(store, access=AccessConfig(anonymous_role="official"))
    ctx = app.hexwatch
    state = UIState.from_query(f"declaration={SPELL}&area=lima_callao", ctx.catalog())
    impact_body(ctx, state, "points")  # imports and adjacency, as a worker that has served a panel
    uncached = {}
    for source in ("points", "sidpol"):
        def cold(source=source):
            cached_analysis.cache_clear()
            return impact_body(ctx, state, source)

        t_cold, _ = median_time(cold, runs=runs)
        t_lib, _ = median_time(lambda: analyze(store, SPELL, source=source), runs=runs)
        uncached[source] = t_cold
        figures.append(Figure(f"panel open, not cached ({source})", t_cold, "s", "analyze() alone", t_lib, t_lib / t_cold,
                              target="<= 2 s (else precompute)", met=t_cold <= 2.0, runs=runs, extra=size))

    client = app.server.test_client()
    body = update_request(app, "impact-body.children", {"state.data": state.to_store(), "impact-summary.n_clicks": 1,
                                                        "impact-source.value": "points"}, "impact-summary.n_clicks")
    impact_body(ctx, state, "points")  # cache the points analysis again

    def http():
        r = client.post("/_dash-update-component", json=body)
        assert r.status_code == 200
        return len(r.data)

    t_http, nbytes = median_time(http, runs=max(runs, 5), warmup=1)
    figures.append(Figure("panel open, cached, over HTTP", t_http, "s", "panel open, not cached (points)", uncached["points"],
                          uncached["points"] / t_http, runs=max(runs, 5), extra={**size, "response_bytes": nbytes}))
    figures.append(Figure("panel response size", nbytes / 1024, "KB", ratio_kind="", extra=size))
    return figures


if __name__ == "__main__":
    t0 = time.perf_counter()
    print_figures("impact panel", run(quick="--quick" in sys.argv))
    print(f"({time.perf_counter() - t0:.0f} s)")
