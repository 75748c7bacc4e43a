"""The first visit after a start: the browser's request is the server's very first one.

``hexwatch serve`` (gunicorn, two workers of four threads) is started afresh each
time and nothing touches it before Chromium opens the page. Before the fix, a
worker's first request registered Dash's script paths while its other threads already
served scripts, so some ``/_dash-component-suites/`` requests answered 500 and the page
stayed on "Loading..." (issue 16: 2 starts in 7).
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from served import hexwatch_serve, wait_for

pytestmark = pytest.mark.browser

STARTS = 10


def test_ten_fresh_starts_each_load_the_page_on_the_first_request(views_store, browser):
    loaded = []
    for attempt in range(STARTS):
        with hexwatch_serve(views_store, workers=2) as url:
            browser.get("about:blank")
            browser.get_log("browser")  # drop the previous start's messages
            browser.get(url + "/")
            wait_for(lambda: browser.execute_script("return document.querySelectorAll('path.hw-hex').length") > 0,
                     timeout=90, what=f"hexes drawn after fresh start {attempt + 1}")
            # Nothing of the renderer's "Loading..." remains and no script failed to load.
            assert not browser.find_elements(By.CSS_SELECTOR, "._dash-loading")
            failed = [e["message"] for e in browser.get_log("browser")
                      if e["level"] == "SEVERE" and ("_dash-component-suites" in e["message"] or "500" in e["message"])]
            assert not failed, failed
            loaded.append(attempt)
    assert len(loaded) == STARTS


def test_scripts_requested_all_at_once_as_a_fresh_servers_first_requests_all_load(views_store):
    """The race itself, made wide: each worker's very first requests are 24 script
    fetches at once (as when the browser's page request went to the other worker), so
    the thread running Dash's setup overlaps the threads serving scripts."""
    import re
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from dashboard import create_app

    index = create_app(views_store).server.test_client().get("/").get_data(as_text=True)
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', index)
    assert len(scripts) >= 5, index[:500]

    def fetch(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    for attempt in range(3):
        with hexwatch_serve(views_store, workers=2) as url:
            urls = [url + s for s in (scripts * 4)[:24]]
            with ThreadPoolExecutor(24) as pool:
                codes = list(pool.map(fetch, urls))
            assert codes == [200] * len(urls), f"start {attempt + 1}: {codes}"
