"""Every declaration, one table: each spell of the registry that the data cover, per area.

:func:`all_declarations` runs :func:`geo.analysis.pipeline.analyze_counts` for every spell
on counts read once from the store, and keeps one row per spell and area: each
estimate's effect, interval and p-value, the area's primary method and its verdict
sentence. The table is cached beside the store (``<store>/cache/``), keyed by the store
version, the registry's content, the category and the source, so a dashboard reads it
instead of re-estimating per request.

**No pooled figure across spells.** Peru's declarations overlap and repeat: the same
Lima districts are declared again and again, later spells extend earlier ones, and a
district's comparison set in one spell holds districts declared in the next. The per
spell estimates therefore share districts and periods (they are not independent), and
an average of them would count the same months several times. A valid summary needs a
stacked difference-in-differences with clean controls (Cengiz, Dube, Lindner & Zipperer
2019; Wing, Freedman & Hollingsworth 2024: one sub-experiment per spell with only
never-declared-in-window controls, weighted, and errors clustered by district across the
stack). hexwatch does not compute one yet, so the table gives none and says why.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import geo
from geo.analysis.pipeline import (AUTO, _TABLE, analyze_counts, attribution, layer_synthetic, load_adjacency,
                                   load_counts, resolve_source)
from geo.analysis.results import METHODS, AnalysisResult, Estimate, _clean, pct
from geo.analysis.areas import AreaMap
from geo.errors import HexwatchError

#: Bump when the row layout changes, so old cache files are not read.
CACHE_FORMAT = 1

NO_POOLED = {
    "figure": None,
    "method": None,
    "why_en": "No pooled figure across spells: declarations overlap and repeat in the same districts, so the spells' "
              "estimates share districts and months and are not independent. A valid summary needs a stacked "
              "difference-in-differences with clean controls (Cengiz et al. 2019; Wing et al. 2024), which hexwatch "
              "does not compute yet.",
    "why_es": "Sin cifra combinada entre declaratorias: se superponen y se repiten en los mismos distritos, así que sus "
              "estimaciones comparten distritos y meses y no son independientes. Un resumen válido necesita unas "
              "diferencias en diferencias apiladas con controles limpios (Cengiz et al. 2019; Wing et al. 2024), que "
              "hexwatch aún no calcula.",
}


def _verdict(r: AnalysisResult, h: Estimate | None) -> Estimate:
    """The estimate whose sentence is the row's verdict: the primary one; without one, the DiD
    carrying the area's own reason (e.g. every district of the area was declared) when there is one."""
    if h is not None:
        return h
    why = next((w for w in r.warnings if w.code in ("no_comparison", "dropped_districts")), None)
    if why is not None:
        return Estimate("did", warnings=[why])
    return r.estimates.get("did") or Estimate("did")


def _row(spell, r: AnalysisResult) -> dict[str, Any]:
    prim = (r.primary or {}).get("method")
    h = r.estimates.get(prim) if prim else None
    return {
        "spell_id": r.spell_id, "start": spell.start.isoformat(), "end": spell.end.isoformat(),
        "confirmed": bool(spell.confirmed), "area": r.area, "name_es": r.name("es"), "name_en": r.name("en"),
        "n_declared": len(r.design.get("treated", [])), "n_comparison": len(r.design.get("comparison", [])),
        "primary": prim,
        "estimates": {m: {"effect": _clean(e.effect), "ci": [_clean(e.ci[0]), _clean(e.ci[1])] if e.ci else None,
                          "p_value": _clean(e.p_value)} for m, e in r.estimates.items()},
        "two_by_two": _clean((r.descriptive.get("two_by_two") or {}).get("effect")),
        "expected_events": _clean(r.descriptive.get("expected_events")),
        "sentence_es": _verdict(r, h).sentence("es"),
        "sentence_en": _verdict(r, h).sentence("en"),
        "warnings": sorted({w.code for w in [*r.warnings, *(w for e in r.estimates.values() for w in e.warnings)]}),
    }


@dataclass
class AllDeclarations:
    """The table: ``rows`` (one per spell and area), ``skipped`` spells with the reason,
    and ``pooled`` (no figure, and why: see the module's docstring)."""

    rows: list[dict[str, Any]]
    skipped: list[dict[str, str]] = field(default_factory=list)
    source: str = ""
    frequency: str = ""
    category: str | None = None
    synthetic: bool = False
    store_version: str = ""
    attribution: str = ""
    source_note: dict[str, str] = field(default_factory=dict)
    pooled: dict[str, Any] = field(default_factory=lambda: dict(NO_POOLED))

    def summary(self, lang: str = "en") -> str:
        """A fixed-width table, one line per spell and area, then the verdicts and the pooled note."""
        es = lang == "es"
        lines = [f"{'Todas las declaratorias' if es else 'All declarations'}: {len(self.rows)} "
                 f"{'filas (declaratoria × área)' if es else 'rows (spell × area)'}; "
                 f"{'fuente' if es else 'source'}: {self.source}"
                 + (f" ({self.source_note.get(lang, '')})" if self.source_note else "")
                 + f"; {'versión' if es else 'store version'} {self.store_version}"
                 + ("   [SYNTHETIC DATA]" if self.synthetic else "")]
        head = (f"{'declaratoria' if es else 'spell':<22}{'área' if es else 'area':<18}{'inicio' if es else 'start':<11}"
                f"{'n':>3} {'principal' if es else 'primary':<10}"
                + "".join(f"{label:>26}" for label in (("DiD", "estudio de eventos", "control sintético", "ingenuo") if es
                                                        else ("DiD", "event study", "synthetic control", "naive")))
                + f"{'2x2':>9}")
        lines += ["", head, "-" * len(head)]
        for r in self.rows:
            cells = []
            for m in ("did", "event_study", "synthetic_control", "naive"):
                e = r["estimates"].get(m) or {}
                if e.get("effect") is None:
                    cells.append(f"{'n/d' if es else 'n/a':>26}")
                    continue
                ci = e.get("ci") or [None, None]
                ci_txt = f" [{pct(ci[0], lang)}, {pct(ci[1], lang)}]" if None not in ci else ""
                cells.append(f"{pct(e['effect'], lang) + ci_txt:>26}")
            tbt = pct(r["two_by_two"], lang, digits=1) if r.get("two_by_two") is not None else "-"
            lines.append(f"{r['spell_id']:<22}{r['name_' + lang][:17]:<18}{r['start']:<11}{r['n_declared']:>3} "
                         f"{(r['primary'] or '-'):<10}" + "".join(cells) + f"{tbt:>9}")
        lines.append("")
        for r in self.rows:
            lines.append(f"- {r['spell_id']}, {r['name_' + lang]}: {r['sentence_' + lang]}")
        if self.skipped:
            lines += ["", "No evaluadas:" if es else "Not evaluated:"]
            lines += [f"  {s['spell_id']}: {s['reason']}" for s in self.skipped]
        lines += ["", self.pooled.get("why_es" if es else "why_en", "")]
        if self.attribution:
            lines += ["", self.attribution]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"format": CACHE_FORMAT, "rows": self.rows, "skipped": self.skipped, "source": self.source,
                "frequency": self.frequency, "category": self.category, "synthetic": self.synthetic,
                "store_version": self.store_version, "attribution": self.attribution, "source_note": self.source_note,
                "pooled": self.pooled}

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes, indented."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AllDeclarations":
        """Inverse of :meth:`to_dict`."""
        return cls(rows=d["rows"], skipped=d.get("skipped", []), source=d.get("source", ""),
                   frequency=d.get("frequency", ""), category=d.get("category"), synthetic=d.get("synthetic", False),
                   store_version=d.get("store_version", ""), attribution=d.get("attribution", ""),
                   source_note=d.get("source_note", {}), pooled=d.get("pooled") or dict(NO_POOLED))


def cache_key(store_version: str, registry, category, source: str) -> str:
    """What the table depends on: store version, registry rows, category, source, hexwatch version."""
    h = hashlib.sha256()
    for part in (store_version, repr(registry.declarations), repr(registry.include_unconfirmed), repr(category), source,
                 geo.__version__, str(CACHE_FORMAT), repr(METHODS)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def _cache_file(root: Path, key: str) -> Path:
    return root / "cache" / f"all_declarations-{key}.json"


_lock = threading.Lock()


def all_declarations(store, *, category: str | Sequence[str] | None = None, source: str = AUTO, registry=None,
                     areas: AreaMap | None = None, adjacency=None, use_cache: bool = True,
                     progress: Callable[[str], Any] | None = None) -> AllDeclarations:
    """Evaluate every spell of ``registry`` (default: the bundled one) that the store's
    data cover, per area; spells the data do not cover are listed in ``skipped``.

    With ``use_cache`` the table is read from, or written to, ``<store>/cache/`` under
    :func:`cache_key` (a read-only store is simply not cached).
    """
    from geo.declarations import Registry
    from geo.store import Store, atomic_write_bytes

    st = store if isinstance(store, Store) else Store.open(store)
    source, note = resolve_source(st, source)
    registry = registry if registry is not None else Registry.load()
    key = cache_key(st.version, registry, category, source)
    path = _cache_file(st.root, key)
    if use_cache and path.exists():
        try:
            return AllDeclarations.from_dict(orjson.loads(path.read_bytes()))
        except (orjson.JSONDecodeError, KeyError):
            pass  # a damaged cache file is recomputed and replaced
    with _lock:
        counts, meta, coverage = load_counts(st, source=source, category=category)
        if adjacency is None:
            adjacency = load_adjacency(counts["ubigeo"].unique(), st)
        if areas is None:
            areas = AreaMap.for_store(st, counts["ubigeo"].unique())
        synthetic = layer_synthetic(meta, _TABLE[source])
        label = category if isinstance(category, str) or category is None else ", ".join(category)
        frequency = "week" if source == "points" else "month"
        rows, skipped = [], []
        for spell in registry.spells:
            if progress:
                progress(f"analysing {spell.spell_id} ...")
            try:
                r = analyze_counts(counts, registry, spell.spell_id, adjacency, frequency=frequency, coverage=coverage,
                                   source=source, category=label, synthetic=synthetic, areas=areas)
            except HexwatchError as exc:
                skipped.append({"spell_id": spell.spell_id, "reason": str(exc)})
                continue
            rows += [_row(spell, a) for a in r.areas]
        table = AllDeclarations(rows=rows, skipped=skipped, source=source, frequency=frequency, category=label,
                                synthetic=synthetic, store_version=st.version,
                                attribution=attribution(meta, source, synthetic), source_note=note)
        if use_cache:
            try:
                os.makedirs(path.parent, exist_ok=True)
                atomic_write_bytes(path, table.to_json())
            except OSError:
                pass  # a read-only store: recomputed next time
    return table
