"""All-declarations callbacks: read the cached table and lay it out (no estimation here).

Every number comes from :func:`geo.analysis.all_declarations.all_declarations`; each row
of the table (id ``decl-row-<spell>-<area>``) carries the primary estimate's effect and
interval in ``data-*`` attributes at full precision.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from dash import Input, Output, State, dcc, html, no_update

from dashboard.access import guarded
from dashboard.charts import graph_config
from dashboard.i18n import PLOTLY_SEPARATORS, fmt_date, t
from dashboard.pages.impact.callbacks import machine_attrs, pct_text
from dashboard.state import UIState
from dashboard.tabs import shown

_lock = threading.Lock()
_TD = {"borderBottom": "1px solid #ddd", "padding": "4px 6px", "verticalAlign": "top"}
#: Methods shown as columns, in order.
COLUMNS = ("did", "event_study", "synthetic_control", "naive")
_NAMES = {"did": ("DiD", "DiD"), "event_study": ("Estudio de eventos", "Event study"),
          "synthetic_control": ("Control sintético", "Synthetic control"), "naive": ("Ingenuo", "Naive")}


@lru_cache(maxsize=16)
def cached_table(ctx, store, categories: tuple[str, ...]):
    """The table for one pinned store version (the key holds it) and categories."""
    from geo.analysis.all_declarations import all_declarations

    with _lock:  # one evaluation at a time per process; the disk cache serves the others
        return all_declarations(store, category=list(categories) or None, registry=ctx.registry)


class _Est:
    """The few fields :func:`machine_attrs` reads, from a table row's estimate."""

    def __init__(self, method: str, e: dict):
        self.method, self.effect, self.p_value = method, e.get("effect"), e.get("p_value")
        self.ci = tuple(e["ci"]) if e.get("ci") and None not in e["ci"] else None


def cell(e: dict | None, lang: str) -> list:
    """The effect, and under it its 95 % interval (``no estimable`` when there is none)."""
    if not e or e.get("effect") is None:
        return [html.Span(t("impact.not_estimable", lang), className="hw-hint")]
    ci = e.get("ci") or [None, None]
    out = [html.B(pct_text(e["effect"], lang))]
    if None not in ci:
        out += [html.Br(), html.Small(f"{'IC 95 %' if lang == 'es' else '95% CI'} {pct_text(ci[0], lang)} … "
                                      f"{pct_text(ci[1], lang)}")]
    return out


def forest_figure(table, lang: str):
    """Each row's primary estimate (and the other methods, lighter) with its 95 % interval."""
    import plotly.graph_objects as go

    rows = [r for r in table.rows]
    labels = [f"{r['spell_id']} · {r['name_' + lang]}" for r in rows]
    fig = go.Figure()
    styles = {"did": ("#c0392b", "circle"), "event_study": ("#7f8c8d", "diamond"),
              "synthetic_control": ("#2e86c1", "square"), "naive": ("#bbbbbb", "x")}
    for k, m in enumerate(COLUMNS):
        x, y, lo, hi = [], [], [], []
        for lab, r in zip(labels, rows):
            e = r["estimates"].get(m) or {}
            if e.get("effect") is None or not e.get("ci") or None in e["ci"]:
                continue
            x.append(100 * e["effect"])
            lo.append(100 * (e["effect"] - e["ci"][0]))
            hi.append(100 * (e["ci"][1] - e["effect"]))
            y.append(lab)
        colour, symbol = styles[m]
        fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=_NAMES[m][0 if lang == "es" else 1],
                                 marker={"color": colour, "symbol": symbol, "size": 9 if m == "did" else 7},
                                 error_x={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo,
                                          "color": colour, "thickness": 1.5 if m == "did" else 1},
                                 offsetgroup=str(k)))
    fig.add_vline(x=0, line={"color": "grey", "width": 1})
    fig.update_layout(template="plotly_white", height=120 + 46 * max(len(rows), 1), separators=PLOTLY_SEPARATORS[lang],
                      xaxis_title=t("decl.effect_axis", lang), legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
                      margin={"l": 220, "r": 20, "t": 30, "b": 40}, scattermode="group",
                      yaxis={"autorange": "reversed", "type": "category"})
    return fig


def declarations_body(ctx, state: UIState) -> list:
    """The section's content: table, forest plot, the pooled note, the source."""
    lang = state.lang
    table = cached_table(ctx, ctx.store(), tuple(state.view.categories))
    if not table.rows:
        return [html.P(t("decl.none", lang), className="hw-notice", id="declarations-none"),
                html.P(table.pooled["why_es" if lang == "es" else "why_en"], className="hw-hint")]
    head = html.Tr([html.Th(t(k, lang)) for k in ("decl.col_spell", "decl.col_area", "decl.col_start", "decl.col_n",
                                                  "decl.col_primary")]
                   + [html.Th(_NAMES[m][0 if lang == "es" else 1]) for m in COLUMNS]
                   + [html.Th(t("decl.col_2x2", lang))])
    body = []
    for r in table.rows:
        prim = r["primary"] or "did"
        attrs = machine_attrs(_Est(prim, r["estimates"].get(prim) or {}))
        body.append(html.Tr(id=f"decl-row-{r['spell_id']}-{r['area']}", **attrs,
                            **{"data-spell": r["spell_id"], "data-area": r["area"]}, children=[
            html.Td(r["spell_id"], style={"whiteSpace": "nowrap", **_TD}), html.Td(r["name_" + lang], style=_TD),
            html.Td(fmt_date(r["start"], lang), style={"whiteSpace": "nowrap", **_TD}),
            html.Td(str(r["n_declared"]), style=_TD), html.Td(r["primary"] or "—", style=_TD),
            *[html.Td(cell(r["estimates"].get(m), lang), style={"whiteSpace": "nowrap", **_TD}) for m in COLUMNS],
            html.Td(pct_text(r["two_by_two"], lang) if r.get("two_by_two") is not None else "—", style=_TD),
        ]))
        # The verdict sentence under its numbers, across the whole table (it is long).
        body.append(html.Tr(html.Td(r["sentence_" + lang], colSpan=len(COLUMNS) + 6,
                                    style={"fontSize": "0.8rem", "color": "#333", **_TD, "paddingBottom": "10px"}),
                            id=f"decl-verdict-{r['spell_id']}-{r['area']}"))
    out = [
        *([html.Div(t("banner.synthetic", lang), className="hw-banner", id="declarations-synthetic")]
          if table.synthetic else []),
        html.Div(html.Table([html.Thead(head), html.Tbody(body)], id="declarations-table",
                            style={"borderCollapse": "collapse", "width": "100%", "fontSize": "0.9rem"}),
                 style={"overflowX": "auto"}),
        html.H3(t("decl.forest", lang), style={"fontSize": "1rem"}),
        dcc.Graph(id="declarations-forest", figure=forest_figure(table, lang), config=graph_config(lang)),
        html.P(table.pooled["why_es" if lang == "es" else "why_en"], className="hw-hint", id="declarations-pooled"),
    ]
    if table.skipped:
        out.append(html.P(t("decl.skipped", lang, items="; ".join(f"{s['spell_id']} ({s['reason']})" for s in table.skipped)),
                          className="hw-hint", id="declarations-skipped"))
    out.append(html.P(f"{table.attribution} · {t('impact.source_chosen', lang, note=table.source_note.get(lang, ''))} · "
                      f"{table.store_version}", className="hw-hint", id="declarations-provenance"))
    return out


def register(app, ctx) -> None:
    """Add the section's callback to ``app``."""

    @app.callback(Output("declarations-body", "children"), Output("declarations-shown", "data"),
                  shown("declarations"), Input("declarations-summary", "n_clicks"), State("state", "data"),
                  State("declarations-shown", "data"), prevent_initial_call=True)
    @guarded("series")
    def update_declarations(_shown, clicks, state_data, drawn):
        if not state_data or not (clicks or 0) % 2:  # closed: read nothing
            return no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        key = [ctx.store().version, list(state.view.categories), state.lang]
        if key == drawn:  # a day, area or map change: the table is the same
            return no_update, no_update
        return declarations_body(ctx, state), key
