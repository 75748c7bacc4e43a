"""The page's sections, in order. Each is a package ``dashboard.pages.<name>`` with

- ``layout.py``: ``layout(ctx) -> dash component`` (static; data arrives by callbacks);
- ``callbacks.py``: ``register(app, ctx) -> None`` adding its callbacks. Data callbacks
  take ``Input("state", "data")`` (the validated :class:`dashboard.state.UIState`),
  are wrapped with :func:`dashboard.access.guarded`, and read numbers only through
  ``ctx.views()``.

To add a panel (e.g. the analysis engineer's "¿Funcionó?"), create
``dashboard/pages/impact/`` with those two modules and add ``"impact"`` here.
"""

#: Section packages, in page order.
PAGES: list[str] = ["map", "hotspots", "trends", "impact", "declarations", "about"]
