"""The simulation study of issue 17: coverage and false-positive rates, per estimator and area.

``python -m benchmarks.sim_study [--n 200] [--scenarios a,b] [--baseline main] [--no-sc]``

Synthetic panels from :func:`geo.analysis.simulate.simulate_panel` (SYNTHETIC data:
the truth is known) over the real districts of Lima+Callao and of Piura department,
with the real registry (DS 105-2023-PCM on San Juan de Lurigancho and San Martín de
Porres in Lima, seven small Sullana districts in Piura; later declarations overlap as
in reality). Each dataset is analysed per area as the product does (the area's
districts only; the weekly scenarios, those of the issue's table, Lima+Callao only) and
every reported estimator is scored:

- ``cover``: share of 95 % intervals covering the true effect (target 93-97 %);
- ``reject``: share rejecting "no change" at 5 % (the false-positive rate in a
  no-effect scenario, target 3-7 %; the power otherwise).

``--baseline REF`` also scores the estimators of git revision ``REF`` (default
``main``: today's code) on the same datasets, in a subprocess on an exported copy of
that revision, and prints its figures beside. Not a CI test (minutes on two cores);
``tests/test_analysis_inference.py`` keeps a small fast version. Datasets are spread
over both cores (multiprocessing, fork).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIM_FILE = ROOT / "geo" / "analysis" / "simulate.py"
DS105 = "DS-105-2023-PCM"
LIMA_SIZES = {"150132": 3000.0, "150135": 2000.0}  # SJL, SMP: about their real monthly reports

#: name -> (frequency, SimConfig overrides, what it tests)
SCENARIOS = {
    "null": ("week", {}, "no effect"),
    "effect": ("week", {"effect": -0.18}, "-18 % effect while declared"),
    "shock": ("week", {"shock": -0.15}, "no effect, city-wide -15 % shock from the declaration on"),
    "trend": ("week", {"treated_trend": -0.30}, "no effect, declared districts on a steeper downtrend (-30 %/year)"),
    "ar1": ("week", {"rho": 0.7, "sigma": 0.12}, "no effect, serially correlated district noise (AR(1), rho 0.7)"),
    "real_null": ("month", {"rho": 0.5, "sigma": 0.08, "size_sd": 1.3}, "real-looking monthly panel, no effect"),
    "real_effect": ("month", {"rho": 0.5, "sigma": 0.08, "size_sd": 1.3, "effect": -0.18},
                    "real-looking monthly panel, -18 % effect"),
}
WINDOWS = {"week": ("2023-01-02", "2024-03-31"), "month": ("2021-01-01", "2024-12-31")}
ESTIMATORS = ("did", "event_study", "synthetic_control", "naive", "ring_did", "wdd")
_SHARED: dict = {}


def _load_sim():
    spec = importlib.util.spec_from_file_location("hexwatch_simulate", SIM_FILE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["hexwatch_simulate"] = mod
    spec.loader.exec_module(mod)
    return mod


def _setup() -> None:
    from geo import boundaries
    from geo.analysis.panel import metro_area
    from geo.declarations import Registry

    d = boundaries.load_study_districts()
    d = d[d["ubigeo"].str[:4].isin(["1501", "0701"]) | (d["ubigeo"].str[:2] == "20")].reset_index(drop=True)
    ubigeos = sorted(d["ubigeo"])
    _SHARED.update(ubigeos=ubigeos, adjacency=boundaries.adjacency(d), registry=Registry.load(districts=ubigeos),
                   areas={u: metro_area(u) for u in ubigeos}, sim=_load_sim())


def _score(est, truth: float) -> tuple:
    if est is None or not est.available or est.ci is None or None in est.ci:
        return (np.nan, np.nan, np.nan, np.nan)
    return (float(est.effect), float(est.ci[0]), float(est.ci[1]), float(est.p_value) if est.p_value is not None else np.nan)


def _one(job: tuple[str, int, bool]) -> dict:
    import inspect

    from geo.analysis import build_panel, did, displacement, event_study, naive, synthetic_control

    name, seed, with_sc = job
    freq, over, _ = SCENARIOS[name]
    sim = _SHARED["sim"]
    cfg = sim.SimConfig(frequency=freq, seed=seed, sizes=LIMA_SIZES, **over)
    start, end = WINDOWS[freq]
    counts, truth = sim.simulate_panel(_SHARED["ubigeos"], _SHARED["registry"], DS105, cfg, start=start, end=end,
                                       adjacency=_SHARED["adjacency"])
    out = {}
    did_kw = {"checks": False} if "checks" in inspect.signature(did).parameters else {}
    areas = (("lima_callao", "lima_callao"),) if freq == "week" else (("lima_callao", "lima_callao"), ("sullana", "department_20"))
    for area, area_id in areas:
        c = counts[counts["ubigeo"].map(_SHARED["areas"]) == area_id]
        try:
            panel = build_panel(c, _SHARED["registry"], DS105, _SHARED["adjacency"], frequency=freq)
        except Exception as e:  # noqa: BLE001 - recorded, the study goes on
            out[area] = {"error": str(e)}
            continue
        eff = cfg.effect
        res = {"did": _score(did(panel, **did_kw), eff), "event_study": _score(event_study(panel), eff),
               "naive": _score(naive(panel), eff)}
        disp = displacement(panel)
        res["ring_did"] = _score(disp, cfg.displacement)
        w = disp.details.get("wdd") if disp.available else None
        res["wdd"] = (w["total"], w["low"], w["high"], w["p_value"]) if w else (np.nan,) * 4
        if with_sc:
            res["synthetic_control"] = _score(synthetic_control(panel), eff)
        out[area] = res
    return {"scenario": name, "seed": seed, "areas": out}


def run_study(n: int, scenarios: list[str], with_sc: bool, workers: int = 2, deadline: float | None = None) -> list[dict]:
    """Every dataset of every scenario, interleaved (dataset k of each scenario before
    dataset k+1 of any), so that a ``deadline`` (seconds) cut leaves every scenario
    with about as many datasets."""
    _setup()
    jobs = [(s, 10_000 * (i + 1) + k, with_sc) for k in range(n) for i, s in enumerate(scenarios)]
    t0 = time.perf_counter()
    rows: list[dict] = []
    with mp.get_context("fork").Pool(workers) as pool:
        for r in pool.imap_unordered(_one, jobs, chunksize=1):
            rows.append(r)
            if len(rows) % 20 == 0:
                print(f"  {len(rows)}/{len(jobs)} datasets, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            if deadline is not None and time.perf_counter() - t0 > deadline:
                print(f"  deadline: stopped after {len(rows)} of {len(jobs)} datasets", file=sys.stderr, flush=True)
                pool.terminate()
                break
    return rows


def table(rows: list[dict]) -> dict:
    """``{(scenario, area, estimator): {"n", "cover", "reject"}}`` as nested dicts."""
    out: dict = {}
    for r in rows:
        name = r["scenario"]
        freq, over, _ = SCENARIOS[name]
        truth = {"did": over.get("effect", 0.0), "event_study": over.get("effect", 0.0),
                 "synthetic_control": over.get("effect", 0.0), "naive": over.get("effect", 0.0),
                 "ring_did": 0.0, "wdd": np.nan}
        for area, res in r["areas"].items():
            if "error" in res:
                continue
            for est, v in res.items():
                e, lo, hi, p = v
                cell = out.setdefault(name, {}).setdefault(area, {}).setdefault(est, {"n": 0, "cover": 0, "reject": 0})
                if not np.isfinite(e) or not np.isfinite(p):
                    continue
                cell["n"] += 1
                t = truth[est]
                cell["cover"] += int(np.isfinite(t) and lo <= t <= hi) if np.isfinite(t) else 0
                cell["reject"] += int(p < 0.05)
    return out


def _fmt(cell: dict | None, key: str) -> str:
    if not cell or cell["n"] == 0:
        return "—"
    return f"{100 * cell[key] / cell['n']:.0f} %"


def print_table(ours: dict, base: dict | None, n: int) -> str:
    lines = [f"Simulation study (SYNTHETIC panels), up to {n} datasets per scenario (column n: those scored); "
             "each cell: this branch"
             + (" | today's main" if base else ""), ""]
    for name in ours:
        freq, over, what = SCENARIOS[name]
        null = over.get("effect", 0.0) == 0.0
        lines.append(f"### {name}: {what} ({freq}ly)")
        lines.append("| area | estimator | n | 95 % CI coverage | " + ("false-positive rate" if null else "power") + " |")
        lines.append("|---|---|---|---|---|")
        for area in ("lima_callao", "sullana"):
            for est in ESTIMATORS:
                cell = ours.get(name, {}).get(area, {}).get(est)
                if cell is None:
                    continue
                b = (base or {}).get(name, {}).get(area, {}).get(est)
                cov = "—" if est == "wdd" else _fmt(cell, "cover") + (f" \\| {_fmt(b, 'cover')}" if base else "")
                rej = _fmt(cell, "reject") + (f" \\| {_fmt(b, 'reject')}" if base else "")
                lines.append(f"| {area} | {est} | {cell['n']} | {cov} | {rej} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="datasets per scenario (default 200)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--no-sc", action="store_true", help="leave out the synthetic control (the slowest)")
    ap.add_argument("--baseline", default=None, help="git revision to score beside (e.g. main)")
    ap.add_argument("--json", default=None, help="write the raw table here")
    ap.add_argument("--deadline", type=float, default=None, help="stop after this many seconds; score what finished")
    ap.add_argument("--code", default=None, help=argparse.SUPPRESS)  # run another checkout's geo
    args = ap.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    t0 = time.perf_counter()
    rows = run_study(args.n, scenarios, not args.no_sc, deadline=args.deadline)
    ours = table(rows)
    if args.code:  # a baseline subprocess: just the table
        Path(args.json).write_bytes(json.dumps(ours).encode())
        return 0
    base = None
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(f"git -C {ROOT} archive {args.baseline} geo | tar -x -C {tmp}", shell=True, check=True)
            out = Path(tmp) / "base.json"
            env = {**os.environ, "PYTHONPATH": tmp}
            cmd = [sys.executable, str(Path(__file__)), "--code", tmp, "--json", str(out), "--n", str(args.n),
                   "--scenarios", ",".join(scenarios)] + (["--no-sc"] if args.no_sc else [])
            subprocess.run(cmd, check=True, env=env, cwd=tmp)
            base = json.loads(out.read_text())
    print_table(ours, base, args.n)
    print(f"\n{len(rows)} datasets in {time.perf_counter() - t0:.0f} s on 2 processes (shared machine)")
    if args.json:
        Path(args.json).write_bytes(json.dumps({"ours": ours, "base": base}).encode())
    return 0


if __name__ == "__main__":
    if "--code" in sys.argv:
        sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])
    raise SystemExit(main())
