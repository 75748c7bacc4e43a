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


def tile_png(rgb: tuple[int, int, int] = (222, 226, 214), size: int = 256) -> bytes:
    """A plain ``size``-pixel PNG tile (for a stand-in tile server; no imaging library)."""
    import struct
    import zlib

    row = b"\x00" + bytes(rgb) * size
    raw = zlib.compress(row * size, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


class TileServer(ServedApp):
    """An XYZ tile server on loopback (``.template`` for ``HEXWATCH_TILES``), counting the tiles it served."""

    def __init__(self):
        import flask

        app = flask.Flask("hexwatch-test-tiles")
        png = tile_png()
        self.served = 0

        @app.route("/<int:z>/<int:x>/<int:y>.png")
        def tile(z: int, x: int, y: int):
            self.served += 1
            return flask.Response(png, mimetype="image/png", headers={"Access-Control-Allow-Origin": "*"})

        super().__init__(app)
        self.template = self.url + "/{z}/{x}/{y}.png"
