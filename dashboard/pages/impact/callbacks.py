"""¿Funcionó? callbacks: run :func:`geo.analysis.analyze` for the state's spell and format it.

The estimates, intervals, tests and sentences are all :mod:`geo.analysis`'s; this module
only picks the spell, caches the result and lays it out in the chosen language. Every
number the panel prints is also in ``data-*`` attributes (``data-effect``,
``data-ci-low``, ``data-ci-high``, ``data-p``, full precision) of the element with id
``impact-<method>``, for tests and scripts.
"""

from __future__ import annotations

import math
from functools import lru_cache

import flask
from dash import Input, Output, State, dcc, html, no_update

from dashboard.access import guarded, may, public_grid
from dashboard.charts import graph_config
from dashboard.context import SpellInfo
from dashboard.i18n import PLOTLY_SEPARATORS, fmt_date, fmt_int, fmt_num, fmt_pct, t
from dashboard.layout import source_line
from dashboard.pages.impact.layout import SOURCE_TABLES, source_options
from dashboard.state import UIState
from dashboard.tabs import shown
from geo.datasets import layer_of_table, store_layers
from geo.errors import HexwatchError
from geo.viewspec import in_area

#: Warning codes the standing caveats already state (not repeated among the warnings).
STANDING_CODES = frozenset({"reported_only", "synthetic_data"})
_CARD = {"border": "1px solid #ddd", "borderRadius": "6px", "padding": "8px 12px"}
_NAIVE_CARD = {**_CARD, "border": "1px dashed #999", "background": "#f6f6f6"}
_GRID = {"display": "grid", "gridTemplateColumns": "repeat(auto-fit, minmax(420px, 1fr))", "gap": "12px"}


# -- which spell, and its cached analysis ---------------------------------------------------


def panel_spell(ctx, state: UIState) -> tuple[SpellInfo | None, bool]:
    """The spell the panel analyses and whether it was chosen by default.

    The spell filter decides; without one, the first spell (by start) that covers a
    district of the state's area and starts inside the data's coverage.
    """
    chosen = ctx.spell(state.view.spell)
    if chosen is not None:
        return chosen, False
    catalog, views = ctx.catalog(), ctx.views()
    area = {u for u, ok in zip(views.ubigeos, in_area(views.ubigeos, state.view.area)) if ok}
    first = next((s for s in ctx.spells if s.ubigeos & area and catalog.start <= s.start <= catalog.end), None)
    return first, True


@lru_cache(maxsize=32)
def cached_analysis(ctx, store, spell_id: str, categories: tuple[str, ...], source: str, vocabulary=None):
    """:func:`geo.analysis.analyze` of one pinned store version (a :class:`geo.store.Store`);
    with the public grid's ``vocabulary``, on the categories public output may count.

    Per-process LRU: the key holds the store version, so a new ingest is analysed
    afresh, and the result depends only on the key, so every worker gives the same answer.
    """
    from geo.analysis import analyze

    return ctx.helper.run(analyze, store, spell_id, category=list(categories) or None, source=source,
                          registry=ctx.registry, vocabulary=vocabulary)


def panel_key(ctx, state: UIState, source: str) -> list:
    """What decides the body: store version, spell, categories, source, language."""
    spell, _ = panel_spell(ctx, state)
    return [ctx.store().version, spell.spell_id if spell else None, list(state.view.categories), source, state.lang]


# -- formatting -------------------------------------------------------------------------------


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def pct_text(x: float | None, lang: str) -> str:
    """A relative change as a signed percentage with a true minus.

    >>> pct_text(-0.098, "es"), pct_text(0.05, "en"), pct_text(None, "en")
    ('−9,8 %', '+5.0%', 'not estimable')
    """
    if not _finite(x):
        return t("impact.not_estimable", lang)
    return fmt_pct(round(100 * x, 1) + 0.0, lang, 1).replace("-", "\u2212")  # + 0.0: no "−0,0 %"


def num_text(x: float | None, lang: str, decimals: int = 1) -> str:
    """A number in the locale with a true minus."""
    return fmt_num(round(x, decimals) + 0.0 if _finite(x) else None, lang, decimals).replace("-", "\u2212")


def p_text(p: float | None, lang: str) -> str:
    """A p-value in the locale.

    >>> p_text(0.0312, "es"), p_text(0.0004, "en")
    ('p = 0,03', 'p < 0.001')
    """
    if not _finite(p):
        return "p = " + t("tip.none", lang)
    if p < 0.001:
        return "p < " + fmt_num(0.001, lang, 3)
    return "p = " + fmt_num(p, lang, 3 if p < 0.01 else 2)


def effect_text(e, lang: str) -> str:
    """The effect and its 95 % interval (``no estimable`` if none).

    >>> from geo.analysis import Estimate
    >>> effect_text(Estimate("did", effect=-0.098, ci=(-0.141, -0.052)), "es")
    '−9,8 % (IC 95 %: −14,1 % a −5,2 %)'
    """
    if not e.available:
        return t("impact.not_estimable", lang)
    if not (e.ci and _finite(e.ci[0]) and _finite(e.ci[1])):
        return pct_text(e.effect, lang)
    return t("impact.ci", lang, effect=pct_text(e.effect, lang), low=pct_text(e.ci[0], lang), high=pct_text(e.ci[1], lang))


def machine_attrs(e) -> dict[str, str]:
    """``data-*`` attributes with the estimate's numbers at full precision (empty when missing)."""
    def attr(x) -> str:
        return repr(float(x)) if _finite(x) else ""

    low, high = e.ci if e.ci else (None, None)
    return {"data-method": e.method, "data-effect": attr(e.effect), "data-ci-low": attr(low), "data-ci-high": attr(high),
            "data-p": attr(e.p_value)}


def _tidy(fig, lang: str):
    """The card names the plot: no title; the legend above the plot, clear of the axis title."""
    fig.update_layout(title=None, separators=PLOTLY_SEPARATORS[lang], height=340,
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                      margin={"l": 50, "r": 20, "t": 30, "b": 40})
    return fig


def event_study_graph(e, lang: str) -> dcc.Graph:
    """The event-study coefficients with their 95 % band, the pre-period shaded."""
    from geo.analysis import event_study_figure

    fig = event_study_figure(e, lang=lang)
    rels = [c["rel"] for c in e.details.get("coefficients", []) if c.get("effect") is not None]
    if rels and min(rels) < 0:
        fig.add_vrect(x0=min(rels) - 0.5, x1=-0.5, fillcolor="rgba(0, 0, 0, 0.07)", line_width=0, layer="below",
                      annotation_text=t("impact.pre_period", lang), annotation_position="top left")
    return dcc.Graph(id="impact-es-graph", figure=_tidy(fig, lang), config=graph_config(lang))


def synthetic_control_graph(e, lang: str) -> dcc.Graph:
    """Observed vs synthetic counts of the declared districts."""
    from geo.analysis import synthetic_control_figure

    return dcc.Graph(id="impact-sc-graph", figure=_tidy(synthetic_control_figure(e, lang=lang), lang),
                     config=graph_config(lang))


def _card(e, lang: str, children: list, *, style=_CARD, title: str | None = None) -> html.Div | None:
    return html.Div(id=f"impact-{e.method}", style=style, **machine_attrs(e), children=[
        html.H3(title or e.name(lang), style={"fontSize": "1rem", "margin": "4px 0"}),
        *children,
        html.P(e.sentence(lang), className="hw-impact-sentence"),
    ])


def primary_method(area) -> str:
    """The method of an area's verdict (the DiD when the result names none)."""
    m = (area.primary or {}).get("method")
    return m if m in area.estimates else "did"


def headline(result, lang: str, area=None) -> html.Div:
    """The lead area's primary estimate as the big number, and the result's plain-language sentence."""
    area = area if area is not None else (result.areas[0] if result.areas else result)
    m = primary_method(area)
    e = area[m]
    label = (t("impact.headline_area", lang, area=area.name(lang), method=e.name(lang)) if area.area is not None
             else t("impact.headline", lang))
    return html.Div(id=f"impact-{m}", **machine_attrs(e), **{"data-area": area.area or ""}, children=[
        html.Div(label, className="hw-label", id="impact-headline-label"),
        html.Div(effect_text(e, lang), id=f"impact-{m}-text", style={"fontSize": "1.9rem", "fontWeight": 700}),
        html.P(result.sentence(lang), id="impact-sentence", style={"fontSize": "1.05rem"}),
    ])


#: What the public verdict leaves out: the naive figure's sentence gives exact counts.
_PUBLIC_HIDDEN = frozenset({"naive"})


def area_rows(r, lang: str, prefix: str, *, public: bool = False) -> html.Table:
    """A compact table of an area's (or the pooled) estimates, each row carrying its numbers
    (``public``: no figure that states counts)."""
    prim = primary_method(r) if r.pooling is None else None
    rows = []
    for m, e in r.estimates.items():
        if public and m in _PUBLIC_HIDDEN:
            continue
        role = (t("impact.pooled", lang) if r.pooling is not None else "principal" if lang == "es" and m == prim
                else "primary" if m == prim else t("impact.robustness", lang))
        rows.append(html.Tr(id=f"{prefix}-{m}", **machine_attrs(e), children=[
            html.Td(e.name(lang)), html.Td(role), html.Td(effect_text(e, lang)),
            html.Td(e.sentence(lang), style={"fontSize": "0.85rem"})]))
    return html.Table(rows, className="hw-impact-table", style={"borderCollapse": "collapse", "width": "100%"})


def design_text(result, lang: str) -> str:
    """Who was compared with whom, over which dates (the DiD's districts and windows)."""
    e = result["did"]
    w = e.windows
    if not (e.available and w.get("pre") and w.get("post")):
        return ""
    ring = result["displacement"].districts.get("ring", []) if "displacement" in result else []
    return t("impact.design", lang, treated=len(e.districts.get("treated", [])), comparison=len(e.districts.get("comparison", [])),
             ring=len(ring), pre_start=fmt_date(w["pre"]["start"], lang), pre_end=fmt_date(w["pre"]["end"], lang),
             post_start=fmt_date(w["post"]["start"], lang), post_end=fmt_date(w["post"]["end"], lang))


def method_cards(result, lang: str) -> list[html.Div]:
    """Every method but the headline's (robustness checks), and the naive figure, labelled as naive."""
    cards = []
    prim = primary_method(result)
    if prim != "did" and "did" in result.estimates:
        d = result["did"]
        cards.append(_card(d, lang, [html.P(effect_text(d, lang))], title=f"{d.name(lang)} · {t('impact.robustness', lang)}"))
    es = result["event_study"]
    cards.append(_card(es, lang, title=f"{es.name(lang)} · {t('impact.robustness', lang)}", children= [event_study_graph(es, lang), html.P(effect_text(es, lang)),
                                  html.P(t("impact.pre_trend", lang, p=p_text(es.details.get("pre_trend_p"), lang)))]
                       if es.available else []))
    sc = result["synthetic_control"]
    cards.append(_card(sc, lang, title=f"{sc.name(lang)} · {t('impact.robustness', lang)}", children= [synthetic_control_graph(sc, lang),
                                  html.P(t("impact.placebo_p", lang, effect=effect_text(sc, lang), p=p_text(sc.p_value, lang),
                                           n=fmt_int(sc.details.get("n_placebos"), lang)))]
                       if sc.available else []))
    d = result["displacement"]
    body = []
    if d.available:
        body.append(html.P(t("impact.ring_effect", lang, effect=effect_text(d, lang))))
        w = d.details.get("wdd")
        if w:
            body.append(html.P(t("impact.wdd", lang, total=num_text(w["total"], lang), unit=t(f"impact.unit_{result.frequency}", lang),
                                 low=num_text(w["low"], lang), high=num_text(w["high"], lang), z=num_text(w["z"], lang, 2),
                                 p=p_text(w["p_value"], lang), local=num_text(w["local"], lang),
                                 displacement=num_text(w["displacement"], lang)), id="impact-wdd"))
    cards.append(_card(d, lang, body, title=f"{d.name(lang)} · {t('impact.robustness', lang)}"))
    n = result["naive"]
    body = []
    if n.available:
        k = int(n.details.get("periods", 0))
        body.append(html.P(t("impact.naive_counts", lang, before=fmt_int(n.details.get("before"), lang),
                             after=fmt_int(n.details.get("after"), lang), k=k,
                             unit=t(f"impact.unit{'s' if k != 1 else ''}_{result.frequency}", lang),
                             effect=effect_text(n, lang))))
    cards.append(_card(n, lang, body, style=_NAIVE_CARD, title=t("impact.naive_title", lang)))
    return cards


def warnings_list(result, lang: str, area=None) -> list:
    """The analysis's warnings for the area shown (and the spell's own), once each, without
    those the standing caveats state."""
    area = area if area is not None else result
    ws = [*result.warnings, *(w for e in area.estimates.values() for w in e.warnings)]
    if area is not result:
        ws = [*area.warnings, *ws]
    seen, items = set(), []
    for w in ws:
        text = w.es if lang == "es" else w.en
        if w.code in STANDING_CODES or (w.code, text) in seen:
            continue
        seen.add((w.code, text))
        items.append(html.Li(text, **{"data-code": w.code}))
    return [html.H3(t("impact.warnings", lang), style={"fontSize": "1rem"}), html.Ul(items, id="impact-warnings")] if items else []


def caveats(lang: str) -> list:
    """What every reader must keep in mind, whatever the numbers."""
    return [html.H3(t("impact.caveats", lang), style={"fontSize": "1rem"}),
            html.Ul([html.Li(t(k, lang)) for k in ("impact.caveat_reported", "impact.caveat_overlap", "impact.caveat_causal")],
                    id="impact-caveats")]


def impact_body(ctx, state: UIState, source: str) -> list:
    """The panel's content for a state and a data source.

    Officials get every estimate with its plots and counts. The public gets the verdict
    (docs/privacy.md, rule 9): the same estimates on the categories public output may
    count, each with its interval and sentence, but no figure that states counts (the
    naive before/after, the displacement's event totals) and no plot of district series.
    """
    lang, cats = state.lang, state.view.categories
    # Outside a request (scripts, tests) the full panel; every callback runs inside one.
    public = flask.has_request_context() and not may("series")
    spell, defaulted = panel_spell(ctx, state)
    if spell is None:
        return [html.P(t("impact.no_spell", lang), className="hw-notice"), *caveats(lang)]
    head = [
        html.P(t("impact.spell", lang, spell=spell.spell_id, start=fmt_date(spell.start, lang), end=fmt_date(spell.end, lang),
                 n=len(spell.ubigeos)) + " · " + t("impact.categories", lang, cats=", ".join(cats) or t("filters.category_all", lang)),
               id="impact-spell", **{"data-spell": spell.spell_id}),
        *([html.P(t("impact.defaulted", lang), className="hw-hint")] if defaulted else []),
    ]
    try:
        result = cached_analysis(ctx, ctx.store(), spell.spell_id, tuple(cats), source,
                                 public_grid().vocabulary if public else None)
    except HexwatchError as exc:
        return [*head, html.P(f"{t('error.title', lang)}: {exc}", className="hw-notice", id="impact-error"), *caveats(lang)]
    # The layer the estimate read says whether it is synthetic (a store may hold real counts
    # beside synthetic points, and the result's store-wide flag cannot tell them apart).
    info = store_layers(ctx.store().meta)[layer_of_table(SOURCE_TABLES.get(source, "cube_district"))]
    result = result.lead(state.view.area)  # the area the reader is looking at comes first
    lead = result.areas[0] if result.areas else result
    others = result.areas[1:]
    prim = lead.primary or {}
    two = lead.descriptive.get("two_by_two")
    wide = lead.descriptive.get("two_by_two_area")
    extra = []
    if two:
        from geo.analysis.results import two_by_two_line

        extra.append(html.P(two_by_two_line(two, lang) + (" " + two_by_two_line(wide, lang, against_area=lead.name(lang))
                                                          if wide else ""), id="impact-2x2", className="hw-hint",
                            **{"data-effect": repr(float(two["effect"]))}))
    if others:
        extra.append(html.Div(id="impact-other-areas", children=[
            html.Details([html.Summary(t("impact.other_area", lang, area=a.name(lang), sentence=a.sentence(lang))),
                          area_rows(a, lang, f"impact-{a.area}", public=public)], id=f"impact-area-{a.area}",
                         **{"data-area": a.area})
            for a in others]))
    if result.pooling and len(result.areas) > 1:
        extra.append(html.Details(id="impact-pooled", children=[
            html.Summary(t("impact.pooled", lang)),
            html.P(result.pooling.get("weighting_es" if lang == "es" else "weighting_en", ""), className="hw-hint"),
            area_rows(result, lang, "impact-pooled", public=public)]))
    return [
        *([html.Div(t("banner.synthetic", lang), className="hw-banner", id="impact-synthetic")] if info["synthetic"]
          else [html.P(source_line(info, lang), className="hw-source", id="impact-real-source")]),
        *head,
        *([html.P(t("impact.areas", lang, areas=" · ".join(a.name(lang) for a in result.areas)), id="impact-areas",
                  **{"data-areas": " ".join(a.area for a in result.areas)})] if len(result.areas) > 1 else []),
        headline(result, lang, lead),
        html.P(design_text(lead, lang), className="hw-hint"),
        *([html.P(t("impact.primary_rule", lang, rule=prim.get("rule_es" if lang == "es" else "rule_en", "")),
                  className="hw-hint", id="impact-primary-rule")] if prim.get("method") else []),
        *([html.P(t("impact.public_note", lang), className="hw-hint", id="impact-public-note"),
           html.Div(area_rows(lead, lang, "impact-public", public=True), id="impact-public-rows")] if public
          else [html.Div(method_cards(lead, lang), style=_GRID)]),
        *extra,
        *([html.P(t("impact.source_chosen", lang, note=result.source_note.get(lang, "")) + " · " + result.attribution,
                  className="hw-hint", id="impact-provenance")] if result.source_note else []),
        *warnings_list(result, lang, lead),
        *caveats(lang),
    ]


def register(app, ctx) -> None:
    """Add the panel's callbacks to ``app``."""

    @app.callback(Output("impact-body", "children"), Output("impact-shown", "data"), Output("impact-source", "options"),
                  shown("impact"), Input("impact-summary", "n_clicks"), Input("impact-source", "value"),
                  State("state", "data"), State("impact-shown", "data"), prevent_initial_call=True)
    @guarded("map")  # the public gets the verdict only (impact_body decides what each role sees)
    def update_impact(_shown, clicks, source, state_data, drawn):
        if not state_data or not (clicks or 0) % 2:  # closed: estimate nothing
            return no_update, no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        key = panel_key(ctx, state, source)
        if key == drawn:  # a day or map change: the analysis is the same
            return no_update, no_update, no_update
        return impact_body(ctx, state, source), key, source_options(ctx, state.lang)

    def _state_and_spell(state_data):
        """The view the download buttons were pressed on, and the spell its panel shows."""
        state = UIState.from_store(state_data, ctx.catalog())
        return state, panel_spell(ctx, state)[0]

    @app.callback(Output("impact-download", "data"), Input("impact-download-btn", "n_clicks"), State("state", "data"),
                  State("impact-source", "value"), prevent_initial_call=True)
    @guarded("download")
    def download_impact(n_clicks, state_data, source):
        state, spell = _state_and_spell(state_data)
        if spell is None:
            return no_update
        result = cached_analysis(ctx, ctx.store(), spell.spell_id, tuple(state.view.categories), source)
        return dcc.send_bytes(result.to_json(), f"hexwatch_analysis_{spell.spell_id}_{source}.json")

    @app.callback(Output("impact-report", "data"), Input("impact-report-btn", "n_clicks"), State("state", "data"),
                  State("impact-source", "value"), prevent_initial_call=True)
    @guarded("download")
    def download_report(n_clicks, state_data, source):
        state, spell = _state_and_spell(state_data)
        if spell is None:
            return no_update
        return dcc.send_bytes(report_bytes(ctx, state, spell.spell_id, source),
                              f"informe_{spell.spell_id}_{state.lang}.html")


def report_bytes(ctx, state: UIState, spell_id: str, source: str) -> bytes:
    """The one-page report (:func:`geo.report.report_html`) of the panel's own cached result,
    led by the area in view, in the page's language."""
    from geo.report import report_html

    store = ctx.store()
    result = cached_analysis(ctx, store, spell_id, tuple(state.view.categories), source).lead(state.view.area)
    districts = ctx.districts[["ubigeo", "geometry"]]
    return report_html(result, store, lang=state.lang, registry=ctx.registry, districts=districts).encode("utf-8")
