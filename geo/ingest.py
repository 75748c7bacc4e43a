"""Ingest a file into a store: parse, index in H3, locate districts, merge, cube, write.

:func:`ingest_file` is the one entry point (the ``hexwatch ingest`` command wraps it)::

    parse (geo.incidents)           H3 cells (geo.h3index.latlng_to_cells_multi: the
      |  coordinates first  ------>  exact cell at ``resolution``, stored with each
      |                              incident, and at 10, the finest cube resolution)
      v                                 |
    districts (geo.locate.DistrictLocator, cached per boundary set, reusing the cells)
      |                                 ‖ cell cube of a first ingest (geo.cubes)
      v
    drop rows the store already holds (by incident_id) -> cubes from all incidents
    -> geo.store.write_version (tables built and encoded side by side; atomic: a crash
    leaves the previous version live)

Indexing starts as soon as the parser has read the coordinates and runs while it
validates the other columns. Both resolutions are exact: H3 cells are not nested (for
about 7% of points the parent of the point's resolution-10 cell is not the
resolution-9 cell that holds it), so the parent is kept only where it is proven to
hold the point and recomputed elsewhere.

Every input row ends up accepted or rejected with a reason, and the report checks
``n_accepted + n_rejected == n_input`` before anything is written.

Decisions worth knowing:

- **Rejects.** The store's ``rejects`` table is cumulative: every data-quality reject
  of every ingest, keyed by ``(source_file, row_number, reason, raw)`` so ingesting the
  same file again adds nothing. Rows rejected as ``already_in_store`` are counted in the
  report (and written to ``rejects_path`` when asked) but not stored: they are not
  faults of the data, and storing them would make every re-ingest grow the store.
- **Idempotence.** When an ingest adds no incident, district-month or reject and
  changes no metadata, no version is written: the store stays exactly as it was and
  the report says so (``version`` is ``None``).
- **SIDPOL** district-months already in the store (same ubigeo, year, month,
  category) are rejected ``already_in_store``; repeated keys within a file are summed.
- **Boundaries.** Points are located in ``boundaries`` (default: the study districts
  when fetched, else none: H3 only, with a note). A store whose points were located
  with another boundary set gets a note, and ``meta["boundaries"]`` lists both.
- A second ingest into the same store waits for the first (a lock file beside the
  versions), so concurrent ingests never lose each other's rows.

Example
-------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> src = os.path.join(d, "points.csv")
>>> _ = open(src, "w").write("t,lat,lon,cat\\n2023-09-21 10:00,-12.05,-77.04,Robo\\n2023-09-21 11:00,x,-77.04,Robo\\n")
>>> report = ingest_file(src, os.path.join(d, "store"), kind="points", boundaries=False,
...                      columns={"time": "t", "lat": "lat", "lon": "lon", "category": "cat"}, progress=False)
>>> report.n_input, report.n_accepted, report.rejects_by_reason
(2, 1, {'bad_coordinate': 1})
>>> ingest_file(src, os.path.join(d, "store"), kind="points", boundaries=False, progress=False,
...             columns={"time": "t", "lat": "lat", "lon": "lon", "category": "cat"}).n_already_present
1
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import geo
from geo import cubes, incidents
from geo.readers.periods import TIME_PRECISIONS
from geo.readers.values import _enum_from_codes, _nulls
from geo.errors import HexwatchError
from geo.h3index import CUBE_RESOLUTIONS, DEFAULT_RESOLUTION, latlng_to_cells, latlng_to_cells_multi
from geo.store import TABLES as STORE_TABLES
from geo.objectstore import RemoteStore, is_remote
from geo.store import Store, StoreError, atomic_write_bytes, file_lock, write_version

KINDS = ("points", "mininter", "sidpol", "counts")
#: Kinds of district-period counts tables (``sidpol`` is the counts reader with SIDPOL's names).
COUNT_KINDS = ("sidpol", "counts")
#: Rows indexed and located per step (the progress bar advances by chunks).
CHUNK_ROWS = 2_000_000
#: Files from this size on get a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 32 * 2**20
#: Schema of the store's ``incidents`` table as ingest writes it (``reported_ubigeo``:
#: the ubigeo a MININTER file itself gives, else null; kept for audits, never used to locate).
#: Columns that are never null are declared so: the store writes them as required
#: Parquet columns, cheaper to encode (see :func:`geo.store.parquet_options`).
INCIDENTS_SCHEMA = pa.schema([pa.field(name, t, nullable=name in ("subcategory", "ubigeo", "reported_ubigeo",
                                                                   "time_precision"))
                              for name, t in [
    ("incident_id", pa.string()), ("time", pa.timestamp("ms")), ("day", pa.date32()), ("category", pa.string()),
    ("subcategory", pa.string()), ("lat", pa.float64()), ("lon", pa.float64()), ("cell", pa.uint64()),
    ("ubigeo", pa.string()), ("source", pa.string()), ("reported_ubigeo", pa.string()),
    ("time_precision", pa.string())]])
DISTRICT_MONTH_SCHEMA = pa.schema([pa.field(name, t, nullable=False) for name, t in [
    ("ubigeo", pa.string()), ("year", pa.int16()), ("month", pa.int8()), ("category", pa.string()),
    ("n", pa.int64())]])
#: Yearly counts (a counts table with no month) are kept apart from the monthly ones, so
#: that nothing reading ``district_month`` (the monthly analysis, the impact panel) can
#: mistake a year's total for a month: they feed yearly views only.
DISTRICT_YEAR_SCHEMA = pa.schema([pa.field(name, t, nullable=False) for name, t in [
    ("ubigeo", pa.string()), ("year", pa.int16()), ("category", pa.string()), ("n", pa.int64())]])
NO_BOUNDARIES = "none (H3 cells only)"


@dataclass
class IngestReport:
    """What one ingest did; ``n_accepted + n_rejected == n_input`` always.

    ``n_accepted`` counts rows added to the store; rows the store already held are
    rejected as ``already_in_store`` (``n_already_present``). ``n_outside_districts``
    counts added points that lie in no district (kept with their cell and a null
    ubigeo; rejected ``outside_area`` instead when clipping). ``version`` is the store
    version written, ``None`` when nothing changed. ``seconds`` times each step; the
    cubes and this report are made while the version is written, so ``write`` includes
    them (``report`` appears only when no table is written).
    """

    source_file: str
    path: str
    sha256: str
    kind: str
    store: str
    n_input: int
    n_accepted: int
    n_rejected: int
    rejects_by_reason: dict[str, int]
    n_already_present: int = 0
    n_located: int = 0
    n_outside_districts: int = 0
    n_reported_ubigeo: int = 0
    n_reported_ubigeo_mismatch: int = 0
    boundaries: str = NO_BOUNDARIES
    h3_resolution: int = DEFAULT_RESOLUTION
    cube_resolutions: list[int] = field(default_factory=lambda: list(CUBE_RESOLUTIONS))
    coverage: dict[str, str] | None = None
    store_incidents: int = 0
    store_district_months: int = 0
    store_district_years: int = 0
    #: Events (one per point; a count table's rows carry their count): read, added and
    #: rejected. ``n_events_accepted + n_events_rejected == n_events_input``; a count that
    #: is not a whole number >= 0 carries no event (its row is still counted as rejected).
    n_events_input: int = 0
    n_events_accepted: int = 0
    n_events_rejected: int = 0
    events_rejected_by_reason: dict[str, int] = field(default_factory=dict)
    #: Rows added per precision: counts tables ``month``/``year``; points
    #: ``time``/``day``/``month``/``year`` (see :mod:`geo.readers.periods`).
    rows_by_precision: dict[str, int] = field(default_factory=dict)
    version: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    started_at: str = ""

    def check(self) -> None:
        """Raise if the counts do not add up (a bug, never a user error)."""
        if self.n_accepted + self.n_rejected != self.n_input or sum(self.rejects_by_reason.values()) != self.n_rejected:
            raise AssertionError(f"ingest counts do not add up: {self.n_accepted} accepted + {self.n_rejected} "
                                 f"rejected ({self.rejects_by_reason}) != {self.n_input} input")
        if self.n_events_accepted + self.n_events_rejected != self.n_events_input or \
                sum(self.events_rejected_by_reason.values()) != self.n_events_rejected:
            raise AssertionError(f"ingest events do not add up: {self.n_events_accepted} accepted + "
                                 f"{self.n_events_rejected} rejected != {self.n_events_input} input")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (what ``ingest_report.json`` holds)."""
        return asdict(self)

    def summary(self) -> str:
        """A few lines for people: what was read, added, rejected and why, and where it went."""
        lines = [f"{self.source_file} ({self.kind}) -> {self.store}",
                 f"  {self.n_input:,} rows read: {self.n_accepted:,} added, {self.n_rejected:,} rejected"]
        if self.rejects_by_reason:
            lines[-1] += " (" + ", ".join(f"{k} {v:,}" for k, v in sorted(self.rejects_by_reason.items(),
                                                                           key=lambda kv: -kv[1])) + ")"
        if self.kind in COUNT_KINDS:
            lines.append(f"  {self.n_events_input:,} events (sum of counts): {self.n_events_accepted:,} added, "
                         f"{self.n_events_rejected:,} rejected")
            if self.events_rejected_by_reason:
                lines[-1] += " (" + ", ".join(f"{k} {v:,}" for k, v in sorted(self.events_rejected_by_reason.items(),
                                                                               key=lambda kv: -kv[1])) + ")"
            if self.rows_by_precision.get("year"):
                lines.append(f"  {self.rows_by_precision['year']:,} rows are yearly counts: kept in district_year, "
                             f"for yearly views only (monthly analyses do not use them)")
        else:
            coarse = {p: self.rows_by_precision.get(p, 0) for p in ("month", "year")}
            if any(coarse.values()):
                lines.append(f"  {coarse['month']:,} rows known only to the month and {coarse['year']:,} only to the year: "
                             f"kept in incidents (time_precision) but not in the daily cubes, so the map, trends "
                             f"and analyses do not count them")
            if self.boundaries == NO_BOUNDARIES:
                lines.append("  not located in districts (no boundaries): H3 cells only")
            else:
                lines.append(f"  in a district: {self.n_located:,}; outside every district: {self.n_outside_districts:,}"
                             f" (boundaries: {self.boundaries})")
            if self.n_reported_ubigeo:
                share = self.n_reported_ubigeo_mismatch / self.n_reported_ubigeo
                lines.append(f"  the file's own ubigeo differs from the located district for "
                             f"{self.n_reported_ubigeo_mismatch:,} of {self.n_reported_ubigeo:,} rows ({share:.1%})")
        if self.coverage:
            lines.append(f"  rows added span {self.coverage['start']} to {self.coverage['end']}")
        lines.append(f"  store: {self.store_incidents:,} incidents, {self.store_district_months:,} district-month rows"
                     + (f", {self.store_district_years:,} district-year rows" if self.store_district_years else "") + "; "
                     + (f"version {self.version}" if self.version else "unchanged (nothing new)"))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _ingest_lock(store: Path):
    """One ingest per store at a time, from reading the live version to writing the next.

    On object storage there is no lock to share between machines: the commit is
    conditional on the version read being still live (``write_version(base=...)``)."""
    if is_remote(store):
        return nullcontext()
    return file_lock(store / ".ingest.lock")


class _Progress:
    """A rich progress bar on stderr when it is a terminal and wanted; otherwise silent.

    It starts without a total (reading the file) and counts rows once they are known.
    """

    def __init__(self, enabled: bool, label: str) -> None:
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            if console.is_terminal:
                self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                     TimeElapsedColumn(), console=console, transient=True)
                self._task = self._bar.add_task(label, total=None)
                self._label = label
                self._bar.start()

    def set_total(self, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=max(total, 1), completed=0)

    def step(self, what: str, advance: float = 0) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self._label}: {what}", advance=advance)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self._t, 3)
        self._t = now


_LOCATORS: dict[tuple[str, int], Any] = {}


def _locator(districts, resolution: int):
    """A :class:`geo.locate.DistrictLocator` per boundary set, kept for the process's life,
    at ``resolution`` (ingest passes its finest exact cells: smaller border cells leave
    fewer points for exact polygon tests; 10M Lima points located 0.5-0.7 s at res 10,
    0.7-1.0 s at res 9)."""
    from geo.locate import RESOLUTIONS, DistrictLocator, boundary_set_hash

    res = resolution if resolution in RESOLUTIONS else DEFAULT_RESOLUTION
    key = (boundary_set_hash(districts), res)
    if key not in _LOCATORS:
        while len(_LOCATORS) >= 4:
            _LOCATORS.pop(next(iter(_LOCATORS)))
        _LOCATORS[key] = DistrictLocator(districts, resolution=res)
    return _LOCATORS[key]


def _boundary_label(districts, key: str) -> str:
    return f"{districts.attrs.get('boundary_set', 'custom')} ({len(districts):,} areas, {key[:12]})"


def _keep_boundaries(tables: dict, meta: Mapping[str, Any], districts, key: str | None, added: int):
    """Keep the boundaries that located this ingest's rows in the store (table
    ``boundaries``, read by geo.areas), unless the store holds that set already;
    returns the new ``meta["boundary_set"]`` or None to leave it as it was."""
    if districts is None or not added:
        return None
    from geo import areas

    if key is None:
        from geo.locate import boundary_set_hash

        key = boundary_set_hash(districts)
    record = areas.boundary_record(districts, key)
    if (meta.get("boundary_set") or {}).get("hash") != key:
        tables["boundaries"] = lambda: areas.boundaries_table(districts)
    return record


def _default_boundaries(notes: list[str], *, for_points: bool):
    from geo import boundaries

    try:
        return boundaries.load_study_districts()
    except HexwatchError:
        if for_points:
            notes.append("boundaries are not fetched, so points were not located in districts "
                         "(run `hexwatch boundaries fetch`, then ingest into a new store)")
        return None


def _open(store: Path) -> Store | None:
    try:
        return Store.open(store)
    except StoreError:
        if (RemoteStore(store).live() is not None) if is_remote(store) else (store / "CURRENT").exists():
            raise
        return None


def _polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    return frame if isinstance(frame, pl.DataFrame) else frame.to_frame()


def _count_reasons(rejects: pl.DataFrame) -> dict[str, int]:
    if not rejects.height:
        return {}
    counts = rejects.group_by("reason").len().sort("reason")
    return {r: int(n) for r, n in zip(counts["reason"], counts["len"])}


def _conform(table: pa.Table, schema: pa.Schema, *, plain: bool = False) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in order, types and nullability
    (missing ones null).

    Text that arrives as a dictionary (Polars enums) or as string views (Polars' own
    layout) stays so: no string per row is copied, the Parquet writer takes both, and
    readers get plain text back (a dictionary's few values are made plain text, which
    the writer needs). ``plain=True`` casts all text to plain text (to concatenate with
    a table read from the store). The casts run side by side (Arrow releases the GIL)."""
    def column(f: pa.Field):
        if f.name not in table.column_names:
            return pa.nulls(table.num_rows, f.type)
        col = table.column(f.name)
        if pa.types.is_dictionary(col.type) and col.type.value_type == pa.string_view():
            col = pa.chunked_array([pa.DictionaryArray.from_arrays(c.indices, c.dictionary.cast(pa.string()), safe=False)
                                    for c in col.chunks], type=pa.dictionary(col.type.index_type, pa.string()))
        if not plain and f.type == pa.string() and (pa.types.is_dictionary(col.type) or col.type == pa.string_view()):
            return col  # any index width: the writer stores the dictionary as it is
        return col if col.type == f.type else col.cast(f.type)

    with ThreadPoolExecutor(max_workers=2) as pool:
        cols = list(pool.map(column, schema))
    return pa.Table.from_arrays(cols, schema=pa.schema([pa.field(f.name, c.type, nullable=f.nullable)
                                                        for f, c in zip(schema, cols)]))


def _to_arrow(frame: pl.DataFrame, schema: pa.Schema, *, plain: bool = False) -> pa.Table:
    # Polars' newest Arrow layout hands its string views over without copying them.
    return _conform(frame.to_arrow(compat_level=pl.CompatLevel.newest()), schema, plain=plain)


def _day_coverage(days: np.ndarray) -> dict[str, str] | None:
    """First and last day of days since 1970-01-01."""
    if not len(days):
        return None
    epoch = np.datetime64("1970-01-01", "D")
    return {"start": str(epoch + int(days.min())), "end": str(epoch + int(days.max()))}


def _month_coverage(dm: pl.DataFrame) -> dict[str, str] | None:
    if not dm.height:
        return None
    ym = (dm["year"].cast(pl.Int32) * 12 + dm["month"].cast(pl.Int32) - 1)
    lo, hi = int(ym.min()), int(ym.max())
    end = datetime(hi // 12 + (hi % 12 == 11), (hi % 12 + 1) % 12 + 1, 1).date().toordinal() - 1
    return {"start": f"{lo // 12:04d}-{lo % 12 + 1:02d}-01", "end": str(datetime.fromordinal(end).date())}


def _new_rejects(old: pa.Table | None, new: pl.DataFrame) -> pl.DataFrame:
    """Rejects of this ingest that the store's cumulative table does not hold yet."""
    new = new.filter(pl.col("reason") != "already_in_store").unique(maintain_order=True)
    if old is None or not old.num_rows or not new.height:
        return new
    key = ["source_file", "row_number", "reason", "raw"]
    return new.join(_polars(old.select(key)).cast({"row_number": pl.Int64}), on=key, how="anti", nulls_equal=True)


# --------------------------------------------------------------------------- ingest


def ingest_file(
    path: str | os.PathLike,
    store: str | os.PathLike,
    *,
    kind: str = "auto",
    columns: Mapping[str, str | None] | None = None,
    time_format: str | None = None,
    boundaries=None,
    clip: bool = False,
    resolution: int = DEFAULT_RESOLUTION,
    progress: bool = True,
    source_label: str | None = None,
    meta_updates: Mapping[str, Any] | None = None,
    rejects_path: str | os.PathLike | None = None,
) -> IngestReport:
    """Ingest one incident file into ``store`` (created if absent) and return the report.

    - ``kind``: ``points`` (name the columns in ``columns``: ``lat, lon, time,
      category`` and optionally ``id, subcategory``), ``mininter``, ``sidpol``, or
      ``auto`` (from the file's columns).
    - ``time_format``: strftime codes or ``epoch_s``/``epoch_ms``; detected when ``None``.
    - ``boundaries``: a GeoDataFrame with ``ubigeo, geometry`` to locate points in;
      ``None`` = the study districts when fetched; ``False`` = none (H3 only).
    - ``clip``: reject points outside every district (``outside_area``) instead of
      keeping them with a null ubigeo.
    - ``resolution``: H3 resolution of each incident's stored ``cell``.
    - ``source_label``: the ``source`` written on each incident (default: file name).
    - ``meta_updates``: keys merged into the store's metadata (e.g. ``synthetic``).
    - ``rejects_path``: also write this ingest's rejects (all reasons) as CSV there.

    Raises :class:`HexwatchError` for a missing file or column, bad options, or a store
    whose cells are at another resolution.
    """
    timer = _Timer()
    started = datetime.now().isoformat(timespec="seconds")
    path, root = Path(path), (str(store) if is_remote(store) else Path(store))
    if not path.is_file():
        raise HexwatchError(f"{path} does not exist or is not a file")
    if isinstance(root, Path) and root.exists() and not root.is_dir():
        raise HexwatchError(f"--store {root} is a file; give a folder")
    kind = incidents.detect_kind(path) if kind == "auto" else kind
    if kind not in KINDS:
        raise HexwatchError(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)} (or auto)")
    if not 0 <= resolution <= 15:
        raise HexwatchError(f"H3 resolution must be 0-15, got {resolution}")
    if kind == "points" and not columns:
        raise HexwatchError(f"name the columns of {path.name}: --lat, --lon, --time and --category")
    if kind == "counts" and not columns:
        raise HexwatchError(f"name the columns of {path.name}: --ubigeo, --year [--month] or --date, --category and --count")
    notes: list[str] = []
    # Only files that take a while get a bar (a few seconds from about 30 MB).
    bar = _Progress(progress and path.stat().st_size >= PROGRESS_MIN_BYTES, f"ingest {path.name}")
    bar.step("reading")
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            sha = pool.submit(_sha256, path)  # hashing overlaps parsing (hashlib releases the GIL)
            return _ingest(path, root, sha, kind, columns, time_format, boundaries, clip, resolution, source_label,
                           meta_updates, rejects_path, notes, timer, started, bar)
    finally:
        bar.close()


def _ingest(path: Path, root: Path, sha, kind: str, columns, time_format, boundaries, clip: bool, resolution: int,
            source_label, meta_updates, rejects_path, notes: list[str], timer: _Timer, started: str,
            bar: _Progress) -> IngestReport:
    if boundaries is None:
        districts = _default_boundaries(notes, for_points=kind not in COUNT_KINDS)
    else:
        districts = boundaries if boundaries is not False else None
    if kind in COUNT_KINDS:
        known, label = None, NO_BOUNDARIES
        if districts is not None:
            known = set(districts["ubigeo"].astype(str))
            label = districts.attrs.get("boundary_set", "custom")
        else:
            notes.append("ubigeos were checked for form only (no boundaries to check them against)")
        if kind == "sidpol":
            parsed = incidents.parse_sidpol(path, known_ubigeos=known, source=source_label, columns=columns)
        else:
            parsed = incidents.parse_counts(path, columns, known_ubigeos=known, source=source_label)
        timer.lap("parse")
        return _ingest_sidpol(parsed, path, root, sha, notes, timer, started, meta_updates, rejects_path, label,
                              districts=districts)
    if clip and districts is None:
        raise HexwatchError("--clip needs boundaries: fetch them (`hexwatch boundaries fetch`) or give --boundaries FILE")
    label, locator = NO_BOUNDARIES, None
    if districts is not None:
        locator = _locator(districts, max(CUBE_RESOLUTIONS))
        label = _boundary_label(districts, locator.key)
    # Indexing starts as soon as the coordinates are read and runs while the other
    # columns are validated (validation leaves a core idle much of the time); the
    # accepted rows' cells are picked out afterwards.
    jobs = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        def start(lat: np.ndarray, lon: np.ndarray) -> None:
            bar.set_total(len(lat))
            bar.step("H3 cells")
            jobs.append(pool.submit(_timed, latlng_to_cells_multi, lat, lon, {resolution, max(CUBE_RESOLUTIONS)}))

        if kind == "points":
            parsed = incidents.parse_points(path, dict(columns or {}), time_format=time_format, source=source_label,
                                            on_coordinates=start)
        else:
            parsed = incidents.parse_mininter(path, columns=columns, time_format=time_format, source=source_label,
                                              on_coordinates=start)
        timer.lap("parse")
        of_accepted = not jobs
        if of_accepted:  # a parser that never reported coordinates: index the accepted rows now
            start(parsed.accepted["lat"].to_numpy(), parsed.accepted["lon"].to_numpy())
        both, h3_seconds = jobs[0].result()
    timer.lap("h3")  # what indexing took beyond the parse it overlapped
    timer.seconds["h3_overlapped"] = round(h3_seconds, 3)
    cells, cells_fine = both[resolution], both[max(CUBE_RESOLUTIONS)]
    keep = parsed.accepted_pos
    if not of_accepted and keep is not None and len(keep) != len(cells):
        cells, cells_fine = cells[keep], cells_fine[keep]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Into a store without incidents (and without clipping) every accepted row is
        # added, so the cell cube can be built while the points are being located.
        early_cube = None
        if not clip and not _holds_incidents(root):
            daily = _daily(parsed.accepted["time_precision"])
            pick = (lambda a: a) if daily is None else (lambda a: a[daily] if isinstance(a, np.ndarray) else a.filter(daily))
            early_cube = pool.submit(cubes.cell_cube_batches, pick(cells_fine), pick(cubes.day_numbers(parsed.accepted["day"])),
                                     pick(parsed.accepted["category"]), list(CUBE_RESOLUTIONS))
        return _ingest_points(parsed, path, root, sha, notes, timer, started, cells=cells, cells_fine=cells_fine,
                              locator=locator, label=label, clip=clip, resolution=resolution, early_cube=early_cube,
                              meta_updates=meta_updates, rejects_path=rejects_path, bar=bar, districts=districts)


def _timed(fn, *args):
    t0 = time.perf_counter()
    return fn(*args), time.perf_counter() - t0


def _holds_incidents(root: Path) -> bool:
    current = _open(root)
    return current is not None and current.has("incidents") and _rows(current, "incidents") > 0


def _locate(locator, lat: np.ndarray, lon: np.ndarray, cells: np.ndarray, resolution: int,
            bar: _Progress) -> np.ndarray:
    """District row of each point (-1 = none), chunk by chunk (the progress bar's steps);
    ``cells`` (at ``resolution``) are reused when the locator works at that resolution."""
    n = len(lat)
    rows = np.full(n, -1, dtype=np.int32)
    if locator is None:
        return rows
    same = locator.resolution == resolution
    for a in range(0, max(n, 1), CHUNK_ROWS):
        b = min(a + CHUNK_ROWS, n)
        bar.step("districts")
        rows[a:b] = locator.positions(lat[a:b], lon[a:b], cells=cells[a:b] if same else None)
        bar.step("districts", advance=b - a)
    return rows


def _ingest_points(parsed: incidents.ParsedFrames, path: Path, root: Path, sha, notes: list[str], timer: _Timer,
                   started: str, *, cells: np.ndarray, cells_fine: np.ndarray, locator, label: str, clip: bool,
                   resolution: int, early_cube, meta_updates, rejects_path, bar: _Progress,
                   districts=None) -> IngestReport:
    notes += parsed.notes
    acc = parsed.accepted
    n = acc.height
    finest = max(CUBE_RESOLUTIONS)
    rows = _locate(locator, acc["lat"].to_numpy(), acc["lon"].to_numpy(), cells_fine, finest, bar)
    if locator is not None:
        names, position = np.unique(locator.ubigeos.astype(str), return_inverse=True)
        # Row -1 (no district) picks the appended -1: one gather into int32 codes.
        ubigeo = _enum_from_codes(np.append(position, -1).astype(np.int32)[rows], names.tolist(), "ubigeo")
    else:
        ubigeo = _nulls("ubigeo", n)
    acc = acc.with_columns(pl.Series("cell", cells), ubigeo)
    parsed.accepted = acc
    outside = rows < 0
    if clip and outside.any():
        _, keep = parsed.reject(outside, "outside_area", "the point is outside every district",
                                source_file=path.name, with_raw=True)
        cells_fine, outside = cells_fine[keep], outside[keep]
    timer.lap("locate")

    bar.step("merging with the store")
    with _ingest_lock(root):
        current = _open(root)
        meta = dict(current.meta) if current is not None else {}
        old = current.read_arrow("incidents") if current is not None and current.has("incidents") else None
        if old is not None and old.num_rows and int(meta.get("h3_resolution", resolution)) != resolution:
            raise HexwatchError(f"store {root} holds cells at H3 resolution {meta['h3_resolution']}; ingest with "
                                f"--resolution {meta['h3_resolution']} or into a new store")
        if old is not None and old.num_rows:
            present = _present(parsed.accepted["incident_id"], old.column("incident_id"))
            if present.any():
                _, keep = parsed.reject(present, "already_in_store", "the store already holds this incident id",
                                        source_file=path.name, with_raw=rejects_path is not None)
                cells_fine, outside = cells_fine[keep], outside[keep]
        timer.lap("merge")
        new = parsed.accepted
        added = new.height
        new_days = cubes.day_numbers(new["day"])
        new_daily = _daily(new["time_precision"])
        new_coverage = _day_coverage(new_days if new_daily is None else new_days[new_daily])
        tables: dict[str, pa.Table] = {}
        if added or old is None:
            bar.step("cubes")
            has_old = old is not None and old.num_rows > 0
            old_fine = _fine_cells(old, finest, int(meta.get("h3_resolution", resolution))) if has_old else None
            all_fine = np.concatenate([old_fine, cells_fine]) if has_old else cells_fine
            days = new_days
            cats, ubigeo = new["category"], new["ubigeo"]
            if has_old:
                days = np.concatenate([old.column("day").cast(pa.int32()).to_numpy(), days])
                cats = pl.concat([pl.from_arrow(old.column("category")).cast(pl.String), cats.cast(pl.String)])
                ubigeo = pl.concat([pl.from_arrow(old.column("ubigeo")).cast(pl.String), ubigeo.cast(pl.String)])

            # Month- and year-only incidents stay in `incidents` but out of the daily cubes.
            old_daily = _daily(old.column("time_precision")) if has_old and "time_precision" in old.column_names else None
            daily = None if old_daily is None and new_daily is None else np.concatenate([
                old_daily if old_daily is not None else np.ones(old.num_rows if has_old else 0, dtype=bool),
                new_daily if new_daily is not None else np.ones(added, dtype=bool)])
            store_n = len(days)
            if daily is not None:
                all_fine, days, cats, ubigeo = all_fine[daily], days[daily], cats.filter(daily), ubigeo.filter(daily)

            def incidents_table() -> pa.Table:
                if not has_old:
                    return _to_arrow(new, INCIDENTS_SCHEMA)
                return pa.concat_tables([_conform(old, INCIDENTS_SCHEMA, plain=True),
                                         _to_arrow(new, INCIDENTS_SCHEMA, plain=True)])

            # Built by the store's two writer threads in this order: one builds the
            # district cube while the early cell cube finishes, then encodes the cell
            # cube; the other encodes the incidents, the longest single job.
            tables["cube_district"] = lambda: cubes.district_cube_arrays(ubigeo, days, cats)
            tables["incidents"] = incidents_table
            if early_cube is not None and not has_old:
                tables["cube_cell"] = early_cube.result
            else:  # another ingest got in first: count all the store's points
                tables["cube_cell"] = lambda: cubes.cell_cube_batches(all_fine, days, cats, list(CUBE_RESOLUTIONS))
            coverage = _day_coverage(days) if has_old else new_coverage
            timer.lap("cubes")
        old_rejects = current.read_arrow("rejects") if current is not None and current.has("rejects") else None
        fresh = _new_rejects(old_rejects, parsed.rejects)
        if fresh.height:
            tables["rejects"] = _append_rejects(old_rejects, fresh)
        if "incidents" not in tables:
            store_n, coverage = (old.num_rows if old is not None else 0), meta.get("coverage")
        boundary_set = _keep_boundaries(tables, meta, districts, locator.key if locator is not None else None, added)

        def describe() -> tuple[IngestReport, dict[str, Any]]:
            # Run while the tables encode (see _finish): nothing here is needed to build them.
            located = int((~outside).sum()) if locator is not None else 0
            n_reported, n_mismatch = reported_vs_located(new["reported_ubigeo"], new["ubigeo"]) \
                if locator is not None else (0, 0)
            store_label = label
            prev = meta.get("boundaries")
            if old is not None and old.num_rows and prev:
                if not added:
                    store_label = prev
                elif label not in prev.split(" + "):
                    notes.append(f"the store's earlier points were located with {prev}; these with {label}")
                    store_label = f"{prev} + {label}"
                else:
                    store_label = prev
            report = IngestReport(
                source_file=path.name, path=str(path.resolve()), sha256=sha.result(), kind=parsed.kind, store=str(root),
                n_input=parsed.n_input, n_accepted=added, n_rejected=parsed.rejects.height,
                rejects_by_reason=_count_reasons(parsed.rejects),
                n_already_present=int((parsed.rejects["reason"] == "already_in_store").sum()),
                n_located=located, n_outside_districts=(int(outside.sum()) if locator is not None else 0),
                n_reported_ubigeo=n_reported, n_reported_ubigeo_mismatch=n_mismatch,
                boundaries=label, h3_resolution=resolution,
                cube_resolutions=list(CUBE_RESOLUTIONS),
                coverage=new_coverage, store_incidents=store_n,
                store_district_months=_rows(current, "district_month"), store_district_years=_rows(current, "district_year"),
                notes=notes, started_at=started,
            )
            report.rows_by_precision = _precision_counts(new["time_precision"]) if added else {}
            # A point is one event.
            report.n_events_input, report.n_events_accepted, report.n_events_rejected = \
                report.n_input, report.n_accepted, report.n_rejected
            report.events_rejected_by_reason = dict(report.rejects_by_reason)
            if locator is not None and added and report.n_outside_districts > added / 2:
                notes.append("most points fall outside every district: are latitude and longitude swapped, "
                             "or are these the right boundaries?")
            new_meta = _meta(meta, report, changed=bool(added or fresh.height), meta_updates=meta_updates, coverage=coverage)
            new_meta["h3_resolution"] = resolution
            new_meta["boundaries"] = store_label
            if boundary_set is not None:
                new_meta["boundary_set"] = boundary_set
            return report, new_meta

        return _finish(root, tables, meta, describe, parsed, rejects_path, timer, bar,
                       base=current.version if current is not None else None)


def _daily(precision: pl.Series | pa.ChunkedArray) -> np.ndarray | None:
    """Which incidents have a day (precision ``time`` or ``day``; null: a store written
    before precisions were kept); ``None`` when all do (the common case: no copies)."""
    s = pl.from_arrow(precision) if not isinstance(precision, pl.Series) else precision
    s = s if isinstance(s, pl.Series) else s.to_series()
    if isinstance(s.dtype, pl.Enum):
        coarse = s.to_physical() >= TIME_PRECISIONS.index("month")
    else:
        coarse = s.cast(pl.String).is_in(["month", "year"])
    coarse = coarse.fill_null(False)
    return None if not coarse.any() else ~coarse.to_numpy()


def _precision_counts(precision: pl.Series) -> dict[str, int]:
    counts = precision.cast(pl.String).value_counts()
    got = dict(zip(counts[precision.name], counts["count"]))
    return {p: int(got[p]) for p in TIME_PRECISIONS if got.get(p)}


def reported_vs_located(reported: pl.Series, located: pl.Series) -> tuple[int, int]:
    """How many rows report a ubigeo, and how many of those lie in another district
    (both known and different), from the reported and the located ubigeo columns.

    >>> r = pl.Series(["150132", "150135", None, "150101"])
    >>> reported_vs_located(r, pl.Series(["150132", "150132", "150132", None]))
    (3, 1)

    Ingest's columns are Enums: they are compared as codes a million rows at a time (a
    group-by of the text pairs took 0.3-0.5 CPU-s at 10M rows, this 0.07-0.13 s).
    """
    if reported.null_count() == len(reported):  # files with no reported ubigeo (generic points)
        return 0, 0
    if not (isinstance(reported.dtype, pl.Enum) and isinstance(located.dtype, pl.Enum)):
        pairs = (pl.DataFrame({"r": reported, "u": located}).group_by(["r", "u"]).len()
                 .with_columns(pl.col("r", "u").cast(pl.String)))
        known = pairs.filter(pl.col("r").is_not_null())
        return int(known["len"].sum()), int(known.filter(pl.col("u").is_not_null() & (pl.col("r") != pl.col("u")))["len"].sum())
    where = {u: i for i, u in enumerate(located.dtype.categories.to_list())}
    # A reported code's located code (-1: no district of that ubigeo); the extra last
    # entry is for a null report, never compared.
    as_located = np.array([where.get(r, -1) for r in reported.dtype.categories.to_list()] + [-2], np.int64)
    null_report = len(as_located) - 1
    mismatched = 0
    for a in range(0, len(reported), CHUNK_ROWS):
        r = as_located[reported.slice(a, CHUNK_ROWS).to_physical().cast(pl.Int64).fill_null(null_report).to_numpy()]
        u = located.slice(a, CHUNK_ROWS).to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
        mismatched += int(np.count_nonzero((r != -2) & (u >= 0) & (r != u)))
    return len(reported) - reported.null_count(), mismatched


def _present(new_ids: pl.Series, old_ids: pa.ChunkedArray) -> np.ndarray:
    """Which new ids the store already holds (a per-run hash narrows, strings decide)."""
    old = pl.from_arrow(old_ids).cast(pl.String)
    new_hash, old_hash = new_ids.hash(seed=7), old.hash(seed=7)
    maybe = new_hash.is_in(old_hash.implode()).to_numpy()
    if not maybe.any():
        return maybe
    idx = np.flatnonzero(maybe)
    exact = new_ids.gather(idx).is_in(old.filter(old_hash.is_in(new_hash.gather(idx).implode())).implode()).to_numpy()
    out = np.zeros(len(new_ids), dtype=bool)
    out[idx[exact]] = True
    return out


def _fine_cells(old: pa.Table, finest: int, stored_resolution: int) -> np.ndarray:
    """Cells at ``finest`` of the store's incidents: the stored cells when they are at
    that resolution, else recomputed from the coordinates (parents of finer cells need
    not hold the point)."""
    if stored_resolution == finest:
        return old.column("cell").to_numpy().astype(np.uint64)
    return latlng_to_cells(old.column("lat").to_numpy(), old.column("lon").to_numpy(), finest)


def _append_rejects(old: pa.Table | None, fresh: pl.DataFrame) -> pa.Table:
    fresh_arrow = _to_arrow(fresh, incidents.REJECTS_SCHEMA, plain=True)
    if old is None or not old.num_rows:
        return fresh_arrow
    return pa.concat_tables([_conform(old, incidents.REJECTS_SCHEMA), fresh_arrow])


def _rows(current: Store | None, table: str) -> int:
    """Rows of a store table, from the Parquet footer (no data read)."""
    if current is None or not current.has(table):
        return 0
    return pq.ParquetFile(current.table_path(table)).metadata.num_rows


def _meta(meta: Mapping[str, Any], report: IngestReport, *, changed: bool, meta_updates: Mapping[str, Any] | None,
          coverage: dict[str, str] | None) -> dict[str, Any]:
    """The next version's metadata: the previous one with this ingest recorded in
    ``sources`` (once per file content, again only when it changed the store)."""
    new = dict(meta)
    new.setdefault("synthetic", False)
    new.setdefault("dataset", f"incidents from {report.source_file}")
    new.setdefault("h3_resolution", report.h3_resolution)
    new["cube_resolutions"] = report.cube_resolutions
    if coverage is not None:
        new["coverage"] = coverage
    sources = list(new.get("sources", []))
    if changed or not any(s.get("sha256") == report.sha256 for s in sources):
        sources.append({"file": report.source_file, "path": report.path, "sha256": report.sha256, "kind": report.kind,
                        "n_input": report.n_input, "n_accepted": report.n_accepted, "n_rejected": report.n_rejected,
                        "ingested_at": report.started_at})
    new["sources"] = sources
    new["hexwatch_version"] = geo.__version__
    new.update(meta_updates or {})
    return new


def _finish(root: Path, tables: dict[str, Any], meta: Mapping[str, Any],
            describe: Callable[[], tuple[IngestReport, dict[str, Any]]], parsed: incidents.ParsedFrames,
            rejects_path, timer: _Timer, bar: _Progress, *, base: str | None = None) -> IngestReport:
    """Check the counts, write the version (unless nothing changed) and the rejects CSV.

    ``describe()`` makes the report and the new metadata. When there are tables to
    write it runs while they encode (``write_version`` takes the metadata last), so its
    tenths of a second over millions of rows cost no wall time; a failed count check
    still stops the version before it is made live."""
    if rejects_path is not None:
        _write_rejects_csv(parsed.rejects, Path(rejects_path))
    made: dict[str, Any] = {}

    def new_meta() -> dict[str, Any]:
        made["report"], made["meta"] = describe()
        made["report"].check()
        return made["meta"]

    def files() -> dict[str, bytes]:
        made["report"].seconds = dict(timer.seconds)
        return {"ingest_report.json": orjson.dumps(made["report"].to_dict(), option=orjson.OPT_INDENT_2)}

    if not tables:  # nothing to encode: the metadata alone decides whether a version is due
        unchanged = orjson.dumps(new_meta(), default=str) == orjson.dumps(dict(meta), default=str)
        timer.lap("report")
        if unchanged:
            made["report"].notes.append("nothing new: the store was left unchanged")
            made["report"].seconds = dict(timer.seconds)
            return made["report"]
    bar.step("writing")
    version = write_version(root, tables=tables, meta=new_meta if tables else made["meta"], files=files,
                            base=base if is_remote(root) else None)
    report = made["report"]
    report.version = version
    timer.lap("write")
    report.seconds = dict(timer.seconds)
    return report


#: A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
_FORMULA_START = r"^[=+\-@\t\r]"


def _write_rejects_csv(rejects: pl.DataFrame, path: Path) -> None:
    """The rejects as CSV for people to open in a spreadsheet: a text cell that a
    spreadsheet would run as a formula gets a leading apostrophe (shown as text)."""
    text = [c for c, t in rejects.schema.items() if t == pl.String]
    safe = rejects.with_columns(pl.when(pl.col(c).str.contains(_FORMULA_START)).then("'" + pl.col(c)).otherwise(pl.col(c))
                                .alias(c) for c in text)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(_to_arrow(safe.sort("row_number"), incidents.REJECTS_SCHEMA, plain=True), sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _year_coverage(dy: pl.DataFrame) -> dict[str, str] | None:
    if not dy.height:
        return None
    return {"start": f"{int(dy['year'].min()):04d}-01-01", "end": f"{int(dy['year'].max()):04d}-12-31"}


def _merge_counts(parsed: incidents.ParsedFrames, old: pl.DataFrame | None, key: list[str], mask: np.ndarray,
                  path: Path, rejects_path, what: str) -> tuple[pl.DataFrame, np.ndarray]:
    """Reject the rows under ``mask`` whose key the store holds already; the rest summed
    by key (rows of one key are days of one month: the reader rejects repeated keys)."""
    acc = parsed.accepted
    if old is not None and old.height and mask.any():
        present = acc.select(key).join(old.select(key).unique().with_columns(pl.lit(True).alias("_in")),
                                       on=key, how="left", maintain_order="left")["_in"].fill_null(False).to_numpy() & mask
        if present.any():
            _, keep = parsed.reject(present, "already_in_store", f"the store already holds this {what}",
                                    source_file=path.name, with_raw=rejects_path is not None)
            mask = mask[keep]
    return parsed.accepted.filter(pl.Series(mask)).group_by(key).agg(pl.col("n").sum()).sort(key), mask


def _ingest_sidpol(parsed: incidents.ParsedFrames, path: Path, root: Path, sha, notes: list[str], timer: _Timer,
                   started: str, meta_updates, rejects_path, label: str, districts=None) -> IngestReport:
    """A counts table into ``district_month`` (monthly rows) and ``district_year`` (yearly)."""
    notes += parsed.notes
    month_key, year_key = ["ubigeo", "year", "month", "category"], ["ubigeo", "year", "category"]
    yearly = parsed.accepted["month"].is_null().to_numpy()
    if yearly.any() and "district_year" not in STORE_TABLES:
        raise HexwatchError(f"{path.name} holds yearly counts, and this store format has no district_year table "
                            f"to keep them; give a --month column or ingest monthly counts")
    with _ingest_lock(root):
        current = _open(root)
        meta = dict(current.meta) if current is not None else {}

        def stored(name: str) -> pl.DataFrame | None:
            return _polars(current.read_arrow(name)) if current is not None and current.has(name) else None

        old_m, old_y = stored("district_month"), (stored("district_year") if yearly.any() else None)
        new_m, monthly = _merge_counts(parsed, old_m, month_key, ~yearly, path, rejects_path, "district-month")
        new_y, _ = _merge_counts(parsed, old_y, year_key, ~monthly, path, rejects_path, "district-year")
        tables: dict[str, pa.Table] = {}
        if new_m.height:
            merged = pl.concat([old_m.cast(dict(zip(new_m.columns, new_m.dtypes))), new_m]) if old_m is not None else new_m
            tables["district_month"] = _to_arrow(merged.sort(month_key), DISTRICT_MONTH_SCHEMA)
        if new_y.height:
            merged = pl.concat([old_y.cast(dict(zip(new_y.columns, new_y.dtypes))), new_y]) if old_y is not None else new_y
            tables["district_year"] = _to_arrow(merged.sort(year_key), DISTRICT_YEAR_SCHEMA)
        old_rejects = current.read_arrow("rejects") if current is not None and current.has("rejects") else None
        fresh = _new_rejects(old_rejects, parsed.rejects)
        if fresh.height:
            tables["rejects"] = _append_rejects(old_rejects, fresh)
        timer.lap("merge")

        def rows(name: str, old: pl.DataFrame | None) -> int:
            return tables[name].num_rows if name in tables else (old.height if old is not None else _rows(current, name))

        store_dm, store_dy = rows("district_month", old_m), rows("district_year", old_y)
        incidents_n = _rows(current, "incidents")
        acc = parsed.accepted
        monthly_acc = acc.filter(acc["month"].is_not_null())
        by_reason = parsed.events_rejected_by_reason()
        report = IngestReport(
            source_file=path.name, path=str(path.resolve()), sha256=sha.result(), kind=parsed.kind, store=str(root),
            n_input=parsed.n_input, n_accepted=acc.height, n_rejected=parsed.rejects.height,
            rejects_by_reason=_count_reasons(parsed.rejects),
            n_already_present=int((parsed.rejects["reason"] == "already_in_store").sum()),
            boundaries=label, h3_resolution=int(meta.get("h3_resolution", DEFAULT_RESOLUTION)),
            cube_resolutions=list(CUBE_RESOLUTIONS),
            coverage=_month_coverage(monthly_acc) or _year_coverage(acc), store_incidents=incidents_n,
            store_district_months=store_dm, store_district_years=store_dy, notes=notes, started_at=started,
            n_events_input=int(parsed.n_events_input or 0), n_events_accepted=int(acc["n"].sum()),
            n_events_rejected=sum(by_reason.values()), events_rejected_by_reason=by_reason,
            rows_by_precision={k: v for k, v in {"month": monthly_acc.height,
                                                 "year": acc.height - monthly_acc.height}.items() if v},
        )
        if incidents_n:
            coverage = meta.get("coverage")
        else:
            months = _polars(tables["district_month"]) if "district_month" in tables else old_m
            coverage = _month_coverage(months) if months is not None and months.height else meta.get("coverage")
        new_meta = _meta(meta, report, changed=bool(new_m.height or new_y.height or fresh.height),
                         meta_updates=meta_updates, coverage=coverage)
        if not meta.get("boundary_set"):  # points' boundaries win: they located something
            record = _keep_boundaries(tables, meta, districts, None, new_m.height + new_y.height)
            if record is not None:
                new_meta["boundary_set"] = record
        return _finish(root, tables, meta, lambda: (report, new_meta), parsed, rejects_path, timer, _Progress(False, ""),
                       base=current.version if current is not None else None)


# --------------------------------------------------------------------------- store summary


def store_summary(store: str | os.PathLike) -> dict[str, Any]:
    """A store at a glance (JSON-ready): metadata, table row counts (from the Parquet
    footers), rejects by reason and the last ingest report.

    Raises :class:`geo.store.StoreError` when ``store`` holds no store.
    """
    current = Store.open(store)
    meta = current.meta
    tables = {name: _rows(current, name) for name in STORE_TABLES if current.has(name)}
    rejects = {}
    if current.has("rejects") and tables["rejects"]:
        rejects = _count_reasons(_polars(current.read_arrow("rejects", columns=["reason"])))
    try:
        last = current.read_json("ingest_report.json")
    except StoreError:
        last = None
    return {"store": str(current.root), "version": current.version, "synthetic": bool(meta.get("synthetic", False)),
            "dataset": meta.get("dataset"), "coverage": meta.get("coverage"), "h3_resolution": meta.get("h3_resolution"),
            "cube_resolutions": meta.get("cube_resolutions"), "boundaries": meta.get("boundaries"),
            "tables": tables, "rejects_by_reason": rejects, "sources": meta.get("sources", []), "last_ingest": last}


def describe_store(store: str | os.PathLike) -> str:
    """:func:`store_summary` as a few lines for people."""
    s = store_summary(store)
    cov = s["coverage"] or {}
    lines = [f"store {s['store']} (version {s['version']})"]
    if s["synthetic"]:
        lines.append("  SYNTHETIC DATA: not real incidents")
    lines.append(f"  dataset: {s['dataset'] or '(unnamed)'}")
    lines.append(f"  coverage: {cov.get('start', '?')} to {cov.get('end', '?')}; H3 resolution {s['h3_resolution']}, "
                 f"cubes at {s['cube_resolutions']}")
    lines.append(f"  boundaries: {s['boundaries'] or 'none'}")
    lines.append("  tables: " + ", ".join(f"{k} {v:,}" for k, v in s["tables"].items()))
    if s["rejects_by_reason"]:
        lines.append("  rejected rows kept: " + ", ".join(f"{k} {v:,}" for k, v in s["rejects_by_reason"].items()))
    for src in s["sources"]:
        lines.append(f"  source: {src.get('file')} ({src.get('kind')}, {src.get('n_accepted', 0):,} of "
                     f"{src.get('n_input', 0):,} rows added, {src.get('ingested_at', '')})")
    if s["last_ingest"]:
        r = s["last_ingest"]
        lines.append(f"  last ingest: {r.get('source_file')}: {r.get('n_input', 0):,} rows, {r.get('n_accepted', 0):,} added, "
                     f"{r.get('n_rejected', 0):,} rejected")
    return "\n".join(lines)
