"""Browser-test fixtures: one served dashboard and one headless Chromium per module.

Chromium and chromedriver are Debian's (``/usr/bin/chromium``, ``/usr/bin/chromedriver``;
``bash dev.sh test`` installs them). The app runs in a werkzeug server thread on a free
loopback port; the browser gets a fresh profile folder and no network besides it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from dashboard.testing import ServedApp, chrome

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="session", autouse=True)
def no_basemap():
    """No street basemap unless a test names one: this machine is offline, and each
    browser's probe of an unreachable tile server is a console error the tests would
    have to excuse. tests/browser/test_map_first_browser.py serves and probes its own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("HEXWATCH_TILES", "off")
    yield
    patch.undo()


@pytest.fixture(scope="module")
def served_app(views_store, demo_districts):
    """The dashboard over the small synthetic store, served for the module."""
    from dashboard import create_app
    from dashboard.access import AccessConfig

    app = create_app(views_store, districts=demo_districts, access=AccessConfig(anonymous_role="official"))
    served = ServedApp(app.server)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, with its own profile folder."""
    profile = tempfile.mkdtemp(prefix="hexwatch-chromium-")
    try:
        driver = chrome(profile)
    except FileNotFoundError as exc:
        pytest.fail(f"{exc} (bash dev.sh test installs them)", pytrace=False)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``artifacts/`` (git-ignored) for screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
