"""Call the dashboard's callbacks over HTTP exactly as the browser does (tests, benchmarks).

The Dash renderer POSTs ``/_dash-update-component`` with the callback's output spec
and its inputs' current values; :func:`update_request` builds that body from the
app's own callback map, so a test or benchmark exercises the real callback, its
serialisation and the role check, not a copy.
"""

from __future__ import annotations

from typing import Any

import dash


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
