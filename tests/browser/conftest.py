"""Browser-test fixtures: one served dashboard and one headless Chromium per module.

Chromium and chromedriver are Debian's (``/usr/bin/chromium``, ``/usr/bin/chromedriver``;
``bash dev.sh test`` installs them). The app runs in a werkzeug server thread on a free
loopback port; the browser gets a fresh profile folder and no network besides it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class ServedApp:
    """A WSGI app served on ``127.0.0.1:<free port>`` from a daemon thread."""

    def __init__(self, wsgi_app):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs) -> None:  # one line per request drowns test output
                pass

        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


def chrome(profile_dir: str, *, width: int = 1400, height: int = 1000):
    """A headless Chromium driven by Selenium 4, logging the browser console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: install Debian's chromium and chromium-driver (bash dev.sh test does)",
                        pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile_dir}", f"--window-size={width},{height}", "--lang=en-US"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


@pytest.fixture(scope="module")
def served_app(views_store, demo_districts):
    """The dashboard over the small synthetic store, served for the module."""
    from dashboard import create_app

    app = create_app(views_store, districts=demo_districts)
    served = ServedApp(app.server)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, with its own profile folder."""
    profile = tempfile.mkdtemp(prefix="hexwatch-chromium-")
    driver = chrome(profile)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``artifacts/`` (git-ignored) for screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
