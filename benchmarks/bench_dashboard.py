"""Dashboard speed (issue 3, "Must show"): filter/date changes over HTTP, map payload, first load.

- **Filter/date change latency**: 100 POSTs to ``/_dash-update-component`` with the real
  payload of the map callback (and, reported apart, the trends chart and table), each
  with a different filter state (categories, period, day, metric, area), against the
  app served by gunicorn with 2 workers on a loopback port. Target: p95 ≤ 150 ms on the
  10,000,000-incident demo store. References: a ``/healthz`` round trip (the floor of
  HTTP + gunicorn) and the same map query done by a plain pandas scan of the raw
  incidents (what the cubes avoid).
- **Map payload**: bytes of the map callback's response for 5,000 hexes. Target ≤ 400 KB.
  Reference: the same hexes as GeoJSON.
- **First load**: headless Chromium, from navigation until the hexes are drawn, on the
  1,000,000-incident store (server warm). Target ≤ 3 s.

The demo stores are built once with :func:`geo.demo.build_demo_store` and cached in
``benchmarks/out/`` (git-ignored). ``--quick`` uses the 1,000,000-incident store for
everything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks._common import Figure, median_time, print_figures

OUT = Path(__file__).resolve().parent / "out"
LIMA_BOUNDS = [[-12.25, -77.15], [-11.85, -76.85]]


def demo_store(n: int) -> Path:
    """The cached demo store of ``n`` incidents (built on first use)."""
    from geo.demo import DemoConfig, build_demo_store
    from geo.store import Store, StoreError

    path = OUT / f"dashboard-store-{n}"
    try:
        Store.open(path)
    except StoreError:
        print(f"building the {n:,}-incident demo store in {path} (once)...", flush=True)
        build_demo_store(path, DemoConfig(n_incidents=n, seed=42), workdir=OUT / f"dashboard-input-{n}")
    return path


class Gunicorn:
    """``hexwatch serve`` (gunicorn, 2 workers) on a free loopback port."""

    def __init__(self, store: Path, workers: int = 2):
        self.proc = subprocess.Popen([sys.executable, "-m", "geo.cli", "serve", "--store", str(store), "--port", "0",
                                      "--workers", str(workers)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True)
        self.lines: list[str] = []
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                if "Listening at:" in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(120):
            self.stop()
            raise RuntimeError("gunicorn did not start:\n" + "".join(self.lines))
        self.url = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", "".join(self.lines)).group(1)

    def post(self, body: dict) -> tuple[float, bytes, str]:
        req = urllib.request.Request(self.url + "/_dash-update-component", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        t = time.perf_counter()
        with urllib.request.urlopen(req, timeout=300) as r:
            data = r.read()
            worker = r.headers["X-Hexwatch-Worker"]
        return time.perf_counter() - t, data, worker

    def get(self, path: str) -> float:
        t = time.perf_counter()
        with urllib.request.urlopen(self.url + path, timeout=60) as r:
            r.read()
        return time.perf_counter() - t

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def states(catalog, n: int, seed: int = 7) -> list[str]:
    """``n`` different URL states, as a user clicking through filters and dates makes them."""
    rng = random.Random(seed)
    cats = list(catalog.categories)
    out = []
    for _ in range(n):
        length = rng.choice([7, 28, 60, 91, 182, 365])
        start = catalog.start + dt.timedelta(days=rng.randrange(0, (catalog.end - catalog.start).days - length))
        end = start + dt.timedelta(days=length - 1)
        day = start + dt.timedelta(days=rng.randrange(length))
        q = f"from={start}&to={end}&day={day}&area=lima_callao&metric={rng.choice(['count', 'rate', 'change'])}"
        for c in rng.sample(cats, rng.choice([0, 1, 2, 3])):
            q += f"&category={c}"
        out.append(q)
    return out


def p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95))


def latency_figures(store: Path, n_requests: int, label: str) -> list[Figure]:
    """p95 of the map, chart and table callbacks over HTTP, with the references."""
    from dashboard import create_app
    from dashboard.state import UIState
    from dashboard.testing import update_request

    app = create_app(store)  # only to build request bodies from the real callback map
    catalog = app.hexwatch.catalog()
    bodies = {out: [] for out in ("hex-payload.data", "series.figure", "district-table.rowData")}
    for q in states(catalog, n_requests):
        st = UIState.from_query(q, catalog).to_store()
        bodies["hex-payload.data"].append(update_request(app, "hex-payload.data", {
            "state.data": st, "map.zoom": 12, "map.bounds": LIMA_BOUNDS}, "state.data"))
        for out in ("series.figure", "district-table.rowData"):
            bodies[out].append(update_request(app, out, {"state.data": st}, "state.data"))
    server = Gunicorn(store)
    try:
        t0 = time.perf_counter()
        # Warm both workers (each loads the version's cubes once), as a running server is.
        seen: set[str] = set()
        for i in range(40):
            for out in bodies:
                _, _, w = server.post(bodies[out][i % len(bodies[out])])
                seen.add(w)
            if len(seen) >= 2 and i >= 3:
                break
        warm = time.perf_counter() - t0
        figs = []
        health = [server.get("/healthz") for _ in range(n_requests)]
        for out, name in (("hex-payload.data", "map"), ("series.figure", "trends chart"),
                          ("district-table.rowData", "district table")):
            times = [server.post(b)[0] for b in bodies[out]]
            figs.append(Figure(f"{name} callback p95 over HTTP, {label}", p95(times) * 1000, "ms",
                               reference_name="/healthz round trip p95", reference_value=p95(health) * 1000,
                               ratio=p95(times) / p95(health), ratio_kind="fraction", target="p95 <= 150 ms",
                               met=p95(times) * 1000 <= 150, runs=len(times),
                               extra={"p50_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000}))
        figs.append(Figure(f"warm-up of 2 workers (first answers), {label}", warm, "s", runs=1))
    finally:
        server.stop()
    figs.insert(1, raw_scan_reference(store, catalog, figs[0], label))
    return figs


def raw_scan_reference(store, catalog, map_fig: Figure, label: str) -> Figure:
    """The map query as a naive server would answer it: a pandas scan of raw incidents."""
    import pandas as pd

    from geo.h3index import cells_to_parent
    from geo.store import Store

    st = Store.open(store)
    inc = st.read("incidents", columns=["day", "category", "cell", "ubigeo"])
    day = pd.to_datetime(inc["day"])
    start, end = catalog.end - dt.timedelta(days=90), catalog.end
    cat = catalog.categories[0]

    def scan():
        m = (day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end)) & (inc["category"] == cat)
        m &= inc["ubigeo"].str[:4].isin(["1501", "0701"])
        return pd.Series(cells_to_parent(inc.loc[m, "cell"].to_numpy(np.uint64), 8)).value_counts()

    t, _ = median_time(scan, runs=5, warmup=1)
    return Figure(f"reference: the same map query as a pandas scan of raw incidents, {label}", t * 1000, "ms",
                  reference_name="map callback p95 over HTTP", reference_value=map_fig.value,
                  ratio=t * 1000 / map_fig.value, ratio_kind="speedup", runs=5)


def payload_figure(store: Path, label: str) -> Figure:
    """Bytes of the map callback's response for 5,000 hexes, vs the same hexes as GeoJSON."""
    import h3
    import orjson

    from dashboard import create_app
    from dashboard.state import UIState
    from dashboard.testing import response_values, update_request

    app = create_app(store)
    catalog = app.hexwatch.catalog()
    st = UIState.from_query(f"from={catalog.start}&to={catalog.end}&area=lima_callao&zoomres=0&res=10&metric=change",
                            catalog).to_store()
    body = update_request(app, "hex-payload.data", {"state.data": st, "map.zoom": 16,
                                                    "map.bounds": [[-12.3, -77.2], [-11.7, -76.7]]}, "state.data")
    r = app.server.test_client().post("/_dash-update-component", json=body)
    size = len(r.data)
    payload = response_values(r.get_json())["hex-payload.data"]
    hx = app.hexwatch.views().hex_counts(10, (catalog.start, catalog.end), area="lima_callao",
                                         bbox=(-12.3, -77.2, -11.7, -76.7))
    features = [{"type": "Feature", "properties": {"cell": h3.int_to_str(int(c)), "n": int(n), "b": int(b),
                                                   "change": None if np.isnan(x) else round(float(x), 1), "ubigeo": u},
                 "geometry": {"type": "Polygon", "coordinates": [[[round(lo, 6), round(la, 6)] for la, lo in
                                                                  h3.cell_to_boundary(h3.int_to_str(int(c)))]]}}
                for c, n, b, x, u in zip(hx["cell"], hx["n"], hx["n_baseline"], hx["change_pct"], hx["ubigeo"])]
    geojson = len(orjson.dumps({"type": "FeatureCollection", "features": features}))
    return Figure(f"map update payload for {payload['count']:,} hexes, {label}", size / 1000, "KB",
                  reference_name="same hexes as GeoJSON", reference_value=geojson / 1000,
                  ratio=size / geojson, ratio_kind="fraction", target="<= 400 KB for 5,000 hexes",
                  met=size <= 400_000 and payload["count"] >= 5000, extra={"hexes": payload["count"]})


def first_load_figure(store: Path, label: str, runs: int = 3) -> Figure:
    """Headless Chromium: navigation until the hexes are drawn (server warm, new browser profile each run)."""
    from dashboard import create_app
    from dashboard.testing import ServedApp, chrome

    app = create_app(store)
    served = ServedApp(app.server)
    times = []
    try:
        query = "/?area=lima_callao"
        urllib.request.urlopen(served.url + "/healthz").read()
        for i in range(runs + 1):  # the first run warms the server's caches and is not counted
            profile = tempfile.mkdtemp(prefix="hexwatch-bench-")
            driver = chrome(profile)
            try:
                driver.get("about:blank")
                t = time.perf_counter()
                driver.get(served.url + query)
                while driver.execute_script("return document.querySelectorAll('path.hw-hex').length") == 0:
                    if time.perf_counter() - t > 60:
                        raise RuntimeError("hexes were not drawn within 60 s")
                    time.sleep(0.02)
                if i:
                    times.append(time.perf_counter() - t)
            finally:
                driver.quit()
        health, _ = median_time(lambda: urllib.request.urlopen(served.url + "/healthz").read(), runs=20)
    finally:
        served.stop()
    value = statistics.median(times)
    return Figure(f"first load until hexes drawn (headless Chromium), {label}", value, "s",
                  reference_name="/healthz round trip", reference_value=health, ratio=value / health,
                  ratio_kind="fraction", target="<= 3 s on the 1,000,000-incident store", met=value <= 3.0, runs=runs)


def run(quick: bool = False) -> list[Figure]:
    """All dashboard figures (``quick``: the 1,000,000-incident store only)."""
    small = demo_store(1_000_000)
    big = small if quick else demo_store(10_000_000)
    label_big = f"{'1M' if quick else '10M'} store"
    figs = latency_figures(big, 100, label_big)
    figs.append(payload_figure(big, label_big))
    figs.append(first_load_figure(small, "1M store"))
    return figs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="use the 1,000,000-incident store for everything")
    args = ap.parse_args()
    os.environ.setdefault("HEXWATCH_THREADS", "2")
    print_figures("dashboard", run(quick=args.quick))


if __name__ == "__main__":
    main()
