"""The "Todas las declaratorias / All declarations" section: callbacks called directly and over HTTP."""

from __future__ import annotations

import pytest

from dashboard import create_app
from dashboard.pages.declarations.callbacks import cached_table, declarations_body
from dashboard.state import UIState
from geo.analysis.all_declarations import all_declarations
from geo.store import Store
from test_impact_panel import app, ctx, nodes, post, props, text, updated  # noqa: F401  (app, ctx: the same fixtures)


def test_every_row_is_the_librarys_and_the_forest_plot_draws_them(ctx, views_store):
    state = UIState.from_query("lang=es", ctx.catalog())
    body = declarations_body(ctx, state)
    table = cached_table(ctx, ctx.store(), ())
    assert table.rows, "the demo store covers DS 105-2023-PCM at least"
    library = all_declarations(views_store, registry=ctx.registry)  # read from the cache the page wrote
    assert library.to_dict() == table.to_dict()
    assert list((views_store / "cache").glob("all_declarations-*.json"))
    rows = [n.to_plotly_json()["props"] for n in nodes(body) if str(getattr(n, "id", "")).startswith("decl-row-")]
    assert [(r["data-spell"], r["data-area"]) for r in rows] == [(r["spell_id"], r["area"]) for r in table.rows]
    for shown, r in zip(rows, table.rows):
        e = r["estimates"][r["primary"] or "did"]
        assert shown["data-effect"] == (repr(e["effect"]) if e["effect"] is not None else "")
        assert r["sentence_es"] in text(body)
    fig = props(body, "declarations-forest")["figure"]
    did = next(tr for tr in fig.data if tr.name == "DiD")
    with_did = [r for r in table.rows if r["estimates"]["did"]["effect"] is not None]
    assert list(did.x) == pytest.approx([100 * r["estimates"]["did"]["effect"] for r in with_did])
    assert "apiladas" in text(props(body, "declarations-pooled")["children"])
    assert Store.open(views_store).version in text(props(body, "declarations-provenance")["children"])
    en = declarations_body(ctx, UIState.from_query("lang=en", ctx.catalog()))
    assert "stacked" in text(en) and "Synthetic control" in text(en)


def test_closed_section_reads_nothing_and_the_public_gets_no_table(app, ctx, views_store, demo_districts):
    state = UIState.from_query("lang=es", ctx.catalog()).to_store()
    assert updated(app, "declarations-body.children", {"state.data": state, "declarations-summary.n_clicks": 0}) == {}
    out = updated(app, "declarations-body.children", {"state.data": state, "declarations-summary.n_clicks": 1},
                  "declarations-summary.n_clicks")
    assert "decl-row-DS-105-2023-PCM-lima_callao" in str(out["declarations-body.children"])
    public = create_app(views_store, districts=demo_districts, public=True)
    r = post(public, "declarations-body.children", {"state.data": state, "declarations-summary.n_clicks": 1},
             "declarations-summary.n_clicks")
    assert r.status_code == 403
