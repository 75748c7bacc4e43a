"""Areas of an answer: which declared districts are analysed together, and their names.

A declaration can cover districts far apart (DS 105-2023-PCM: two districts of Lima and
seven of Sullana). Each group is analysed on its own and named for a reader, so the
analysis needs to know which districts form one *area*. That is data, not code:

- ``data/boundaries/areas.csv`` (the same file the dashboard's areas come from) lists
  named groups of provinces or districts (``area, name_es, name_en, provinces[,
  districts]``; provinces as INEI codes, ``150100``);
- every other district's area is its province, named as the boundary files name it
  (``huaura`` / "Huaura"), or ``province_<code>`` when no boundaries are loaded.

Example
-------
>>> m = AreaMap.load(province_names={"0801": "CUSCO"})
>>> m.area_of("150132"), m.area_of("070106"), m.area_of("200601"), m.area_of("080101"), m.area_of("090101")
('lima_callao', 'lima_callao', 'sullana', 'cusco', 'province_0901')
>>> m.name("lima_callao", "es"), m.name("cusco", "en")
('Lima y Callao', 'Cusco')
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from geo.errors import HexwatchError

_COLUMNS = ("area", "name_es", "name_en", "provinces")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def default_path() -> Path:
    """``data/boundaries/areas.csv`` of a checkout, else the copy bundled in the installed
    package (``geo/_data/boundary_areas.csv``, as :mod:`geo.areas` reads it)."""
    geo_dir = Path(__file__).resolve().parents[1]
    checkout = geo_dir.parent / "data" / "boundaries" / "areas.csv"
    return checkout if checkout.exists() else geo_dir / "_data" / "boundary_areas.csv"


def slug(name: str) -> str:
    """A lower-case ASCII id of a place name.

    >>> slug("Marañón"), slug("PADRE ABAD"), slug("Daniel A. Carrión")
    ('maranon', 'padre_abad', 'daniel_a_carrion')
    """
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_")


def _title(name: str) -> str:
    small = {"de", "del", "la", "las", "los", "y"}
    words = str(name).strip().lower().split()
    return " ".join(w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words))


@dataclass(frozen=True)
class AreaMap:
    """Which area each district belongs to, and the areas' names in both languages.

    ``metros``: ``{area: (name_es, name_en, province prefixes)}`` from the CSV;
    ``province_names``: ``{4-digit province code: name}`` from the boundaries;
    ``members``: ``{ubigeo: area}`` for groups the CSV lists district by district.
    """

    metros: Mapping[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    province_names: Mapping[str, str] = field(default_factory=dict)
    members: Mapping[str, str] = field(default_factory=dict)
    #: ``(area, name_es, name_en)`` of a district no group or province claims (a store of
    #: another city without boundaries is one area); ``None``: Peru's province rule.
    fallback: tuple[str, str, str] | None = None

    @classmethod
    def for_store(cls, store, ubigeos: Iterable[str] = ()) -> "AreaMap":
        """The areas of ``store``'s own boundaries: Peru's groups and provinces
        (:meth:`load`) for a store ingested with Peru's, else the store's named groups
        (:func:`geo.areas.groups_for`) and the provinces of its boundary file, and one area
        for everything when it has no boundaries.

        A city store's districts are never grouped by Peru's ubigeo prefixes; a store that
        records no boundaries at all gets Peru's rule only when every district id of the
        data (``ubigeos``) is a six-digit ubigeo."""
        from geo import areas as store_areas

        kind = store_areas.boundary_set(store)["kind"]
        b = store_areas.store_boundaries(store)
        ids = [str(u) for u in ubigeos]
        if kind == "none" and b is None and ids and all(re.fullmatch(r"\d{6}", u) for u in ids):
            kind = "peru"
        if kind == "peru":
            names = {}
            if b is not None and "province" in b:
                pairs = b[["ubigeo", "province"]].dropna()
                names = {str(u)[:4]: str(p) for u, p in zip(pairs["ubigeo"], pairs["province"])}
            return cls.load(province_names=names or None, boundaries=not names)
        metros: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        members: dict[str, str] = {}
        ids = [] if b is None else [str(u) for u in b["ubigeo"]]
        for g in store_areas.groups_for(store, kind):
            metros[g["area"]] = (g["name"], g["name_en"], ())
            for u in store_areas.group_members(g, ids) + tuple(g.get("districts", ())):
                members.setdefault(str(u), g["area"])
        if b is not None and "province" in b:
            codes = b["province_code"].astype(str) if "province_code" in b else b["province"].astype(str)
            for u, code, name in zip(ids, codes, b["province"].astype(str)):
                if u in members or name in ("", "nan", "None"):
                    continue
                area = slug(name) or f"province_{slug(code)}"
                if area in metros and metros[area][0] != _title(name):
                    area = f"{area}_{slug(code)}"
                metros.setdefault(area, (_title(name), _title(name), ()))
                members[u] = area
        return cls(metros, {}, members, fallback=("all", "Todo", "All"))

    @classmethod
    def load(cls, path: str | Path | None = None, *, province_names: Mapping[str, str] | None = None,
             boundaries: bool = False) -> "AreaMap":
        """Read ``path`` (default :func:`default_path`); province names from
        ``province_names``, or from the cached boundaries when ``boundaries`` is true
        (silently none when they are not fetched)."""
        p = Path(path) if path is not None else default_path()
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise HexwatchError(f"no areas file at {p}") from None
        metros, members = parse_areas(text, str(p))
        names = dict(province_names or {})
        if boundaries and not names:
            names = _boundary_province_names()
        return cls(metros, names, members)

    @cached_property
    def _prefix_to_metro(self) -> dict[str, str]:
        return {pre: a for a, (_, _, pres) in self.metros.items() for pre in pres}

    def area_of(self, ubigeo: str) -> str:
        """The area id of one district."""
        ubigeo = str(ubigeo)
        if ubigeo in self.members:
            return self.members[ubigeo]
        if self.fallback is not None:
            return self.fallback[0]
        pre = ubigeo[:4]
        metro = self._prefix_to_metro.get(pre)
        if metro:
            return metro
        return self._province_ids.get(pre, f"province_{pre}")

    def areas_of(self, ubigeos: Iterable[str]) -> dict[str, list[str]]:
        """``{area: sorted ubigeos}`` for a set of districts, areas in first-seen order of the sorted ubigeos."""
        out: dict[str, list[str]] = {}
        for u in sorted(set(ubigeos)):
            out.setdefault(self.area_of(u), []).append(u)
        return out

    @cached_property
    def _province_ids(self) -> dict[str, str]:
        # Province names repeat across departments in a few cases: those get their code appended.
        by_slug: dict[str, list[str]] = {}
        for code, name in self.province_names.items():
            by_slug.setdefault(slug(name), []).append(code)
        out = {}
        for s, codes in by_slug.items():
            for c in codes:
                out[c] = s if len(codes) == 1 and s and s not in self.metros else f"{s}_{c}" if s else f"province_{c}"
        return out

    def name(self, area: str, lang: str = "es") -> str:
        """The area's name for readers (``Lima y Callao``, ``Sullana``)."""
        if area in self.metros:
            es, en, _ = self.metros[area]
            return es if lang == "es" else en
        if self.fallback is not None and area == self.fallback[0]:
            return self.fallback[1] if lang == "es" else self.fallback[2]
        for code, a in self._province_ids.items():
            if a == area:
                return _title(self.province_names[code])
        if area.startswith("province_"):
            code = area.removeprefix("province_")
            return f"Provincia {code}" if lang == "es" else f"Province {code}"
        return area


def parse_areas(text: str, source: str = "areas.csv"
                ) -> tuple[dict[str, tuple[str, str, tuple[str, ...]]], dict[str, str]]:
    """The named groups of an areas CSV: ``({area: (name_es, name_en, province prefixes)},
    {ubigeo: area})``; a malformed row is a one-line error naming it.

    >>> parse_areas("area,name_es,name_en,provinces,districts\\nx,X,X,150100 0701,\\ny,Y,Y,,200601\\n")
    ({'x': ('X', 'X', ('1501', '0701')), 'y': ('Y', 'Y', ())}, {'200601': 'y'})
    """
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and not set(_COLUMNS) <= set(rows[0]):
        raise HexwatchError(f"{source}: the header must have {', '.join(_COLUMNS)}")
    out: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    members: dict[str, str] = {}
    seen: dict[str, str] = {}
    for i, r in enumerate(rows, start=2):
        a = (r["area"] or "").strip()
        if not _ID.match(a):
            raise HexwatchError(f"{source}, line {i}: area id {a!r} must be lower-case letters, digits and _")
        if a in out:
            raise HexwatchError(f"{source}, line {i}: area {a!r} is listed twice")
        codes = tuple(c for c in re.split(r"[\s;,]+", (r.get("provinces") or "").strip()) if c)
        districts = tuple(c for c in re.split(r"[\s;,]+", (r.get("districts") or "").strip()) if c)
        if not codes and not districts:
            raise HexwatchError(f"{source}, line {i}: area {a!r} lists no provinces and no districts")
        if not all(re.fullmatch(r"\d{4}(00)?", c) for c in codes):
            raise HexwatchError(f"{source}, line {i}: provinces must be INEI province codes such as 150100")
        pres = tuple(c[:4] for c in codes)
        for pre in pres:
            if pre in seen:
                raise HexwatchError(f"{source}, line {i}: province {pre}00 is already in area {seen[pre]!r}")
            seen[pre] = a
        for u in districts:
            if u in members:
                raise HexwatchError(f"{source}, line {i}: district {u} is already in area {members[u]!r}")
            members[u] = a
        out[a] = ((r["name_es"] or a).strip(), (r["name_en"] or r["name_es"] or a).strip(), pres)
    return out, members


def _boundary_province_names() -> dict[str, str]:
    try:
        from geo import boundaries

        d = boundaries.load_districts()
    except HexwatchError:
        return {}
    if "province" not in d:
        return {}
    pairs = d[["ubigeo", "province"]].dropna()
    return {str(u)[:4]: str(p) for u, p in zip(pairs["ubigeo"], pairs["province"])}
