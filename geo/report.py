"""A one-page report of a declaration that an official can print and take to a meeting.

:func:`report_html` turns an :class:`geo.analysis.AnalysisResult` (the same object the CLI
prints and the dashboard panel shows) into one self-contained HTML page: no script, no
web font, no tile server, so it opens offline and prints the same everywhere. It holds,
Spanish first (``lang="en"`` for English):

- the declared districts on a map per area (inline SVG drawn from the cached
  boundaries: declared, neighbours left out as the ring, comparison districts);
- each area's monthly series, declared districts against their comparison districts
  rescaled to the same pre-declaration level, with the declared months shaded;
- every estimate with its 95 % interval and its plain sentence, the primary one marked
  and the others labelled as robustness checks, and the transparent 2x2 ratio;
- the caveats and warnings, the data's source (attribution), the store version, and
  the decrees' sources.

:func:`write_pdf` prints it to PDF with WeasyPrint when that library is installed (it
needs no browser); otherwise it says how to get one.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd

import geo
from geo.analysis.results import AnalysisResult, Estimate, pct, two_by_two_line
from geo.errors import HexwatchError

_T = {
    "es": {
        "title": "¿Funcionó la declaratoria de emergencia?", "spell": "Declaratoria", "from": "del", "to": "al",
        "districts": "distritos declarados", "source": "Fuente de los datos", "version": "versión del almacén",
        "generated": "generado", "map": "Distritos", "declared": "declarado", "ring": "vecino (no se usa)",
        "comparison": "comparación", "series": "Denuncias por mes", "series_declared": "distritos declarados",
        "series_comparison": "comparación (reescalada al nivel previo)", "shaded": "sombreado: meses declarados",
        "method": "Método", "role": "Papel", "effect": "Efecto", "ci": "IC 95 %", "primary": "principal",
        "robustness": "robustez", "descriptive": "descriptivo", "pooled": "Todas las áreas juntas (cifra secundaria)",
        "caveats": "Advertencias", "standing": ["Solo se cuentan las denuncias registradas por la policía; muchos delitos no se denuncian, y una declaratoria puede cambiar la propia denuncia.",
                                                "Las declaratorias se superponen y se repiten; un efecto medido puede deberse a otras medidas del mismo periodo.",
                                                "Un intervalo que incluye el cero no prueba que no hubo efecto: no se puede distinguir de cero con estos datos."],
        "no_map": "Mapa no disponible: faltan los límites distritales (hexwatch boundaries fetch).",
        "synthetic": "DATOS SINTÉTICOS — no son incidentes reales", "decrees": "Decretos",
        "verdict": "Veredicto", "area": "Área", "none": "n/d",
        "primary_rule": "Análisis principal", "secondary": "secundaria", "each_area": "en cada área",
    },
    "en": {
        "title": "Did the state of emergency work?", "spell": "Declaration", "from": "from", "to": "to",
        "districts": "declared districts", "source": "Data source", "version": "store version",
        "generated": "generated", "map": "Districts", "declared": "declared", "ring": "neighbour (left out)",
        "comparison": "comparison", "series": "Reports per month", "series_declared": "declared districts",
        "series_comparison": "comparison (rescaled to the prior level)", "shaded": "shaded: declared months",
        "method": "Method", "role": "Role", "effect": "Effect", "ci": "95% CI", "primary": "primary",
        "robustness": "robustness", "descriptive": "descriptive", "pooled": "All areas pooled (secondary figure)",
        "caveats": "Caveats", "standing": ["Only reports recorded by the police are counted; many crimes are never reported, and a declaration can change reporting itself.",
                                           "Declarations overlap and repeat; a measured effect may be due to other measures of the same period.",
                                           "An interval that includes zero does not prove there was no effect: it cannot be told apart from zero with these data."],
        "no_map": "Map not available: district boundaries are not fetched (hexwatch boundaries fetch).",
        "synthetic": "SYNTHETIC DATA — not real incidents", "decrees": "Decrees",
        "verdict": "Verdict", "area": "Area", "none": "n/a",
        "primary_rule": "Primary analysis", "secondary": "secondary", "each_area": "in each area",
    },
}
_COLOURS = {"treated": "#c0392b", "ring": "#f5cba7", "comparison": "#aed6f1"}
_CSS = """
@page { size: A4 portrait; margin: 9mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 7pt; color: #222; margin: 0;
       line-height: 1.18; }
.page { width: 192mm; margin: 0 auto; }
h1 { font-size: 12pt; margin: 0 0 0.5mm; } h2 { font-size: 8.6pt; margin: 1.2mm 0 0.6mm; border-bottom: 1px solid #999; }
.sub { color: #444; margin: 0 0 1.5mm; }
.banner { background: #b03a2e; color: #fff; font-weight: bold; padding: 1mm 2mm; margin-bottom: 1.5mm; }
.verdict { font-size: 9pt; font-weight: bold; margin: 1mm 0 1.5mm; }
.area { break-inside: avoid; }
.row { display: flex; gap: 3mm; align-items: flex-start; }
.map { flex: 0 0 42mm; } .series { flex: 1 1 auto; }
svg { display: block; }
table { border-collapse: collapse; width: 100%; margin-top: 1mm; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25mm 0.8mm; text-align: left; vertical-align: top; }
td.num { white-space: nowrap; text-align: right; }
tr.primary td { font-weight: bold; background: #fdf2e9; }
.sentence { font-weight: normal; color: #333; font-size: 6.4pt; }
.legend span { display: inline-block; margin-right: 2mm; }
.sw { display: inline-block; width: 2.6mm; height: 2.6mm; vertical-align: middle; margin-right: 0.6mm; border: 1px solid #888; }
.small { font-size: 6.2pt; color: #444; }
p { margin: 0.4mm 0; }
ul { margin: 0.5mm 0 0 4mm; padding: 0; } li { margin: 0; }
#caveats { column-count: 2; column-gap: 6mm; }
footer { margin-top: 2mm; border-top: 1px solid #999; padding-top: 1mm; }
@media screen { body { background: #eee; } .page { background: #fff; padding: 8mm; margin: 4mm auto; } }
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


# -- the map -----------------------------------------------------------------------------


def _geom_path(geom, tx, ty) -> str:
    polys = getattr(geom, "geoms", [geom])
    parts = []
    for p in polys:
        for ring in [p.exterior, *p.interiors]:
            xy = np.asarray(ring.coords)
            if len(xy) < 3:
                continue
            pts = " ".join(f"{tx(x):.1f},{ty(y):.1f}" for x, y in xy)
            parts.append(f"M{pts}Z")
    return "".join(parts)


def map_svg(area: AnalysisResult, districts, lang: str, *, width: float = 150.0, height: float = 100.0) -> str:
    """The area's declared, ring and comparison districts as an inline SVG (``districts``: a
    GeoDataFrame with ``ubigeo`` and ``geometry`` in EPSG:4326), or a note when absent."""
    t = _T[lang]
    if districts is None:
        return f'<p class="small">{_e(t["no_map"])}</p>'
    d = area.design
    role = {**{x["ubigeo"]: "comparison" for x in d.get("comparison", [])},
            **{x["ubigeo"]: "ring" for x in d.get("ring", [])}, **{x["ubigeo"]: "treated" for x in d.get("treated", [])}}
    g = districts[districts["ubigeo"].isin(role)]
    if g.empty:
        return f'<p class="small">{_e(t["no_map"])}</p>'
    # Frame the declared districts and their ring first; far comparison districts are drawn where they fall.
    focus = g[g["ubigeo"].map(role).isin(["treated", "ring"])]
    x0, y0, x1, y1 = (focus if len(focus) else g).total_bounds
    pad = 0.15 * max(x1 - x0, y1 - y0, 0.02)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    k = math.cos(math.radians((y0 + y1) / 2))
    sx = width / ((x1 - x0) * k)
    sy = height / (y1 - y0)
    s = min(sx, sy)
    w, h = (x1 - x0) * k * s, (y1 - y0) * s

    def tx(x):
        return (x - x0) * k * s

    def ty(y):
        return (y1 - y) * s

    from shapely.geometry import box

    frame = box(x0, y0, x1, y1)
    tol = (x1 - x0) / 400
    paths = []
    for u, geom in zip(g["ubigeo"], g.geometry):
        if geom is None or geom.is_empty or not geom.intersects(frame):
            continue
        geom = geom.intersection(frame).simplify(tol, preserve_topology=True)
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            geom = geom.buffer(0) if not geom.is_empty else geom
            if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
                continue
        r = role[u]
        paths.append(f'<path d="{_geom_path(geom, tx, ty)}" fill="{_COLOURS[r]}" stroke="#555" stroke-width="0.4" '
                     f'fill-rule="evenodd" data-ubigeo="{_e(u)}" data-role="{r}"><title>{_e(u)}</title></path>')
    legend = "".join(f'<span><i class="sw" style="background:{_COLOURS[r]}"></i>{_e(t[r if r != "treated" else "declared"])}</span>'
                     for r in ("treated", "ring", "comparison"))
    return (f'<svg class="district-map" xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
            f'viewBox="0 0 {w:.1f} {h:.1f}" role="img" aria-label="{_e(t["map"])} {_e(area.name(lang))}">'
            + "".join(paths) + f'</svg><div class="legend small">{legend}</div>')


# -- the series --------------------------------------------------------------------------


def monthly_series(counts: pd.DataFrame, area: AnalysisResult, *, around: tuple[date, date]) -> pd.DataFrame:
    """``month, declared, comparison`` totals for the area's roles, the comparison rescaled
    so its mean over the 12 months before ``around[0]`` equals the declared districts'."""
    from geo.analysis.panel import period_counts

    pc = period_counts(counts, "month")
    d = area.design
    treated = {x["ubigeo"] for x in d.get("treated", [])}
    comparison = {x["ubigeo"] for x in d.get("comparison", [])}
    lo = pd.Timestamp(around[0]) - pd.DateOffset(months=24)
    hi = pd.Timestamp(around[1]) + pd.DateOffset(months=12)
    start = pd.to_datetime(pc["start"])
    pc = pc[(start >= lo) & (start <= hi)].assign(start=lambda f: pd.to_datetime(f["start"]))
    tot = pd.DataFrame({
        "declared": pc[pc["ubigeo"].isin(treated)].groupby("start")["n"].sum(),
        "comparison": pc[pc["ubigeo"].isin(comparison)].groupby("start")["n"].sum(),
    }).fillna(0.0).sort_index()
    pre = tot[(tot.index < pd.Timestamp(around[0])) & (tot.index >= pd.Timestamp(around[0]) - pd.DateOffset(months=12))]
    if len(pre) and pre["comparison"].mean() > 0:
        tot["comparison"] = tot["comparison"] * pre["declared"].mean() / pre["comparison"].mean()
    else:
        tot["comparison"] = np.nan
    return tot.rename_axis("month").reset_index()


def series_svg(series: pd.DataFrame, shaded: Sequence[tuple[date, date]], lang: str, *,
               width: float = 470.0, height: float = 96.0) -> str:
    """Two monthly lines with the declared spans shaded, as an inline SVG."""
    t = _T[lang]
    if series.empty:
        return f'<p class="small">{_e(t["none"])}</p>'
    ml, mr, mt, mb = 34.0, 6.0, 6.0, 18.0
    months = pd.to_datetime(series["month"])
    m0, m1 = months.min(), months.max()
    span = max((m1 - m0).days, 1)
    ymax = float(np.nanmax(series[["declared", "comparison"]].to_numpy())) or 1.0

    def X(ts):
        return ml + (pd.Timestamp(ts) - m0).days / span * (width - ml - mr)

    def Y(v):
        return mt + (1 - v / (ymax * 1.08)) * (height - mt - mb)

    out = [f'<svg class="series-chart" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}">']
    for a, b in shaded:
        xa, xb = X(max(pd.Timestamp(a), m0)), X(min(pd.Timestamp(b), m1 + pd.DateOffset(months=1)))
        if xb > xa:
            out.append(f'<rect class="spell" x="{xa:.1f}" y="{mt}" width="{xb - xa:.1f}" height="{height - mt - mb:.1f}" '
                       f'fill="#f1948a" fill-opacity="0.35"/>')
    for frac in (0.0, 0.5, 1.0):
        v = ymax * frac
        y = Y(v)
        label = f"{v:,.0f}".replace(",", " " if lang == "es" else ",")
        out.append(f'<line x1="{ml}" x2="{width - mr}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd" stroke-width="0.6"/>'
                   f'<text x="{ml - 2}" y="{y + 2.5:.1f}" font-size="7" text-anchor="end">{label}</text>')
    for year in range(m0.year, m1.year + 1):
        ts = pd.Timestamp(year=year, month=1, day=1)
        if m0 <= ts <= m1 and X(ts) < width - mr - 10:
            x = X(ts)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" y2="{height - mb}" stroke="#ccc" stroke-width="0.5"/>'
                       f'<text x="{x:.1f}" y="{height - 6}" font-size="7" text-anchor="middle">{year}</text>')
    for col, colour, dash in (("comparison", "#2e86c1", "3,2"), ("declared", "#c0392b", "")):
        pts = [(X(m), Y(v)) for m, v in zip(months, series[col]) if np.isfinite(v)]
        if pts:
            out.append(f'<polyline class="line-{col}" fill="none" stroke="{colour}" stroke-width="1.3" '
                       f'stroke-dasharray="{dash}" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"/>')
    out.append("</svg>")
    legend = (f'<div class="legend small"><span><i class="sw" style="background:#c0392b"></i>{_e(t["series_declared"])}</span>'
              f'<span><i class="sw" style="background:#2e86c1"></i>{_e(t["series_comparison"])}</span>'
              f'<span><i class="sw" style="background:#f1948a"></i>{_e(t["shaded"])}</span></div>')
    return "".join(out) + legend


# -- the estimates -----------------------------------------------------------------------


def _ci(e: Estimate, lang: str) -> str:
    if not e.available:
        return _T[lang]["none"]
    if not e.ci or not all(x is not None and math.isfinite(x) for x in e.ci):
        return "–"
    return f"{pct(e.ci[0], lang)} … {pct(e.ci[1], lang)}"


def estimates_table(r: AnalysisResult, lang: str, *, sentences: bool = True) -> str:
    """One row per estimate: name, role (primary / robustness / descriptive), effect, interval, sentence."""
    t = _T[lang]
    prim = (r.primary or {}).get("method")
    rows = []
    for m, e in r.estimates.items():
        role = (t["secondary"] if r.pooling and m != "naive" else t["primary"] if m == prim
                else t["descriptive"] if m == "naive" else t["robustness"])
        eff = pct(e.effect, lang, digits=1) if e.available else t["none"]
        rows.append(f'<tr class="{"primary" if m == prim else ""}" data-method="{m}" data-effect="{e.effect if e.available else ""}" '
                    f'data-ci-low="{e.ci[0] if e.available and e.ci else ""}" data-ci-high="{e.ci[1] if e.available and e.ci else ""}">'
                    f'<td>{_e(e.name(lang))}</td><td>{_e(role)}</td><td class="num">{_e(eff)}</td>'
                    f'<td class="num">{_e(_ci(e, lang))}</td>'
                    + (f'<td class="sentence">{_e(e.sentence(lang))}</td>' if sentences else "") + "</tr>")
    head = (f'<tr><th>{_e(t["method"])}</th><th>{_e(t["role"])}</th><th>{_e(t["effect"])}</th><th>{_e(t["ci"])}</th>'
            + ("<th></th>" if sentences else "") + "</tr>")
    return f'<table class="estimates">{head}{"".join(rows)}</table>'


def _shaded(registry, spell_id: str, treated: set[str], universe) -> list[tuple[date, date]]:
    from geo.declarations import Registry

    reg = Registry(registry.declarations, districts=sorted(universe), include_unconfirmed=registry.include_unconfirmed,
                   source=registry.source)
    spell = reg.spell(spell_id)
    spans = sorted({(p.start, p.end) for p in spell.periods if p.ubigeos & treated})
    merged: list[list[date]] = []
    for a, b in spans:
        if merged and (pd.Timestamp(a) - pd.Timestamp(merged[-1][1])).days <= 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _warnings(r: AnalysisResult, lang: str) -> list[str]:
    """Every warning once, prefixed with its area's name when the spell has several."""
    many = len(r.areas) > 1
    in_areas = {id(w) for a in r.areas for w in a.warnings} if many else set()
    tagged = [(None, w) for w in r.warnings if id(w) not in in_areas]
    tagged += [(a.name(lang) if many else None, w) for a in (r.areas or [r])
               for w in [*a.warnings, *(w for e in a.estimates.values() for w in e.warnings)]]
    seen, out = set(), []
    for where, w in tagged:
        text = w.es if lang == "es" else w.en
        if w.code in ("reported_only", "synthetic_data") or (where, w.code, text) in seen:
            continue
        seen.add((where, w.code, text))
        out.append(f"{where}: {text}" if where else text)
    return out


def report_html(result: AnalysisResult, store=None, *, lang: str = "es", registry=None, districts=None,
                counts: pd.DataFrame | None = None, generated: datetime | None = None) -> str:
    """The one-page report of ``result`` as a self-contained HTML string.

    ``store`` (path or :class:`geo.store.Store`) supplies the monthly series when
    ``counts`` is not given (``ubigeo`` and ``day`` or ``year, month``, and ``n``);
    ``districts`` the map (default: the cached boundaries; none, a note); ``registry``
    the shaded months and the decrees' sources (default: the bundled registry).
    """
    from geo.declarations import Registry

    if lang not in _T:
        raise HexwatchError(f"lang must be es or en, not {lang!r}")
    t = _T[lang]
    registry = registry if registry is not None else Registry.load()
    if counts is None:
        if store is None:
            raise HexwatchError("report_html needs the store or the counts for the monthly series")
        from geo.analysis.pipeline import load_counts

        counts, _, _ = load_counts(store, source=result.source,
                                   category=[c.strip() for c in result.category.split(",")] if result.category else None)
    if districts is None:
        try:
            from geo import boundaries

            districts = boundaries.load_study_districts()[["ubigeo", "geometry"]]
        except HexwatchError:
            districts = None
    universe = set(counts["ubigeo"].astype(str).unique())
    spell = Registry(registry.declarations, districts=sorted(universe), include_unconfirmed=registry.include_unconfirmed,
                     source=registry.source).spell(result.spell_id)
    areas = result.areas or [result]
    n_declared = sum(len(a.design.get("treated", [])) for a in areas)
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width, initial-scale=1">'
             f'<title>{_e(t["title"])} {_e(spell.name)}</title><style>{_CSS}</style></head><body><div class="page">']
    if result.synthetic:
        parts.append(f'<div class="banner" id="synthetic-banner">{_e(t["synthetic"])}</div>')
    parts.append(f'<h1>{_e(t["title"])} {_e(spell.name)}</h1>'
                 f'<p class="sub">{_e(t["spell"])} {_e(spell.name)}, {_e(t["from"])} {spell.start.isoformat()} '
                 f'{_e(t["to"])} {spell.end.isoformat()} · {n_declared} {_e(t["districts"])} · '
                 f'{_e(", ".join(a.name(lang) for a in areas))}</p>')
    parts.append(f'<p class="verdict" id="verdict">{_e(t["verdict"])}: {_e(result.sentence(lang))}</p>')
    lead_rule = (areas[0].primary or {}) if len(areas) > 1 else {}
    if lead_rule.get("method"):
        parts.append(f'<p class="small" id="primary-rule">{_e(t["primary_rule"])} ({_e(t["each_area"])}): '
                     f'{_e(lead_rule.get("rule_es" if lang == "es" else "rule_en", ""))}</p>')
    for a in areas:
        treated = {x["ubigeo"] for x in a.design.get("treated", [])}
        shaded = _shaded(registry, result.spell_id, treated, universe) if treated else []
        series = monthly_series(counts, a, around=(spell.start, spell.end)) if treated else pd.DataFrame()
        prim = a.primary or {}
        rule = prim.get("rule_es" if lang == "es" else "rule_en", "")
        tbt = a.descriptive.get("two_by_two")
        parts.append(f'<section class="area" data-area="{_e(a.area or "")}"><h2>{_e(t["area"])}: {_e(a.name(lang))}</h2>'
                     f'<div class="row"><div class="map">{map_svg(a, districts, lang)}</div>'
                     f'<div class="series"><div class="small"><b>{_e(t["series"])}</b></div>'
                     f'{series_svg(series, shaded, lang)}</div></div>'
                     f'{estimates_table(a, lang)}'
                     + (f'<p class="small">{_e(t["primary_rule"])}: {_e(prim.get("method") or "-")} — {_e(rule)}</p>'
                        if prim and len(areas) == 1 else "")
                     + (f'<p class="small two-by-two">{_e(two_by_two_line(tbt, lang))}'
                        + (f' {_e(two_by_two_line(a.descriptive["two_by_two_area"], lang, against_area=a.name(lang)))}'
                           if a.descriptive.get("two_by_two_area") else "") + "</p>" if tbt else "")
                     + "</section>")
    if result.pooling and len(areas) > 1:
        parts.append(f'<section class="pooled"><h2>{_e(t["pooled"])}</h2>'
                     f'<p class="small">{_e(result.pooling.get("weighting_es" if lang == "es" else "weighting_en", ""))}</p>'
                     f'{estimates_table(result, lang, sentences=False)}</section>')
    items = [*t["standing"], *_warnings(result, lang)]
    parts.append(f'<h2>{_e(t["caveats"])}</h2><ul class="small" id="caveats">'
                 + "".join(f"<li>{_e(x)}</li>" for x in items) + "</ul>")
    decrees = [(d.decree_id, d.source_url) for d in registry.declarations if d.decree_id in spell.decree_ids]
    note = result.source_note.get(lang) or result.source_note.get("en", "")
    parts.append(f'<footer class="small" id="provenance"><b>{_e(t["source"])}:</b> {_e(result.attribution)}'
                 + (f" ({_e(note)})" if note else "")
                 + f' · {_e(t["version"])}: <span id="store-version">{_e(result.store_version)}</span>'
                 f' · {_e(t["generated"])} {when} · hexwatch {_e(geo.__version__)}<br>'
                 f'<b>{_e(t["decrees"])}:</b> '
                 + "; ".join(f'{_e(i)}' + (f' ({_e(u)})' if u else "") for i, u in decrees)
                 + "</footer>")
    parts.append("</div></body></html>")
    return "".join(parts)


def write_pdf(page: str, target) -> None:
    """Print ``page`` to PDF with WeasyPrint (no browser needed); a clear error when it is absent."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        raise HexwatchError(f"PDF output needs WeasyPrint and its system libraries ({exc}); "
                            "install it with `pip install weasyprint`, or print the HTML from a browser") from None
    from geo.store import atomic_write_bytes

    atomic_write_bytes(target, HTML(string=page).write_pdf())
