"""The served dashboard's analyses run in a low-priority helper process and give the same
answer as inline; a helper that dies costs one inline run, never a failed request."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from dashboard import create_app
from dashboard.access import AccessConfig
from dashboard.helper import NICENESS, Helper
from dashboard.state import UIState
from dashboard.testing import response_values, update_request
from geo.analysis import analyze
from geo.store import Store

SPELL = "DS-105-2023-PCM"


def where_and_how_nice() -> tuple[int, int]:
    return os.getpid(), os.nice(0)


def die_in_a_helper() -> str:
    if multiprocessing.parent_process() is not None:  # in the helper: die as an OOM kill would
        os._exit(9)
    return "inline"


@pytest.fixture
def helper():
    h = Helper(enabled=True)
    yield h
    h.close()


def test_the_helper_is_another_process_at_lower_priority(helper):
    pid, niceness = helper.run(where_and_how_nice)
    assert pid != os.getpid()
    assert niceness == min(os.nice(0) + NICENESS, 19)


def test_a_dead_helper_costs_one_inline_run_and_is_replaced(helper):
    assert helper.run(die_in_a_helper) == "inline"
    pid, _ = helper.run(where_and_how_nice)  # a new helper took its place
    assert pid != os.getpid()


def test_an_analysis_in_the_helper_equals_the_inline_one(helper, views_store):
    store = Store.open(views_store)
    assert helper.run(analyze, store, SPELL).to_json() == analyze(store, SPELL).to_json()


def test_a_served_app_opens_the_panel_through_its_helper(views_store, demo_districts):
    app = create_app(views_store, districts=demo_districts, access=AccessConfig(anonymous_role="official"),
                     helper_process=True)
    ctx = app.hexwatch
    try:
        state = UIState.from_query("from=2023-09-20&to=2023-12-31&area=lima_callao&declaration=" + SPELL, ctx.catalog())
        body = update_request(app, "impact-body.children", {"state.data": state.to_store(), "impact-summary.n_clicks": 1,
                                                              "impact-source.value": "points"}, "impact-summary.n_clicks")
        r = app.server.test_client().post("/_dash-update-component", json=body)
        assert r.status_code == 200
        assert "impact-body.children" in response_values(r.get_json())
        assert ctx.helper._pool is not None  # the analysis went to the helper process
    finally:
        ctx.helper.close()
