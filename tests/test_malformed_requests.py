"""Issue 14, items 5 and 6, as attacks on the served app (a real HTTP server on
loopback): an oversized callback body is refused before it is read (413), and every
malformed request the probe found answered with a 500 is a 400 with a one-line reason."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from dashboard import create_app
from dashboard.access import AccessConfig
from dashboard.state import UIState
from dashboard.testing import ServedApp, update_request
from sharing_data import sharing_districts

Q = "from=2023-09-01&to=2023-10-31"
BOUNDS = [[-12.2, -77.3], [-11.8, -76.8]]


@pytest.fixture(scope="module")
def app(sharing_path):
    return create_app(sharing_path, districts=sharing_districts(), public=True,
                      access=AccessConfig(rate_limits={"embed": "1000 per minute", "export": "1000 per minute"}))


@pytest.fixture(scope="module")
def served(app):
    s = ServedApp(app.server)
    yield s.url
    s.stop()


def send(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def state(app, query: str) -> dict:
    with app.server.test_request_context():
        return UIState.from_query(query, app.hexwatch.catalog()).to_store()


def callback(app, served, output, values, changed="state.data", edit=None) -> tuple[int, str]:
    body = update_request(app, output, values, changed)
    if edit:
        edit(body)
    return send(served + "/_dash-update-component", json.dumps(body).encode())


def one_line_400(status: int, text: str) -> bool:
    return status == 400 and text.count("\n") == 1 and "Traceback" not in text


# -- item 5: size ------------------------------------------------------------------------------


def test_a_callback_body_over_1_mb_is_refused_with_413(app, served):
    body = update_request(app, "hex-payload.data", {"state.data": state(app, Q), "map.zoom": 12, "map.bounds": BOUNDS})
    body["padding"] = "x" * 2_000_000
    status, text = send(served + "/_dash-update-component", json.dumps(body).encode())
    assert status == 413 and "1,000,000" in text
    ok = update_request(app, "hex-payload.data", {"state.data": state(app, Q), "map.zoom": 12, "map.bounds": BOUNDS})
    assert send(served + "/_dash-update-component", json.dumps(ok).encode())[0] == 200


def test_an_official_may_post_more_but_not_without_bound(sharing_path, official_users, log_in):
    # The officials' page posts the map's drawn hexes (MBs at resolution 10) as a callback
    # input; the public never does. Signed in, 2 MB pass the size check; 20 MB do not.
    app = create_app(sharing_path, districts=sharing_districts(), access=AccessConfig(
        users=official_users, secret_key="m" * 40, rate_limits={"login": "1000 per minute"}))
    official, anon = app.server.test_client(), app.server.test_client()
    assert log_in(official).status_code == 303
    with app.server.test_request_context():
        st = UIState.from_query(Q, app.hexwatch.catalog()).to_store()
    body = update_request(app, "hex-payload.data", {"state.data": st, "map.zoom": 12, "map.bounds": BOUNDS})
    body["padding"] = "x" * 2_000_000
    assert official.post("/_dash-update-component", json=body).status_code == 200
    assert anon.post("/_dash-update-component", json=body).status_code == 413
    body["padding"] = "x" * 20_000_000
    assert official.post("/_dash-update-component", json=body).status_code == 413


def test_a_300_mb_claim_is_answered_at_once_without_reading_the_body(served):
    # The probe sent 300 MB and a worker grew by 840 MB. Announce 300 MB, send 1 KB: the
    # server must answer 413 from the headers alone, not wait for (or buffer) the rest.
    host, port = urlsplit(served).hostname, urlsplit(served).port
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 300000000\r\n\r\n" + b"{" * 1024)
        t0 = time.monotonic()
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413") and time.monotonic() - t0 < 10


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit_too(app, served):
    host, port = urlsplit(served).hostname, urlsplit(served).port
    chunk = b"x" * 65536
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(40):  # 2.6 MB
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what it should do
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")


# -- item 6: 400s, one case each -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/export?from=0001-01-01", "/export?from=9999-12-01", "/embed?from=0001-01-01",
                                  "/embed?from=9999-12-01", "/export?from=0001-01-01&to=0001-01-31",
                                  "/embed?from=9999-12-01&to=9999-12-31"])
def test_dates_no_calendar_holds_are_400_on_export_and_embed(served, path):
    assert one_line_400(*send(served + path))


@pytest.mark.parametrize("query", ["from=0001-01-01&to=0001-02-28", "from=9999-12-01&to=9999-12-31",
                                   "from=0001-01-01"])
def test_the_public_map_callback_answers_impossible_dates_with_400(app, served, query):
    status, text = callback(app, served, "hex-payload.data",
                            {"state.data": {"q": "?" + query}, "map.zoom": 12, "map.bounds": BOUNDS})
    assert one_line_400(status, text), (status, text)


@pytest.mark.parametrize("raw", [b"null", b"[]", b"[1, 2]", b"\"text\"", b"{not json", b"{}", b'{"outputs": {}}'])
def test_callback_bodies_that_are_not_a_callback_request_are_400(served, raw):
    assert one_line_400(*send(served + "/_dash-update-component", raw))


def test_a_missing_or_unknown_output_is_400(app, served):
    assert one_line_400(*callback(app, served, "hex-payload.data", {}, edit=lambda b: b.pop("output")))
    assert one_line_400(*callback(app, served, "hex-payload.data", {},
                                  edit=lambda b: b.update(output="nothing.children")))


def test_wrong_input_counts_are_400(app, served):
    assert one_line_400(*callback(app, served, "hex-payload.data", {}, edit=lambda b: b["inputs"].pop()))
    assert one_line_400(*callback(app, served, "hex-payload.data", {},
                                  edit=lambda b: b["inputs"].append(dict(b["inputs"][0]))))
    assert one_line_400(*callback(app, served, "hex-payload.data", {}, edit=lambda b: b.update(inputs="zoom")))
    assert one_line_400(*callback(app, served, "hex-payload.data", {},
                                  edit=lambda b: b["inputs"].__setitem__(0, {"id": "cats", "property": "value"})))


@pytest.mark.parametrize("output, values, changed", [
    ("hex-payload.data", {"map.zoom": "x", "map.bounds": BOUNDS}, "map.zoom"),
    ("hex-payload.data", {"map.zoom": 12, "map.bounds": "everywhere"}, "map.bounds"),
    ("state.data", {"week.value": "abc"}, "week.value"),
    ("state.data", {"res.value": "99"}, "res.value"),
    ("state.data", {"dates.start_date": "yesterday"}, "dates.start_date"),
    ("state.data", {"cats.value": [1, 2]}, "cats.value"),
    ("hex-payload.data", {"state.data": ["q"], "map.zoom": 12, "map.bounds": BOUNDS}, "state.data"),
])
def test_inputs_of_the_wrong_type_are_400(app, served, output, values, changed):
    if "state.data" not in values:
        values = {"state.data": state(app, Q), **values}
    status, text = callback(app, served, output, values, changed)
    assert one_line_400(status, text), (status, text)


@pytest.mark.parametrize("path", ["/_dash-component-suites/..%2f..%2fetc/passwd",
                                  "/_dash-component-suites/dash/..%2f..%2f..%2fetc%2fpasswd",
                                  "/_dash-component-suites/dash/deps/..%2f..%2fdash.py"])
def test_component_suite_paths_that_leave_their_package_are_400(served, path):
    status, text = send(served + path)
    assert one_line_400(status, text) and "root:" not in text


def test_an_embed_never_prints_a_made_up_decree_id(served):
    status, text = send(served + "/embed?from=2023-09-01&to=2023-10-31&declaration=DS-999-2099-PCM")
    assert one_line_400(status, text) and "999-2099" not in text
    status, page = send(served + "/embed?from=2023-09-01&to=2023-10-31&declaration=DS-105-2023-PCM")
    assert status == 200 and "DS-105-2023-PCM" in page  # a real one is still named
