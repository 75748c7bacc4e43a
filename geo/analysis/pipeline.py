"""Run every method for one spell: from a store (``analyze``) or from counts (``analyze_counts``).

Only :func:`analyze` and :func:`load_counts` touch files (the store, the registry, the
cached boundaries); everything else is pure.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import pandas as pd

from geo.analysis.did import did
from geo.analysis.displacement import displacement
from geo.analysis.event_study import event_study
from geo.analysis.naive import naive
from geo.analysis.panel import Panel, Windows, build_panel
from geo.analysis.results import METHODS, AnalysisResult, Caveat, Estimate
from geo.analysis.synth import synthetic_control
from geo.errors import HexwatchError

SOURCES = ("points", "sidpol")

_REPORTED = Caveat("reported_only",
                   "Only incidents reported to the police are counted; many crimes are never reported, and a declaration can change reporting itself.",
                   "Solo se cuentan los incidentes denunciados a la policía; muchos delitos no se denuncian, y una declaratoria puede cambiar la propia denuncia.")
_SYNTHETIC = Caveat("synthetic_data", "These are synthetic demo data, not real incidents.",
                    "Son datos sintéticos de demostración, no incidentes reales.")


def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", str(s)).encode("ascii", "ignore").decode()
    return " ".join(s.upper().split())


def match_categories(wanted: str | Sequence[str] | None, available: Iterable[str]) -> list[str] | None:
    """The store's category names matching ``wanted`` regardless of case and accents
    (``"extorsión"`` finds ``EXTORSION``); ``None`` means all categories.

    >>> match_categories("robo", ["ROBO", "HURTO"])
    ['ROBO']
    """
    if wanted is None:
        return None
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    available = sorted(set(available))
    by_fold = {}
    for a in available:
        by_fold.setdefault(_fold(a), []).append(a)
    out = []
    for w in wanted:
        hit = by_fold.get(_fold(w))
        if not hit:
            raise HexwatchError(f"no category {w!r} in the data; categories: {', '.join(available) or 'none'}")
        out += hit
    return out


def load_counts(store, *, source: str = "points", category: str | Sequence[str] | None = None
                ) -> tuple[pd.DataFrame, dict, tuple[date, date] | None]:
    """District counts from a store: ``(counts, meta, coverage)``.

    ``source="points"`` reads ``cube_district`` (daily); ``"sidpol"`` reads
    ``district_month``. ``category`` filters (case and accents ignored).
    """
    from geo.store import Store

    if source not in SOURCES:
        raise HexwatchError(f"source must be 'points' or 'sidpol', not {source!r}")
    st = store if isinstance(store, Store) else Store.open(store)
    table = "cube_district" if source == "points" else "district_month"
    if not st.has(table):
        other = "sidpol" if source == "points" else "points"
        raise HexwatchError(f"the store has no {table} table for source {source!r}; "
                            f"ingest {'points' if source == 'points' else 'a SIDPOL file'} or use --source {other}")
    cats = st.read_arrow(table, columns=["category"]).column("category").unique().to_pylist()
    chosen = match_categories(category, [c for c in cats if c is not None])
    filters = [("category", "in", chosen)] if chosen is not None else None
    cols = ["ubigeo", "day", "n"] if source == "points" else ["ubigeo", "year", "month", "n"]
    counts = st.read(table, columns=cols, filters=filters)
    counts = counts[counts["ubigeo"].notna()]
    meta = st.meta
    cov = meta.get("coverage") or {}
    coverage = None
    if source == "points" and cov.get("start") and cov.get("end"):
        coverage = (date.fromisoformat(str(cov["start"])[:10]), date.fromisoformat(str(cov["end"])[:10]))
    return counts, meta, coverage


def load_adjacency(ubigeos: Iterable[str]) -> Mapping[str, set[str]] | None:
    """Neighbours among ``ubigeos`` from the cached study boundaries; ``None`` when the
    boundaries are not fetched."""
    from geo import boundaries

    try:
        d = boundaries.load_study_districts()
    except HexwatchError:
        return None
    d = d[d["ubigeo"].isin(set(ubigeos))]
    return boundaries.adjacency(d) if len(d) else None


def analyze_counts(
    counts: pd.DataFrame,
    registry,
    spell_id: str,
    adjacency: Mapping[str, Iterable[str]] | None,
    *,
    frequency: str = "week",
    methods: Sequence[str] = METHODS,
    windows: Windows | None = None,
    coverage: tuple[date, date] | None = None,
    source: str = "points",
    category: str | None = None,
    synthetic: bool = False,
    dataset: str = "",
) -> AnalysisResult:
    """Every requested method on district counts (see :func:`geo.analysis.panel.build_panel`)."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise HexwatchError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    panel = build_panel(counts, registry, spell_id, adjacency, frequency=frequency, windows=windows or Windows(),
                        coverage=coverage)
    run = {"naive": naive, "did": did, "event_study": event_study, "synthetic_control": synthetic_control,
           "displacement": displacement}
    estimates: dict[str, Estimate] = {m: run[m](panel) for m in METHODS if m in methods}
    es = estimates.get("event_study")
    if es is not None and any(w.code == "pre_trend" for w in es.warnings):
        for m in ("did", "displacement"):
            if m in estimates and estimates[m].available:
                estimates[m].warnings.append(next(w for w in es.warnings if w.code == "pre_trend"))
    caveats = [_REPORTED] + ([_SYNTHETIC] if synthetic else []) + panel.caveats
    return AnalysisResult(spell_id=panel.spell_id, estimates=estimates, category=category, source=source,
                          frequency=frequency, synthetic=synthetic, dataset=dataset, design=design_dict(panel),
                          warnings=caveats)


def design_dict(panel: Panel) -> dict:
    """The panel's design for the JSON: windows and each district's role and dates."""
    def rows(role: str) -> list[dict]:
        u = panel.units[panel.units["role"] == role].sort_values("ubigeo")
        if role == "comparison":
            return [{"ubigeo": x, "area": a} for x, a in zip(u["ubigeo"], u["area"])]
        return [{"ubigeo": r.ubigeo, "area": r.area, "compared": bool(r.comparable),
                 "onset": panel.period_start(int(r.onset)).isoformat(),
                 "declared_from": panel.period_start(int(r.cohort)).isoformat(),
                 "declared_to": panel.period_end(int(r.last)).isoformat()} for r in u.itertuples()]

    return {"frequency": panel.frequency, "anchor": str(panel.anchor), "pre_periods": panel.windows.pre,
            "post_periods": panel.windows.post, "sc_pre_periods": panel.windows.sc_pre,
            "treated": rows("treated"), "comparison": rows("comparison"), "ring": rows("ring"),
            "unconfirmed": panel.unconfirmed,
            "comparison_rule": "same metro area (Lima+Callao; else the department), no declared day under any registry row in the window, not adjacent to a declared district"}


def analyze(
    store: str | os.PathLike,
    spell_id: str,
    *,
    category: str | Sequence[str] | None = None,
    source: str = "points",
    methods: Sequence[str] = METHODS,
    registry=None,
    adjacency: Mapping[str, Iterable[str]] | None = None,
    windows: Windows | None = None,
) -> AnalysisResult:
    """Did declaration spell ``spell_id`` change incidents? Every method, on a store.

    ``spell_id`` in any spelling (``DS 105-2023-PCM``); ``category`` a store category
    (case and accents ignored) or several, ``None`` for all; ``source`` ``"points"``
    (weekly, from ``cube_district``) or ``"sidpol"`` (monthly, ``district_month``);
    ``registry`` defaults to the bundled one (confirmed rows); ``adjacency`` to the
    cached boundaries (without them there is no displacement ring).

    >>> import tempfile, pandas as pd
    >>> from geo.store import write_version
    >>> d = tempfile.mkdtemp()
    >>> _ = write_version(d, tables={"cube_district": pd.DataFrame({"ubigeo": ["150132"],
    ...     "day": pd.to_datetime(["2023-01-02"]).date, "category": ["ROBO"], "n": [1]})}, meta={})
    >>> analyze(d, "DS 105-2023-PCM", category="hurto")
    Traceback (most recent call last):
    ...
    geo.errors.HexwatchError: no category 'hurto' in the data; categories: ROBO
    """
    from geo.declarations import Registry

    counts, meta, coverage = load_counts(store, source=source, category=category)
    if registry is None:
        registry = Registry.load()
    if adjacency is None:
        adjacency = load_adjacency(counts["ubigeo"].unique())
    label = category if isinstance(category, str) or category is None else ", ".join(category)
    return analyze_counts(counts, registry, spell_id, adjacency, frequency="week" if source == "points" else "month",
                          methods=methods, windows=windows, coverage=coverage, source=source, category=label,
                          synthetic=bool(meta.get("synthetic", False)), dataset=str(meta.get("dataset", "")))
