"""The analysis panel: counts by district and period around one spell, and who plays which role.

Design rules (each one is a choice a reader may question, so it is written here):

- **Periods** are ISO weeks starting Monday (as :func:`geo.cubes.weekly` and the
  demo generator label them) for point data, calendar months for the SIDPOL layer.
  Period ``0`` is the one holding the spell's first day.
- **Transition periods** only partly under the declaration are left out for a treated
  district: its *onset* is the first period with any declared day, its *cohort* the
  first period declared in full. Event time is ``period - onset`` before the onset
  (``-1`` = the last period with no declared day) and ``period - cohort`` after.
- **Treated** districts are those the spell declares; each has its own onset and cohort,
  so districts added by a later decree of the spell form a later cohort (staggered).
- **Comparison** districts share the treated district's metropolitan area (Lima
  province + Callao for Lima; otherwise the same department, e.g. Piura for Sullana),
  had no declared day under *any* registry row (unconfirmed ones included) in the
  window, and do not touch a treated district. Neighbours are left out because a
  declaration may push crime next door: counted as "untreated", a neighbour that
  gains crime raises the comparison trend and biases the DiD *away* from zero
  (measured in the issue-17 simulation: -0.020 log points when neighbours gain +10 %;
  with the ring left out the estimate stays right). They are studied separately as
  the ring.
- **Ring** districts touch a treated district and were not declared in the window;
  they take the onset and cohort of the earliest treated neighbour.
- Periods outside the data's coverage, and periods with no incident anywhere (a gap in
  the source), are dropped; so are district-periods declared under another spell.

Example
-------
>>> metro_area("150132"), metro_area("070106"), metro_area("200601")
('lima_callao', 'lima_callao', 'department_20')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from geo.analysis.results import Caveat
from geo.declarations import Registry
from geo.errors import HexwatchError

#: Provinces that make up metropolitan Lima (Lima province and Callao).
LIMA_CALLAO_PROVINCES = ("1501", "0701")
FREQUENCIES = ("week", "month")


@dataclass(frozen=True)
class Windows:
    """Window lengths in periods: ``pre`` before the onset and ``post`` from the cohort
    (event study and difference-in-differences), ``sc_pre`` before the onset for the
    synthetic control, which needs a longer fit; ``tail``: periods kept after the end of
    the declared run (the event study shows them; nothing averages them), so that a
    declaration many periods later does not empty the comparison set."""

    pre: int = 12
    post: int = 16
    sc_pre: int = 26
    tail: int = 2

    def __post_init__(self) -> None:
        if self.pre < 2 or self.post < 1 or self.sc_pre < 2:
            raise HexwatchError("windows need at least 2 periods before and 1 after the declaration")


def metro_area(ubigeo: str) -> str:
    """The comparison area of a district: ``lima_callao`` or ``department_<code>``."""
    if ubigeo[:4] in LIMA_CALLAO_PROVINCES:
        return "lima_callao"
    return f"department_{ubigeo[:2]}"


def period_floor(days, frequency: str) -> np.ndarray:
    """Start of each day's period (``datetime64[D]``): its ISO week's Monday or its month's 1st.

    >>> str(period_floor(np.array(["2023-09-20"], "datetime64[D]"), "week")[0])
    '2023-09-18'
    """
    d = np.asarray(days).astype("datetime64[D]")
    if frequency == "week":
        return d - ((d.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
    if frequency == "month":
        return d.astype("datetime64[M]").astype("datetime64[D]")
    raise HexwatchError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")


def _period_index(starts: np.ndarray, anchor: np.datetime64, frequency: str) -> np.ndarray:
    if frequency == "week":
        return ((starts - anchor).astype(np.int64) // 7).astype(np.int64)
    return (starts.astype("datetime64[M]") - anchor.astype("datetime64[M]")).astype(np.int64)


def _period_start(index, anchor: np.datetime64, frequency: str) -> np.ndarray:
    index = np.asarray(index, dtype=np.int64)
    if frequency == "week":
        return anchor + 7 * index
    return (anchor.astype("datetime64[M]") + index).astype("datetime64[D]")


def period_counts(counts: pd.DataFrame, frequency: str) -> pd.DataFrame:
    """Roll counts up to ``ubigeo, start, n`` with ``start`` the period's first day.

    ``counts`` has ``ubigeo``, ``n`` and either ``day`` (the store's ``cube_district``),
    ``week`` (a Monday, as :func:`geo.demo.simulate_counts` with ``freq="W"``) or
    ``year`` and ``month`` (the SIDPOL ``district_month`` table). Other columns (e.g.
    ``category``) are summed over.
    """
    if "day" in counts:
        t = counts["day"].to_numpy().astype("datetime64[D]")
    elif "week" in counts:
        if frequency != "week":
            raise HexwatchError("weekly counts cannot be analysed by month; give daily counts")
        t = counts["week"].to_numpy().astype("datetime64[D]")
    elif {"year", "month"} <= set(counts.columns):
        if frequency != "month":
            raise HexwatchError("monthly (SIDPOL) counts can only be analysed by month")
        y = counts["year"].to_numpy(dtype=np.int64) - 1970
        t = (y * 12 + counts["month"].to_numpy(dtype=np.int64) - 1).astype("datetime64[M]").astype("datetime64[D]")
    else:
        raise HexwatchError("counts need a day, week, or year and month column")
    frame = pd.DataFrame({"ubigeo": counts["ubigeo"].astype(str).to_numpy(dtype=object),
                          "start": period_floor(t, frequency), "n": counts["n"].to_numpy(dtype=np.float64)})
    return frame.groupby(["ubigeo", "start"], as_index=False, sort=True)["n"].sum()


@dataclass
class Panel:
    """Counts around one spell and each district's role (see the module's design rules).

    ``counts``: ``ubigeo, period, n, share, other`` for every district with a role and
    every period kept (``share``: fraction of the period's days declared by this spell;
    ``other``: by any other registry row). ``units``: ``ubigeo, role, area, onset,
    cohort, last, comparable`` (``last``: the last period of the first unbroken run
    fully under declaration; -1 for comparison districts; ``comparable``: the area has
    comparison districts).
    """

    spell_id: str
    frequency: str
    anchor: np.datetime64
    windows: Windows
    counts: pd.DataFrame
    units: pd.DataFrame
    caveats: list[Caveat] = field(default_factory=list)
    unconfirmed: bool = False
    #: Results derived from this panel and shared between estimators (randomisation
    #: distributions); never part of the panel's data.
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def role(self, role: str) -> list[str]:
        """Ubigeos with ``role`` (``treated``, ``comparison`` or ``ring``), sorted."""
        return sorted(self.units.loc[self.units["role"] == role, "ubigeo"])

    def period_start(self, index: int) -> date:
        """First day of period ``index``."""
        return _period_start([index], self.anchor, self.frequency)[0].astype(object)

    def period_end(self, index: int) -> date:
        """Last day of period ``index``."""
        return self.period_start(index + 1) - timedelta(days=1)

    def window_dict(self, first: int, last: int) -> dict[str, str]:
        """``{"start", "end"}`` ISO dates spanning periods ``first..last``."""
        return {"start": self.period_start(first).isoformat(), "end": self.period_end(last).isoformat()}


def _declared_shares(status: pd.DataFrame, anchor: np.datetime64, frequency: str) -> pd.DataFrame:
    """Days declared per ubigeo and period, as a fraction of the period's days."""
    if status.empty:
        return pd.DataFrame({"ubigeo": pd.Series([], dtype=object), "period": pd.Series([], dtype=np.int64),
                             "days": pd.Series([], dtype=float)})
    days = status["day"].to_numpy().astype("datetime64[D]")
    starts = period_floor(days, frequency)
    frame = pd.DataFrame({"ubigeo": status["ubigeo"].astype(str).to_numpy(dtype=object),
                          "period": _period_index(starts, anchor, frequency)})
    out = frame.groupby(["ubigeo", "period"], as_index=False).size().rename(columns={"size": "days"})
    length = _period_length(out["period"].to_numpy(), anchor, frequency)
    out["days"] = out["days"] / length
    return out


def _period_length(index: np.ndarray, anchor: np.datetime64, frequency: str) -> np.ndarray:
    if frequency == "week":
        return np.full(len(index), 7.0)
    s = _period_start(index, anchor, frequency)
    return (_period_start(index + 1, anchor, frequency) - s).astype(np.int64).astype(float)


def build_panel(
    counts: pd.DataFrame,
    registry,
    spell_id: str,
    adjacency: Mapping[str, Iterable[str]] | None,
    *,
    frequency: str = "week",
    windows: Windows = Windows(),
    coverage: tuple[date, date] | None = None,
    treated: Iterable[str] | None = None,
) -> Panel:
    """Assemble the :class:`Panel` for ``spell_id`` from district counts.

    ``counts``: as :func:`period_counts` accepts (daily, weekly or monthly). ``registry``:
    a :class:`geo.declarations.Registry` whose spells are analysed (confirmed rows only,
    by default); its unconfirmed rows still keep possibly-declared districts out of the
    comparison and the ring.
    ``adjacency``: ``{ubigeo: neighbours}``, or ``None`` when boundaries are unavailable
    (then there is no ring and neighbours may sit in the comparison group; a caveat says
    so). ``coverage``: first and last day the data cover (default: first and last day
    present); periods not wholly inside it are dropped. ``treated``: analyse only these
    of the spell's districts (one area of a multi-area spell); the spell's other
    districts are still kept out of the comparison and the ring.
    """
    if frequency not in FREQUENCIES:
        raise HexwatchError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")
    caveats: list[Caveat] = []
    pc = period_counts(counts, frequency)
    if pc.empty:
        raise HexwatchError("no incident counts to analyse; check the store, the category and the source")
    known = sorted(set(pc["ubigeo"]))
    # Province codes in decrees (all of Lima, say) expand to the districts in the data.
    registry = Registry(registry.declarations, districts=known, include_unconfirmed=registry.include_unconfirmed,
                        source=registry.source)
    every_row = Registry(registry.declarations, districts=known, include_unconfirmed=True, source=registry.source)
    spell = registry.spell(spell_id)
    anchor = period_floor(np.array([spell.start], dtype="datetime64[D]"), frequency)[0]
    if coverage is None:
        first_day = pc["start"].min()
        last_day = (pd.Timestamp(pc["start"].max()) + (pd.Timedelta(days=6) if frequency == "week"
                    else pd.offsets.MonthEnd(0))).date()
        coverage = (pd.Timestamp(first_day).date(), last_day)
    cov_lo, cov_hi = (np.datetime64(pd.Timestamp(c).date(), "D") for c in coverage)
    pc["period"] = _period_index(pc["start"].to_numpy().astype("datetime64[D]"), anchor, frequency)
    # Keep periods wholly inside the coverage.
    p_lo = int(_period_index(period_floor(np.array([cov_lo]), frequency), anchor, frequency)[0])
    if _period_start([p_lo], anchor, frequency)[0] < cov_lo:
        p_lo += 1
    p_hi = int(_period_index(period_floor(np.array([cov_hi]), frequency), anchor, frequency)[0])
    if _period_start([p_hi + 1], anchor, frequency)[0] - np.timedelta64(1, "D") > cov_hi:
        p_hi -= 1

    universe = known
    focus = None if treated is None else set(map(str, treated))
    missing = sorted(set(spell.ubigeos) - set(known) - (set() if focus is None else set(spell.ubigeos) - focus))
    if missing:
        caveats.append(Caveat("dropped_districts",
                              f"No data for declared districts {', '.join(missing)}; they are left out.",
                              f"No hay datos de los distritos declarados {', '.join(missing)}; se dejan fuera."))
    day_lo = _period_start([p_lo], anchor, frequency)[0]
    day_hi = _period_start([p_hi + 1], anchor, frequency)[0] - np.timedelta64(1, "D")
    if day_hi < day_lo:
        raise HexwatchError(f"the data cover {coverage[0]} to {coverage[1]}: not one full {frequency}; ingest more data")
    status = registry.status_frame(universe, day_lo.astype(object), day_hi.astype(object))
    this_days = status.loc[status["spell_id"] == spell.spell_id, ["ubigeo", "day"]]
    this = _declared_shares(this_days, anchor, frequency)
    # Days declared by any row, unconfirmed ones included, that are not this spell's.
    every = every_row.status_frame(universe, day_lo.astype(object), day_hi.astype(object))
    merged = every.merge(this_days.assign(_this=True), on=["ubigeo", "day"], how="left")
    other = _declared_shares(merged[merged["_this"].isna()], anchor, frequency)

    # Onset, cohort and end of the first run fully declared, per treated district.
    units = []
    dropped_partial = []
    for u, g in this.groupby("ubigeo", sort=True):
        g = g.sort_values("period")
        periods, share = g["period"].to_numpy(), g["days"].to_numpy()
        onset = int(periods[0])
        full = periods[share >= 1.0 - 1e-9]
        if not len(full):
            dropped_partial.append(u)
            continue
        cohort = int(full[0])
        run = full[full - cohort == np.arange(len(full))]
        units.append((u, "treated", metro_area(u), onset, cohort, int(run[-1])))
    spell_units = {u[0] for u in units}
    if focus is not None:
        units = [u for u in units if u[0] in focus]
    treated = pd.DataFrame(units, columns=["ubigeo", "role", "area", "onset", "cohort", "last"])
    if dropped_partial:
        caveats.append(Caveat("dropped_districts",
                              f"Left out {', '.join(dropped_partial)}: never declared for a whole {frequency}.",
                              f"Se dejaron fuera {', '.join(dropped_partial)}: nunca estuvieron declarados un(a) "
                              f"{'semana' if frequency == 'week' else 'mes'} completo(a)."))
    if treated.empty:
        raise HexwatchError(f"spell {spell.spell_id} declares no district in the data's coverage "
                            f"({coverage[0]} to {coverage[1]}); pick another spell or ingest data that covers it")

    w = windows
    lo_window = int(treated["onset"].min()) - max(w.pre, w.sc_pre)
    hi_window = int(min(treated["cohort"].max() + w.post - 1, treated["last"].max() + w.tail))
    window_lo = max(lo_window, p_lo)
    window_hi = min(hi_window, p_hi)
    if window_lo > lo_window or window_hi < hi_window:
        caveats.append(Caveat("short_window",
                              "The data do not cover the whole window around the declaration; fewer periods are used.",
                              "Los datos no cubren toda la ventana alrededor de la declaratoria; se usan menos periodos."))
    # Districts with any other declared day inside the DiD window are not clean controls.
    did_lo, did_hi = int(treated["onset"].min()) - w.pre, hi_window
    busy = set(other.loc[(other["period"] >= did_lo) & (other["period"] <= did_hi), "ubigeo"])
    treated_set = set(treated["ubigeo"])
    # The spell's districts left out by ``treated`` are neither comparison nor ring.
    busy |= (spell_units | set(spell.ubigeos)) - treated_set
    rows = [treated]
    if adjacency is None:
        caveats.append(Caveat("no_boundaries",
                              "Boundaries are not available: no ring of neighbours, and neighbours may be in the comparison group.",
                              "No hay límites distritales: no se estudian los vecinos y estos pueden estar en el grupo de comparación."))
        ring_cols = pd.DataFrame(columns=treated.columns)
    else:
        ring = {}
        for _, t in treated.sort_values("onset", kind="stable").iterrows():
            # Sorted: a set's order follows the process's string hashing, and the ring's
            # row order is the order its sums are taken in (the last digits would differ
            # between processes, e.g. the dashboard's worker and its analysis helper).
            for v in sorted(adjacency.get(t["ubigeo"], ())):
                if v in treated_set or v in busy or v not in known or v in ring:
                    continue
                ring[v] = (v, "ring", metro_area(v), int(t["onset"]), int(t["cohort"]), int(t["last"]))
        ring_cols = pd.DataFrame(list(ring.values()), columns=treated.columns)
        rows.append(ring_cols)
    near = set(ring_cols["ubigeo"])
    areas = set(treated["area"])
    comparison = [u for u in known if u not in treated_set and u not in near and u not in busy and metro_area(u) in areas]
    rows.append(pd.DataFrame({"ubigeo": comparison, "role": "comparison", "area": [metro_area(u) for u in comparison],
                              "onset": -1, "cohort": -1, "last": -1}))
    n_busy = len((busy - spell_units - set(spell.ubigeos)) & {u for u in known if metro_area(u) in areas} - treated_set)
    if n_busy:
        caveats.append(Caveat("overlapping_declarations",
                              f"{n_busy} districts of the area were under another declaration (or an unconfirmed one) in the window and are left out of the comparison.",
                              f"{n_busy} distritos del área estuvieron bajo otra declaratoria (o una no confirmada) en la ventana y no se usan como comparación."))
    units_df = pd.concat(rows, ignore_index=True)
    units_df[["onset", "cohort", "last"]] = units_df[["onset", "cohort", "last"]].astype(np.int64)
    # A district in an area without comparison districts cannot be compared; a declared
    # one still counts in the naive before/after figure, which needs no comparison.
    has_cmp = set(units_df.loc[units_df["role"] == "comparison", "area"])
    units_df["comparable"] = units_df["area"].isin(has_cmp)
    lost = sorted(units_df.loc[~units_df["comparable"] & (units_df["role"] == "treated"), "ubigeo"])
    if lost:
        caveats.append(Caveat("no_comparison",
                              f"No comparison district for {', '.join(lost)} (every other district of its area was declared, touches a declared one, or has no data); they are left out of the comparisons.",
                              f"No hay distritos de comparación para {', '.join(lost)} (todos los demás de su área estuvieron declarados, son vecinos o no tienen datos); se dejan fuera de las comparaciones."))
    units_df = units_df[units_df["comparable"] | (units_df["role"] == "treated")].reset_index(drop=True)

    # The zero-filled grid of kept districts x periods, minus gaps.
    periods = np.arange(window_lo, window_hi + 1)
    grid = pd.MultiIndex.from_product([units_df["ubigeo"], periods], names=["ubigeo", "period"]).to_frame(index=False)
    grid = grid.merge(pc[["ubigeo", "period", "n"]], on=["ubigeo", "period"], how="left")
    grid["n"] = grid["n"].fillna(0.0)
    totals = pc[(pc["period"] >= window_lo) & (pc["period"] <= window_hi)].groupby("period")["n"].sum()
    gaps = sorted(set(periods) - set(totals[totals > 0].index))
    if gaps:
        caveats.append(Caveat("data_gaps",
                              f"{len(gaps)} periods in the window hold no incident at all (a gap in the source) and are left out.",
                              f"{len(gaps)} periodos de la ventana no tienen ningún incidente (un vacío en la fuente) y se dejan fuera."))
        grid = grid[~grid["period"].isin(gaps)]
    grid = grid.merge(this.rename(columns={"days": "share"}), on=["ubigeo", "period"], how="left")
    grid = grid.merge(other.rename(columns={"days": "other"}), on=["ubigeo", "period"], how="left")
    grid[["share", "other"]] = grid[["share", "other"]].fillna(0.0)
    overlapped = grid.merge(units_df[["ubigeo", "role"]], on="ubigeo")
    clash = overlapped[(overlapped["role"] == "treated") & (overlapped["other"] > 0)
                       & (overlapped["period"] >= did_lo) & (overlapped["period"] <= did_hi)]
    if len(clash):
        caveats.append(Caveat("overlapping_declarations",
                              f"{clash['ubigeo'].nunique()} declared districts were also under another declaration in the window; those periods are left out.",
                              f"{clash['ubigeo'].nunique()} distritos declarados estuvieron también bajo otra declaratoria en la ventana; esos periodos se dejan fuera."))
    unconfirmed = not spell.confirmed
    if unconfirmed:
        caveats.append(Caveat("unconfirmed_decree",
                              "Part of this spell rests on decrees the sources do not confirm.",
                              "Parte de esta declaratoria se basa en decretos que las fuentes no confirman."))
    return Panel(spell.spell_id, frequency, anchor, windows, grid.reset_index(drop=True), units_df, caveats, unconfirmed)


def fe_sample(panel: Panel, role: str = "treated", *, event_time: bool = False,
              comparable_only: bool = True) -> pd.DataFrame:
    """Rows for a fixed-effects count model: ``role`` districts around their own onset
    and the comparison districts over the same calendar periods.

    Columns ``ubigeo, period, n, area, role, onset, cohort, rel, post`` where ``rel`` is
    event time (NaN for comparison rows) and ``post`` marks rows under declaration
    (``event_time=False``: only the first unbroken run fully declared, at most
    ``windows.post`` periods; ``event_time=True``: every period up to ``windows.post``
    after the cohort, also after the declaration ended). ``comparable_only`` keeps
    only districts of areas that have comparison districts.
    """
    w = panel.windows
    pre = w.pre
    units = panel.units[panel.units["role"].isin([role, "comparison"])]
    if comparable_only:
        units = units[units["comparable"]]
    focal = units[units["role"] == role]
    if focal.empty:
        return pd.DataFrame(columns=["ubigeo", "period", "n", "area", "role", "onset", "cohort", "rel", "post"])
    units = units[units["area"].isin(set(focal["area"]))]
    f = panel.counts.merge(units, on="ubigeo")
    is_focal = (f["role"] == role).to_numpy()
    p = f["period"].to_numpy()
    onset, cohort, last = (f[c].to_numpy() for c in ("onset", "cohort", "last"))
    clean = (f["other"].to_numpy() == 0)
    share = f["share"].to_numpy()
    before = is_focal & (p < onset) & (p >= onset - pre) & (share == 0)
    after = is_focal & (p >= cohort) & (p < cohort + w.post)
    if event_time:
        after &= (share == 0) | (share >= 1 - 1e-9)
    else:
        after &= (p <= last) & ((share >= 1 - 1e-9) | (role == "ring"))
    lo = int(focal["onset"].min()) - pre
    hi = int(focal["cohort"].max()) + w.post - 1
    control = ~is_focal & (p >= lo) & (p <= hi)
    keep = (before | after | control) & clean
    out = f.loc[keep, ["ubigeo", "period", "n", "area", "role", "onset", "cohort"]].copy()
    rel = np.where(before, p - onset, np.where(after, p - cohort, np.nan))[keep]
    out["rel"] = rel
    out["post"] = after[keep]
    return out.reset_index(drop=True)
