"""The ``hexwatch`` command line: thin wrappers over the library, one verb per job.

Each command parses options, calls one library function and prints its result. A
:class:`geo.errors.HexwatchError` (or a bad file) becomes one line on stderr and exit
code 2; a traceback means a bug.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from geo.errors import HexwatchError

app = typer.Typer(help="hexwatch: incidents in H3 hexagons vs. Peru's states of emergency.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
boundaries_app = typer.Typer(help="Fetch and inspect boundary files.", no_args_is_help=True)
declarations_app = typer.Typer(help="The registry of emergency declarations.", no_args_is_help=True)
app.add_typer(boundaries_app, name="boundaries")
app.add_typer(declarations_app, name="declarations")

out = Console()
err = Console(stderr=True)

StoreOpt = typer.Option(..., "--store", help="Store folder.", file_okay=False)


@boundaries_app.command("fetch")
def boundaries_fetch(
    mirror: Optional[Path] = typer.Option(None, help="Folder holding the upstream files (else $HEXWATCH_BOUNDARY_MIRROR, ../shared/boundaries, or download)."),
    force: bool = typer.Option(False, help="Rebuild the cache even if present."),
) -> None:
    """Fetch the boundary files, verify their sha256 and cache them as GeoParquet."""
    from geo import boundaries

    paths = boundaries.fetch(mirror=mirror, force=force)
    d = boundaries.load_districts()
    p = boundaries.load_provinces()
    lc = boundaries.load_lima_callao()
    out.print(f"districts: {len(d):,}  provinces: {len(p):,}  Lima/Callao high-detail: {len(lc)} "
              f"({lc['ubigeo'].notna().sum()} with ubigeo)")
    for name, path in paths.items():
        out.print(f"  {name}: {path}")


@declarations_app.command("list")
def declarations_list(registry: Optional[Path] = typer.Option(None, help="Registry CSV (default: the bundled one).")) -> None:
    """List decrees and the spells they form."""
    from geo.declarations import Registry

    reg = Registry.load(registry)
    out.print(reg.describe(), markup=False, highlight=False, soft_wrap=True)


@declarations_app.command("validate")
def declarations_validate(registry: Optional[Path] = typer.Option(None, help="Registry CSV (default: the bundled one).")) -> None:
    """Check the registry: known ubigeos, dates, chains without gaps or overlaps."""
    from geo.declarations import Registry

    reg = Registry.load(registry)
    try:
        from geo import boundaries

        known = set(boundaries.load_districts()["ubigeo"])
    except HexwatchError:
        known = None
        err.print("note: boundaries not fetched; ubigeos checked for form only (run `hexwatch boundaries fetch`)")
    problems = reg.validate(known_ubigeos=known)
    for p in problems:
        err.print(str(p), markup=False, highlight=False, soft_wrap=True)
    n_errors = sum(p.severity == "error" for p in problems)
    if n_errors:
        raise HexwatchError(f"{n_errors} error(s) in {reg.source}; fix the rows named above")
    out.print(f"ok: {len(reg.declarations)} decrees in {len(reg.spells)} spells"
              + (f", {len(problems)} warnings" if problems else ""))


@declarations_app.command("status")
def declarations_status(
    ubigeo: str = typer.Argument(..., help="District ubigeo, e.g. 150132."),
    day: str = typer.Argument(..., help="Date, YYYY-MM-DD."),
    registry: Optional[Path] = typer.Option(None, help="Registry CSV (default: the bundled one)."),
    unconfirmed: bool = typer.Option(False, "--unconfirmed", help="Also use rows marked confirmed=no."),
) -> None:
    """Was a district under emergency on a day, and under which spell?"""
    from geo.declarations import Registry, as_date, format_decree_id

    u = ubigeo.strip()
    if not (len(u) == 6 and u.isdigit()):
        raise HexwatchError(f"{ubigeo!r} is not a district ubigeo; write 6 digits, e.g. 150132")
    d = as_date(day)
    spell = Registry.load(registry, include_unconfirmed=unconfirmed).spell_on(u, d)
    if spell is None:
        out.print(f"{u} {d}: not under emergency", highlight=False)
        return
    now = next(p for p in spell.periods if p.covers(u, d))
    out.print(f"{u} {d}: under emergency, spell {spell.name} ({spell.start} to {spell.end}); decree in force "
              f"{format_decree_id(now.decree_id)} ({now.start} to {now.end})" + ("" if spell.confirmed else "; includes unconfirmed rows"),
              highlight=False, soft_wrap=True)


@app.command("demo")
def demo(
    store: Path = StoreOpt,
    incidents: int = typer.Option(1_000_000, help="Expected number of synthetic incidents."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same data."),
    effect: float = typer.Option(-0.10, help="Injected change in declared districts while declared (-0.10 = -10 %)."),
    displacement: float = typer.Option(0.03, help="Injected change in undeclared districts bordering a declared one."),
    start: str = typer.Option("2022-01-01", help="First day, YYYY-MM-DD."),
    end: str = typer.Option("2025-12-31", help="Last day, YYYY-MM-DD."),
) -> None:
    """Build a SYNTHETIC demo store over the real districts of Lima, Callao and Sullana, with known injected effects."""
    from geo import boundaries
    from geo.demo import DemoConfig, build_demo_store, truth_summary
    from geo.store import Store

    config = DemoConfig(n_incidents=incidents, seed=seed, effect=effect, displacement=displacement, start=start, end=end)
    boundaries.fetch()
    report = build_demo_store(store, config, progress=True)
    out.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
    out.print(truth_summary(Store.open(store).meta["demo"]), highlight=False, markup=False, soft_wrap=True)


# --- ingest and summary (geo.ingest) -----------------------------------------------------
@app.command("ingest")
def ingest_cmd(
    file: Path = typer.Argument(..., help="Incident file: CSV (any delimiter/encoding), Parquet or GeoJSON.", dir_okay=False),
    store: Path = StoreOpt,
    kind: str = typer.Option("auto", "--format", help="points, mininter (police reports), sidpol (district-month counts) "
                             "or auto (from the file's columns)."),
    lat: Optional[str] = typer.Option(None, help="Latitude column (degrees)."),
    lon: Optional[str] = typer.Option(None, help="Longitude column (degrees)."),
    time: Optional[str] = typer.Option(None, help="Date/time column."),
    category: Optional[str] = typer.Option(None, help="Category column (e.g. the crime type)."),
    id: Optional[str] = typer.Option(None, "--id", help="Unique id column (default: a hash of each row's content)."),
    subcategory: Optional[str] = typer.Option(None, help="Subcategory column."),
    time_format: Optional[str] = typer.Option(None, "--time-format", help="strftime codes, e.g. '%d/%m/%Y %H:%M', "
                                              "or epoch_s / epoch_ms (default: detected)."),
    clip: bool = typer.Option(False, "--clip", help="Reject points outside every district instead of keeping them without one."),
    resolution: int = typer.Option(9, "--resolution", help="H3 resolution of each incident's cell."),
    boundaries_file: Optional[Path] = typer.Option(None, "--boundaries", help="Your own districts (GeoJSON, GeoPackage, Shapefile)."),
    boundary_id_field: Optional[str] = typer.Option(None, "--boundary-id-field", help="Field of --boundaries with each area's id."),
    boundary_name_field: Optional[str] = typer.Option(None, "--boundary-name-field", help="Field of --boundaries with each area's name."),
    no_boundaries: bool = typer.Option(False, "--no-boundaries", help="Do not locate districts: H3 cells only."),
    rejects: Optional[Path] = typer.Option(None, "--rejects", help="Also write this ingest's rejected rows to this CSV file."),
    source: Optional[str] = typer.Option(None, "--source", help="Label stored with each incident (default: the file name)."),
    json_out: bool = typer.Option(False, "--json", help="Also print the ingest report as JSON."),
) -> None:
    """Add an incident file to a store: every row is accepted or rejected with a reason; re-ingesting adds nothing."""
    from geo.ingest import ingest_file

    if no_boundaries and boundaries_file is not None:
        raise HexwatchError("give either --boundaries FILE or --no-boundaries, not both")
    districts = False if no_boundaries else None
    if boundaries_file is not None:
        if not boundary_id_field:
            raise HexwatchError("--boundaries needs --boundary-id-field (the field that identifies each area)")
        from geo.boundaries import read_boundary_file

        districts = read_boundary_file(boundaries_file, id_field=boundary_id_field, name_field=boundary_name_field)
    columns = {k: v for k, v in {"lat": lat, "lon": lon, "time": time, "category": category, "id": id,
                                 "subcategory": subcategory}.items() if v}
    report = ingest_file(file, store, kind=kind, columns=columns or None, time_format=time_format, boundaries=districts,
                         clip=clip, resolution=resolution, progress=True, source_label=source, rejects_path=rejects)
    out.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
    if rejects is not None:
        out.print(f"rejected rows: {rejects}", highlight=False, markup=False, soft_wrap=True)
    if json_out:
        import orjson

        out.print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode(), highlight=False, markup=False, soft_wrap=True)


@app.command("summary")
def summary_cmd(
    store: Path = StoreOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON instead."),
) -> None:
    """What a store holds: dataset, coverage, table sizes, sources, rejects and the last ingest."""
    from geo.ingest import describe_store, store_summary

    if json_out:
        import orjson

        out.print(orjson.dumps(store_summary(store), option=orjson.OPT_INDENT_2, default=str).decode(),
                  highlight=False, markup=False, soft_wrap=True)
    else:
        out.print(describe_store(store), highlight=False, markup=False, soft_wrap=True)


# --- sharing: export and embed (one set of view options, parsed by geo.viewspec) ---------
_FromOpt = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: the declaration's or the data's).")
_ToOpt = typer.Option(None, "--to", help="Last day (inclusive), YYYY-MM-DD.")
_CategoryOpt = typer.Option(None, "--category", help="Category (repeat for several; default: all).")
_DeclarationOpt = typer.Option(None, "--declaration", help="Declaration spell, e.g. 'DS 105-2023-PCM'.")
_AreaOpt = typer.Option("all", "--area", help="all, lima_callao or sullana.")
_ResolutionOpt = typer.Option(8, "--resolution", help="H3 resolution of the hexes (public output: 8 at most).")
_MetricOpt = typer.Option("count", "--metric", help="count, rate (per km²) or change (vs the baseline).")
_BaselineFromOpt = typer.Option(None, "--baseline-from", help="Baseline first day (default: the equal window before).")
_BaselineToOpt = typer.Option(None, "--baseline-to", help="Baseline last day.")
_KOpt = typer.Option(5, "--k", help="Public output: counts below k are shown as '< k' (3 at least).")


def _view(start, end, category, declaration, area, resolution, metric, baseline_from, baseline_to):
    from geo.viewspec import View

    return View.from_query({"from": start, "to": end, "category": category or [], "declaration": declaration,
                            "area": area, "res": str(resolution), "metric": metric,
                            "baseline_from": baseline_from, "baseline_to": baseline_to})


@app.command("export")
def export_cmd(
    store: Path = StoreOpt,
    fmt: str = typer.Option("geojson", "--format", help="geojson, csv or geoparquet."),
    out_path: Path = typer.Option(..., "--out", help="Output file (or folder: a name is made from the view)."),
    start: Optional[str] = _FromOpt, end: Optional[str] = _ToOpt, category: Optional[list[str]] = _CategoryOpt,
    declaration: Optional[str] = _DeclarationOpt, area: str = _AreaOpt, resolution: int = _ResolutionOpt,
    metric: str = _MetricOpt, baseline_from: Optional[str] = _BaselineFromOpt, baseline_to: Optional[str] = _BaselineToOpt,
    public: bool = typer.Option(False, "--public", help="Apply the public privacy rules (see docs/privacy.md)."),
    k: int = _KOpt,
    analysis: Optional[Path] = typer.Option(None, "--analysis", help="JSON from `hexwatch analyze --json` to include (official exports)."),
) -> None:
    """Export a view's hexes and districts as GeoJSON (RFC 7946), CSV or GeoParquet, with provenance."""
    import orjson

    from geo.export import export_view

    view = _view(start, end, category, declaration, area, resolution, metric, baseline_from, baseline_to)
    extra = orjson.loads(analysis.read_bytes()) if analysis else None
    for p in export_view(store, view, fmt, out_path, public=public, k=k, analysis=extra):
        out.print(f"wrote {p}")


@app.command("embed")
def embed_cmd(
    store: Path = StoreOpt,
    out_path: Path = typer.Option(..., "--out", help="HTML file to write."),
    start: Optional[str] = _FromOpt, end: Optional[str] = _ToOpt, category: Optional[list[str]] = _CategoryOpt,
    declaration: Optional[str] = _DeclarationOpt, area: str = _AreaOpt, resolution: int = _ResolutionOpt,
    metric: str = _MetricOpt, baseline_from: Optional[str] = _BaselineFromOpt, baseline_to: Optional[str] = _BaselineToOpt,
    lang: str = typer.Option("es", "--lang", help="es or en."),
    k: int = _KOpt,
) -> None:
    """Write a standalone public HTML map of a view (draws offline; privacy rules applied)."""
    from geo.embed import embed_html
    from geo.export import safe_filename
    from geo.store import atomic_write_bytes

    view = _view(start, end, category, declaration, area, resolution, metric, baseline_from, baseline_to)
    page = embed_html(store, view, lang=lang, k=k)
    target = out_path.with_name(safe_filename(out_path.name, default="hexwatch-embed.html"))
    atomic_write_bytes(target, page.encode("utf-8"))
    out.print(f"wrote {target} ({len(page) / 1e6:.1f} MB)")


@app.command("analyze")
def analyze_cmd(
    store: Path = StoreOpt,
    declaration: str = typer.Option(..., "--declaration", help="Spell id, e.g. DS-105-2023-PCM or 'DS 105-2023-PCM'."),
    category: Optional[list[str]] = typer.Option(None, help="Category (repeatable; case and accents ignored). Default: all."),
    source: str = typer.Option("points", help="points (weekly, from the point cube) or sidpol (monthly district counts)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full result as JSON here (atomically).", dir_okay=False),
    lang: str = typer.Option("en", help="Language of the printed summary: en or es."),
    registry: Optional[Path] = typer.Option(None, help="Registry CSV (default: the bundled one)."),
) -> None:
    """Did a declaration change incidents? Naive, DiD, event study, synthetic control, displacement."""
    from geo.analysis import analyze
    from geo.declarations import Registry
    from geo.store import atomic_write_bytes

    if lang not in ("en", "es"):
        raise HexwatchError(f"--lang must be en or es, not {lang!r}")
    result = analyze(store, declaration, category=category or None, source=source,
                     registry=Registry.load(registry) if registry else None)
    out.print(result.summary(lang), highlight=False, markup=False, soft_wrap=True)
    out.print("")
    out.print(result.sentence(lang), highlight=False, markup=False, soft_wrap=True)
    if json_out is not None:
        atomic_write_bytes(json_out, result.to_json())
        out.print(f"JSON: {json_out}", highlight=False, markup=False, soft_wrap=True)


@app.command("hotspots")
def hotspots_cmd(
    store: Path = StoreOpt,
    start: Optional[str] = typer.Option(None, "--from", help="First day, YYYY-MM-DD (default: the data's first; partial bins are left out)."),
    end: Optional[str] = _ToOpt, category: Optional[list[str]] = _CategoryOpt, area: str = _AreaOpt,
    resolution: int = typer.Option(8, "--resolution", help="H3 resolution of the cells (up to the store's finest cube)."),
    period: str = typer.Option("week", "--period", help="Time bins: week (ISO, Monday first) or month."),
    k_rings: int = typer.Option(1, "--k-rings", help="Spatial neighbours: cells within this many grid steps (the cell included)."),
    time_steps: int = typer.Option(1, "--time-steps", help="Temporal neighbours: this many previous bins."),
    alpha: float = typer.Option(0.05, "--alpha", help="FDR level (Benjamini-Hochberg) and the trend test's level."),
    permutations: int = typer.Option(0, "--permutations", help="Conditional permutations (0 = analytic z and p)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the permutations."),
    public: bool = typer.Option(False, "--public", help="Only the published grid, under the privacy rules (docs/privacy.md)."),
    k: int = _KOpt,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write every cell's pattern, z, p and trend as JSON here.", dir_okay=False),
    geojson_out: Optional[Path] = typer.Option(None, "--out", help="Write a GeoJSON map layer (RFC 7946, with provenance) here.", dir_okay=False),
) -> None:
    """Emerging hot spots: space-time Getis-Ord Gi* per cell and bin, Mann-Kendall trend, Esri's 17 patterns."""
    from geo.hotspots import emerging_hotspots, write_outputs

    view = _view(start, end, category, None, area, resolution, "count", None, None)
    result = emerging_hotspots(store, view, period=period, k_rings=k_rings, time_steps=time_steps, alpha=alpha,
                               permutations=permutations, seed=seed, public=public, k=k if public else None)
    out.print(result.summary(), highlight=False, markup=False, soft_wrap=True)
    for p in write_outputs(result, json_path=json_out, geojson_path=geojson_out):
        out.print(f"wrote {p}", highlight=False, markup=False, soft_wrap=True)


def _load_plugins() -> None:
    for ep in entry_points(group="hexwatch.cli"):
        try:
            ep.load()(app)
        except ImportError as exc:  # the dashboard's extras may be absent in a library-only install
            err.print(f"note: command {ep.name!r} unavailable ({exc})")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app, turning user errors into one line."""
    _load_plugins()
    try:
        rc = app(args=argv, standalone_mode=False)
        # standalone_mode=False hands typer.Exit's code back instead of exiting.
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except HexwatchError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        err.print(f"error: {exc.strerror}: {exc.filename}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
