"""Which tab the browser shows, so a hidden tab asks the server for nothing.

The tab bar is plain links to ``#tab=<name>`` (:func:`dashboard.layout.tab_bar`);
``assets/hexwatch.js`` writes the shown tab into the ``tab`` store whenever the hash
changes. Each tab other than the map has a *view store* (:func:`view_store`, in its
layout) that a clientside callback (:func:`register`) fills with the page's state while
the tab is shown, and leaves alone while it is hidden. A tab's data callbacks take
:func:`shown` as their trigger and read the state as a ``State``: a filter change
behind a hidden tab sends no request at all, and opening the tab fires them once with
the view as it is then.

Before this, every filter change recomputed the hot spots, the trends chart, the
district table and the open ¿Funcionó? panel of tabs nobody was looking at, and under
load those requests queued in front of the map's own.

A request to such a callback still carries the state, so a client that does not gate
(a test, a script) gets the same answer; the trigger's value is never read.
"""

from __future__ import annotations

import json

from dash import Input, Output, dcc

#: The store the browser keeps the shown tab's name in (``"map"`` until a tab is opened).
TAB_ID = "tab"
_VIEW_PREFIX = "tab-view-"


def view_id(name: str) -> str:
    """The id of tab ``name``'s view store (``"tab-view-trends"``)."""
    return _VIEW_PREFIX + name


def tab_of_view(component_id: str) -> str | None:
    """The tab a view store's id belongs to (``None`` for any other id)."""
    return component_id[len(_VIEW_PREFIX):] if component_id.startswith(_VIEW_PREFIX) else None


def view_store(name: str) -> dcc.Store:
    """Tab ``name``'s view store: put it in the tab's layout (a store mounted later, with
    the tab's body, is filled as soon as it appears)."""
    return dcc.Store(id=view_id(name))


def shown(name: str) -> Input:
    """The trigger of tab ``name``'s data callbacks: fires when the tab opens, and on every
    change of the state while it is shown. Register the callback with
    ``prevent_initial_call=True`` and read the state as ``State("state", "data")``."""
    return Input(view_id(name), "data")


# The state while the tab is shown, else nothing. Returning the state itself (not a
# counter) keeps the store's value meaningful when inspected in the browser.
_GATE = """function (state, tab) {
  return tab === %s ? state : window.dash_clientside.no_update;
}"""


def register(app) -> None:
    """Fill each view store that a registered callback takes as its trigger from the state
    while its tab is shown (in the browser: no server round trip). Call once every page's
    callbacks are registered."""
    names = sorted({tab_of_view(d["id"]) for spec in app.callback_map.values() for d in spec.get("inputs", [])
                    if isinstance(d["id"], str) and tab_of_view(d["id"])})
    for name in names:
        app.clientside_callback(_GATE % json.dumps(name), Output(view_id(name), "data"),
                                Input("state", "data"), Input(TAB_ID, "data"))
