"""A hidden tab asks the server for nothing: the trends chart, the district table, the
hot spots and the ¿Funcionó? panel are requested when their tab opens, not on every
change of the map behind it.

The app is wrapped in a WSGI layer that records every ``/_dash-update-component``
answer (output and HTTP status) the browser gets, so the test sees what the browser
really asked for.
"""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from selenium.webdriver.common.by import By

from dashboard.testing import ServedApp
from served import wait_for

pytestmark = pytest.mark.browser

QUERY = "/?from=2023-09-20&to=2023-11-18&area=lima_callao&day=2023-10-15"
HIDDEN = ("series.figure", "district-table.rowData", "public-series.figure", "hs-hexes.data", "hs-map.viewport",
          "impact-body.children", "declarations-body.children", "trends-body.children")


class Recorder:
    """WSGI middleware: ``(output, status)`` of every callback request, in order."""

    def __init__(self, app):
        self.app, self.seen, self.lock = app, [], threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").endswith("/_dash-update-component"):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        output = json.loads(body).get("output", "")

        def recording(status, headers, exc_info=None):
            with self.lock:
                self.seen.append((output, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return self.app(environ, recording)

    def asked(self, since: int = 0) -> set[str]:
        """Which of :data:`HIDDEN` the browser asked for after the ``since``-th request."""
        with self.lock:
            return {name for out, _ in self.seen[since:] for name in HIDDEN if name in out}

    def mark(self) -> int:
        with self.lock:
            return len(self.seen)

    def settle(self, since: int, quiet: float = 1.5) -> None:
        """Wait until the browser has sent a callback request after ``since`` and then none for ``quiet`` s."""
        wait_for(lambda: self.mark() > since, what="the change's callback requests")
        last = (self.mark(), time.monotonic())
        while time.monotonic() - last[1] < quiet:
            time.sleep(0.1)
            if self.mark() != last[0]:
                last = (self.mark(), time.monotonic())


@pytest.fixture(scope="module")
def recorded(views_store, demo_districts):
    from dashboard import create_app
    from dashboard.access import AccessConfig

    app = create_app(views_store, districts=demo_districts, access=AccessConfig(anonymous_role="official"))
    recorder = Recorder(app.server.wsgi_app)
    app.server.wsgi_app = recorder
    served = ServedApp(app.server)
    yield served, recorder
    served.stop()


def map_total(browser) -> str | None:
    return browser.execute_script("const e = document.getElementById('map-status'); return e ? e.dataset.total : null")


def chart_drawn(browser, cid: str) -> bool:
    return bool(browser.execute_script(f"return document.querySelectorAll('#{cid} .main-svg .scatterlayer .trace').length"))


def test_hidden_tabs_wait_until_opened_and_draw_when_they_are(recorded, browser):
    served, rec = recorded
    browser.get(served.url + QUERY)
    wait_for(lambda: map_total(browser) not in (None, "0"), what="the map's counts")
    # A change of view while the map is shown: the map redraws, the hidden tabs do not.
    rec.settle(0)
    mark = rec.mark()
    browser.find_element(By.CSS_SELECTOR, "#metric input[value='rate']").click()
    wait_for(lambda: "metric=rate" in browser.current_url, what="the rate view")
    rec.settle(mark)
    assert any("hex-payload.data" in out and code == 200 for out, code in rec.seen[mark:])  # the map redrew
    assert rec.asked() == set(), f"hidden tabs were asked for: {rec.asked()}"
    assert not browser.find_elements(By.ID, "series")  # the chart scripts wait for the tab too

    # Opening the trends tab asks for its chart and table, and they draw.
    mark = rec.mark()
    browser.find_element(By.ID, "tab-trends").click()
    wait_for(lambda: chart_drawn(browser, "series"), what="the trends chart drawn")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#district-table .ag-row"), what="the district table's rows")
    assert {"trends-body.children", "series.figure", "district-table.rowData"} <= rec.asked(mark)
    assert not rec.asked(mark) & {"hs-hexes.data", "impact-body.children", "declarations-body.children"}

    # The hot spots open the same way; back on the map, a change leaves both tabs alone.
    mark = rec.mark()
    browser.find_element(By.ID, "tab-hotspots").click()
    wait_for(lambda: browser.execute_script("const e = document.getElementById('hs-status'); return e && e.dataset.cells"),
             what="the hot-spot layer")
    # (the trends' mount callback hears every tab change; it mounted once and answers no_update)
    assert rec.asked(mark) - {"trends-body.children"} == {"hs-hexes.data", "hs-map.viewport"}
    browser.find_element(By.ID, "tab-map").click()
    mark = rec.mark()
    browser.find_element(By.CSS_SELECTOR, "#metric input[value='count']").click()
    wait_for(lambda: "metric=rate" not in browser.current_url, what="the count view")
    rec.settle(mark)
    assert rec.asked(mark) == set()


def test_a_link_to_a_tab_opens_it_drawn(recorded, browser):
    served, _ = recorded
    browser.get("about:blank")
    browser.get(served.url + QUERY + "#tab=trends")
    wait_for(lambda: chart_drawn(browser, "series"), what="the trends chart of a #tab=trends link")
    assert browser.find_element(By.ID, "page-trends").is_displayed()
