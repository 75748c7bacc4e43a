"""Run every method for one spell: from a store (``analyze``) or from counts (``analyze_counts``).

Only :func:`analyze` and :func:`load_counts` touch files (the store, the registry, the
cached boundaries); everything else is pure.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from geo.analysis.did import did
from geo.analysis.displacement import displacement
from geo.analysis.event_study import event_study
from geo.analysis.naive import naive
from geo.analysis.panel import Panel, Windows, build_panel, fe_sample
from geo.analysis.results import METHODS, AnalysisResult, Caveat, Estimate
from geo.analysis.synth import synthetic_control
from geo.analysis.areas import AreaMap
from geo.errors import HexwatchError

SOURCES = ("points", "sidpol")
#: Let :func:`choose_source` pick the source from what the store holds.
AUTO = "auto"
_TABLE = {"points": "cube_district", "sidpol": "district_month"}

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


def load_counts(store, *, source: str = "points", category: str | Sequence[str] | None = None,
                vocabulary=None) -> tuple[pd.DataFrame, dict, tuple[date, date] | None]:
    """District counts from a store: ``(counts, meta, coverage)``.

    ``source="points"`` reads ``cube_district`` (daily); ``"sidpol"`` reads
    ``district_month``. ``category`` filters (case and accents ignored); a
    ``vocabulary`` (:class:`geo.privacy.Vocabulary`) keeps only the categories it lets
    public output count, as a public answer must (docs/privacy.md).
    """
    from geo.store import Store

    if source not in SOURCES and source != AUTO:
        raise HexwatchError(f"source must be 'auto', 'points' or 'sidpol', not {source!r}")
    st = store if isinstance(store, Store) else Store.open(store)
    if source == AUTO:
        source = choose_source(st)[0]
    table = "cube_district" if source == "points" else "district_month"
    if not st.has(table):
        other = "sidpol" if source == "points" else "points"
        raise HexwatchError(f"the store has no {table} table for source {source!r}; "
                            f"ingest {'points' if source == 'points' else 'a SIDPOL file'} or use --source {other}")
    cats = st.read_arrow(table, columns=["category"]).column("category").unique().to_pylist()
    cats = [c for c in cats if c is not None]
    if vocabulary is not None:
        # Public: only admitted categories exist (an error must not name the others either).
        cats = [c for c, ok in zip(cats, vocabulary.is_public(cats)) if ok]
        if not cats:
            raise HexwatchError("the data hold no category public output may count (see docs/privacy.md)")
    chosen = match_categories(category, cats)
    if vocabulary is not None and chosen is None:
        chosen = cats
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


#: The layer of ``meta["layers"]`` (see geo.datasets) each count table belongs to.
_LAYER_OF = {"cube_district": "points", "district_month": "district_month"}


def _layer(meta: Mapping, table: str) -> Mapping:
    layers = meta.get("layers") or {}
    return layers.get(_LAYER_OF.get(table, table)) or layers.get(table) or {}


def layer_synthetic(meta: Mapping, table: str) -> bool:
    """Whether ``table``'s rows are synthetic: ``meta["layers"][layer]["synthetic"]`` (layer
    ``points`` for ``cube_district``, ``district_month``) when the ingest recorded it per
    layer, else the store-wide ``meta["synthetic"]``."""
    layer = _layer(meta, table)
    if "synthetic" in layer:
        return bool(layer["synthetic"])
    return bool(meta.get("synthetic", False))


def choose_source(store) -> tuple[str, dict[str, str]]:
    """The count source a store's verdict should rest on, and why (``{"en", "es"}``).

    Real district-month counts (SIDPOL) first, since they are what the police recorded;
    else the points' daily district cube; else synthetic district-month counts. A store
    with neither table is a one-line error.
    """
    from geo.store import Store

    st = store if isinstance(store, Store) else Store.open(store)
    meta = st.meta
    has_dm, has_cd = st.has("district_month"), st.has("cube_district")
    if has_dm and not layer_synthetic(meta, "district_month"):
        return "sidpol", {"en": "sidpol: the store's real district-month counts (monthly), preferred for the verdict",
                          "es": "sidpol: los conteos reales por distrito y mes del almacén (mensuales), preferidos para el veredicto"}
    if has_cd:
        why = ("; its district-month counts are synthetic" if has_dm else "")
        why_es = ("; sus conteos por distrito y mes son sintéticos" if has_dm else "")
        return "points", {"en": f"points: the daily district cube of the store's incidents (weekly){why}",
                          "es": f"points: el cubo diario por distrito de los incidentes del almacén (semanal){why_es}"}
    if has_dm:
        return "sidpol", {"en": "sidpol: the store's district-month counts (monthly; the only counts it holds)",
                          "es": "sidpol: los conteos por distrito y mes del almacén (mensuales; los únicos que tiene)"}
    raise HexwatchError(f"the store {st.root} holds no district counts (neither cube_district nor district_month); "
                        "ingest points or a district-period counts file first")


def resolve_source(store, source: str) -> tuple[str, dict[str, str]]:
    """``(source, why)``: :func:`choose_source` for ``"auto"``; an explicit source is kept,
    with the same words when it is what ``auto`` picks and "as asked" otherwise."""
    if source != AUTO and source not in SOURCES:
        raise HexwatchError(f"source must be 'auto', 'points' or 'sidpol', not {source!r}")
    try:
        auto, note = choose_source(store)
    except HexwatchError:
        if source == AUTO:
            raise
        auto, note = None, {}
    if source == AUTO or source == auto:
        return auto, note
    return source, {"en": f"{source}: as asked (auto would use {auto})", "es": f"{source}: la pedida (auto usaría {auto})"}


def load_adjacency(ubigeos: Iterable[str], store=None) -> Mapping[str, set[str]] | None:
    """Neighbours among ``ubigeos``: from the boundaries ``store`` was ingested with when
    they hold any of them, else from the cached study boundaries; ``None`` when neither has
    them (then there is no displacement ring)."""
    from geo import boundaries

    wanted = set(map(str, ubigeos))
    if store is not None:
        from geo.areas import store_boundaries

        own = store_boundaries(store)
        if own is not None:
            own = own[own["ubigeo"].astype(str).isin(wanted)]
            if len(own):
                return boundaries.adjacency(own)
    try:
        d = boundaries.load_study_districts()
    except HexwatchError:
        return None
    d = d[d["ubigeo"].isin(wanted)]
    return boundaries.adjacency(d) if len(d) else None


def _run_panel(panel: Panel, methods: Sequence[str]) -> dict[str, Estimate]:
    run = {"naive": naive, "did": did, "event_study": event_study, "synthetic_control": synthetic_control,
           "displacement": displacement}
    estimates: dict[str, Estimate] = {m: run[m](panel) for m in METHODS if m in methods}
    es = estimates.get("event_study")
    if es is not None and any(w.code == "pre_trend" for w in es.warnings):
        for m in ("did", "displacement"):
            if m in estimates and estimates[m].available:
                estimates[m].warnings.append(next(w for w in es.warnings if w.code == "pre_trend"))
    return estimates


#: Used until the estimators' own rule (``geo.analysis.primary``) exists; see :func:`primary_of`.
_FALLBACK_RULE = {
    "en": "pre-specified: the difference-in-differences (count model with district and period fixed effects) over "
          "the declared run; if it cannot be estimated, the synthetic control. The naive figure is never primary; the "
          "others are robustness checks.",
    "es": "fijado de antemano: las diferencias en diferencias (modelo de conteo con efectos fijos de distrito y "
          "periodo) sobre el tramo declarado; si no se puede estimar, el control sintético. La cifra ingenua nunca es la "
          "principal; las demás son pruebas de robustez.",
}


def primary_of(estimates: Mapping[str, Estimate], panel: Panel | None = None) -> dict:
    """The pre-specified estimator of an area's verdict and the rule that picked it.

    The rule is the estimators' own (:func:`geo.analysis.primary.primary_method`) when the
    library has it; otherwise the DiD, else the synthetic control. Every other method is a
    robustness check (the naive figure is descriptive).
    """
    try:
        from geo.analysis import primary as rule  # the estimators' rule, when present
    except ImportError:
        rule = None
    method, texts = None, _FALLBACK_RULE
    if rule is not None and hasattr(rule, "primary_method"):
        method = rule.primary_method(AnalysisResult(spell_id="", estimates=dict(estimates)))
        texts = getattr(rule, "PRIMARY_RULE", texts)
    else:
        method = next((m for m in ("did", "synthetic_control") if m in estimates and estimates[m].available), None)
    role = getattr(rule, "role_of", None) or (lambda m, p: "primary" if m == p else
                                              "descriptive" if m == "naive" else "robustness")
    roles = {m: role(m, method) for m in estimates}
    return {"method": method, "rule_en": texts["en"], "rule_es": texts["es"],
            "robustness": [m for m, r in roles.items() if r == "robustness"],
            "descriptive": [m for m, r in roles.items() if r == "descriptive"]}


def declared_events(panel: Panel) -> tuple[float, int]:
    """Events and district-periods of the declared districts in the periods the DiD treats
    as declared (the first unbroken run fully declared)."""
    s = fe_sample(panel, "treated")
    post = s[(s["role"] == "treated") & s["post"].astype(bool)]
    return float(post["n"].sum()), int(len(post))


def two_by_two(panel: Panel) -> dict | None:
    """The transparent 2x2 ratio on the DiD's own rows: the declared districts' rate in the
    declared periods over their rate before, divided by the same ratio for the comparison
    districts over the same calendar periods. Descriptive: no model, no interval.

    Rates are per district-period, so uneven windows (staggered cohorts, gaps) still compare like with like.
    """
    s = fe_sample(panel, "treated")
    if s.empty:
        return None
    post = s["post"].astype(bool)
    t = s[s["role"] == "treated"]
    tpost = post[t.index]
    c = s[s["role"] == "comparison"]
    pre_p, post_p = sorted(set(t.loc[~tpost, "period"])), sorted(set(t.loc[tpost, "period"]))
    if not pre_p or not post_p or c.empty:
        return None
    c_pre, c_post = c[c["period"].isin(pre_p)], c[c["period"].isin(post_p)]
    t_pre, t_post = t[~tpost], t[tpost]
    rates = [x["n"].sum() / len(x) if len(x) else float("nan") for x in (t_pre, t_post, c_pre, c_post)]
    if not all(np.isfinite(rates)) or rates[0] <= 0 or rates[2] <= 0 or rates[3] <= 0:
        return None
    ratio = (rates[1] / rates[0]) / (rates[3] / rates[2])
    return {"effect": float(ratio - 1), "treated_pre": float(t_pre["n"].sum()), "treated_post": float(t_post["n"].sum()),
            "comparison_pre": float(c_pre["n"].sum()), "comparison_post": float(c_post["n"].sum()),
            "pre": panel.window_dict(min(pre_p), max(pre_p)), "post": panel.window_dict(min(post_p), max(post_p)),
            "n_treated": int(t["ubigeo"].nunique()), "n_comparison": int(c["ubigeo"].nunique()),
            "definition_en": "(declared districts' events per district-period, declared periods / before) ÷ "
                             "(comparison districts' events per district-period, same calendar periods) − 1",
            "definition_es": "(eventos por distrito-periodo de los declarados, periodos declarados / antes) ÷ "
                             "(lo mismo en los distritos de comparación, mismos periodos del calendario) − 1"}


def two_by_two_area(counts: pd.DataFrame, treated: Iterable[str], others: Iterable[str], frequency: str,
                    like: Mapping) -> dict | None:
    """The same 2x2 ratio as :func:`two_by_two` over the same dates (``like``), against every
    other district of the area (declared elsewhere, neighbours and all): the plainest figure
    a reader can recompute from the source file. Totals, since both sides span the same periods."""
    from geo.analysis.panel import period_counts

    treated, others = set(treated), set(others)
    if not treated or not others:
        return None
    pc = period_counts(counts[counts["ubigeo"].astype(str).isin(treated | others).to_numpy()], frequency)
    start = pd.to_datetime(pc["start"])

    def total(group, window):
        m = pc["ubigeo"].isin(group) & (start >= pd.Timestamp(window["start"])) & (start <= pd.Timestamp(window["end"]))
        return float(pc.loc[m, "n"].sum())

    tp, tq, op, oq = (total(treated, like["pre"]), total(treated, like["post"]), total(others, like["pre"]),
                      total(others, like["post"]))
    if min(tp, op, oq) <= 0:
        return None
    return {"effect": (tq / tp) / (oq / op) - 1, "treated_pre": tp, "treated_post": tq, "comparison_pre": op,
            "comparison_post": oq, "pre": dict(like["pre"]), "post": dict(like["post"]), "n_treated": len(treated),
            "n_comparison": len(others), "comparison": "every other district of the area"}


_Z95 = 1.959963984540054


def pool_by_expected_events(entries: Sequence[AnalysisResult], method: str) -> Estimate:
    """One method's estimate pooled over areas, each area weighted by its expected events.

    ``entries``: per-area results whose ``descriptive["expected_events"]`` is the events
    the area's declared periods would have had without the declaration (observed ÷
    (1 + the area's primary estimate)). Each area's interval is read as a normal one on
    the log scale (``se = (log(1+high) - log(1+low)) / (2 × 1.96)``) and the areas as
    independent (their comparison districts do not overlap): pooled
    ``log(1+effect) = Σ w_a log(1+effect_a) / Σ w_a``, ``se = √(Σ w_a² se_a²) / Σ w_a``.
    """
    from scipy import stats

    parts, skipped = [], []
    for r in entries:
        e = r.estimates.get(method)
        w = float(r.descriptive.get("expected_events") or 0.0)
        if e is None or not e.available or not e.ci or not all(np.isfinite(e.ci)) or e.ci[0] <= -1 or w <= 0:
            skipped.append(r.area)
            continue
        b = float(np.log1p(e.effect))
        se = float((np.log1p(e.ci[1]) - np.log1p(e.ci[0])) / (2 * _Z95))
        parts.append({"area": r.area, "weight": w, "effect": float(e.effect), "log_effect": b, "se": se})
    if not parts:
        return Estimate(method, warnings=[Caveat("too_few_events", "no area has this estimate to pool",
                                                 "ningún área tiene esta estimación para combinar")])
    W = sum(p["weight"] for p in parts)
    for p in parts:
        p["share"] = p["weight"] / W
    b = sum(p["share"] * p["log_effect"] for p in parts)
    se = float(np.sqrt(sum((p["share"] * p["se"]) ** 2 for p in parts)))
    p_value = float(2 * stats.norm.sf(abs(b / se))) if se > 0 else None
    warnings = [Caveat("pooled_areas",
                       "Pooled over areas with weights by expected events; each area's own figure is the answer for that area.",
                       "Combinado entre áreas con pesos según los eventos esperados; la cifra de cada área es la respuesta para esa área.")]
    if skipped:
        warnings.append(Caveat("dropped_districts", f"Not pooled (no estimate): {', '.join(str(a) for a in skipped)}.",
                               f"No combinadas (sin estimación): {', '.join(str(a) for a in skipped)}."))
    first = next(r.estimates[method] for r in entries if r.area == parts[0]["area"])
    districts: dict[str, list[str]] = {}
    for r in entries:
        e = r.estimates.get(method)
        for k, v in (e.districts.items() if e else ()):
            districts.setdefault(k, []).extend(v)
    return Estimate(method, effect=float(np.expm1(b)), ci=(float(np.expm1(b - _Z95 * se)), float(np.expm1(b + _Z95 * se))),
                    p_value=p_value, windows=dict(first.windows), districts={k: sorted(set(v)) for k, v in districts.items()},
                    n_obs=sum(r.estimates[method].n_obs for r in entries if method in r.estimates), warnings=warnings,
                    details={"pooled": True, "log_effect": b, "se": se, "areas": parts})


def pool_naive(entries: Sequence[AnalysisResult]) -> Estimate:
    """The naive figure over every area: the areas' before and after counts added up (as
    the press would), with the exact Poisson interval of :func:`geo.analysis.naive.poisson_rate_ratio`."""
    from geo.analysis.naive import poisson_rate_ratio

    parts = [r.estimates["naive"] for r in entries if "naive" in r.estimates and r.estimates["naive"].available]
    if not parts:
        return Estimate("naive", warnings=[Caveat("too_few_events", "no area has a naive figure",
                                                  "ningún área tiene una cifra ingenua")])
    before = sum(e.details["before"] for e in parts)
    after = sum(e.details["after"] for e in parts)
    e_b = sum(e.details["exposure_before"] for e in parts)
    e_a = sum(e.details["exposure_after"] for e in parts)
    r = poisson_rate_ratio(before, after, e_b, e_a)
    first = parts[0]
    return Estimate("naive", effect=r["ratio"] - 1, ci=(r["ci"][0] - 1, r["ci"][1] - 1), p_value=r["p_value"],
                    windows=dict(first.windows), districts={"treated": sorted(u for e in parts for u in e.districts.get("treated", []))},
                    n_obs=sum(e.n_obs for e in parts), warnings=[w for e in parts for w in e.warnings],
                    details={"before": before, "after": after, "periods": first.details.get("periods", 0),
                             "exposure_before": e_b, "exposure_after": e_a, "pooled": True})


POOLING_TEXT = {
    "en": "Secondary figure: each method's area estimates combined on the log scale, each area weighted by its expected "
          "events (the events of its declared periods without the declaration: observed ÷ (1 + the area's primary "
          "estimate)); intervals from the areas' intervals, taken as independent. The naive figure adds the areas' counts.",
    "es": "Cifra secundaria: las estimaciones de cada área combinadas en escala logarítmica, cada área ponderada por sus "
          "eventos esperados (los eventos de sus periodos declarados sin la declaratoria: observados ÷ (1 + la estimación "
          "principal del área)); intervalos a partir de los de cada área, tomadas como independientes. La cifra ingenua suma los conteos de las áreas.",
}


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
    areas: AreaMap | None = None,
) -> AnalysisResult:
    """Every requested method on district counts, area by area.

    The spell's declared districts are grouped by ``areas`` (default: the bundled
    ``data/areas.csv``, provinces elsewhere); each group is analysed on its own panel
    (:func:`geo.analysis.panel.build_panel`) with the spell's other districts left out,
    so no comparison or ring holds a declared district. The result's ``areas`` hold one
    entry per area, the one with the most expected events first; its top-level estimates
    are that one area's when the spell has one, else each method pooled by
    :func:`pool_by_expected_events` (a secondary figure; ``pooling`` says how).
    """
    from geo.declarations import Registry

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise HexwatchError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    amap = areas if areas is not None else AreaMap.load()
    ub = counts["ubigeo"].astype(str)
    known = sorted(set(ub))
    reg = Registry(registry.declarations, districts=known, include_unconfirmed=registry.include_unconfirmed,
                   source=registry.source)
    spell = reg.spell(spell_id)
    declared = set(spell.ubigeos)
    groups = amap.areas_of(declared & set(known))
    common = dict(category=category, source=source, frequency=frequency, synthetic=synthetic, dataset=dataset)
    caveats = [_REPORTED] + ([_SYNTHETIC] if synthetic else [])
    missing = sorted(declared - set(known))
    if missing:
        caveats.append(Caveat("dropped_districts",
                              f"No data for declared districts {', '.join(missing)}; they are left out.",
                              f"No hay datos de los distritos declarados {', '.join(missing)}; se dejan fuera."))
    if not groups:  # build_panel says why in its own words
        build_panel(counts, registry, spell_id, adjacency, frequency=frequency, windows=windows or Windows(),
                    coverage=coverage)
    entries: list[AnalysisResult] = []
    failures: list[Exception] = []
    for area, members in groups.items():
        others = declared - set(members)
        sub = counts[~ub.isin(others).to_numpy()] if others else counts
        names = {"es": amap.name(area, "es"), "en": amap.name(area, "en")}
        try:
            panel = build_panel(sub, registry, spell_id, adjacency, frequency=frequency, windows=windows or Windows(),
                                coverage=coverage)
        except HexwatchError as exc:
            failures.append(exc)
            why = Caveat("too_few_events", str(exc), str(exc))
            est = {m: Estimate(m, warnings=[why]) for m in METHODS if m in methods}
            entries.append(AnalysisResult(spell_id=spell.spell_id, estimates=est, area=area, area_name=names,
                                          warnings=[why], primary=primary_of(est),
                                          descriptive={"expected_events": 0.0, "declared_events": 0.0}, **common))
            continue
        estimates = _run_panel(panel, methods)
        prim = primary_of(estimates, panel)
        observed, cells = declared_events(panel)
        pe = estimates.get(prim["method"]) if prim["method"] else None
        expected = observed / (1 + pe.effect) if pe is not None and pe.available and pe.effect > -1 else observed
        descriptive = {"declared_events": observed, "declared_district_periods": cells, "expected_events": expected}
        tbt = two_by_two(panel)
        if tbt is not None:
            descriptive["two_by_two"] = tbt
            in_area = {u for u in known if amap.area_of(u) == area}
            wide = two_by_two_area(sub, members, in_area - set(members), frequency, tbt)
            if wide is not None:
                descriptive["two_by_two_area"] = wide
        # The panel names the other areas' districts as missing: they were left out on purpose.
        own = [c for c in panel.caveats if not (c.code == "dropped_districts" and c.en.startswith("No data for declared"))]
        entries.append(AnalysisResult(spell_id=panel.spell_id, estimates=estimates, area=area, area_name=names,
                                      design=design_dict(panel), warnings=own, primary=prim, descriptive=descriptive,
                                      **common))
    if failures and len(failures) == len(entries):
        raise failures[0]
    entries.sort(key=lambda r: -float(r.descriptive.get("expected_events") or 0.0))
    if len(entries) == 1:
        only = entries[0]
        return AnalysisResult(spell_id=only.spell_id, estimates=only.estimates, design=only.design,
                              warnings=caveats + only.warnings, primary=only.primary, descriptive=only.descriptive,
                              areas=entries, **common)
    pooled = {m: (pool_naive(entries) if m == "naive" else pool_by_expected_events(entries, m))
              for m in METHODS if m in methods}
    seen = {(c.code, c.en) for c in caveats}
    for r in entries:  # the spell's list holds every area's caveats too, once each
        for c in r.warnings:
            if (c.code, c.en) not in seen:
                seen.add((c.code, c.en))
                caveats.append(c)
    total = sum(float(r.descriptive.get("expected_events") or 0.0) for r in entries)
    pooling = {"method": "expected_events", "weighting_en": POOLING_TEXT["en"], "weighting_es": POOLING_TEXT["es"],
               "weights": {r.area: (float(r.descriptive.get("expected_events") or 0.0) / total if total else 0.0)
                           for r in entries}}
    design = {"frequency": frequency, "areas": [r.area for r in entries],
              **{role: [x for r in entries for x in r.design.get(role, [])] for role in ("treated", "comparison", "ring")}}
    return AnalysisResult(spell_id=spell.spell_id, estimates=pooled, design=design, warnings=caveats,
                          primary={"method": None, "rule_en": "each area's verdict rests on its own primary estimate; "
                                   "the pooled figures are secondary", "rule_es": "el veredicto de cada área se basa en su "
                                   "propia estimación principal; las cifras combinadas son secundarias", "robustness": []},
                          pooling=pooling, areas=entries, **common)


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
    source: str = AUTO,
    methods: Sequence[str] = METHODS,
    registry=None,
    adjacency: Mapping[str, Iterable[str]] | None = None,
    windows: Windows | None = None,
    areas: AreaMap | None = None,
    vocabulary=None,
) -> AnalysisResult:
    """Did declaration spell ``spell_id`` change incidents? Every method, on a store.

    ``spell_id`` in any spelling (``DS 105-2023-PCM``); ``category`` a store category
    (case and accents ignored) or several, ``None`` for all; ``source`` ``"auto"``
    (:func:`choose_source`: real district-month counts first), ``"points"`` (weekly, from
    ``cube_district``) or ``"sidpol"`` (monthly, ``district_month``); ``areas`` groups the
    declared districts (default: ``data/areas.csv`` and the cached boundaries' provinces);
    ``registry`` defaults to the bundled one (confirmed rows); ``adjacency`` to the
    cached boundaries (without them there is no displacement ring); ``vocabulary``
    (:class:`geo.privacy.Vocabulary`) limits the counts to the categories public output
    may count (a public verdict).

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
    from geo.store import Store

    st = store if isinstance(store, Store) else Store.open(store)
    source, note = resolve_source(st, source)
    counts, meta, coverage = load_counts(st, source=source, category=category, vocabulary=vocabulary)
    if registry is None:
        registry = Registry.load()
    if adjacency is None:
        adjacency = load_adjacency(counts["ubigeo"].unique(), st)
    if areas is None:
        areas = AreaMap.for_store(st, counts["ubigeo"].unique())
    label = category if isinstance(category, str) or category is None else ", ".join(category)
    synthetic = layer_synthetic(meta, _TABLE[source])
    result = analyze_counts(counts, registry, spell_id, adjacency, frequency="week" if source == "points" else "month",
                            methods=methods, windows=windows, coverage=coverage, source=source, category=label,
                            synthetic=synthetic, dataset=str(meta.get("dataset", "")), areas=areas)
    stamp(result, st, note, synthetic=synthetic)
    return result


#: The attribution SIDPOL's licence (ODC-By) asks for.
SIDPOL_ATTRIBUTION = "Fuente: Ministerio del Interior (MININTER), SIDPOL — datos abiertos (licencia ODC-By)."


def attribution(meta: Mapping, source: str, synthetic: bool) -> str:
    """Who to credit for the counts: the store's own ``attribution`` when an ingest recorded
    one, SIDPOL's for real district-month counts, else a synthetic-data or dataset label."""
    layer = _layer(meta, _TABLE.get(source, ""))
    if layer.get("attribution") or meta.get("attribution"):
        return str(layer.get("attribution") or meta.get("attribution"))
    if synthetic:
        return "Datos sintéticos de demostración (hexwatch), no incidentes reales / synthetic demo data, not real incidents."
    if source == "sidpol":
        return SIDPOL_ATTRIBUTION
    return f"Datos: {meta.get('dataset') or 'incidentes ingresados en el almacén'}"


def stamp(result: AnalysisResult, store, note: Mapping[str, str], *, synthetic: bool) -> AnalysisResult:
    """Record on ``result`` (and its areas) the store version, why its source, and the attribution."""
    meta = store.meta
    text = attribution(meta, result.source, synthetic)
    for r in [result, *result.areas]:
        r.store_version, r.source_note, r.attribution = store.version, dict(note), text
    return result
