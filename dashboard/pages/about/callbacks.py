"""About-the-data callback: coverage and the ingest report (accepted, rejected and why)."""

from __future__ import annotations

import datetime as dt

from dash import Input, Output, html

from dashboard.access import guarded, may, public_grid
from dashboard.i18n import fmt_date, fmt_int, fmt_month, norm_lang, t


def _extent(ctx, lang: str, public: bool) -> list:
    """Coverage, incident total and (officials) gaps: public figures come from the
    published grid alone (``docs/privacy.md``, rule 6: months and a range, never an
    exact day, gap or total, which count sensitive incidents too)."""
    if public:
        from geo.export import public_coverage

        cov = public_coverage(ctx.store(), public_grid())
        if cov["start"] is None:
            span, total = "—", "0"
        else:
            span = (f"{fmt_month(dt.date.fromisoformat(cov['start']), lang)} – "
                    f"{fmt_month(dt.date.fromisoformat(cov['end']), lang)}")
            low, high = cov["n_low"], cov["n_high"]
            total = fmt_int(low, lang) if low == high else f"{fmt_int(low, lang)}–{fmt_int(high, lang)}"
        return [html.Dt(t("about.public_coverage", lang)), html.Dd(span, id="about-coverage"),
                html.Dt(t("about.public_incidents", lang)), html.Dd(total, id="about-incidents")]
    cov = ctx.views().coverage()
    return [
        html.Dt(t("about.coverage", lang)), html.Dd(f"{fmt_date(cov['start'], lang)} – {fmt_date(cov['end'], lang)}",
                                                  id="about-coverage"),
        html.Dt(t("about.incidents", lang)), html.Dd(fmt_int(cov["n_incidents"], lang), id="about-incidents"),
        html.Dt(t("about.gaps", lang)),
        html.Dd(", ".join(f"{fmt_date(g['start'], lang)} – {fmt_date(g['end'], lang)}" for g in cov["gaps"])
                or t("about.no_gaps", lang)),
    ]


def about_panel(ctx, lang: str, *, public: bool = True) -> list:
    """The panel's content in ``lang``; ``public``: figures from the published grid and
    the part of the ingest report that public output may show."""
    views = ctx.views()
    meta = views.meta
    out = [html.Dl([html.Dt(t("about.dataset", lang)), html.Dd(meta.get("dataset") or "—"),
                    *_extent(ctx, lang, public),
                    html.Dt(t("about.version", lang)), html.Dd(views.version)])]
    out.append(layers_list(ctx, lang))
    if public:
        out.append(html.P(t("about.public_note", lang), id="about-public-note", className="hw-hint"))
        out.append(html.P(t("about.public_extent_note", lang), className="hw-hint"))
    if meta.get("synthetic"):
        out.append(html.P(t("about.synthetic_note", lang), className="hw-emergency-text"))
    report = views.ingest_report(public=public)
    out.append(html.H4(t("about.ingest", lang)))
    if not report:
        out.append(html.P(t("about.no_report", lang)))
        return out
    counts = (("n_input", "input"), ("n_accepted", "accepted"), ("n_rejected", "rejected"),
              ("n_outside_districts", "outside"))
    out.append(html.Dl([
        html.Dt(t("about.source", lang)), html.Dd(html.Code(report.get("source_file", "—"))),
        *[part for key, name in counts if key in report  # a public report holds no accepted counts
          for part in (html.Dt(t(f"about.{name}", lang)), html.Dd(fmt_int(report[key], lang), id=f"about-{name}"))],
    ]))
    reasons = report.get("rejects_by_reason") or {}
    if reasons:
        out.append(html.Table([
            html.Thead(html.Tr([html.Th(t("about.reason", lang)), html.Th(t("about.rows", lang))])),
            html.Tbody([html.Tr([html.Td(html.Code(r)), html.Td(fmt_int(n, lang))])
                        for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])]),
        ], id="about-reasons"))
    return out


def layers_list(ctx, lang: str) -> html.Div:
    """What each layer of the store is: real (with its source and licence) or synthetic."""
    from dashboard.layout import source_line
    from geo.datasets import LAYERS, store_layers

    store = ctx.store()
    items = []
    for name, info in store_layers(store.meta).items():
        if not any(store.has(table) for table in LAYERS[name]):
            continue
        tag = t("counts.synthetic" if info["synthetic"] else "counts.real", lang)
        title = info.get("title_en") if lang == "en" else info.get("title")
        items.append(html.Li([html.B(f"{t(f'about.layer_{name}', lang)}: {tag}"), f" — {title or '—'}",
                              *([html.Br(), source_line(info, lang)] if not info["synthetic"] else [])],
                             **{"data-layer": name, "data-real": "no" if info["synthetic"] else "yes"}))
    return html.Div([html.H4(t("about.layers", lang)), html.Ul(items)], id="about-layers")


def register(app, ctx) -> None:
    """Add the about callback (and the synthetic-data banner, which reads the same meta)."""

    # The panel depends on the language (and role) only, so filters and dates leave it alone.
    @app.callback(Output("about-body", "children"), Output("synthetic-banner", "style"), Input("lang", "value"))
    @guarded("about")
    def update_about(lang):
        from dashboard.layout import banner_key

        synthetic = banner_key(ctx.store()) is not None
        return (about_panel(ctx, norm_lang(lang), public=not may("sensitive")),
                {} if synthetic else {"display": "none"})
