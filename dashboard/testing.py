"""Drive the dashboard as a browser does, for tests and benchmarks.

:func:`update_request` calls callbacks over HTTP; :class:`ServedApp` serves an app on a
free loopback port; :func:`chrome` starts Debian's headless Chromium under Selenium.

The Dash renderer POSTs ``/_dash-update-component`` with the callback's output spec
and its inputs' current values; :func:`update_request` builds that body from the
app's own callback map, so a test or benchmark exercises the real callback, its
serialisation and the role check, not a copy.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import dash

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def callback_key(app: dash.Dash, output: str) -> str:
    """The callback-map key of the callback that writes ``output`` (e.g. ``"hex-payload.data"``)."""
    keys = [k for k in app.callback_map if output in k.strip(".").split("...") or k == output]
    if len(keys) != 1:
        raise KeyError(f"no single callback writes {output!r}")
    return keys[0]


def update_request(app: dash.Dash, output: str, values: dict[str, Any], changed: str | None = None) -> dict:
    """The JSON body the renderer sends to run the callback writing ``output``.

    ``values`` maps ``"id.prop"`` of the callback's inputs and states to their values
    (missing ones are sent as ``None``); ``changed`` is the input that fired.
    """
    key = callback_key(app, output)
    spec = app.callback_map[key]

    def items(deps):
        return [{"id": d["id"], "property": d["property"], "value": values.get(f"{d['id']}.{d['property']}")}
                for d in deps]

    outs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in key.strip(".").split("...")]
    return {"output": key, "outputs": outs if key.startswith("..") else outs[0], "inputs": items(spec["inputs"]),
            "state": items(spec.get("state", [])), "changedPropIds": [changed] if changed else []}


def response_values(body: dict) -> dict[str, Any]:
    """``{"id.prop": value}`` from a ``/_dash-update-component`` response body."""
    return {f"{cid}.{prop}": v for cid, props in body.get("response", {}).items() for prop, v in props.items()}


class ServedApp:
    """A WSGI app served on ``127.0.0.1:<free port>`` from a daemon thread (``.url``, ``.stop()``)."""

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
    """Debian's Chromium, headless, with a fresh profile and the browser console logged.

    Raises ``FileNotFoundError`` when ``/usr/bin/chromium`` or ``/usr/bin/chromedriver``
    is missing (``bash dev.sh test`` installs both).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} is missing: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile_dir}", f"--window-size={width},{height}", "--lang=en-US"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
