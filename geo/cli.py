"""The ``hexwatch`` command line: thin wrappers over the library, one verb per job.

Each command parses options, calls one library function and prints its result. A
:class:`geo.errors.HexwatchError` (or a bad file) becomes one line on stderr and exit
code 2; a traceback means a bug.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager, nullcontext
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
data_app = typer.Typer(help="Real data sets (data/sources/manifest.toml): fetch, verify, cache.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)

from geo.objectstore import store_location  # noqa: E402  (cheap: fsspec is imported on use)

StoreOpt = typer.Option(..., "--store", help="Store folder, or s3://bucket/prefix or gs://bucket/prefix.",
                        parser=store_location)


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


@data_app.command("fetch")
def data_fetch(
    name: str = typer.Argument(..., help="Data set name, e.g. sidpol (see `hexwatch data list`)."),
    mirror: Optional[Path] = typer.Option(None, help="Folder holding the file (else $HEXWATCH_DATA_MIRROR, ../shared/<name>, or download)."),
    force: bool = typer.Option(False, help="Fetch again even if the cache holds a verified copy."),
) -> None:
    """Fetch a real data set, verify its sha256 and size, and cache it (git-ignored)."""
    from geo import datasets

    path = datasets.fetch(name, mirror=mirror, force=force)
    ds = datasets.dataset(name)
    out.print(f"{ds.name}: {path} ({ds.bytes:,} bytes, sha256 {ds.sha256[:12]}... verified)", highlight=False, soft_wrap=True)
    out.print(f"  {ds.title}", highlight=False, markup=False, soft_wrap=True)
    out.print(f"  licence: {ds.licence}; {ds.attribution}", highlight=False, markup=False, soft_wrap=True)


@data_app.command("ingest")
def data_ingest(
    name: str = typer.Argument(..., help="Data set name, e.g. sidpol."),
    store: Path = StoreOpt,
    mirror: Optional[Path] = typer.Option(None, help="Folder holding the file (see `hexwatch data fetch`)."),
    json_out: bool = typer.Option(False, "--json", help="Also print the ingest report as JSON."),
) -> None:
    """Fetch a real data set and ingest it into a store as its layer, with its source, licence and attribution."""
    from geo import datasets

    report = datasets.ingest_dataset(name, store, mirror=mirror, progress=True)
    out.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
    ds = datasets.dataset(name)
    out.print(f"{ds.layer} layer: {ds.title}; {ds.attribution} ({ds.licence})", highlight=False, markup=False, soft_wrap=True)
    if json_out:
        import orjson

        out.print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode(), highlight=False, markup=False, soft_wrap=True)


@data_app.command("list")
def data_list() -> None:
    """The data sets hexwatch knows, their licence and whether they are cached."""
    from geo import datasets

    for ds in datasets.datasets().values():
        cached = datasets.cache_path(ds)
        state = f"cached at {cached}" if cached.is_file() else "not fetched (hexwatch data fetch " + ds.name + ")"
        out.print(f"{ds.name}: {ds.title}\n  {ds.licence}; {ds.attribution}\n  {state}",
                  highlight=False, markup=False, soft_wrap=True)


@app.command("demo")
def demo(
    store: Path = StoreOpt,
    incidents: int = typer.Option(1_000_000, help="Expected number of synthetic incidents."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same data."),
    effect: float = typer.Option(-0.10, help="Injected change in declared districts while declared (-0.10 = -10 %)."),
    displacement: float = typer.Option(0.03, help="Injected change in undeclared districts bordering a declared one."),
    start: str = typer.Option("2022-01-01", help="First day, YYYY-MM-DD."),
    end: str = typer.Option("2025-12-31", help="Last day, YYYY-MM-DD."),
    counts: str = typer.Option("synthetic", "--counts", help="The district-month layer: synthetic (from the same "
                               "simulation) or a real data set, e.g. sidpol (fetched, verified and ingested; see `hexwatch data list`)."),
) -> None:
    """Build a SYNTHETIC demo store over the real districts of Lima, Callao and Sullana, with known injected effects
    (with --counts sidpol: beside the real SIDPOL district-month counts for all of Peru)."""
    from geo import boundaries, datasets
    from geo.demo import DemoConfig, build_demo_store, truth_summary
    from geo.store import Store

    real = counts.strip().lower() != "synthetic"
    if real:
        datasets.dataset(counts)  # an unknown name fails before minutes of simulation
    config = DemoConfig(n_incidents=incidents, seed=seed, effect=effect, displacement=displacement, start=start, end=end)
    boundaries.fetch()
    report = build_demo_store(store, config, progress=True, district_counts=not real)
    out.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
    out.print(truth_summary(Store.open(store).meta["demo"]), highlight=False, markup=False, soft_wrap=True)
    if real:
        real_report = datasets.ingest_dataset(counts, store, progress=True)
        out.print(real_report.summary(), highlight=False, markup=False, soft_wrap=True)
        ds = datasets.dataset(counts)
        out.print(f"district-month layer: REAL, {ds.title}; {ds.attribution} ({ds.licence}). Hexes: SYNTHETIC.",
                  highlight=False, markup=False, soft_wrap=True)


# --- ingest and summary (geo.ingest) -----------------------------------------------------
@contextmanager
def _tuned_for_bulk_work():
    """Settings for this ``hexwatch ingest`` process while it does its one bulk job
    (Linux and glibc; elsewhere nothing changes), restored afterwards. They are the
    command's, never the library's: ``geo`` must not change the process it runs in (the
    dashboard, a notebook, a Dask worker), so ``geo.ingest`` does none of this.

    - No transparent huge pages (``prctl(PR_SET_THP_DISABLE)``): Arrow backs the
      gigabytes an ingest reads with 2 MB pages, whose first touch is slow on VMs.
    - glibc keeps freed memory for reuse (``mallopt`` mmap/trim thresholds) instead of
      mapping and unmapping each of the ingest's short-lived large arrays; the heap is
      trimmed at the end.
    - No cyclic garbage collection: its passes walk every object and find no garbage.

    ``--no-tune-process`` leaves the process as Python starts it. The gain is measured
    by ``benchmarks.bench_ingest`` (its last figure: with vs without, fresh processes).
    """
    import ctypes
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        libc = ctypes.CDLL(None)
        had = libc.prctl(42, 0, 0, 0, 0)  # PR_GET_THP_DISABLE
    except (OSError, AttributeError):  # not Linux
        libc, had = None, -1
    glibc = libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")
    if had >= 0:
        libc.prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE
    if glibc:
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD
    try:
        yield
    finally:
        if glibc:  # where glibc's own dynamic thresholds settle after large frees (32 and 64 MiB)
            libc.mallopt(-3, 32 << 20)
            libc.mallopt(-1, 64 << 20)
            libc.malloc_trim(0)
        if had >= 0:
            libc.prctl(41, had, 0, 0, 0)
        if collecting:
            gc.enable()


@app.command("ingest")
def ingest_cmd(
    file: Path = typer.Argument(..., help="Incident file: CSV (any delimiter/encoding), Parquet or GeoJSON.", dir_okay=False),
    store: Path = StoreOpt,
    kind: str = typer.Option("auto", "--format", help="points, mininter (police reports), counts (any district-period "
                             "table: name its columns), sidpol (SIDPOL's counts) or auto (from the file's columns)."),
    lat: Optional[str] = typer.Option(None, help="Latitude column (degrees)."),
    lon: Optional[str] = typer.Option(None, help="Longitude column (degrees)."),
    time: Optional[str] = typer.Option(None, help="Date/time column (a year or a month alone is kept with its precision)."),
    time_of_day: Optional[str] = typer.Option(None, "--time-of-day", help="Time-of-day column, when --time holds only the date."),
    ubigeo: Optional[str] = typer.Option(None, "--ubigeo", help="Counts: district code (ubigeo) column."),
    year: Optional[str] = typer.Option(None, "--year", help="Counts: year column (without --month: yearly counts)."),
    month: Optional[str] = typer.Option(None, "--month", help="Counts: month column (1-12 or a month name)."),
    date: Optional[str] = typer.Option(None, "--date", help="Counts: one period column per row (2023, 2023-09, a date)."),
    count: Optional[str] = typer.Option(None, "--count", help="Counts: number-of-events column."),
    category: Optional[str] = typer.Option(None, help="Category column (e.g. the crime type)."),
    id: Optional[str] = typer.Option(None, "--id", help="Unique id column (default: a hash of each row's content)."),
    subcategory: Optional[str] = typer.Option(None, help="Subcategory column."),
    time_format: Optional[str] = typer.Option(None, "--time-format", help="strftime codes, e.g. '%d/%m/%Y %H:%M', "
                                              "or epoch_s / epoch_ms (default: detected)."),
    clip: bool = typer.Option(False, "--clip", help="Reject points outside every district instead of keeping them without one."),
    resolution: int = typer.Option(9, "--resolution", help="H3 resolution of each incident's cell."),
    boundaries_file: Optional[Path] = typer.Option(None, "--boundaries", help="Your own districts (GeoJSON, GeoPackage, Shapefile)."),
    boundary_id_field: Optional[str] = typer.Option(None, "--boundary-id-field", help="Field of --boundaries with each area's id; several "
                                             "fields separated by commas (borough,name) when one alone repeats."),
    boundary_name_field: Optional[str] = typer.Option(None, "--boundary-name-field", help="Field of --boundaries with each area's name."),
    no_boundaries: bool = typer.Option(False, "--no-boundaries", help="Do not locate districts: H3 cells only."),
    rejects: Optional[Path] = typer.Option(None, "--rejects", help="Also write this ingest's rejected rows to this CSV file."),
    source: Optional[str] = typer.Option(None, "--source", help="Label stored with each incident (default: the file name)."),
    json_out: bool = typer.Option(False, "--json", help="Also print the ingest report as JSON."),
    tune_process: bool = typer.Option(True, "--tune-process/--no-tune-process",
                                      help="Tune this process for one bulk job (no huge pages, glibc keeps freed memory, "
                                           "no cyclic GC); see benchmarks/bench_ingest.py for the measured gain."),
) -> None:
    """Add an incident file to a store: every row is accepted or rejected with a reason; re-ingesting adds nothing."""
    from geo.ingest import ingest_file

    tuned = _tuned_for_bulk_work() if tune_process else nullcontext()

    if no_boundaries and boundaries_file is not None:
        raise HexwatchError("give either --boundaries FILE or --no-boundaries, not both")
    districts = False if no_boundaries else None
    if boundaries_file is not None:
        if not boundary_id_field:
            raise HexwatchError("--boundaries needs --boundary-id-field (the field that identifies each area)")
        from geo.boundaries import read_boundary_file

        districts = read_boundary_file(boundaries_file, id_field=boundary_id_field, name_field=boundary_name_field)
    columns = {k: v for k, v in {"lat": lat, "lon": lon, "time": time, "category": category, "id": id,
                                 "subcategory": subcategory, "time_of_day": time_of_day, "ubigeo": ubigeo, "year": year, "month": month,
                                 "date": date, "count": count}.items() if v}
    with tuned:
        report = ingest_file(file, store, kind=kind, columns=columns or None, time_format=time_format,
                             boundaries=districts, clip=clip, resolution=resolution, progress=True, source_label=source,
                             rejects_path=rejects)
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
_AreaOpt = typer.Option("all", "--area", help="An area of the store: all, a group (e.g. lima_callao), "
                        "province:<code>, district:<id>; `hexwatch areas --store DIR` lists them.")
_DeclarationsOpt = typer.Option(None, "--declarations", help="Your own declarations / policy-event CSV (ids of the "
                                "store's boundaries; default: Peru's registry for a Peru store, none elsewhere).",
                                dir_okay=False)
_ResolutionOpt = typer.Option(8, "--resolution", help="H3 resolution of the hexes (public output: 8 at most).")
_MetricOpt = typer.Option("count", "--metric", help="count, rate (per km²) or change (vs the baseline).")
_BaselineFromOpt = typer.Option(None, "--baseline-from", help="Baseline first day (default: the equal window before).")
_BaselineToOpt = typer.Option(None, "--baseline-to", help="Baseline last day.")
_KOpt = typer.Option(5, "--k", help="Public output: counts below k are shown as '< k' (3 at least).")
_VocabularyOpt = typer.Option(None, "--vocabulary", dir_okay=False, help="Public output: a TOML file of categories "
                              "to admit or deny, merged with data/privacy_vocabulary.toml (see docs/privacy.md).")


def _public_grid(k: int, vocabulary: Optional[Path]):
    """The public grid of ``--k`` and ``--vocabulary`` (``None``: the library's default)."""
    from geo.privacy import PublicGrid, Vocabulary

    return PublicGrid(k=k, vocabulary=Vocabulary.load(vocabulary)) if vocabulary is not None else None


def _view(start, end, category, declaration, area, resolution, metric, baseline_from, baseline_to):
    from geo.viewspec import View

    return View.from_query({"from": start, "to": end, "category": category or [], "declaration": declaration,
                            "area": area, "res": str(resolution), "metric": metric,
                            "baseline_from": baseline_from, "baseline_to": baseline_to})


@app.command("export")
def export_cmd(
    store: Path = StoreOpt,
    fmt: str = typer.Option("geojson", "--format", help="geojson, csv, geoparquet, gpkg (GeoPackage), shapefile (zip) or xlsx."),
    out_path: Path = typer.Option(..., "--out", help="Output file (or folder: a name is made from the view)."),
    start: Optional[str] = _FromOpt, end: Optional[str] = _ToOpt, category: Optional[list[str]] = _CategoryOpt,
    declaration: Optional[str] = _DeclarationOpt, area: str = _AreaOpt, resolution: int = _ResolutionOpt,
    metric: str = _MetricOpt, baseline_from: Optional[str] = _BaselineFromOpt, baseline_to: Optional[str] = _BaselineToOpt,
    public: bool = typer.Option(False, "--public", help="Apply the public privacy rules (see docs/privacy.md)."),
    k: int = _KOpt,
    analysis: Optional[Path] = typer.Option(None, "--analysis", help="JSON from `hexwatch analyze --json` to include (official exports)."),
    declarations: Optional[Path] = _DeclarationsOpt,
    vocabulary: Optional[Path] = _VocabularyOpt,
) -> None:
    """Export a view's hexes and districts as GeoJSON (RFC 7946), CSV, GeoParquet, GeoPackage, Shapefile or XLSX, with provenance."""
    import orjson

    from geo.export import export_view

    view = _view(start, end, category, declaration, area, resolution, metric, baseline_from, baseline_to)
    extra = orjson.loads(analysis.read_bytes()) if analysis else None
    for p in export_view(store, view, fmt, out_path, public=public, k=k, grid=_public_grid(k, vocabulary), analysis=extra,
                         registry=_policy_events(store, declarations)):
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
    declarations: Optional[Path] = _DeclarationsOpt,
    vocabulary: Optional[Path] = _VocabularyOpt,
) -> None:
    """Write a standalone public HTML map of a view (draws offline; privacy rules applied)."""
    from geo.embed import embed_html
    from geo.export import safe_filename
    from geo.store import atomic_write_bytes

    view = _view(start, end, category, declaration, area, resolution, metric, baseline_from, baseline_to)
    page = embed_html(store, view, lang=lang, k=k, grid=_public_grid(k, vocabulary), registry=_policy_events(store, declarations))
    target = out_path.with_name(safe_filename(out_path.name, default="hexwatch-embed.html"))
    atomic_write_bytes(target, page.encode("utf-8"))
    out.print(f"wrote {target} ({len(page.encode('utf-8')) / 1e3:,.0f} kB)")


@app.command("analyze")
def analyze_cmd(
    store: Path = StoreOpt,
    declaration: Optional[str] = typer.Option(None, "--declaration", help="Spell id, e.g. DS-105-2023-PCM or 'DS 105-2023-PCM'."),
    all_spells: bool = typer.Option(False, "--all", help="Every spell of the registry the data cover, one row per spell and area."),
    category: Optional[list[str]] = typer.Option(None, help="Category (repeatable; case and accents ignored). Default: all."),
    source: str = typer.Option("auto", help="auto (real district-month counts first, else points), points (weekly) or sidpol (monthly)."),
    area: Optional[str] = typer.Option(None, help="Area to lead with (e.g. lima_callao, sullana). Default: the one with most expected events."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full result as JSON here (atomically).", dir_okay=False),
    lang: str = typer.Option("en", help="Language of the printed summary: en or es."),
    registry: Optional[Path] = typer.Option(None, help="Registry CSV (default: the bundled one)."),
    declarations: Optional[Path] = _DeclarationsOpt,
) -> None:
    """Did a declaration change incidents? Per area: naive, DiD, event study, synthetic control, displacement."""
    from geo.analysis import analyze
    from geo.declarations import Registry
    from geo.store import atomic_write_bytes

    if lang not in ("en", "es"):
        raise HexwatchError(f"--lang must be en or es, not {lang!r}")
    if all_spells == (declaration is not None):
        raise HexwatchError("give either --declaration ID or --all")
    if registry and declarations:
        raise HexwatchError("give --declarations or --registry, not both")
    events = _policy_events(store, declarations or registry)
    if events is None:
        raise HexwatchError(f"store {store} has no declarations (it was not built with Peru's boundaries); "
                            f"give your own with --declarations FILE")
    if all_spells:
        from geo.analysis.all_declarations import all_declarations

        table = all_declarations(store, category=category or None, source=source, registry=events, progress=err.print)
        out.print(table.summary(lang), highlight=False, markup=False, soft_wrap=True)
        if json_out is not None:
            atomic_write_bytes(json_out, table.to_json())
            out.print(f"JSON: {json_out}", highlight=False, markup=False, soft_wrap=True)
        return
    result = analyze(store, declaration, category=category or None, source=source, registry=events)
    if area is not None and result.by_area(area) is None:
        raise HexwatchError(f"{result.spell_id} covers no area {area!r}; its areas: {', '.join(a.area for a in result.areas)}")
    result = result.lead(area)
    out.print(result.summary(lang), highlight=False, markup=False, soft_wrap=True)
    out.print("")
    out.print(result.sentence(lang), highlight=False, markup=False, soft_wrap=True)
    if json_out is not None:
        atomic_write_bytes(json_out, result.to_json())
        out.print(f"JSON: {json_out}", highlight=False, markup=False, soft_wrap=True)


def _policy_events(store: Path, path: Optional[Path]):
    """The declarations for ``store``: ``path`` validated against its areas, Peru's registry
    for a Peru store, or None (geo.declarations.policy_events)."""
    from geo.declarations import policy_events
    from geo.store import Store

    return policy_events(Store.open(store), path)


@app.command("areas")
def areas_cmd(
    store: Path = StoreOpt,
    districts: bool = typer.Option(False, "--districts", help="Also list every district (area district:<id>)."),
) -> None:
    """The areas a store offers (for --area): from the boundaries it was ingested with."""
    from geo.store import Store
    from geo.views import areas

    t = areas(Store.open(store))
    if not districts:
        t = t.loc[t["kind"] != "district"]
    for row in t.itertuples():
        out.print(f"{row.area:<28} {row.kind:<9} {row.label:<32} {row.n:>10,} incidents  "
                  f"[{row.south:.4f}, {row.west:.4f}, {row.north:.4f}, {row.east:.4f}]",
                  highlight=False, markup=False, soft_wrap=True)
@app.command("report")
def report_cmd(
    store: Path = StoreOpt,
    declaration: str = typer.Option(..., "--declaration", help="Spell id, e.g. DS-105-2023-PCM."),
    out_path: Path = typer.Option(..., "--out", help="HTML file to write (a .pdf beside it with --pdf).", dir_okay=False),
    lang: str = typer.Option("es", help="Language: es (default) or en."),
    category: Optional[list[str]] = typer.Option(None, help="Category (repeatable). Default: all."),
    source: str = typer.Option("auto", help="auto, points or sidpol (as for analyze)."),
    area: Optional[str] = typer.Option(None, help="Area to lead with."),
    pdf: bool = typer.Option(False, help="Also write a PDF (needs weasyprint)."),
    registry: Optional[Path] = typer.Option(None, help="Registry CSV (default: the bundled one)."),
) -> None:
    """A one-page printable report of a declaration (map, series, every estimate, caveats, source)."""
    from geo.analysis import analyze
    from geo.declarations import Registry
    from geo.report import report_html, write_pdf
    from geo.store import atomic_write_bytes

    if lang not in ("en", "es"):
        raise HexwatchError(f"--lang must be en or es, not {lang!r}")
    reg = Registry.load(registry) if registry else None
    result = analyze(store, declaration, category=category or None, source=source, registry=reg)
    if area is not None and result.by_area(area) is None:
        raise HexwatchError(f"{result.spell_id} covers no area {area!r}; its areas: {', '.join(a.area for a in result.areas)}")
    page = report_html(result.lead(area), store, lang=lang, registry=reg)
    atomic_write_bytes(out_path, page.encode("utf-8"))
    out.print(f"wrote {out_path} ({len(page) / 1e3:.0f} kB)", highlight=False, markup=False)
    if pdf:
        target = out_path.with_suffix(".pdf")
        write_pdf(page, target)
        out.print(f"wrote {target}", highlight=False, markup=False)
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


def _walk(command):
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _walk(sub)


def _plain_flags(group) -> None:
    """Show on/off flags in ``--help`` without a type: typer labels every option with
    its Python type, so ``--public`` read ``--public <bool>`` as if it took a value."""
    import typer._click as click

    for command in _walk(group):
        helper = command.get_help_option(click.Context(command))
        for param in [*command.params, *([helper] if helper is not None else [])]:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""


def _os_error_line(exc: OSError) -> str:
    """One line for an OS error: what failed, on which path, and what to do."""
    import errno

    what = exc.strerror or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
    hint = {errno.ENOSPC: "free some space (or use a store on another disk) and run it again; nothing was changed",
            errno.EDQUOT: "free some space (or use a store on another disk) and run it again; nothing was changed",
            errno.EROFS: "the folder is on a read-only file system; choose a writable one",
            errno.EACCES: "you may not write there; choose another folder or fix its permissions",
            errno.EPERM: "you may not write there; choose another folder or fix its permissions"}.get(exc.errno)
    if hint is None and "No space left on device" in str(exc):  # Arrow's I/O errors carry no errno
        hint = "free some space (or use a store on another disk) and run it again; nothing was changed"
    return f"{what}{where}" + (f" ({hint})" if hint else "")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app, turning every user error into one line
    on stderr and exit code 2 (a usage error, a bad file, a library error, a full or
    read-only disk). Only a bug gives a traceback."""
    # Typer raises its own vendored copy of click's exceptions (typer._click), which a
    # ``click.ClickException`` handler does not catch.
    import typer._click as click

    _load_plugins()
    group = typer.main.get_command(app)
    _plain_flags(group)
    try:
        rc = group.main(args=argv, prog_name="hexwatch", standalone_mode=False)
        # standalone_mode=False hands typer.Exit's code back instead of exiting.
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except HexwatchError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare group: its help (typer's rich help prints itself)
        if exc.format_message().strip():
            err.print(exc.format_message(), highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except click.ClickException as exc:
        # Usage errors (unknown verb or option, missing or bad value): one line, exit 2.
        message = exc.format_message().strip().splitlines()[0] if exc.format_message().strip() else "bad usage"
        verb = f" {exc.ctx.command_path}" if getattr(exc, "ctx", None) is not None else " hexwatch"
        err.print(f"error: {message} (see `{verb.strip()} --help`)", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except OSError as exc:  # read-only store or export folder, full disk, missing file, ...
        err.print(f"error: {_os_error_line(exc)}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)


if __name__ == "__main__":
    main()
