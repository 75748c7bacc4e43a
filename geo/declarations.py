"""The registry of states of emergency: which district was under which spell on which day.

The registry is a CSV that a non-programmer can read and edit (``data/declarations.csv``,
UTF-8; a spreadsheet's Windows-1252 or semicolon-separated save is read too), one row
per decree, a new declaration or an extension of an earlier one:

============ ==================================================================
column       meaning
============ ==================================================================
decree_id    ``DS 105-2023-PCM`` in any spelling, or a placeholder such as
             ``UNCONFIRMED-2023-10-10-LIMA`` when the decree is not known
published    publication date in El Peruano (``YYYY-MM-DD``; may be blank)
start, end   first and last day in force, both inclusive (``YYYY-MM-DD``)
days         calendar days in force counted from ``start`` inclusive, so 60 days
             from 2023-09-20 end on 2023-11-18; give ``end``, ``days`` or both
areas        district ubigeos (``150132``) or province codes (``150100``: every
             district whose ubigeo starts with ``1501``), separated by spaces, ``;`` or ``,``
area_names   the same areas in words, for people
extends      the decree this one extends (blank for a new declaration)
source_url   where the facts come from
confirmed    ``yes`` or ``no``: whether the sources establish the row
notes        what is uncertain, in words
============ ==================================================================

A declaration and its chain of extensions form one **spell**, named after its first
decree (``spell_id``). A spell keeps each decree's own period and areas, so an
extension that drops a district ends that district's emergency.

**Unconfirmed rows.** A :class:`Registry` answers questions from confirmed rows only
unless loaded with ``include_unconfirmed=True``: analysis must not rest on facts the
sources leave open, while the dashboard may load them too and draw them apart
(:attr:`Period.confirmed`, :attr:`Spell.confirmed`). An unconfirmed row that extends
a confirmed spell therefore never changes that spell by default. :meth:`Registry.validate`
and :meth:`Registry.describe` always look at every row.

**Province codes.** Whether a district is covered on a day needs no district list
(``ubigeo[:4] == code[:4]``); listing the districts of a spell that names a whole
province does: load the registry with ``districts=`` (e.g. the ``ubigeo`` column of
:func:`geo.boundaries.load_districts`), otherwise listing them raises a
:class:`~geo.errors.HexwatchError` that says so.

Example
-------
>>> reg = Registry.load()
>>> reg.spell_on("150132", "2023-10-15").spell_id
'DS-105-2023-PCM'
>>> reg.spell_on("150132", "2024-02-01") is None
True
>>> s = reg.spell("ds 105-2023-pcm")
>>> s.decree_ids, s.start, s.end
(('DS-105-2023-PCM', 'DS-126-2023-PCM'), datetime.date(2023, 9, 20), datetime.date(2024, 1, 17))
>>> reg.spell_on("150101", "2025-03-20").spell_id   # Cercado de Lima, through province 150100
'DS-035-2025-PCM'
>>> end_date("2023-09-20", 60)
datetime.date(2023, 11, 18)
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from geo.errors import HexwatchError

#: The registry's columns, in the order the bundled file uses.
COLUMNS = ("decree_id", "published", "start", "end", "days", "areas", "area_names",
           "extends", "source_url", "confirmed", "notes", "name")
#: A policy-event file (any place) names its rows ``event_id`` instead of ``decree_id``;
#: its ``areas`` are ids of the store's own boundary file, separated by ``;``.
EVENT_ID = "event_id"
_REQUIRED = ("decree_id", "start", "areas", "confirmed")
_YES = frozenset({"yes", "y", "si", "sí", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "DS 105-2023-PCM", "D.S. N° 105-2023-PCM", "Decreto Supremo Nº 35-2025-PCM" ...
_DS = re.compile(r"^(?:D\.?\s*S\.?|DECRETO\s+SUPREMO)\s*(?:N\s*[°º.O]*\s*)?[-\s]*(\d{1,4})\s*-\s*(\d{4})\s*-\s*([A-Z]+)$")
_UBIGEO = re.compile(r"^\d{6}$")

Severity = Literal["error", "warning"]


def default_path() -> Path:
    """Where :meth:`Registry.load` reads by default.

    ``$HEXWATCH_DECLARATIONS`` when set, else ``data/declarations.csv`` of a checkout,
    else the copy bundled in the installed package.
    """
    env = os.environ.get("HEXWATCH_DECLARATIONS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent / "data" / "declarations.csv"
    return checkout if checkout.exists() else here / "_data" / "declarations.csv"


def normalise_decree_id(s: str) -> str:
    """The canonical form of a decree id: ``DS-<number, 3 digits>-<year>-<sector>``.

    Other ids (placeholders for unknown decrees) are upper-cased with runs of spaces,
    underscores and hyphens turned into one hyphen.

    >>> normalise_decree_id("D.S. N° 105-2023-PCM")
    'DS-105-2023-PCM'
    >>> normalise_decree_id("ds-35-2025-pcm")
    'DS-035-2025-PCM'
    >>> normalise_decree_id(" unconfirmed 2023-10-10 lima ")
    'UNCONFIRMED-2023-10-10-LIMA'
    """
    text = " ".join(str(s).split()).upper()
    if not text:
        raise HexwatchError("a decree id is empty; write it like DS 105-2023-PCM")
    m = _DS.match(text)
    if m:
        number, year, sector = m.groups()
        return f"DS-{int(number):03d}-{year}-{sector}"
    return re.sub(r"[\s_-]+", "-", text).strip("-")


def format_decree_id(decree_id: str) -> str:
    """A decree id as El Peruano and the press write it (``DS 105-2023-PCM``).

    >>> format_decree_id("ds-105-2023-pcm")
    'DS 105-2023-PCM'
    >>> format_decree_id("UNCONFIRMED-2023-10-10-LIMA")
    'UNCONFIRMED-2023-10-10-LIMA'
    """
    canonical = normalise_decree_id(decree_id)
    return "DS " + canonical[3:] if _DS.match(canonical) else canonical


def end_date(start: date | str, days: int) -> date:
    """Last day in force of a decree of ``days`` calendar days from ``start`` inclusive.

    >>> end_date("2024-11-27", 45)
    datetime.date(2025, 1, 10)
    """
    if days < 1:
        raise HexwatchError(f"a decree lasts at least 1 day, not {days}")
    return as_date(start) + timedelta(days=days - 1)


def as_date(value: date | datetime | np.datetime64 | str, what: str = "date") -> date:
    """``value`` as a :class:`datetime.date` (accepts dates, datetimes, ``datetime64`` and ``YYYY-MM-DD``).

    >>> as_date("2023-09-20")
    datetime.date(2023, 9, 20)
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]").item()
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise HexwatchError(f"{value!r} is not a {what}; write dates as YYYY-MM-DD, e.g. 2023-09-20")


def _split_areas(text: str, scheme: str = "peru") -> tuple[str, ...]:
    if scheme == "ids":  # a user's ids may hold spaces and commas ("North Park, East")
        return tuple(t.strip() for t in text.split(";") if t.strip())
    return tuple(t for t in re.split(r"[\s;,]+", text.strip()) if t)


def _is_province(code: str) -> bool:
    return bool(_UBIGEO.match(code)) and code.endswith("00") and code[2:4] != "00"


def _is_district(code: str) -> bool:
    return bool(_UBIGEO.match(code)) and not code.endswith("00")


def _expand(districts: frozenset[str], provinces: frozenset[str], universe: frozenset[str] | None,
            what: str) -> frozenset[str]:
    if not provinces:
        return districts
    if universe is None:
        raise HexwatchError(
            f"{what} covers whole provinces ({' '.join(sorted(provinces))}); to list their districts load the "
            f"registry with districts= (e.g. geo.boundaries.load_districts()['ubigeo'])")
    prefixes = {p[:4] for p in provinces}
    return districts | frozenset(u for u in universe if u[:4] in prefixes)


@dataclass(frozen=True)
class Declaration:
    """One row of the registry: a decree, new or extending ``extends``.

    ``areas`` are the codes as written (normalised to no separators); :attr:`districts`
    and :attr:`provinces` split them; codes that are neither stay in ``areas`` for
    :meth:`Registry.validate` to report.
    """

    decree_id: str
    start: date
    end: date
    areas: tuple[str, ...]
    extends: str | None = None
    confirmed: bool = True
    published: date | None = None
    area_names: str = ""
    source_url: str = ""
    notes: str = ""
    line: int = 0  # line in the CSV (the header is line 1), for messages; 0 when built in code
    #: ``"peru"``: areas are ubigeos and province codes; ``"ids"``: ids of a boundary file, matched exactly.
    scheme: str = "peru"
    #: A display name (``name`` column), e.g. "Night curfew Southport"; may be blank.
    name: str = ""

    @property
    def days(self) -> int:
        """Calendar days in force, ``start`` and ``end`` included."""
        return (self.end - self.start).days + 1

    @cached_property
    def districts(self) -> frozenset[str]:
        """District ubigeos named in :attr:`areas`."""
        if self.scheme == "ids":
            return frozenset(self.areas)
        return frozenset(a for a in self.areas if _is_district(a))

    @cached_property
    def provinces(self) -> frozenset[str]:
        """Province codes (``150100``) named in :attr:`areas`: all their districts are covered."""
        if self.scheme == "ids":
            return frozenset()
        return frozenset(a for a in self.areas if _is_province(a))


@dataclass(frozen=True)
class Period:
    """One decree's stretch of a spell. Unpacks as ``(start, end, ubigeos, decree_id)``."""

    start: date
    end: date
    decree_id: str
    districts: frozenset[str]
    provinces: frozenset[str]
    confirmed: bool
    universe: frozenset[str] | None = field(default=None, repr=False, compare=False)

    @property
    def ubigeos(self) -> frozenset[str]:
        """Districts covered, province codes expanded (needs the registry's ``districts``)."""
        return _expand(self.districts, self.provinces, self.universe, format_decree_id(self.decree_id))

    def covers(self, ubigeo: str, day: date | str) -> bool:
        """Whether this period covers district ``ubigeo`` on ``day``."""
        return (self.start <= as_date(day) <= self.end
                and (ubigeo in self.districts or ubigeo[:4] + "00" in self.provinces))

    def __iter__(self):
        return iter((self.start, self.end, self.ubigeos, self.decree_id))


@dataclass(frozen=True)
class Spell:
    """A declaration and its extensions: one continuous (in law) state of emergency."""

    spell_id: str
    periods: tuple[Period, ...]

    @property
    def decree_ids(self) -> tuple[str, ...]:
        """The spell's decrees, first to last."""
        return tuple(p.decree_id for p in self.periods)

    @property
    def start(self) -> date:
        """First day of the spell."""
        return min(p.start for p in self.periods)

    @property
    def end(self) -> date:
        """Last day of the spell (inclusive)."""
        return max(p.end for p in self.periods)

    @property
    def confirmed(self) -> bool:
        """Whether every decree of the spell is confirmed."""
        return all(p.confirmed for p in self.periods)

    @property
    def name(self) -> str:
        """The spell's id as people write it (``DS 105-2023-PCM``)."""
        return format_decree_id(self.spell_id)

    @property
    def ubigeos(self) -> frozenset[str]:
        """Every district covered at some point of the spell."""
        return frozenset().union(*(p.ubigeos for p in self.periods))

    def covers(self, ubigeo: str, day: date | str) -> bool:
        """Whether district ``ubigeo`` was under this spell on ``day``."""
        d = as_date(day)
        return any(p.covers(ubigeo, d) for p in self.periods)


@dataclass(frozen=True)
class Problem:
    """Something :meth:`Registry.validate` found; ``str()`` is one line for the terminal."""

    severity: Severity
    decree_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.decree_id}: {self.message}"


def parse_declarations(text: str, source: str = "declarations.csv") -> tuple[Declaration, ...]:
    """Declarations from the registry's CSV text; a malformed row raises a one-line :class:`HexwatchError`.

    Rows whose cells are all blank (a spreadsheet's trailing rows) are skipped.

    >>> parse_declarations("decree_id,start,days,areas,confirmed\\nDS 1-2024-PCM,2024-01-01,31,150132,yes\\n")[0].end
    datetime.date(2024, 1, 31)
    """
    text = text.lstrip("\ufeff")
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise HexwatchError(f"{source} is empty; it needs a header line: {','.join(COLUMNS)}")
    names = [h.strip().lower() for h in header]
    scheme = "ids" if EVENT_ID in names else "peru"
    if scheme == "ids":
        if "decree_id" in names:
            raise HexwatchError(f"{source}: give event_id or decree_id, not both")
        names = ["decree_id" if h == EVENT_ID else h for h in names]
    unknown = [h for h in names if h not in COLUMNS]
    if unknown:
        raise HexwatchError(f"{source}: unknown column {unknown[0]!r}; the columns are {', '.join(COLUMNS)}")
    missing = [c for c in _REQUIRED if c not in names] + ([] if {"end", "days"} & set(names) else ["end or days"])
    if missing:
        raise HexwatchError(f"{source}: missing column {missing[0]!r}; the columns are {', '.join(COLUMNS)}")
    if len(set(names)) < len(names):
        raise HexwatchError(f"{source}: a column appears twice in the header")
    out: list[Declaration] = []
    seen: dict[str, int] = {}
    line = reader.line_num
    for cells in reader:
        first, line = line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
            raise HexwatchError(f"{source} line {first}: {len(cells)} cells but the header has {len(names)}; "
                                f"quote cells that contain '{delimiter}'")
        row = {n: (cells[i].strip() if i < len(cells) else "") for i, n in enumerate(names)}
        decl = _parse_row(row, f"{source} line {first}", first, scheme)
        if decl.decree_id in seen:
            raise HexwatchError(f"{source} line {first}: {decl.decree_id} is already on line {seen[decl.decree_id]}; "
                                f"one row per decree")
        seen[decl.decree_id] = first
        out.append(decl)
    return tuple(out)


def _parse_row(row: dict[str, str], where: str, line: int, scheme: str = "peru") -> Declaration:
    if not row.get("decree_id"):
        raise HexwatchError(f"{where}: event_id is blank; give each event an id" if scheme == "ids" else
                            f"{where}: decree_id is blank; write it like DS 105-2023-PCM")
    decree_id = normalise_decree_id(row["decree_id"])
    where = f"{where} ({decree_id})"

    def day(col: str) -> date | None:
        value = row.get(col, "")
        if not value:
            return None
        try:
            return as_date(value, col)
        except HexwatchError:
            raise HexwatchError(f"{where}: {col} {value!r} is not a date; write YYYY-MM-DD, e.g. 2023-09-20") from None

    start, end, published = day("start"), day("end"), day("published")
    if start is None:
        raise HexwatchError(f"{where}: start is blank; give the first day in force as YYYY-MM-DD")
    days_text = row.get("days", "")
    days = None
    if days_text:
        if not re.fullmatch(r"\d+", days_text) or int(days_text) < 1:
            raise HexwatchError(f"{where}: days {days_text!r} is not a whole number of days (1 or more)")
        days = int(days_text)
    if end is not None and end < start:
        raise HexwatchError(f"{where}: end {end} is before start {start}; fix one of them")
    if end is None and days is None:
        raise HexwatchError(f"{where}: give end (YYYY-MM-DD) or days")
    if days is not None:
        expected = end_date(start, days)
        if end is None:
            end = expected
        elif end != expected:
            raise HexwatchError(f"{where}: end {end} does not match {days} days from {start} (that ends {expected}, "
                                f"start and end both counted); fix end or days")
    confirmed = row.get("confirmed", "").lower()
    if confirmed not in _YES | _NO:
        raise HexwatchError(f"{where}: confirmed is {row.get('confirmed', '')!r}; write yes or no")
    areas = _split_areas(row.get("areas", ""), scheme)
    if not areas:
        raise HexwatchError(f"{where}: areas is blank; list the ids of the areas of your boundary file, separated by ;"
                            if scheme == "ids" else
                            f"{where}: areas is blank; list district ubigeos or province codes, e.g. 150132 150100")
    extends = normalise_decree_id(row["extends"]) if row.get("extends") else None
    if extends == decree_id:
        raise HexwatchError(f"{where}: a decree cannot extend itself")
    return Declaration(decree_id=decree_id, start=start, end=end, areas=areas, extends=extends,
                       confirmed=confirmed in _YES, published=published, area_names=row.get("area_names", ""),
                       source_url=row.get("source_url", ""), notes=row.get("notes", ""), line=line, scheme=scheme,
                       name=row.get("name", ""))


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")  # a spreadsheet's plain "CSV" save on Windows
    except UnicodeDecodeError:
        raise HexwatchError(f"{path} is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8") from None


def _spells(declarations: tuple[Declaration, ...], include_unconfirmed: bool,
            universe: frozenset[str] | None) -> tuple[Spell, ...]:
    by_id = {d.decree_id: d for d in declarations}
    used = [d for d in declarations if include_unconfirmed or d.confirmed]
    used_ids = {d.decree_id for d in used}
    groups: dict[str, list[Declaration]] = {}
    for d in used:
        # The spell is named after the first decree of the chain that is in use: an
        # unconfirmed link is skipped, not allowed to split or rename a confirmed spell.
        root, parent = d.decree_id, d.extends
        while parent is not None:
            if parent in used_ids:
                root = parent
            parent = by_id[parent].extends
        groups.setdefault(root, []).append(d)
    spells = [
        Spell(root, tuple(Period(d.start, d.end, d.decree_id, d.districts, d.provinces, d.confirmed, universe)
                          for d in sorted(ds, key=lambda d: (d.start, d.decree_id))))
        for root, ds in groups.items()
    ]
    return tuple(sorted(spells, key=lambda s: (s.start, s.spell_id)))


class Registry:
    """The emergency declarations, grouped into spells, with the questions the analysis asks.

    Build it with :meth:`load` (from the CSV) or from :class:`Declaration` objects.
    ``include_unconfirmed`` (default ``False``) decides whether unconfirmed rows take
    part in :attr:`spells` and every question; ``districts`` lists the district
    ubigeos that province codes expand to (only listing needs it).
    """

    def __init__(self, declarations: Iterable[Declaration], *, districts: Iterable[str] | None = None,
                 include_unconfirmed: bool = False, source: str = "registry") -> None:
        self.declarations: tuple[Declaration, ...] = tuple(declarations)
        self.include_unconfirmed = include_unconfirmed
        self.source = source
        self.districts: frozenset[str] | None = None if districts is None else frozenset(map(str, districts))
        _check_chains(self.declarations, source)
        #: The spells in use (confirmed rows only unless ``include_unconfirmed``), by start date.
        self.spells: tuple[Spell, ...] = _spells(self.declarations, include_unconfirmed, self.districts)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, districts: Iterable[str] | None = None,
             include_unconfirmed: bool = False) -> "Registry":
        """Read the registry CSV (default: :func:`default_path`).

        A malformed row (bad date, unknown column, end before start, days that do not
        match end, an extension of an unknown decree) raises a one-line :class:`HexwatchError`
        naming the file and line.
        """
        p = Path(path) if path is not None else default_path()
        if not p.is_file():
            raise HexwatchError(f"no declarations registry at {p}; give a CSV with --registry or set HEXWATCH_DECLARATIONS")
        return cls(parse_declarations(_read_text(p), p.name), districts=districts,
                   include_unconfirmed=include_unconfirmed, source=p.name)

    @property
    def kind(self) -> str:
        """``"emergency"`` for Peru's registry of decrees, ``"events"`` for a policy-event
        file of a place's own areas (what the dashboard calls them)."""
        return "events" if any(d.scheme == "ids" for d in self.declarations) else "emergency"

    def title(self, spell_id: str) -> str:
        """A spell's display name: the ``name`` of its first row when given, else its id
        as people write it (``DS 105-2023-PCM``)."""
        spell = self.spell(spell_id)
        first = next((d for d in self.declarations if d.decree_id == spell.spell_id), None)
        return first.name if first is not None and first.name else spell.name

    def declaration(self, decree_id: str) -> Declaration:
        """The row of ``decree_id`` (any spelling)."""
        key = normalise_decree_id(decree_id)
        for d in self.declarations:
            if d.decree_id == key:
                return d
        raise HexwatchError(f"no decree {key} in the registry; `hexwatch declarations list` shows them")

    def spell(self, spell_id: str) -> Spell:
        """The spell named ``spell_id`` (any spelling), or the spell that a decree of it belongs to."""
        key = normalise_decree_id(spell_id)
        for s in self.spells:
            if s.spell_id == key:
                return s
        for s in self.spells:
            if key in s.decree_ids:
                return s
        if any(d.decree_id == key for d in self.declarations):
            raise HexwatchError(f"{key} is unconfirmed; load the registry with include_unconfirmed=True to use it")
        raise HexwatchError(f"no spell {key}; spells: {', '.join(s.spell_id for s in self.spells) or 'none'}")

    def spell_on(self, ubigeo: str, day: date | str) -> Spell | None:
        """The spell district ``ubigeo`` was under on ``day``, or ``None``.

        Should two spells cover the same district-day (``validate`` warns of it), the
        one that started later wins: the newer decree is the one in force.
        """
        d = as_date(day)
        hits = [s for s in self.spells if s.covers(ubigeo, d)]
        return max(hits, key=lambda s: (s.start, s.spell_id)) if hits else None

    def declared_ubigeos(self, day: date | str) -> dict[str, Spell]:
        """Every district under emergency on ``day``, mapped to its spell (the later spell on a tie)."""
        d = as_date(day)
        out: dict[str, Spell] = {}
        for s in self.spells:  # by start date, so a later spell overwrites an earlier one
            for p in s.periods:
                if p.start <= d <= p.end:
                    out.update(dict.fromkeys(p.ubigeos, s))
        return dict(sorted(out.items()))

    def status_frame(self, ubigeos: Iterable[str] | None, start: date | str, end: date | str) -> pd.DataFrame:
        """District-days under emergency from ``start`` to ``end`` (inclusive), one row each.

        Columns ``ubigeo`` (str), ``day`` (``datetime64[s]`` at midnight, the pandas
        form of ``date32``), ``spell_id`` (str); sorted by ubigeo and day. Districts
        and days not declared have no row. ``ubigeos=None`` means every district of
        the registry's ``districts``. Work is per decree period, never per day.

        >>> f = Registry.load().status_frame(["150132", "150101"], "2023-11-17", "2023-11-20")
        >>> f["day"].dt.strftime("%m-%d").tolist(), f["spell_id"].unique().tolist()
        (['11-17', '11-18', '11-19', '11-20'], ['DS-105-2023-PCM'])
        """
        if ubigeos is None:
            if self.districts is None:
                raise HexwatchError("status_frame(None, ...) needs the registry loaded with districts=")
            ubigeos = sorted(self.districts)
        u = np.array(sorted({str(x) for x in ubigeos if isinstance(x, str) or pd.notna(x)}), dtype=object)
        q0, q1 = np.datetime64(as_date(start), "D"), np.datetime64(as_date(end), "D")
        n_days = max(int((q1 - q0).astype(int)) + 1, 1)
        index = pd.Index(u, dtype=object)
        province = pd.Index([x[:4] + "00" for x in u], dtype=object)
        # A district-day is the integer key (district position) * n_days + (day - start): sorting
        # keys sorts by ubigeo then day, and each period contributes one block of keys.
        keys, ranks = [np.zeros(0, np.int64)], [np.zeros(0, np.int32)]
        for rank, s in enumerate(self.spells):  # spells are by start date: a higher rank is newer
            for p in s.periods:
                lo, hi = max(q0, np.datetime64(p.start, "D")), min(q1, np.datetime64(p.end, "D"))
                if lo > hi:
                    continue
                hit = np.flatnonzero(index.isin(p.districts) | province.isin(p.provinces))
                offsets = np.arange((lo - q0).astype(int), (hi - q0).astype(int) + 1)
                keys.append((hit[:, None] * n_days + offsets[None, :]).ravel())
                ranks.append(np.full(keys[-1].size, rank, dtype=np.int32))
        key, rank = np.concatenate(keys), np.concatenate(ranks)
        order = np.lexsort((-rank, key))  # on a tie of two spells the newer comes first, and wins
        key, rank = key[order], rank[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        key, rank = key[first], rank[first]
        ids = np.array([s.spell_id for s in self.spells] + [""], dtype=object)
        return pd.DataFrame({
            "ubigeo": pd.array(u[key // n_days], dtype=str),
            "day": (q0 + key % n_days).astype("datetime64[s]"),
            "spell_id": pd.array(ids[rank], dtype=str),
        })

    def validate(self, known_ubigeos: Iterable[str] | None = None) -> list[Problem]:
        """Check every row (confirmed or not); errors first, then warnings.

        Errors: a malformed area code; an ubigeo or province code not among
        ``known_ubigeos`` (when given); an extension that overlaps its parent or leaves
        a gap (only a warning when an unconfirmed row is involved). Warnings: two spells
        covering the same district on the same day; a confirmed row without a source;
        a decree published after its start.
        """
        known = None if known_ubigeos is None else frozenset(map(str, known_ubigeos))
        problems: list[Problem] = []
        by_id = {d.decree_id: d for d in self.declarations}
        for d in self.declarations:
            problems += _area_problems(d, known)
            if d.extends is not None:
                problems += _chain_problems(by_id[d.extends], d)
            if d.confirmed and not d.source_url:
                problems.append(Problem("warning", d.decree_id, "confirmed but has no source_url; add the link to El Peruano or the press report"))
            if d.published is not None and d.published > d.start:
                problems.append(Problem("warning", d.decree_id, f"published {d.published}, after its start {d.start}"))
        problems += _overlap_problems(_spells(self.declarations, True, None))
        return sorted(problems, key=lambda p: p.severity != "error")

    def describe(self) -> str:
        """The registry as a readable text table (every row, grouped by spell)."""
        all_spells = _spells(self.declarations, True, None)
        by_id = {d.decree_id: d for d in self.declarations}
        n_conf = sum(d.confirmed for d in self.declarations)
        lines = [f"{len(self.declarations)} decrees ({n_conf} confirmed, {len(self.declarations) - n_conf} unconfirmed) "
                 f"in {len(all_spells)} spells; "
                 + ("unconfirmed rows are included in answers." if self.include_unconfirmed
                    else "answers use confirmed rows only.")]
        header = ("decree", "start", "end", "days", "extends", "confirmed", "areas", "area names")

        def row(d: Declaration) -> tuple[str, ...]:
            areas = " ".join(d.areas) if len(d.areas) <= 3 else f"{' '.join(d.areas[:2])} +{len(d.areas) - 2}"
            names = d.area_names if len(d.area_names) <= 70 else d.area_names[:69] + "…"
            return (format_decree_id(d.decree_id), str(d.start), str(d.end), str(d.days),
                    format_decree_id(d.extends) if d.extends else "-", "yes" if d.confirmed else "NO", areas, names)

        table = [(s, [row(by_id[i]) for i in s.decree_ids]) for s in all_spells]
        widths = [max(len(r[i]) for r in [header, *(r for _, rs in table for r in rs)]) for i in range(len(header) - 1)]

        def fmt(r: tuple[str, ...]) -> str:
            cells = [c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
            return "  ".join([*cells, r[-1]]).rstrip()

        lines += ["", "  " + fmt(header)]
        used = {s.spell_id: s for s in self.spells}
        for s, rs in table:
            u, span = used.get(s.spell_id), f"{s.start} to {s.end}"
            if u is None:
                span += " (unconfirmed)"
            elif (u.start, u.end) != (s.start, s.end):
                span = f"{u.start} to {u.end} ({span} with unconfirmed rows)"
            lines += ["", f"spell {s.name}: {span}", *("  " + fmt(r) for r in rs)]
        return "\n".join(lines)


def policy_events(store, path: str | os.PathLike | None = None, *, include_unconfirmed: bool = False) -> "Registry | None":
    """The declarations (policy events) that apply to ``store``, or ``None`` when there are none.

    ``path``: a user's CSV (Peru's registry format, or a policy-event file with
    ``event_id`` and the ids of the store's own boundary file), validated against the
    store's areas like the registry: any error raises one :class:`HexwatchError`
    naming the file, the count and the first problem. Without ``path``: Peru's registry
    (:func:`default_path`) for a store of Peru's districts (:func:`geo.areas.peru_like`), else ``None`` (a
    city with no declarations on file: the dashboard hides its declaration controls).
    Province codes of Peru's registry expand to the store's districts.
    """
    from geo.areas import boundary_set, data_district_ids, peru_like, store_boundaries

    b = store_boundaries(store)
    known = None if b is None else sorted(b["ubigeo"].astype(str))
    if path is None:
        if not peru_like(store):
            return None
        if known is None:  # no boundaries: decrees' provinces expand to the districts the data hold
            known = data_district_ids(store)
        return Registry.load(districts=known, include_unconfirmed=include_unconfirmed)
    reg = Registry.load(path, districts=known, include_unconfirmed=include_unconfirmed)
    check = known
    if reg.kind == "emergency" and boundary_set(store)["kind"] == "peru":
        # A store holds only the districts it has data for; decrees name others in Peru.
        from geo import boundaries

        try:
            check = sorted(boundaries.load_districts()["ubigeo"])
        except HexwatchError:
            check = None  # not fetched: codes are checked for form only
    errors = [p for p in reg.validate(known_ubigeos=check) if p.severity == "error"]
    if errors:
        raise HexwatchError(f"{Path(path).name}: {len(errors)} error(s) against {len(check or []):,} known areas; "
                            f"first: {errors[0]}" + ("; a file of your own areas' ids names its first column event_id, "
                                                   "not decree_id" if reg.kind == "emergency" and
                                                   boundary_set(store)["kind"] != "peru" else ""))
    return reg


def _check_chains(declarations: tuple[Declaration, ...], source: str) -> None:
    by_id = {d.decree_id: d for d in declarations}
    if len(by_id) < len(declarations):
        dup = next(d.decree_id for d in declarations if sum(e.decree_id == d.decree_id for e in declarations) > 1)
        raise HexwatchError(f"{source}: {dup} appears twice; one row per decree")
    for d in declarations:
        where = f"{source} line {d.line} ({d.decree_id})" if d.line else f"{source} ({d.decree_id})"
        if d.extends is not None and d.extends not in by_id:
            raise HexwatchError(f"{where}: extends {d.extends}, which is not in the registry; add that decree first")
        seen, parent = {d.decree_id}, d.extends
        while parent is not None:
            if parent in seen:
                raise HexwatchError(f"{where}: its chain of extends returns to {parent}; a chain must start at a new declaration")
            seen.add(parent)
            parent = by_id[parent].extends


def _area_problems(d: Declaration, known: frozenset[str] | None) -> list[Problem]:
    problems = []
    if d.scheme == "ids":
        for a in d.areas:
            if known is not None and a not in known:
                close = sorted(k for k in known if k.lower() == a.lower() or k.replace(" ", "") == a.replace(" ", ""))
                problems.append(Problem("error", d.decree_id, f"unknown area id {a!r}: not one of the {len(known):,} areas "
                                        f"of the store's boundaries" + (f" (did you mean {close[0]!r}?)" if close else "")))
        return problems
    known_provinces = None if known is None else {u[:4] for u in known}
    for a in d.areas:
        if not _UBIGEO.match(a):
            problems.append(Problem("error", d.decree_id, f"area {a!r} is not a 6-digit ubigeo or province code"))
        elif a.endswith("0000"):
            problems.append(Problem("error", d.decree_id, f"{a} is a department code; list its provinces (e.g. {a[:2]}0100) or districts"))
        elif known is not None and _is_district(a) and a not in known:
            problems.append(Problem("error", d.decree_id, f"unknown ubigeo {a}: not one of the {len(known):,} known districts"))
        elif known_provinces is not None and _is_province(a) and a[:4] not in known_provinces:
            problems.append(Problem("error", d.decree_id, f"unknown province code {a}: no known district starts with {a[:4]}"))
    return problems


def _chain_problems(parent: Declaration, child: Declaration) -> list[Problem]:
    severity: Severity = "error" if parent.confirmed and child.confirmed else "warning"
    expected = parent.end + timedelta(days=1)
    if child.start == expected:
        return []
    said = f"extends {parent.decree_id}, which ends {parent.end}, but starts {child.start}: "
    if child.start < expected:
        overlap = (min(parent.end, child.end) - child.start).days + 1
        what = f"overlaps it by {overlap} days"
    else:
        what = f"leaves a gap of {(child.start - expected).days} days ({expected} to {child.start - timedelta(days=1)})"
    return [Problem(severity, child.decree_id, said + what + f"; an extension starts the day after its parent ends ({expected})")]


def _overlap_problems(spells: tuple[Spell, ...]) -> list[Problem]:
    problems = []
    for i, a in enumerate(spells):
        for b in spells[i + 1:]:
            if b.start > a.end:
                continue
            shared: set[str] = set()
            first, last = None, None
            for p in a.periods:
                for q in b.periods:
                    lo, hi = max(p.start, q.start), min(p.end, q.end)
                    if lo > hi:
                        continue
                    common = ((p.districts & q.districts) | {u for u in p.districts if u[:4] + "00" in q.provinces}
                              | {u for u in q.districts if u[:4] + "00" in p.provinces} | (p.provinces & q.provinces))
                    if common:
                        shared |= common
                        first, last = min(first or lo, lo), max(last or hi, hi)
            if shared:
                problems.append(Problem("warning", b.spell_id,
                                        f"spell {b.spell_id} and spell {a.spell_id} both cover {' '.join(sorted(shared))} "
                                        f"between {first} and {last}; the later spell is used on those days"))
    return problems
