"""The "¿Funcionó? / Did it work?" panel: callbacks called directly and over HTTP on a small store."""

from __future__ import annotations

import shutil

import orjson
import pytest

from dashboard import create_app
from dashboard.access import AccessConfig
from dashboard.pages.impact.callbacks import (cached_analysis, effect_text, impact_body, p_text, panel_spell,
                                              pct_text)
from dashboard.state import UIState
from dashboard.testing import response_values, update_request
from geo.analysis import Estimate, analyze
from geo.declarations import Registry, parse_declarations
from geo.store import write_version

SPELL = "DS-105-2023-PCM"
Q = f"declaration={SPELL}&area=lima_callao"
METHODS_SHOWN = ("naive", "did", "event_study", "synthetic_control", "displacement")


@pytest.fixture(scope="module")
def app(views_store, demo_districts):
    # Official detail without logging in (test_access covers the login itself).
    return create_app(views_store, districts=demo_districts, access=AccessConfig(anonymous_role="official"))


@pytest.fixture(scope="module")
def ctx(app):
    return app.hexwatch


@pytest.fixture(scope="module")
def expected(views_store):
    """What the library says for the same store and spell, with its own defaults."""
    return analyze(views_store, SPELL).to_dict()


@pytest.fixture(scope="module")
def lima(views_store):
    """The library's answer for the area the panel's URL looks at (Lima and Callao), and its sentences
    as the panel leads with that area."""
    r = analyze(views_store, SPELL).lead("lima_callao")
    entry = r.areas[0].to_dict()
    assert entry["area"] == "lima_callao"
    return {**entry, "lead_sentence_es": r.sentence("es"), "lead_sentence_en": r.sentence("en")}


def state(ctx, query=Q):
    return UIState.from_query(query, ctx.catalog())


def nodes(tree):
    """Every Dash component in a layout tree, depth first."""
    if isinstance(tree, (list, tuple)):
        for n in tree:
            yield from nodes(n)
    elif hasattr(tree, "to_plotly_json"):
        yield tree
        yield from nodes(getattr(tree, "children", None))


def props(tree, id_):
    hits = [n.to_plotly_json()["props"] for n in nodes(tree) if getattr(n, "id", None) == id_]
    assert len(hits) == 1, f"{len(hits)} components with id {id_!r}"
    return hits[0]


def text(tree) -> str:
    if isinstance(tree, str):
        return tree
    if isinstance(tree, (list, tuple)):
        return " ".join(text(n) for n in tree)
    return text(getattr(tree, "children", None) or "")


def post(app, output, values, changed=None):
    return app.server.test_client().post("/_dash-update-component", json=update_request(app, output, values, changed))


def updated(app, output, values, changed=None) -> dict:
    """The outputs a callback changed (``{}`` when it left everything as it was)."""
    r = post(app, output, values, changed)
    assert r.status_code == 200, r.data[:300]
    return response_values(r.get_json())


# -- formatting -----------------------------------------------------------------------------


def test_effects_are_locale_formatted_with_a_true_minus():
    e = Estimate("did", effect=-0.098, ci=(-0.141, -0.052), p_value=0.0004)
    assert effect_text(e, "es") == "−9,8 % (IC 95 %: −14,1 % a −5,2 %)"
    assert effect_text(e, "en") == "−9.8% (95% CI: −14.1% to −5.2%)"
    assert (pct_text(0.1234, "en"), pct_text(-0.0004, "es")) == ("+12.3%", "0,0 %")  # never "−0,0 %"
    assert (p_text(0.0004, "es"), p_text(0.0312, "en"), p_text(None, "en")) == ("p < 0,001", "p = 0.03", "p = no value")
    assert effect_text(Estimate("did"), "en") == "not estimable"


# -- the panel's numbers are the library's ----------------------------------------------------


def test_every_estimate_shown_equals_analyze_json(ctx, lima):
    body = impact_body(ctx, state(ctx), "points")
    assert props(body, "impact-spell")["data-spell"] == SPELL
    assert props(body, "impact-did")["data-area"] == "lima_callao"  # the area in the URL leads
    for m in METHODS_SHOWN:
        p, e = props(body, f"impact-{m}"), lima["estimates"][m]
        got = [float(p[k]) if p[k] else None for k in ("data-effect", "data-ci-low", "data-ci-high", "data-p")]
        assert got == [e["effect"], *(e["ci"] or [None, None]), e["p_value"]], m
        assert e["sentence_es"] in text(body)
    did = lima["estimates"]["did"]
    big = props(body, "impact-did-text")["children"]
    assert big.startswith(f"{100 * did['effect']:+.1f}".replace("-", "−").replace(".", ",") + " %")
    assert f"{100 * did['ci'][0]:+.1f}".replace("-", "−").replace(".", ",") in big and "IC 95 %" in big
    assert props(body, "impact-sentence")["children"] == lima["lead_sentence_es"]
    assert float(props(body, "impact-2x2")["data-effect"]) == lima["descriptive"]["two_by_two"]["effect"]


def test_the_panel_leads_with_the_area_looked_at_and_shows_the_others_and_the_pooled_figure(ctx, expected):
    by_area = {a["area"]: a for a in expected["areas"]}
    assert set(by_area) == {"lima_callao", "sullana"}
    body = impact_body(ctx, state(ctx, f"declaration={SPELL}&area=sullana"), "points")
    sullana = by_area["sullana"]
    m = sullana["primary"]["method"] or "did"  # the demo's Sullana has no comparison district: no DiD
    head = props(body, f"impact-{m}")
    assert head["data-area"] == "sullana"
    effect = sullana["estimates"][m]["effect"]
    assert head["data-effect"] == (repr(effect) if effect is not None else "")
    assert props(body, "impact-areas")["data-areas"] == "sullana lima_callao"
    row = props(body, "impact-lima_callao-did")
    assert float(row["data-effect"]) == by_area["lima_callao"]["estimates"]["did"]["effect"]
    pooled = props(body, "impact-pooled-did")
    assert float(pooled["data-effect"]) == expected["estimates"]["did"]["effect"]
    assert "eventos esperados" in text(props(body, "impact-pooled")["children"])


def test_english_panel_has_english_numbers_and_sentences(ctx, lima):
    body = impact_body(ctx, state(ctx, Q + "&lang=en"), "points")
    did = lima["estimates"]["did"]
    big = props(body, "impact-did-text")["children"]
    assert big.startswith(f"{100 * did['effect']:+.1f}".replace("-", "−") + "%") and "95% CI:" in big
    assert props(body, "impact-sentence")["children"] == lima["lead_sentence_en"]
    assert "Event study" in text(body) and "Naive figure" in text(body) and "Estudio" not in text(body)


def test_plots_event_study_with_shaded_pre_period_and_synthetic_control(ctx, lima):
    expected = lima
    body = impact_body(ctx, state(ctx), "points")
    es = props(body, "impact-es-graph")["figure"]
    coefs = [c for c in expected["estimates"]["event_study"]["details"]["coefficients"] if c["effect"] is not None]
    est = next(t for t in es.data if t.mode == "lines+markers")
    assert list(est.x) == [c["rel"] for c in coefs]
    assert list(est.y) == pytest.approx([100 * c["effect"] for c in coefs])
    shapes = es.layout.shapes
    assert any(s.type == "rect" and s.x1 == -0.5 and s.x0 == min(est.x) - 0.5 for s in shapes)  # pre-period shaded
    assert any(s.type == "line" and s.y0 == 0 == s.y1 for s in shapes)  # zero line
    sc = props(body, "impact-sc-graph")["figure"]
    assert len(sc.data) == 2 and all(len(t.y) > 10 for t in sc.data)  # observed and synthetic paths
    assert expected["estimates"]["synthetic_control"]["p_value"] is not None
    assert p_text(expected["estimates"]["synthetic_control"]["p_value"], "es") in text(body)


def test_caveats_warnings_and_synthetic_banner(ctx, expected, lima):
    body = impact_body(ctx, state(ctx), "points")
    assert "DATOS SINTÉTICOS" in text(props(body, "impact-synthetic")["children"])
    caveats = text(props(body, "impact-caveats")["children"])
    assert "denunciados" in caveats and "superponen" in caveats
    codes = [li.to_plotly_json()["props"]["data-code"] for li in props(body, "impact-warnings")["children"]]
    library = ({w["code"] for w in expected["warnings"]} | {w["code"] for w in lima["warnings"]}
               | {w["code"] for e in lima["estimates"].values() for w in e["warnings"]})
    assert set(codes) == library - {"reported_only", "synthetic_data"}  # those two are the standing caveats
    assert "overlapping_declarations" in codes  # the Lima row added during DS 105 is in the registry


# -- which spell ---------------------------------------------------------------------------------


REGISTRY_CSV = """decree_id,start,days,areas,confirmed
DS-001-2021-PCM,2021-03-01,30,150101,yes
DS-002-2023-PCM,2023-03-01,30,150101 150132,yes
DS-003-2023-PCM,2023-06-01,30,200601,yes
"""


@pytest.fixture(scope="module")
def custom_ctx(views_store, demo_districts):
    registry = Registry(parse_declarations(REGISTRY_CSV), districts=demo_districts["ubigeo"])
    return create_app(views_store, districts=demo_districts, registry=registry).hexwatch


def test_default_spell_is_the_first_in_the_area_within_the_data(custom_ctx):
    pick = {q: panel_spell(custom_ctx, state(custom_ctx, q)) for q in ("area=lima_callao", "area=sullana", "area=all")}
    # DS-001 starts before the data; DS-003 only covers Sullana.
    assert {q: (s.spell_id, d) for q, (s, d) in pick.items()} == {
        "area=lima_callao": ("DS-002-2023-PCM", True), "area=sullana": ("DS-003-2023-PCM", True),
        "area=all": ("DS-002-2023-PCM", True)}
    s, defaulted = panel_spell(custom_ctx, state(custom_ctx, "area=lima_callao&declaration=ds 3-2023-pcm"))
    assert (s.spell_id, defaulted) == ("DS-003-2023-PCM", False)
    body = impact_body(custom_ctx, state(custom_ctx, "area=lima_callao&declaration=DS-003-2023-PCM"), "points")
    assert "primera de la zona" not in text(body)


def test_no_spell_in_the_data_says_so(views_store, demo_districts):
    registry = Registry(parse_declarations(REGISTRY_CSV.splitlines()[0] + "\nDS-001-2021-PCM,2021-03-01,30,150101,yes\n"))
    ctx = create_app(views_store, districts=demo_districts, registry=registry).hexwatch
    body = impact_body(ctx, state(ctx, "area=all"), "points")
    assert "Ninguna declaratoria" in text(body) and "denunciados" in text(body)


def test_missing_source_is_disabled_and_explained(app, ctx):
    out = updated(app, "impact-body.children", {"state.data": state(ctx).to_store(), "impact-summary.n_clicks": 1,
                                                "impact-source.value": "points"})
    assert {o["value"]: o["disabled"] for o in out["impact-source.options"]} == {"points": False, "sidpol": True}
    body = impact_body(ctx, state(ctx), "sidpol")  # e.g. a bookmarked choice on a store without SIDPOL
    assert "district_month" in props(body, "impact-error")["children"]


# -- lazy, cached, guarded -------------------------------------------------------------------------


def test_closed_panel_estimates_nothing_and_an_unchanged_view_is_not_redrawn(app, ctx, expected):
    values = {"state.data": state(ctx, Q + "&day=2023-10-01").to_store(), "impact-source.value": "points"}
    misses = cached_analysis.cache_info().misses
    assert updated(app, "impact-body.children", {**values, "impact-summary.n_clicks": 2}) == {}  # closed
    assert cached_analysis.cache_info().misses == misses
    out = updated(app, "impact-body.children", {**values, "impact-summary.n_clicks": 3})  # open
    body_json = orjson.dumps(out["impact-body.children"])
    assert str(expected["estimates"]["did"]["effect"]).encode() in body_json
    assert cached_analysis.cache_info().misses <= misses + 1
    # Another day of the same spell: same analysis, so nothing is sent again.
    other_day = {**values, "state.data": state(ctx, Q + "&day=2023-11-01").to_store(), "impact-summary.n_clicks": 3,
                 "impact-shown.data": out["impact-shown.data"]}
    assert updated(app, "impact-body.children", other_day) == {}
    # The language is part of what is shown: switching redraws, from the cache.
    hits = cached_analysis.cache_info().hits
    en = {**other_day, "state.data": state(ctx, Q + "&lang=en").to_store()}
    out = updated(app, "impact-body.children", en)
    assert "95% CI" in orjson.dumps(out["impact-body.children"]).decode()
    assert cached_analysis.cache_info().hits == hits + 1


def test_a_new_store_version_is_analysed_afresh(tmp_path, views_store, demo_districts):
    store = tmp_path / "store"
    shutil.copytree(views_store, store)
    ctx = create_app(store, districts=demo_districts).hexwatch
    first = ctx.store()
    impact_body(ctx, state(ctx), "points")
    write_version(store, tables={}, meta={**first.meta, "dataset": "relabelled"})
    second = ctx.store()
    assert second.version != first.version
    misses = cached_analysis.cache_info().misses
    impact_body(ctx, state(ctx), "points")
    assert cached_analysis.cache_info().misses == misses + 1
    assert cached_analysis(ctx, second, SPELL, (), "points").dataset == "relabelled"
    assert cached_analysis(ctx, first, SPELL, (), "points").dataset != "relabelled"


def test_download_is_the_same_json_as_analyze(app, ctx, expected):
    out = updated(app, "impact-download.data", {"impact-download-btn.n_clicks": 1, "state.data": state(ctx).to_store(),
                                                "impact-source.value": "points"}, "impact-download-btn.n_clicks")
    out = out["impact-download.data"]
    assert out["filename"] == f"hexwatch_analysis_{SPELL}_points.json"
    import base64

    assert orjson.loads(base64.b64decode(out["content"])) == expected


def _props_by_id(tree) -> dict:
    """``{id: props}`` of every component in a layout as Dash sends it (JSON)."""
    out = {}

    def walk(n):
        if isinstance(n, list):
            for c in n:
                walk(c)
        elif isinstance(n, dict):
            p = n.get("props", {})
            if isinstance(p.get("id"), str):
                out[p["id"]] = p
            walk(p.get("children"))
    walk(tree)
    return out


#: The demo's categories that the reviewed public vocabulary admits (written out, not computed).
PUBLIC_DEMO_CATEGORIES = ["ROBO", "HURTO", "ESTAFA", "EXTORSION", "MICROCOMERCIALIZACION DE DROGAS", "HOMICIDIO"]


def test_the_public_gets_the_verdict_on_public_categories_without_counts_or_downloads(app, views_store, demo_districts):
    kinds = {k: getattr(v.get("callback"), "access_kind", None) for k, v in app.callback_map.items()
             if "impact" in k and not k.startswith("tab-view-")}  # the tab's view store is filled in the browser
    assert sorted(kinds.values()) == ["download", "download", "map"]
    public = create_app(views_store, districts=demo_districts, public=True)
    values = {"state.data": state(public.hexwatch).to_store(), "impact-source.value": "points"}
    r = post(public, "impact-body.children", {**values, "impact-summary.n_clicks": 1})
    assert r.status_code == 200
    raw = r.get_data(as_text=True)
    shown = _props_by_id(response_values(r.get_json())["impact-body.children"])
    # The verdict is the library's on the public categories alone: violence in the family
    # and sexual violence neither count nor are named.
    want = analyze(views_store, SPELL, category=PUBLIC_DEMO_CATEGORIES).lead("lima_callao").areas[0]
    every = analyze(views_store, SPELL).lead("lima_callao").areas[0]
    assert want["did"].effect != every["did"].effect
    assert float(shown["impact-did"]["data-effect"]) == want["did"].effect
    for m in ("event_study", "synthetic_control", "displacement"):
        assert float(shown[f"impact-public-{m}"]["data-effect"] or "nan") == pytest.approx(want[m].effect, nan_ok=True)
    assert "VIOLENCIA" not in raw.upper()
    # No figure that states counts, and no plot of district series.
    assert "impact-public-naive" not in shown and "impact-naive" not in shown
    before, after = want["naive"].details["before"], want["naive"].details["after"]
    for n in (before, after):
        assert f"{n:,}".replace(",", " ") not in raw and f"{n:,}" not in raw
    assert '"type":"Graph"' not in raw.replace(" ", "")
    assert "impact-public-note" in shown
    # Downloads stay officials' (exact JSON and the report hold counts).
    r = post(public, "impact-download.data", {**values, "impact-download-btn.n_clicks": 1}, "impact-download-btn.n_clicks")
    assert r.status_code == 403  # AccessDenied: the public role may not download
    r = post(public, "impact-report.data", {**values, "impact-report-btn.n_clicks": 1}, "impact-report-btn.n_clicks")
    assert r.status_code == 403
    with public.server.test_request_context():
        layout = public.layout()
        assert [n for n in nodes(layout) if getattr(n, "id", None) == "section-impact"]
        assert props(layout, "impact-download-btn")["style"] == {"display": "none"}
    with app.server.test_request_context():  # an official's page holds the panel and its download button
        assert props(app.layout(), "impact-download-btn")["style"] == {}


def test_report_download_is_the_report_of_the_panels_own_result(app, ctx, lima):
    out = updated(app, "impact-report.data", {"impact-report-btn.n_clicks": 1, "state.data": state(ctx).to_store(),
                                              "impact-source.value": "points"}, "impact-report-btn.n_clicks")
    out = out["impact-report.data"]
    assert out["filename"] == f"informe_{SPELL}_es.html"
    import base64

    page = (base64.b64decode(out["content"]) if out.get("base64") else out["content"].encode()).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'lang="es"' in page
    assert page.index('data-area="lima_callao"') < page.index('data-area="sullana"')  # the area in view first
    assert f'data-method="did" data-effect="{lima["estimates"]["did"]["effect"]}"' in page
    assert "DATOS SINTÉTICOS" in page
