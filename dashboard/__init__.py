"""The hexwatch dashboard: a Dash app over a store, for city officials (Spanish first).

``create_app(store_dir)`` builds the app; ``hexwatch serve --store DIR`` runs it under
gunicorn (see :mod:`dashboard.cli`). The app holds no analysis logic: every number
comes from :mod:`geo.views` (pre-aggregated cubes, cached per store version) and every
declaration from :mod:`geo.declarations`.

Layout: ``dashboard/pages/<name>/`` holds one section of the page (``layout.py`` and
``callbacks.py``); :data:`dashboard.pages.PAGES` lists them in order. Every data
callback goes through :func:`dashboard.access.guarded`, the one place where a role
check applies.
"""

from dashboard.app import create_app

__all__ = ["create_app"]
