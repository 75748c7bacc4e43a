"""Which tab the browser shows, so a hidden tab's callbacks wait until it is opened.

The tab bar is plain links to ``#tab=<name>`` (:func:`dashboard.layout.tab_bar`);
``assets/hexwatch.js`` writes the shown tab into the ``tab`` store whenever the hash
changes. A tab's heavy callbacks take :data:`TAB` as their first input and are
decorated with :func:`shown_on`: while another tab is shown they do nothing, and
opening their tab fires them with the view as it is then. Without this, every filter
change recomputed the hot spots, the trends chart and the district table of tabs
nobody was looking at, and under load those queued behind the map's own requests.

A request that carries no tab (``None``: a client that does not say, such as a test or
an old page) renders, so nothing depends on the hint to be correct.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from dash import Input
from dash.exceptions import PreventUpdate

#: The store the browser keeps the shown tab's name in (``"map"`` until a tab is opened).
TAB_ID = "tab"
#: The input a tab's callbacks take first.
TAB = Input(TAB_ID, "data")


def shown_on(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a callback whose first input is :data:`TAB`: run only while tab
    ``name`` is shown (or the request does not say which tab is); the wrapped function
    gets the remaining arguments."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(tab: Any, *args: Any, **kwargs: Any) -> Any:
            if tab is not None and tab != name:
                raise PreventUpdate  # hidden: nothing to draw until the tab opens
            return fn(*args, **kwargs)

        return inner

    return wrap
