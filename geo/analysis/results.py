"""What an analysis returns: estimates with their uncertainty, caveats and plain sentences.

Every estimate, whatever the method, says the same things in the same fields, so that
the dashboard and the JSON export only format them:

- ``method``: ``naive``, ``did``, ``event_study``, ``synthetic_control`` or ``displacement``;
- ``effect``: the relative change (``-0.10`` = 10 % fewer recorded incidents than
  expected), ``ci`` its 95 % interval ``(low, high)`` and ``p_value`` (any may be
  ``None`` when the method could not run; ``warnings`` then says why);
- ``windows``, ``districts`` (treated / comparison / ring ubigeos), ``n_obs``;
- ``warnings``: :class:`Caveat` items with a machine ``code`` and text in both languages;
- ``sentence_es`` / ``sentence_en``: one plain sentence that never claims more than the
  interval supports (an interval spanning zero is said to be indistinguishable from no
  change);
- ``details``: method-specific numbers for plots and tables (event-study coefficients,
  synthetic-control paths and placebo p-values, the WDD test ...).

Example
-------
>>> e = Estimate(method="did", effect=-0.12, ci=(-0.2, -0.03), p_value=0.01)
>>> e.sentence_en
'In the declared districts, recorded incidents were 12% lower than expected from the comparison districts (95% CI -20% to -3%).'
>>> Estimate(method="did", effect=0.02, ci=(-0.05, 0.1), p_value=0.6).sentence_es.startswith("En los distritos declarados no podemos distinguir")
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

#: The methods, in the order they are run and shown.
METHODS = ("naive", "did", "event_study", "synthetic_control", "displacement")

_SUBJECT = {
    "did": ("En los distritos declarados", "In the declared districts"),
    "event_study": ("En promedio, en las semanas tras la declaratoria", "On average in the weeks after the declaration"),
    "synthetic_control": ("Frente a un control sintético, en los distritos declarados",
                          "Against a synthetic control, in the declared districts"),
    "displacement": ("En los distritos vecinos no declarados", "In the neighbouring undeclared districts"),
}
_BENCHMARK = {
    "did": ("según los distritos de comparación", "from the comparison districts"),
    "event_study": ("según los distritos de comparación", "from the comparison districts"),
    "synthetic_control": ("según su control sintético", "from their synthetic control"),
    "displacement": ("según los distritos de comparación", "from the comparison districts"),
}
_NAMES = {
    "naive": ("Antes/después (ingenuo)", "Before/after (naive)"),
    "did": ("Diferencias en diferencias", "Difference-in-differences"),
    "event_study": ("Estudio de eventos", "Event study"),
    "synthetic_control": ("Control sintético", "Synthetic control"),
    "displacement": ("Desplazamiento (vecinos)", "Displacement (neighbours)"),
}


@dataclass(frozen=True)
class Caveat:
    """A warning attached to an estimate or a whole analysis: ``code`` is stable, the
    texts are for people. Codes: ``too_few_events``, ``small_counts``, ``pre_trend``,
    ``overlapping_declarations``, ``unconfirmed_decree``, ``data_gaps``,
    ``short_window``, ``few_treated``, ``few_placebos``, ``not_validated``, ``no_comparison``, ``dropped_districts``,
    ``no_boundaries``, ``poor_fit``, ``synthetic_data``, ``reported_only``."""

    code: str
    en: str
    es: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "en": self.en, "es": self.es}


def pct(x: float, lang: str = "en", *, signed: bool = True, digits: int = 0) -> str:
    """A relative change as a percentage in the locale's style.

    >>> pct(-0.123, "es"), pct(0.05, "en"), pct(-0.123, "en", signed=False, digits=1)
    ('-12 %', '+5%', '12.3%')
    """
    v = round(x * 100, digits)
    if v == 0 and abs(x) >= 0.0005:
        digits += 1  # an interval bound of "+0%" would hide which side of zero it is on
        v = round(x * 100, digits)
    if v == 0:
        v = 0.0  # no "-0"
    s = f"{v:+.{digits}f}" if signed else f"{abs(v):.{digits}f}"
    if lang == "es":
        return s.replace(".", ",") + " %"
    return s + "%"


def fmt_p(p: float | None, lang: str = "en") -> str:
    """``p = 0.03`` / ``p < 0.001`` with the locale's decimal mark."""
    if p is None or not math.isfinite(p):
        return "p = n/d" if lang == "es" else "p = n/a"
    s = "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"
    return s.replace(".", ",") if lang == "es" else s


def _num(x: float, lang: str) -> str:
    s = f"{x:,.0f}"
    return s.replace(",", " ") if lang == "es" else s


def _period_word(frequency: str, lang: str, n: int) -> str:
    words = {("week", "es"): ("semana", "semanas"), ("week", "en"): ("week", "weeks"),
             ("month", "es"): ("mes", "meses"), ("month", "en"): ("month", "months")}
    one, many = words[(frequency, lang)]
    return one if n == 1 else many


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


class _Sentences:
    """``sentence_es``/``sentence_en`` of a class that defines ``sentence(lang)``."""

    @property
    def sentence_es(self) -> str:
        return self.sentence("es")

    @property
    def sentence_en(self) -> str:
        return self.sentence("en")


@dataclass
class Estimate(_Sentences):
    """One method's answer. ``sentence_es``/``sentence_en`` are derived from the numbers."""

    method: str
    effect: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    windows: dict[str, Any] = field(default_factory=dict)
    districts: dict[str, list[str]] = field(default_factory=dict)
    n_obs: int = 0
    warnings: list[Caveat] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {', '.join(METHODS)}")

    @property
    def available(self) -> bool:
        """Whether the method produced a number."""
        return _finite(self.effect)

    @property
    def significant(self) -> bool:
        """Whether the 95 % interval excludes zero."""
        return self.ci is not None and _finite(*self.ci) and (self.ci[0] > 0 or self.ci[1] < 0)

    def name(self, lang: str = "en") -> str:
        """The method's display name."""
        return _NAMES[self.method][0 if lang == "es" else 1]

    def sentence(self, lang: str = "en") -> str:
        """The plain-language sentence in ``"es"`` or ``"en"``."""
        es = lang == "es"
        if not self.available:
            why = next((w for w in self.warnings), None)
            reason = (why.es if es else why.en) if why else ("sin datos suficientes" if es else "not enough data")
            return (f"{self.name(lang)}: no se pudo estimar ({reason.rstrip('.')})." if es
                    else f"{self.name(lang)}: could not be estimated ({reason.rstrip('.')}).")
        if self.method == "naive":
            return self._naive_sentence(lang)
        subject = _SUBJECT[self.method][0 if es else 1]
        if self.method == "event_study" and self.windows.get("frequency") == "month":
            subject = subject.replace("las semanas", "los meses").replace("weeks", "months")
        bench = _BENCHMARK[self.method][0 if es else 1]
        lo, hi = self.ci if self.ci else (float("nan"), float("nan"))
        if _finite(lo, hi):
            ci_txt = (f"IC 95 %: {pct(lo, 'es')} a {pct(hi, 'es')}" if es else f"95% CI {pct(lo)} to {pct(hi)}")
        else:  # too few placebos or comparison districts to give one
            ci_txt = "sin intervalo de confianza" if es else "no confidence interval"
        if not _finite(self.p_value):
            pass  # no placebo distribution to read a p-value from
        elif self.method == "synthetic_control":
            ci_txt += f"; {fmt_p(self.p_value, lang)} " + ("por placebos" if es else "from placebos")
        elif self.details.get("inference") == "randomization":
            ci_txt += f"; {fmt_p(self.p_value, lang)} " + ("por aleatorización" if es else "by randomisation inference")
        if self.details.get("descriptive"):
            # Not a test (too few placebos, or not validated): the numbers, no verdict.
            if es:
                return (f"{subject}, la estimación es {pct(self.effect, 'es')} ({ci_txt}); es descriptiva, no una "
                        "prueba: no permite afirmar un efecto.")
            return (f"{subject}, the estimate is {pct(self.effect)} ({ci_txt}); it is descriptive, not a test, and "
                    "cannot establish an effect.")
        if self.significant:
            size = pct(self.effect, lang, signed=False)
            if es:
                dirn = "menores" if self.effect < 0 else "mayores"
                s = f"{subject}, los incidentes registrados fueron un {size} {dirn} de lo esperado {bench} ({ci_txt})."
            else:
                dirn = "lower" if self.effect < 0 else "higher"
                s = f"{subject}, recorded incidents were {size} {dirn} than expected {bench} ({ci_txt})."
        else:
            if es:
                s = (f"{subject} no podemos distinguir el cambio de cero: la estimación es {pct(self.effect, 'es')} "
                     f"({ci_txt}).")
            else:
                s = (f"{subject} we cannot distinguish the change from zero: the estimate is {pct(self.effect)} "
                     f"({ci_txt}).")
        if self.method == "event_study":
            pre_p = self.details.get("pre_trend_p")
            if _finite(pre_p):
                if pre_p < 0.05:
                    s += (f" Antes de la declaratoria las tendencias ya diferían ({fmt_p(pre_p, 'es')}), así que la comparación no es confiable." if es
                          else f" Trends already differed before the declaration ({fmt_p(pre_p)}), so the comparison is not reliable.")
                else:
                    mdt = (self.details.get("pre_trend_power") or {}).get("minimum_detectable_trend")
                    unit = _period_word(self.windows.get("frequency", "week"), lang, 1)
                    if _finite(mdt):
                        s += (f" La prueba de tendencias previas no detecta diferencias ({fmt_p(pre_p, 'es')}), lo que no prueba "
                              f"que no las haya: solo detectaría con 80 % de probabilidad una tendencia de {pct(mdt, 'es', signed=False, digits=1)} por {unit}." if es
                              else f" The pre-trend test does not flag a difference ({fmt_p(pre_p)}), which does not prove there is none: "
                              f"it would detect a trend of {pct(mdt, signed=False, digits=1)} per {unit} only with 80% probability.")
                    else:
                        s += (f" La prueba de tendencias previas no detecta diferencias ({fmt_p(pre_p, 'es')}), lo que no prueba que no las haya." if es
                              else f" The pre-trend test does not flag a difference ({fmt_p(pre_p)}), which does not prove there is none.")
        elif any(w.code == "pre_trend" for w in self.warnings):
            s += (" Pero las tendencias previas ya diferían, así que esta cifra no es confiable." if es
                  else " But trends already differed beforehand, so this figure is not reliable.")
        return s

    def _naive_sentence(self, lang: str) -> str:
        d = self.details
        b, a = d.get("before", 0), d.get("after", 0)
        k, freq = d.get("periods", 0), self.windows.get("frequency", "week")
        lo, hi = self.ci
        if lang == "es":
            art, prev = ("las", "previas") if freq == "week" else ("los", "previos")
            return (f"Comparación simple (ingenua): {_num(b, 'es')} incidentes en {art} {k} {_period_word(freq, 'es', k)} {prev} "
                    f"y {_num(a, 'es')} en {art} {k} siguientes ({pct(self.effect, 'es')}; IC 95 %: {pct(lo, 'es')} a {pct(hi, 'es')}). "
                    "No descuenta estacionalidad, tendencias ni lo que pasó en otros distritos.")
        return (f"Naive before/after: {_num(b, 'en')} incidents in the {k} {_period_word(freq, 'en', k)} before and "
                f"{_num(a, 'en')} in the {k} after ({pct(self.effect)}; 95% CI {pct(lo)} to {pct(hi)}). "
                "It ignores seasonality, trends and what happened elsewhere.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (sentences included)."""
        return {
            "method": self.method,
            "name_es": self.name("es"),
            "name_en": self.name("en"),
            "effect": _clean(self.effect),
            "ci": [_clean(self.ci[0]), _clean(self.ci[1])] if self.ci else None,
            "p_value": _clean(self.p_value),
            "windows": self.windows,
            "districts": self.districts,
            "n_obs": self.n_obs,
            "warnings": [w.to_dict() for w in self.warnings],
            "sentence_es": self.sentence_es,
            "sentence_en": self.sentence_en,
            "details": _clean_tree(self.details),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Estimate":
        """Inverse of :meth:`to_dict` (sentences are recomputed)."""
        return cls(method=d["method"], effect=d.get("effect"),
                   ci=tuple(d["ci"]) if d.get("ci") and None not in d["ci"] else None,
                   p_value=d.get("p_value"), windows=d.get("windows", {}), districts=d.get("districts", {}),
                   n_obs=d.get("n_obs", 0), warnings=[Caveat(**w) for w in d.get("warnings", [])],
                   details=d.get("details", {}))


def _clean(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _clean_tree(obj):
    """NaN/inf -> None and numpy scalars -> Python, so the JSON is valid and portable."""
    if isinstance(obj, dict):
        return {str(k): _clean_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_tree(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


@dataclass
class AnalysisResult(_Sentences):
    """All estimates for one declaration spell, with the design and data they came from.

    Index it by method (``result["did"]``); ``summary()`` is a readable text table;
    ``to_dict()``/``to_json()`` give everything, sentences included.
    """

    spell_id: str
    estimates: dict[str, Estimate]
    category: str | None = None
    source: str = "points"
    frequency: str = "week"
    synthetic: bool = False
    dataset: str = ""
    design: dict[str, Any] = field(default_factory=dict)
    warnings: list[Caveat] = field(default_factory=list)
    #: This result's area (``lima_callao``) and its names ``{"es", "en"}``; ``None`` for a spell's whole answer.
    area: str | None = None
    area_name: dict[str, str] = field(default_factory=dict)
    #: One result per area of the spell, the area to lead with first (see :meth:`lead`).
    areas: list["AnalysisResult"] = field(default_factory=list)
    #: The pre-specified estimator of this area's verdict: ``{"method", "rule_es", "rule_en", "robustness"}``.
    primary: dict[str, Any] | None = None
    #: How the top-level estimates pool the areas (``None`` when the spell has one area).
    pooling: dict[str, Any] | None = None
    #: Descriptive figures beside the models, e.g. the transparent 2x2 ratio (``two_by_two``).
    descriptive: dict[str, Any] = field(default_factory=dict)
    #: Which store version and source table answered, why that source, and the data's attribution.
    store_version: str = ""
    source_note: dict[str, str] = field(default_factory=dict)
    attribution: str = ""

    def __getitem__(self, method: str) -> Estimate:
        return self.estimates[method]

    def __contains__(self, method: str) -> bool:
        return method in self.estimates

    @property
    def headline(self) -> Estimate | None:
        """The estimate to lead with: the lead area's primary estimate; without areas, this
        result's primary, else the DiD, the synthetic control, the event study, the naive one."""
        if self.areas:
            return self.areas[0].headline
        order = ((self.primary or {}).get("method"), "did", "synthetic_control", "event_study", "naive")
        for m in order:
            if m and m in self.estimates and self.estimates[m].available:
                return self.estimates[m]
        return None

    def name(self, lang: str = "en") -> str:
        """The area's name (or the spell id for a spell's whole answer)."""
        if self.area is None:
            return self.spell_id
        return self.area_name.get(lang) or self.area_name.get("en") or self.area

    def by_area(self, area: str) -> "AnalysisResult | None":
        """The entry of ``area`` (``None`` if the spell does not cover it)."""
        return next((a for a in self.areas if a.area == area), None)

    def lead(self, area: str | None) -> "AnalysisResult":
        """This result with ``area``'s entry first (the one the reader is looking at); unchanged
        when ``area`` is ``None``, ``"all"`` or not covered."""
        import copy

        hit = self.by_area(area) if area else None
        if hit is None or self.areas[0] is hit:
            return self
        out = copy.copy(self)
        out.areas = [hit] + [a for a in self.areas if a is not hit]
        return out

    def sentence(self, lang: str = "en") -> str:
        """The headline sentence (the lead area's primary estimate, named) plus the caveats every reader needs."""
        h = self.headline
        es = lang == "es"
        s = h.sentence(lang) if h else ("No hay datos suficientes para estimar un efecto." if es
                                        else "There are not enough data to estimate an effect.")
        lead = self.areas[0] if self.areas else self
        if lead.area is not None and (len(self.areas) > 1 or self.area is not None):
            s = f"{lead.name(lang)}: {s}"
        if self.synthetic:
            s += " (Datos sintéticos de demostración.)" if es else " (Synthetic demo data.)"
        return s

    def _table(self, lang: str) -> list[str]:
        es = lang == "es"
        prim = (self.primary or {}).get("method")
        head = (f"{'método' if es else 'method':<40}{'efecto' if es else 'effect':>9}{'IC 95 %' if es else '95% CI':>20}"
                f"{'p':>9}{'n_obs':>8}")
        lines = [head, "-" * len(head)]
        for e in self.estimates.values():
            tag = (" (principal)" if es else " (primary)") if e.method == prim else ""
            label = f"{e.name(lang)}{tag}"
            if e.available:
                ci = f"[{pct(e.ci[0], lang)}, {pct(e.ci[1], lang)}]" if e.ci and _finite(*e.ci) else "-"
                p = ("<0.001" if e.p_value < 0.001 else f"{e.p_value:.3f}") if _finite(e.p_value) else "-"
                p = p.replace(".", ",") if es else p
                lines.append(f"{label:<40}{pct(e.effect, lang, digits=1):>9}{ci:>20}{p:>9}{e.n_obs:>8}")
            else:
                lines.append(f"{label:<40}{'n/d' if es else 'n/a':>9}")
        return lines

    def _design_line(self, lang: str) -> list[str]:
        es = lang == "es"
        d = self.design
        if not d:
            return []
        return [f"{'tratados' if es else 'treated'}: {len(d.get('treated', []))}   "
                f"{'comparación' if es else 'comparison'}: {len(d.get('comparison', []))}   "
                f"{'anillo' if es else 'ring'}: {len(d.get('ring', []))}   "
                f"{'periodos' if es else 'periods'}: {d.get('frequency', self.frequency)}, "
                f"pre {d.get('pre_periods')} / post {d.get('post_periods')}"]

    def _area_block(self, lang: str) -> list[str]:
        es = lang == "es"
        lines = []
        if self.area is not None:
            lines.append(f"== {'Área' if es else 'Area'}: {self.name(lang)} ({self.area}) ==")
        lines += self._design_line(lang)
        if self.primary:
            rule = self.primary.get("rule_es" if es else "rule_en", "")
            lines.append(f"[{'principal' if es else 'primary'}: {self.primary.get('method') or '-'}] {rule}")
        lines += [""] + self._table(lang)
        tbt = self.descriptive.get("two_by_two")
        if tbt:
            lines += ["", two_by_two_line(tbt, lang)]
        wide = self.descriptive.get("two_by_two_area")
        if wide:
            lines.append(two_by_two_line(wide, lang, against_area=self.name(lang)))
        lines.append("")
        for e in self.estimates.values():
            lines.append(f"- {e.sentence(lang)}")
        return lines

    def summary(self, lang: str = "en") -> str:
        """A fixed-width text table of every estimate, area by area (the lead area first),
        then the pooled figure, the sentences and the warnings."""
        es = lang == "es"
        cat = self.category or ("todas las categorías" if es else "all categories")
        src = {"points": "points (cube_district)", "sidpol": "SIDPOL district-month"}.get(self.source, self.source)
        lines = [f"{'Declaratoria' if es else 'Declaration spell'}: {self.spell_id}   "
                 f"{'categoría' if es else 'category'}: {cat}   {'fuente' if es else 'source'}: {src}"
                 + ("   [SYNTHETIC DATA]" if self.synthetic else "")]
        if self.source_note:
            lines.append(f"{'fuente elegida' if es else 'source chosen'}: {self.source_note.get(lang) or self.source_note.get('en', '')}")
        if self.store_version:
            lines.append(f"{'versión del almacén' if es else 'store version'}: {self.store_version}")
        if self.areas and (len(self.areas) > 1 or self.area is None):
            for a in self.areas:
                lines += [""] + a._area_block(lang)
            if self.pooling:
                lines += ["", f"== {'Todas las áreas juntas (cifra secundaria)' if es else 'All areas pooled (secondary figure)'} =="]
                lines.append(self.pooling.get("weighting_es" if es else "weighting_en", ""))
                lines += [""] + self._table(lang)
        else:
            lines += [""] + self._area_block(lang)
        in_areas = {id(w) for r in self.areas for w in r.warnings} if len(self.areas) > 1 else set()
        ws = [(None, w) for w in self.warnings if id(w) not in in_areas] + [
            (r.name(lang) if r.area is not None and len(self.areas) > 1 else None, w) for r in (self.areas or [self])
            for w in [*r.warnings, *(w for e in r.estimates.values() for w in e.warnings)]]
        seen: set[tuple] = set()
        if ws:
            lines.append("")
            lines.append("Advertencias:" if es else "Warnings:")
            for where, w in ws:
                txt = w.es if es else w.en
                if (where, w.code, txt) not in seen:
                    seen.add((where, w.code, txt))
                    lines.append(f"  [{w.code}] " + (f"({where}) " if where else "") + txt)
        if self.attribution:
            lines += ["", self.attribution]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: estimates keyed by method, in :data:`METHODS` order."""
        return {
            "spell_id": self.spell_id,
            "category": self.category,
            "source": self.source,
            "frequency": self.frequency,
            "synthetic": self.synthetic,
            "dataset": self.dataset,
            "design": _clean_tree(self.design),
            "warnings": [w.to_dict() for w in self.warnings],
            "sentence_es": self.sentence_es,
            "sentence_en": self.sentence_en,
            "estimates": {m: e.to_dict() for m, e in self.estimates.items()},
            "area": self.area,
            "name_es": self.name("es") if self.area is not None else None,
            "name_en": self.name("en") if self.area is not None else None,
            "primary": _clean_tree(self.primary),
            "descriptive": _clean_tree(self.descriptive),
            "pooling": _clean_tree(self.pooling),
            "store_version": self.store_version,
            "source_note": self.source_note,
            "attribution": self.attribution,
            "areas": [a.to_dict() for a in self.areas],
        }

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes (orjson), indented."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AnalysisResult":
        """Rebuild a result from :meth:`to_dict` output (e.g. a saved JSON file)."""
        return cls(spell_id=d["spell_id"], estimates={m: Estimate.from_dict(e) for m, e in d["estimates"].items()},
                   category=d.get("category"), source=d.get("source", "points"), frequency=d.get("frequency", "week"),
                   synthetic=d.get("synthetic", False), dataset=d.get("dataset", ""), design=d.get("design", {}),
                   warnings=[Caveat(**w) for w in d.get("warnings", [])], area=d.get("area"),
                   area_name={k: d[f"name_{k}"] for k in ("es", "en") if d.get(f"name_{k}")},
                   areas=[cls.from_dict(a) for a in d.get("areas", [])], primary=d.get("primary"),
                   pooling=d.get("pooling"), descriptive=d.get("descriptive") or {},
                   store_version=d.get("store_version", ""), source_note=d.get("source_note") or {},
                   attribution=d.get("attribution", ""))


def two_by_two_line(t: dict[str, Any], lang: str = "en", *, against_area: str | None = None) -> str:
    """The transparent 2x2 ratio as one descriptive line.

    >>> two_by_two_line({"effect": -0.12, "treated_pre": 100.0, "treated_post": 22.0, "comparison_pre": 500.0,
    ...     "comparison_post": 125.0, "pre": {"start": "2022-09-01", "end": "2023-08-31"},
    ...     "post": {"start": "2023-10-01", "end": "2023-12-31"}, "n_treated": 2, "n_comparison": 30}, "en")[:60]
    'Transparent 2x2 (descriptive): treated / comparison, 2023-10'
    """
    if against_area is not None:
        if lang == "es":
            return (f"El mismo cociente frente a todos los demás distritos de {against_area} ({t['n_comparison']}, "
                    f"declarados en otra fecha incluidos): {pct(t['effect'], 'es', digits=1)}.")
        return (f"The same ratio against every other district of {against_area} ({t['n_comparison']}, declared-elsewhere "
                f"ones included): {pct(t['effect'], digits=1)}.")
    if lang == "es":
        return (f"Cociente 2x2 transparente (descriptivo): tratados / comparación, {t['post']['start']}–{t['post']['end']} "
                f"frente a {t['pre']['start']}–{t['pre']['end']}: {pct(t['effect'], 'es', digits=1)} "
                f"({t['n_treated']} distritos declarados, {t['n_comparison']} de comparación; sin modelo ni intervalo).")
    return (f"Transparent 2x2 (descriptive): treated / comparison, {t['post']['start']} to {t['post']['end']} "
            f"against {t['pre']['start']} to {t['pre']['end']}: {pct(t['effect'], digits=1)} "
            f"({t['n_treated']} declared districts, {t['n_comparison']} comparison; no model, no interval).")
