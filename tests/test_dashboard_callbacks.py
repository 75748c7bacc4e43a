"""Dashboard callbacks, called directly and through Dash's HTTP endpoint, on a small store."""

from __future__ import annotations

import base64
import datetime as dt
import time

import numpy as np
import pytest

from dashboard import create_app
from dashboard.access import AccessConfig, AccessDenied
from dashboard.i18n import fmt_date, fmt_int, fmt_num, fmt_pct, keys, t
from served import hexwatch_serve
from dashboard.mapdata import encode_hexes
from dashboard.pages.about.callbacks import about_panel
from dashboard.pages.map.callbacks import _bbox, district_panel, emergency_labels, hex_view
from dashboard.pages.trends.callbacks import district_rows, series_figure
from dashboard.state import UIState, apply, resolution_for_zoom
from dashboard.testing import response_values, update_request
from geo.store import Store

Q = "from=2023-09-20&to=2023-11-18&day=2023-10-15&area=lima_callao"
LIMA_BOUNDS = [[-12.3, -77.2], [-11.7, -76.7]]


@pytest.fixture(scope="module")
def app(views_store, demo_districts):
    # Official detail without logging in: these tests exercise the callbacks, test_access the login.
    return create_app(views_store, districts=demo_districts, access=AccessConfig(anonymous_role="official"))


@pytest.fixture(scope="module")
def public_app(views_store, demo_districts):
    return create_app(views_store, districts=demo_districts, public=True)


@pytest.fixture(scope="module")
def ctx(app):
    return app.hexwatch


def state(ctx, query=Q):
    return UIState.from_query(query, ctx.catalog())


def post(app, output, values, changed=None):
    r = app.server.test_client().post("/_dash-update-component", json=update_request(app, output, values, changed))
    assert r.status_code == 200, r.data[:500]
    return response_values(r.get_json()), len(r.data)


# -- i18n -------------------------------------------------------------------------------


def test_locale_formats_numbers_dates_and_percentages():
    assert (fmt_num(1234567.25, "es", 1), fmt_num(1234567.25, "en", 1)) == ("1.234.567,2", "1,234,567.2")
    assert fmt_date(dt.date(2024, 1, 5), "es") == "5 ene. 2024" and fmt_date(dt.date(2024, 1, 5), "en") == "Jan 5, 2024"
    assert (fmt_pct(-12.34, "es"), fmt_pct(12.34, "en")) == ("-12,3 %", "+12.3%")


def test_every_label_has_both_languages_and_they_differ_somewhere():
    differ = [k for k in keys() if t(k, "es") != t(k, "en")]
    assert len(differ) > 0.8 * len(keys())


# -- URL state ----------------------------------------------------------------------------


def test_url_round_trip_restores_every_filter(ctx):
    q = ("from=2023-09-20&to=2023-11-18&category=ROBO&category=HURTO&declaration=ds 105-2023-pcm&area=sullana"
         "&res=9&metric=change&lang=en&day=2023-10-15&mode=week&zoomres=0&district=200601")
    s = state(ctx, q)
    assert s.view.spell == "DS-105-2023-PCM" and s.view.categories == ("HURTO", "ROBO") and s.view.resolution == 9
    assert (s.lang, s.mode, s.zoomres, s.district, s.day) == ("en", "week", False, "200601", dt.date(2023, 10, 15))
    assert UIState.from_query(s.to_query(), ctx.catalog()) == s


def test_bad_url_values_fall_back_with_a_notice(ctx):
    s = state(ctx, "from=2023-13-40&lang=xx&category=NOPE")
    assert s.notice and "from" in s.notice and s.lang == "es"
    assert s.view.end == ctx.catalog().end and s.view.categories == ()


def test_reducer_spell_play_week_and_click(ctx):
    cat = ctx.catalog()
    s = apply(state(ctx), "spell", {"spell": "DS-105-2023-PCM"}, cat)
    assert (s.view.start, s.view.end, s.day) == (dt.date(2023, 9, 20), dt.date(2024, 1, 17), dt.date(2023, 9, 20))
    s = apply(s, "play", {}, cat)
    assert s.playing and s.mode == "week"
    s2 = apply(s, "tick", {}, cat)
    assert s2.day == dt.date(2023, 9, 25)  # the next Monday
    s3 = apply(s2, "week", {"week": s2.n_weeks() - 1}, cat)
    assert apply(s3, "tick", {}, cat).day == s3.view.start  # wraps round at the end
    s4 = apply(s3, "click", {"click": {"properties": {"ubigeo": "150132"}}}, cat)
    assert s4.district == "150132" and apply(s4, "close", {}, cat).district is None
    assert apply(s, "res", {"res": "10"}, cat).zoomres is False


def test_zoom_picks_a_resolution():
    assert [resolution_for_zoom(z) for z in (8, 12, 13, 16)] == [7, 8, 9, 10]


# -- map ----------------------------------------------------------------------------------


def test_hex_payload_counts_equal_the_view_and_change_with_category(ctx):
    s = state(ctx)
    payload, _, summary, _ = hex_view(ctx, s, 10, None, "official")
    views = ctx.views()
    hx = views.hex_counts(7, s.window, baseline=s.baseline, area="lima_callao")
    assert payload["res"] == 7 and payload["count"] == len(hx) and payload["total"] == hx["n"].sum()
    robo = state(ctx, Q + "&category=ROBO")
    p2, *_ = hex_view(ctx, robo, 10, None, "official")
    assert 0 < p2["total"] < payload["total"]
    assert t("map.summary", "es").split(" ")[1] in summary  # "incidentes"


def test_encoded_hexes_decode_to_h3_boundaries():
    import h3

    for res in (7, 8, 9, 10):  # a payload holds one resolution
        _check_round_trip(h3, res)


def _check_round_trip(h3, res):
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(-12.05 + d, -77.04, res)) for d in (0, 0.01, 0.02, 0.05)],
                     dtype=np.uint64)
    buf, q = encode_hexes(cells, np.array([1, 2, 3, 70000]), np.array([0, 5, 9, 1]),
                          np.array([np.nan, 12.34, -50.0, 0.0]), np.array([-1, 0, 1, 0]), np.array([-1, 0, 3, 5]))
    raw = base64.urlsafe_b64decode(buf)
    n = len(cells)
    got_cells = np.frombuffer(raw, "<u8", n)
    lat = np.frombuffer(raw, "<i4", n, 8 * n)
    lon = np.frombuffer(raw, "<i4", n, 12 * n)
    counts = np.frombuffer(raw, "<u4", n, 16 * n)
    chg = np.frombuffer(raw, "<i2", n, 24 * n)
    m = (len(raw) - 30 * n) // 2
    off = np.frombuffer(raw, np.int8, 2 * m, 28 * n).astype(np.int64) * q
    nv = np.frombuffer(raw, np.uint8, n, 28 * n + 2 * m)
    assert got_cells.tolist() == cells.tolist() and counts.tolist() == [1, 2, 3, 70000]
    assert chg.tolist() == [-32768, 123, -500, 0]
    k = 0
    for i, cell in enumerate(cells):
        want = h3.cell_to_boundary(h3.int_to_str(int(cell)))
        assert nv[i] == len(want)
        for la, lo in want:
            edge_m = h3.average_hexagon_edge_length(h3.get_resolution(h3.int_to_str(int(cell))), "m")
            err_deg = max(abs((lat[i] + off[2 * k]) / 1e6 - la), abs((lon[i] + off[2 * k + 1]) / 1e6 - lo))
            assert err_deg * 111_000 < edge_m * 0.02  # within 2 % of an edge: invisible at the zoom it is drawn
            k += 1


def test_payload_stays_small_per_hex_over_http(app, ctx):
    s = state(ctx, "from=2022-01-01&to=2025-12-31&area=lima_callao&zoomres=0&res=10").to_store()
    out, size = post(app, "hex-payload.data", {"state.data": s, "map.zoom": 16, "map.bounds": LIMA_BOUNDS}, "state.data")
    payload = out["hex-payload.data"]
    assert payload["count"] > 3000
    assert size / payload["count"] < 65  # what goes over the wire: 5,000 hexes < 400 KB


def _legend_rows(payload) -> list[tuple[str, int]]:
    return [(i["label"], i["n"]) for i in payload["legend"]["items"]]


def _label_ranges(labels: list[str]) -> list[tuple[int, int | None]]:
    """'1–5' -> (1, 5), '≥ 19' -> (19, None) (Spanish thousands dots removed)."""
    out = []
    for lab in labels:
        lab = lab.replace(".", "")
        if lab.startswith("≥"):
            out.append((int(lab[1:].strip()), None))
        elif "–" in lab:
            a, b = lab.split("–")
            out.append((int(a), int(b)))
        else:
            out.append((int(lab), int(lab)))
    return out


def fixed_payload(served, state_data, timeout: float = 60.0) -> dict:
    """The map payload once its fixed classes are computed (the first request of a kind of
    view starts them in the background and is drawn with its own classes, saying so)."""
    end = time.monotonic() + timeout
    while True:
        out, _ = post(served, "hex-payload.data", {"state.data": state_data, "map.zoom": 12, "map.bounds": LIMA_BOUNDS},
                      "state.data")
        p = out["hex-payload.data"]
        if p["legend"]["fixed"] or time.monotonic() > end:
            return p
        time.sleep(0.2)


@pytest.mark.parametrize("public", [False, True])
def test_legend_classes_are_the_same_for_every_week_gapless_and_counted(app, public_app, ctx, public):
    served = public_app if public else app
    payloads = []
    for start in ("2023-03-06", "2023-10-16"):  # two 4-week windows, months apart
        end = (dt.date.fromisoformat(start) + dt.timedelta(days=27)).isoformat()
        s = state(ctx, f"from={start}&to={end}&area=lima_callao&zoomres=0&res=7").to_store()
        payloads.append(fixed_payload(served, s))
    a, b = payloads
    labels = [lab for lab, _ in _legend_rows(a)]
    assert labels == [lab for lab, _ in _legend_rows(b)], "classes moved between two weeks"
    assert a["palette"] == b["palette"] and a["legend"]["fixed"]
    ranges = _label_ranges([lab for lab in labels if "sin dato" not in lab])
    assert len(ranges) >= 3, labels
    # No number in two classes, no number left out: each class starts one after the last ends.
    for (lo, hi), (nxt, _) in zip(ranges, ranges[1:]):
        assert hi is not None and hi >= lo and nxt == hi + 1, labels
    for p in payloads:  # the histogram counts every drawn hex once
        assert sum(n for _, n in _legend_rows(p)) == p["count"] > 0


def test_public_change_map_is_not_grey(public_app, ctx):
    s = state(ctx, "from=2023-01-01&to=2023-12-31&area=lima_callao&zoomres=0&res=7&metric=change").to_store()
    p = fixed_payload(public_app, s)
    rows = dict(_legend_rows(p))
    na = [n for lab, n in rows.items() if "sin dato" in lab]
    # Ranges still say something: most hexes get a class (a change class, or rise/fall/uncertain),
    # many more than have an exact change (the buffer's int16 change, -32768 = none).
    n = p["count"]
    buf = base64.urlsafe_b64decode(p["buf"])
    exact = int((np.frombuffer(buf[24 * n:26 * n], "<i2") != -32768).sum())
    assert n > 0 and sum(na) < 0.5 * n, rows
    assert n - sum(na) > exact, (n, sum(na), exact)


def test_sjl_is_under_emergency_in_october_2023_not_august(ctx):
    assert "150132" in emergency_labels(ctx, dt.date(2023, 10, 15), "es")
    assert emergency_labels(ctx, dt.date(2023, 10, 15), "es")["150132"]["decree"] == "DS-105-2023-PCM"
    assert "150132" not in emergency_labels(ctx, dt.date(2023, 8, 15), "es")


def test_district_panel_names_status_and_counts(ctx):
    s = state(ctx, Q + "&district=150132&lang=en")
    panel = district_panel(ctx, s)
    text = str(panel)
    assert "San Juan de Lurigancho (150132)" in text and "Under a state of emergency on Oct 15, 2023" in text
    row = ctx.views().district_table(s.window, s.baseline)
    n = int(row[row["ubigeo"] == "150132"]["n"].iloc[0])
    assert f"{n:,} incidents in the period" in text


# -- trends, table, about -----------------------------------------------------------------


def test_series_compares_declared_with_comparison_indexed_to_pre_period(ctx):
    fig, note = series_figure(ctx, state(ctx, Q + "&declaration=DS-105-2023-PCM"))
    names = [tr.name for tr in fig.data if tr.x is not None and len(tr.x) and tr.x[0] is not None]
    assert any(n.startswith("Declarados (2)") for n in names) and any(n.startswith("Comparación (48)") for n in names)
    assert len(fig.layout.shapes) >= 2  # the declared band and the selected day
    assert fig.layout.separators == ",." and "DS-105-2023-PCM" in note


def test_series_without_spell_shows_counts_and_bands_of_the_area(ctx):
    fig, note = series_figure(ctx, state(ctx, "from=2023-06-01&to=2024-12-31&area=lima_callao&lang=en"))
    assert fig.layout.yaxis.title.text == "Incidents per week" and fig.layout.separators == ".,"
    assert any(s.type == "rect" for s in fig.layout.shapes) and note == t("trends.pick_spell", "en")


def test_table_rows_match_views_and_mark_declared(ctx):
    s = state(ctx, Q + "&declaration=DS-105-2023-PCM&category=ROBO")
    rows = district_rows(ctx, s)
    assert len(rows) == 50 and set(rows[rows["declared"]]["ubigeo"]) == {"150132", "150135"}
    direct = ctx.views().district_counts(s.window, ["ROBO"])
    assert rows.set_index("ubigeo")["n"].to_dict() == {u: direct[u] for u in rows["ubigeo"]}


def test_about_panel_shows_coverage_and_ingest_report(ctx):
    text = str(about_panel(ctx, "en", public=False))  # officials: the exact days
    assert "Jan 1, 2022 – Dec 31, 2025" in text and "bad_coordinate" in text and "Rejected rows" in text
    public = str(about_panel(ctx, "en"))  # the public: the published months only
    assert "Jan 2022 – Dec 2025" in public and "Jan 1, 2022" not in public and "bad_coordinate" in public


def test_about_totals_leave_sensitive_categories_out_for_the_public(app, public_app, views_store):
    from geo.export import public_coverage
    from geo.privacy import PublicGrid

    cube = Store.open(views_store).read("cube_district")
    total = int(cube["n"].sum())
    public_total = int(cube.loc[~cube["category"].isin(["VIOLENCIA FAMILIAR", "VIOLENCIA SEXUAL"]), "n"].sum())
    texts = {}
    for role, a in (("official", app), ("public", public_app)):
        out, _ = post(a, "about-body.children", {"lang.value": "en"}, "lang.value")
        texts[role] = str(out["about-body.children"])
    assert fmt_int(total, "en") in texts["official"] and "Accepted rows" in texts["official"]
    # The public total is the published grid's, as a range that holds the public truth.
    cov = public_coverage(Store.open(views_store), PublicGrid())
    assert cov["n_low"] <= public_total <= cov["n_high"]
    assert f"{fmt_int(cov['n_low'], 'en')}–{fmt_int(cov['n_high'], 'en')}" in texts["public"]
    assert fmt_int(total, "en") not in texts["public"] and fmt_int(public_total, "en") not in texts["public"]
    assert "Accepted rows" not in texts["public"] and "Rows read" not in texts["public"]
    assert "Rejected rows" in texts["public"] and "sensitive categories" in texts["public"]


# -- over HTTP, with the access checks ----------------------------------------------------


def test_controller_over_http_restores_the_url_state(app):
    out, _ = post(app, "state.data", {"url.search": "?" + Q + "&lang=en&category=ROBO"})
    assert out["lang.value"] == "en" and out["cats.value"] == ["ROBO"] and out["dates.start_date"] == "2023-09-20"
    assert "category=ROBO" in out["url.search"] and out["state.data"]["q"] == out["url.search"]


def test_controller_sends_only_the_props_a_change_alters(app):
    # Each prop the controller sends re-fires its readers (labels on lang, outlines on area),
    # so a category change must leave the other controls alone and still update the state.
    first, _ = post(app, "state.data", {"url.search": "?" + Q})
    page = {**first, "cats.value": ["ROBO"]}
    out, _ = post(app, "state.data", page, "cats.value")
    assert "lang.value" not in out and "area.value" not in out and "week.marks" not in out and "day.data" not in out
    assert "cats.value" not in out  # the page already shows the valid pick
    assert out["state.data"]["q"] == out["url.search"] and "category=ROBO" in out["url.search"]
    again, _ = post(app, "state.data", {**page, **out}, "cats.value")
    assert again == {}  # nothing changed: no downstream callback runs
    lang, _ = post(app, "state.data", {**page, **out, "lang.value": "en"}, "lang.value")
    assert "lang.value" not in lang and lang["week-label.children"] != first["week-label.children"]


def test_emergency_overlay_follows_the_day_and_language(app):
    # The overlay reads the controller's day store, so SJL is drawn under emergency only in its spell.
    oct15, _ = post(app, "emergency.data", {"day.data": "2023-10-15", "lang.value": "en"}, "day.data")
    aug15, _ = post(app, "emergency.data", {"day.data": "2023-08-15", "lang.value": "es"}, "day.data")
    assert "150132" in oct15["emergency.data"]["districts"] and "150132" not in aug15["emergency.data"]["districts"]
    assert oct15["emergency.data"]["title"] == t("tip.emergency", "en")
    assert post(app, "state.data", {"url.search": "?" + Q})[0]["day.data"] == "2023-10-15"


def test_map_callback_over_http_and_language_switch(app, ctx):
    st = state(ctx).to_store()
    out, size = post(app, "hex-payload.data", {"state.data": st, "map.zoom": 11, "map.bounds": LIMA_BOUNDS}, "state.data")
    assert out["hex-payload.data"]["count"] > 0 and "incidentes" in out["map-summary.children"]
    en = state(ctx, Q + "&lang=en").to_store()
    out, _ = post(app, "hex-payload.data", {"state.data": en, "map.zoom": 11, "map.bounds": LIMA_BOUNDS}, "state.data")
    assert "incidents" in out["map-summary.children"] and out["hex-payload.data"]["labels"]["count"] == "Incidents"


def test_labels_callback_translates_every_label(app):
    ids = [{"key": k, "type": "t"} for k in ("app.title", "filters.category")]
    r = app.server.test_client().post("/_dash-update-component", json={
        "output": '{"key":["ALL"],"type":"t"}.children',
        "outputs": [{"id": i, "property": "children"} for i in ids],
        "inputs": [{"id": "lang", "property": "value", "value": "en"}], "state": [], "changedPropIds": ["lang.value"]})
    assert r.status_code == 200, r.data[:300]
    got = [o for o in r.get_json()["response"].values()]
    assert [g["children"] for g in got] == [t("app.title", "en"), "Category"]


def test_every_data_callback_is_guarded(app):
    guarded = {k for k, v in app.callback_map.items() if getattr(v.get("callback"), "access_kind", None)}
    for output in ("hex-payload.data", "emergency.data", "district-table.rowData", "series.figure", "about-body.children",
                   "panel-body.children", "table-download.data", "district-geo.data"):
        assert any(output in k for k in guarded), output


def test_public_mode_coarsens_hexes_hides_small_counts_and_denies_tables(public_app):
    ctx = public_app.hexwatch
    st = UIState.from_query("from=2022-01-01&to=2025-12-31&area=lima_callao&zoomres=0&res=10", ctx.catalog()).to_store()
    out, _ = post(public_app, "hex-payload.data", {"state.data": st, "map.zoom": 16, "map.bounds": LIMA_BOUNDS}, "state.data")
    payload = out["hex-payload.data"]
    assert payload["res"] == 8
    counts = np.frombuffer(base64.urlsafe_b64decode(payload["buf"]), "<u4", payload["count"], 16 * payload["count"])
    # Exact counts only when >= k; the rest (sent as 0) are labelled "< 5" or a range such as "6–13".
    exact = counts > 0
    assert (counts[exact] >= 5).all()
    assert all(lab == "< 5" or "–" in lab for lab, e in zip(payload["clab"], exact) if not e)
    with public_app.server.test_request_context():
        from dashboard.access import check

        with pytest.raises(AccessDenied):
            check("table")


def test_the_public_map_sends_the_hexes_whose_centres_are_in_view(public_app):
    st = UIState.from_query("from=2023-01-01&to=2023-12-31&area=lima_callao&zoomres=0&res=8",
                            public_app.hexwatch.catalog()).to_store()

    def centres(bounds):
        p = post(public_app, "hex-payload.data", {"state.data": st, "map.zoom": 12, "map.bounds": bounds}, "state.data")[0]
        raw = base64.urlsafe_b64decode(p["hex-payload.data"]["buf"])
        n = p["hex-payload.data"]["count"]
        lat = np.frombuffer(raw, "<i4", n, 8 * n) / 1e6
        lon = np.frombuffer(raw, "<i4", n, 12 * n) / 1e6
        return lat, lon

    all_lat, all_lon = centres([[-12.6, -77.5], [-11.4, -76.4]])
    south = [[-12.3, -77.2], [-12.1, -76.7]]
    s, w, n, e = _bbox(south)  # the view plus the margin the map keeps for panning
    lat, lon = centres(south)
    assert 0 < len(lat) < len(all_lat)
    assert ((lat >= s) & (lat <= n) & (lon >= w) & (lon <= e)).all()
    assert len(lat) == int(((all_lat >= s) & (all_lat <= n) & (all_lon >= w) & (all_lon <= e)).sum())


def test_after_the_warm_up_a_public_view_needs_no_cube_scan(public_app, monkeypatch):
    import geo.export
    from dashboard.app import warm

    monkeypatch.setattr(geo.export, "_PUBLISHED", {})  # as in a freshly started worker
    warm(public_app).join(timeout=120)

    def no_scan(*args, **kwargs):
        raise AssertionError("the published grid should already be computed")

    monkeypatch.setattr(geo.export, "grid_cube", no_scan)
    st = UIState.from_query("from=2023-02-01&to=2023-03-31&area=lima_callao&res=8",
                            public_app.hexwatch.catalog()).to_store()
    out, _ = post(public_app, "hex-payload.data", {"state.data": st, "map.zoom": 11, "map.bounds": LIMA_BOUNDS},
                  "state.data")
    assert out["hex-payload.data"]["count"] > 0


def test_healthz_reports_the_store_version(app, views_store):
    r = app.server.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"ok": True, "store_version": Store.open(views_store).version}


def test_csv_download_holds_the_table(app, ctx):
    st = state(ctx, Q + "&declaration=DS-105-2023-PCM").to_store()
    out, _ = post(app, "table-download.data", {"table-download-btn.n_clicks": 1, "state.data": st},
                  "table-download-btn.n_clicks")
    csv = out["table-download.data"]["content"]
    # The baseline is the equally long window before: 60 days from 2023-07-22.
    assert csv.splitlines()[0] == "ubigeo,name,declared,n_2023-07-22_2023-09-19,n_2023-09-20_2023-11-18,change_pct"
    assert len(csv.splitlines()) == 51 and out["table-download.data"]["filename"].endswith(".csv")


# -- gunicorn ------------------------------------------------------------------------------


def test_hexwatch_serve_runs_gunicorn_with_two_workers_that_answer_alike(app, ctx, views_store):
    import json
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    with hexwatch_serve(views_store) as url:
        bodies = [update_request(app, "state.data", {"url.search": "?" + Q + "&category=ROBO"}),
                  update_request(app, "hex-payload.data", {"state.data": state(ctx).to_store(), "map.zoom": 11,
                                                           "map.bounds": LIMA_BOUNDS}, "state.data")]

        def call(i):
            req = urllib.request.Request(url + "/_dash-update-component", data=json.dumps(bodies[i % 2]).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                return i % 2, r.headers["X-Hexwatch-Worker"], r.read()

        # Which worker accepts a connection is the kernel's choice (one may still be
        # starting, or keep winning): send rounds until both have answered both calls.
        answers = []
        with ThreadPoolExecutor(6) as pool:
            for start in range(0, 600, 40):
                answers += pool.map(call, range(start, start + 40))
                if len({(k, w) for k, w, _ in answers}) == 4:
                    break
        workers = {w for _, w, _ in answers}
        assert len(workers) == 2, f"{len(answers)} answers, all by {workers}"
        assert len({(k, w) for k, w, _ in answers}) == 4
        # A worker's first map answers may use the view's own legend classes while its fixed
        # ones are computed (the legend says so); once both workers have them, all agree.
        settled = []
        with ThreadPoolExecutor(6) as pool:
            for start in range(0, 2000, 40):
                time.sleep(0.5)
                batch = list(pool.map(call, range(start, start + 40)))
                settled = [a for a in batch if a[0] == 0 or b'"fixed":true' in a[2]]
                if len({(k, w) for k, w, _ in settled}) == 4:
                    break
        assert len({(k, w) for k, w, _ in settled}) == 4
        for kind in (0, 1):
            assert len({body for k, _, body in settled if k == kind}) == 1  # every worker gives the same answer
        health = json.loads(urllib.request.urlopen(url + "/healthz", timeout=30).read())
        assert health["store_version"] == Store.open(views_store).version


def test_a_first_visit_opens_on_lima_and_callao_and_a_chosen_view_keeps_its_area(ctx):
    # The demo districts are Lima, Callao and Sullana: a bare URL opens on the metro area.
    assert ctx.catalog().home_area == "lima_callao"
    assert state(ctx, "").view.area == "lima_callao"
    assert state(ctx, "?lang=en").view.area == "lima_callao"
    # A URL that names a view (its dates, always written once a view is shown) keeps "all".
    chosen = state(ctx, "?from=2023-09-01&to=2023-10-31")
    assert chosen.view.area == "all"
    assert state(ctx, chosen.to_query()).view.area == "all"
    assert state(ctx, "?area=sullana").view.area == "sullana"


# -- public trends (issue 16.5) -------------------------------------------------------------


def test_public_trends_are_published_ranges_by_whole_month_and_exact_series_stay_official(public_app, ctx):
    from geo.export import public_trends
    from geo.privacy import PublicGrid

    s = state(ctx, "from=2023-01-10&to=2023-12-31&declaration=DS-105-2023-PCM&area=lima_callao").to_store()
    out, _ = post(public_app, "public-series.figure", {"state.data": s}, "state.data")
    fig = out["public-series.figure"]
    bands = [tr for tr in fig["data"] if tr.get("fill") == "tonexty"]
    assert len(bands) == 2  # declared and comparison districts, each a low-high band
    low = [tr for tr in fig["data"] if tr.get("hoverinfo") == "skip"]
    for lo, hi in zip(low, bands):
        assert all(a <= b for a, b in zip(lo["y"], hi["y"]))
    # The band is the library's published ranges, whole months only (the data's first month
    # is whole here; the chart covers the store's span, not the picked period).
    ref = public_trends(ctx.store(), {"x": "lima_callao"}, grid=PublicGrid(), districts=ctx.districts)
    assert sum(len(b["x"]) for b in bands) == 2 * ref["period"].nunique()
    r = public_app.server.test_client().post("/_dash-update-component", json=update_request(
        public_app, "series.figure", {"state.data": s}, "state.data"))
    assert r.status_code == 403
