"""WSGI entry for gunicorn: ``gunicorn 'dashboard.wsgi:create_from_env()'``.

Reads ``HEXWATCH_STORE`` (required), ``HEXWATCH_PUBLIC`` (``1`` for public mode),
``HEXWATCH_DECLARATIONS`` (a policy-event CSV for the store; default: Peru's registry
for a Peru store, else none) and the basemap's ``HEXWATCH_TILES`` /
``HEXWATCH_TILES_ATTRIBUTION`` (see :func:`dashboard.app.basemap_settings`).
Each worker builds its own app from the same immutable store version, so workers hold
no state the others lack.
"""

from __future__ import annotations

import os

from geo.errors import HexwatchError


def create_from_env():
    """The Flask server of a dashboard configured by environment variables."""
    from dashboard.app import create_app, warm

    store = os.environ.get("HEXWATCH_STORE")
    if not store:
        raise HexwatchError("set HEXWATCH_STORE to the store folder (e.g. HEXWATCH_STORE=var/demo-store)")
    public = os.environ.get("HEXWATCH_PUBLIC", "") not in ("", "0", "false", "no")
    app = create_app(store, public=public, declarations=os.environ.get("HEXWATCH_DECLARATIONS") or None,
                     helper_process=True)  # analyses in a low-priority process beside each worker
    warm(app)
    return app.server
