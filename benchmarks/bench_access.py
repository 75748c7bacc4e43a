"""What the public rules and the sharing routes cost on the server, on the 1,000,000-incident demo store.

Requests go through the Flask test client (the real routes, role checks and
serialisation, no network), each figure beside an in-run reference:

- the public map callback (every number from the published grid: ``geo.export.view_data``
  with ``public=True``), first request for a view and repeated, against the official map
  callback for the same views (exact hexes from ``geo.views``);
- ``/embed`` first and repeated, against the official map callback;
- ``/export?fmt=geojson`` at resolution 8, public against official;
- the officials' points at zoom 16 (DuckDB over ``incidents.parquet``) against reading
  the table with pandas and filtering it (what a request would cost without DuckDB; the
  filter alone, on a table kept in memory, is in the figure's extra).

Run alone: ``python -m benchmarks.bench_access [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time

import pandas as pd

from benchmarks._common import Figure, median_time, print_figures

LIMA = [[-12.25, -77.15], [-11.85, -76.85]]
STREET = [[-12.0, -77.02], [-11.99, -77.0]]  # about 1 km x 2 km: a zoom-16 viewport


def _months(n: int) -> list[tuple[dt.date, dt.date]]:
    out, start = [], dt.date(2023, 1, 1)
    for i in range(n):
        a = dt.date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
        b = dt.date(a.year + a.month // 12, a.month % 12 + 1, 1) - dt.timedelta(days=1)
        out.append((a, b))
    return out


def run(quick: bool = False) -> list[Figure]:
    from benchmarks.bench_dashboard import demo_store
    from dashboard import create_app
    from dashboard.access import AccessConfig
    from dashboard.auth import hash_password, parse_users_env
    from dashboard.state import UIState
    from dashboard.testing import update_request
    from geo.store import Store

    store = demo_store(1_000_000)
    n_views = 4 if quick else 8
    users = parse_users_env("bench:" + hash_password("bench password"))
    limits = {"embed": "100000 per minute", "export": "100000 per minute", "login": "100000 per minute"}
    app = create_app(store, access=AccessConfig(users=users, secret_key="bench-" + "k" * 40, rate_limits=limits))
    anon = app.server.test_client()
    official = app.server.test_client()
    token = official.get("/login").get_data(as_text=True).split("name='csrf' value='")[1].split("'")[0]
    assert official.post("/login", data={"csrf": token, "username": "bench", "password": "bench password"}).status_code == 303

    def body(query: str, zoom: int, bounds) -> dict:
        with app.server.test_request_context():
            st = UIState.from_query(query, app.hexwatch.catalog()).to_store()
        return update_request(app, "hex-payload.data", {"state.data": st, "map.zoom": zoom, "map.bounds": bounds},
                              "state.data")

    def timed(client, method: str, url: str, **kw) -> float:
        t = time.perf_counter()
        r = getattr(client, method)(url, **kw)
        elapsed = time.perf_counter() - t
        assert r.status_code == 200, r.data[:300]
        return elapsed

    views = [f"from={a}&to={b}&area=lima_callao" for a, b in _months(n_views)]
    bodies = [body(q, 12, LIMA) for q in views]
    timed(official, "post", "/_dash-update-component", json=bodies[0])  # load the cubes once
    t_official = [timed(official, "post", "/_dash-update-component", json=b) for b in bodies]
    t_public_first = [timed(anon, "post", "/_dash-update-component", json=b) for b in bodies]
    t_public_again = [timed(anon, "post", "/_dash-update-component", json=b) for b in bodies]
    ref = statistics.median(t_official) * 1000
    figs = [
        Figure("public map callback, first request for a view (month, Lima+Callao, res 8)",
               statistics.median(t_public_first) * 1000, "ms", reference_name="official map callback, same views",
               reference_value=ref, ratio=statistics.median(t_public_first) * 1000 / ref, ratio_kind="fraction",
               target="p50 <= 500 ms", met=statistics.median(t_public_first) <= 0.5, runs=n_views),
        Figure("public map callback, view already published (cached)", statistics.median(t_public_again) * 1000, "ms",
               reference_name="official map callback, same views", reference_value=ref,
               ratio=statistics.median(t_public_again) * 1000 / ref, ratio_kind="fraction", runs=n_views),
    ]
    t_embed_first = [timed(anon, "get", f"/embed?{q}") for q in views]
    t_embed_again = [timed(anon, "get", f"/embed?{q}") for q in views]
    for name, ts in (("first request", t_embed_first), ("repeated (cached)", t_embed_again)):
        figs.append(Figure(f"/embed, {name}", statistics.median(ts) * 1000, "ms",
                           reference_name="official map callback, same views", reference_value=ref,
                           ratio=statistics.median(ts) * 1000 / ref, ratio_kind="fraction", runs=n_views))
    t_pub = [timed(anon, "get", f"/export?fmt=geojson&{q}") for q in views]
    t_off = [timed(official, "get", f"/export?fmt=geojson&{q}") for q in views]
    figs.append(Figure("/export GeoJSON, public (published grid)", statistics.median(t_pub) * 1000, "ms",
                       reference_name="/export GeoJSON, official (exact)", reference_value=statistics.median(t_off) * 1000,
                       ratio=statistics.median(t_pub) / statistics.median(t_off), ratio_kind="fraction", runs=n_views))

    from geo.points import points_in_view

    st = Store.open(store)
    window = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    bbox = (STREET[0][0], STREET[0][1], STREET[1][0], STREET[1][1])
    t_points, pts = median_time(lambda: points_in_view(st, window, bbox=bbox), runs=5, warmup=1)
    columns = ["incident_id", "time", "day", "category", "lat", "lon", "ubigeo"]

    def pandas_filter(inc):
        day = pd.to_datetime(inc["day"])
        m = (day >= pd.Timestamp(window[0])) & (day <= pd.Timestamp(window[1]))
        m &= inc["lat"].between(bbox[0], bbox[2]) & inc["lon"].between(bbox[1], bbox[3])
        return inc.loc[m].sort_values("time", ascending=False).head(5000)

    t_read, ref_pts = median_time(lambda: pandas_filter(st.read("incidents", columns=columns)), runs=3, warmup=1)
    inc = st.read("incidents", columns=columns)
    t_memory, _ = median_time(lambda: pandas_filter(inc), runs=5, warmup=1)
    assert len(ref_pts) == len(pts)
    figs.append(Figure(f"officials' points at zoom 16 ({len(pts):,} of {len(inc):,} incidents, a year)", t_points * 1000,
                       "ms", reference_name="pandas: read incidents.parquet, then filter", reference_value=t_read * 1000,
                       ratio=t_read / t_points, ratio_kind="speedup", runs=5,
                       extra={"points": int(len(pts)), "pandas_filter_in_memory_ms": t_memory * 1000}))
    return figs


if __name__ == "__main__":
    print_figures("access and sharing", run(quick="--quick" in sys.argv))
