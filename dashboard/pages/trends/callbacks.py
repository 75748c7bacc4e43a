"""Trends callbacks: the weekly series, the district table and its CSV download."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from dash import Input, Output, State, dcc, no_update

from dashboard.access import guarded
from dashboard.tabs import TAB_ID, shown
from dashboard.pages.trends import layout as trends_layout
from dashboard.charts import declared_bands, graph_config, range_figure, weekly_figure
from dashboard.i18n import grid_locale, t
from dashboard.state import UIState
from geo.areas import in_area


def series_figure(ctx, state: UIState):
    """The weekly chart for a state, and a note saying what it compares."""
    lang, v = state.lang, state.view
    views = ctx.views()
    area = [u for u, ok in zip(views.ubigeos, in_area(views.ubigeos, views.area_members(v.area))) if ok]
    start = min(v.start, state.baseline[0])
    spell = ctx.spell(v.spell)
    area_spells = [s for s in ctx.spells if s.ubigeos & set(area)]
    bands = declared_bands([spell] if spell else area_spells, start, v.end, lang)
    if spell is None:
        series = views.weekly_series({"all": area}, (start, v.end), v.categories)
        names = {"all": t("trends.group_all", lang)}
        return weekly_figure(series, lang, y="n", bands=bands, day=state.day, names=names,
                             title=t("trends.series_raw_title", lang)), t("trends.pick_spell", lang)
    declared = [u for u in area if u in spell.ubigeos]
    comparison = [u for u in area if u not in spell.ubigeos]
    series = views.weekly_series({"declared": declared, "comparison": comparison}, (start, v.end), v.categories,
                                 index_before=spell.start)
    names = {"declared": f"{t('trends.group_declared', lang)} ({len(declared)})",
             "comparison": f"{t('trends.group_comparison', lang)} ({len(comparison)})"}
    return weekly_figure(series, lang, y="index", bands=bands, day=state.day, names=names,
                         title=t("trends.series_title", lang)), f"{spell.spell_id}: {', '.join(spell.decree_ids)}"


def public_series_figure(ctx, state: UIState):
    """The public chart: monthly totals of the published grid as ranges (a band per group),
    declared vs comparison districts when a declaration is chosen, else the area."""
    lang, v = state.lang, state.view
    views = ctx.views()
    members = views.area_members(v.area)
    area = [u for u, ok in zip(views.ubigeos, in_area(views.ubigeos, members)) if ok]
    spell = ctx.spell(v.spell)
    if spell is None:
        groups = {t("trends.group_all", lang): v.area}
        note = t("trends.pick_spell", lang) if ctx.spells else ""
    else:
        groups = {f"{t('trends.group_declared', lang)}": [u for u in area if u in spell.ubigeos],
                  f"{t('trends.group_comparison', lang)}": [u for u in area if u not in spell.ubigeos]}
        note = f"{spell.spell_id}: {', '.join(spell.decree_ids)}"
    frame = _public_trends(ctx, ctx.store().version, tuple((k, v if isinstance(v, str) else tuple(v))
                                                            for k, v in groups.items()), tuple(v.categories))
    area_spells = [spell] if spell else [s for s in ctx.spells if s.ubigeos & set(area)]
    first = frame["period"].min() if len(frame) else v.start
    last = frame["period"].max() if len(frame) else v.end
    bands = declared_bands(area_spells, pd.Timestamp(first).date(), pd.Timestamp(last).date() + pd.Timedelta(days=31),
                           lang)
    return range_figure(frame, lang, bands=bands, day=state.day, title=t("trends.public_title", lang)), note


@lru_cache(maxsize=32)
def _public_trends(ctx, version: str, groups: tuple, categories: tuple) -> pd.DataFrame:
    from geo.export import public_trends

    from dashboard.access import public_grid

    return public_trends(ctx.store(), {k: (v if isinstance(v, str) else list(v)) for k, v in groups},
                         list(categories) or None, grid=public_grid(), districts=ctx.districts)


def district_rows(ctx, state: UIState) -> pd.DataFrame:
    """Per-district baseline vs period rows for the state's filters."""
    v = state.view
    spell = ctx.spell(v.spell)
    declared = spell.ubigeos if spell else set(ctx.emergency_on(state.day))
    return ctx.views().district_table(state.window, state.baseline, v.categories, area=v.area, declared=declared,
                                      min_baseline=ctx.min_baseline)


def column_defs(lang: str) -> list[dict]:
    """AG Grid columns with localised headers and number formats."""
    num = {"type": "numericColumn", "filter": "agNumberColumnFilter",
           "valueFormatter": {"function": f"hexwatchFmt(params.value, '{lang}', 0)"}}
    return [
        {"field": "ubigeo", "headerName": t("col.ubigeo", lang), "width": 110},
        {"field": "name", "headerName": t("col.name", lang), "flex": 1},
        {"field": "declared", "headerName": t("col.declared", lang), "width": 120,
         "valueFormatter": {"function": f"params.value ? '{t('yes', lang)}' : '{t('no', lang)}'"}},
        {"field": "n_baseline", "headerName": t("col.n_baseline", lang), **num},
        {"field": "n", "headerName": t("col.n", lang), **num, "sort": "desc"},
        {"field": "change_pct", "headerName": t("col.change_pct", lang), "type": "numericColumn",
         "filter": "agNumberColumnFilter", "valueFormatter": {"function": f"hexwatchPct(params.value, '{lang}')"}},
    ]


def register(app, ctx) -> None:
    """Add the trends callbacks to ``app``."""

    @app.callback(Output("trends-body", "children"), Input(TAB_ID, "data"), State("trends-body", "children"),
                  prevent_initial_call=True)
    def mount(tab, children):  # the chart and grid scripts load when the tab is first opened
        return no_update if children or tab != "trends" else trends_layout.body(ctx)

    @app.callback(Output("series", "figure"), Output("series", "config"), Output("series-note", "children"),
                  shown("trends"), State("state", "data"), prevent_initial_call=True)
    @guarded("series")
    def update_series(_shown, state_data):
        if not state_data:
            return no_update, no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        fig, note = series_figure(ctx, state)
        return fig, graph_config(state.lang), note

    @app.callback(Output("district-table", "rowData"), Output("district-table", "columnDefs"),
                  Output("district-table-box", "children"),
                  shown("trends"), State("state", "data"), State("district-table", "dashGridOptions"),
                  prevent_initial_call=True)
    @guarded("table")
    def update_table(_shown, state_data, grid_options):
        if not state_data:
            return no_update, no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        rows = district_rows(ctx, state)
        rows = rows.astype({"change_pct": object}).where(rows["change_pct"].notna(), None)
        records, defs = rows.to_dict("records"), column_defs(state.lang)
        if grid_options and grid_options.get("localeText") != grid_locale(state.lang):
            # AG Grid reads its own texts once: a new language gets a new grid, rows included.
            return no_update, no_update, trends_layout.table(ctx, state.lang, records, defs)
        return records, defs, no_update

    @app.callback(Output("public-series", "figure"), Output("public-series", "config"),
                  Output("public-series-note", "children"), shown("trends"), State("state", "data"),
                  prevent_initial_call=True)
    @guarded("map")  # published-grid totals only: what the public map itself shows
    def update_public_series(_shown, state_data):
        if not state_data:
            return no_update, no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        fig, note = public_series_figure(ctx, state)
        return fig, graph_config(state.lang), note

    @app.callback(Output("table-download", "data"), Input("table-download-btn", "n_clicks"), State("state", "data"),
                  prevent_initial_call=True)
    @guarded("download")
    def download_table(n_clicks, state_data):
        state = UIState.from_store(state_data, ctx.catalog())
        rows = district_rows(ctx, state)
        (a, b), (ba, bb) = state.window, state.baseline
        rows = rows.rename(columns={"n": f"n_{a}_{b}", "n_baseline": f"n_{ba}_{bb}"})
        return dcc.send_data_frame(rows.to_csv, f"hexwatch_districts_{a}_{b}.csv", index=False)
