"""Synthetic district panels that look like the real record, for validating the estimators.

Everything made here is **synthetic** (the truth is known, so coverage and error
rates can be measured); nothing here is read by the product's analysis.

Unlike :func:`geo.demo.simulate_counts` (independent gamma noise and a common trend,
exactly what the NB2 model assumes), :func:`simulate_panel` draws what makes real
district series hard: sizes spread lognormally from 30 to 6,000 reports a month,
district noise that is serially correlated (AR(1) on the log scale), district trends,
a steeper trend for the declared districts (a parallel-trends violation), a city-wide
shock from the declaration on, negative-binomial counts, and effects applied by the
share of each period's days under declaration (a spell starting on the 20th makes its
first month partly treated). Every registry row of the study window counts as a
declaration, so later, overlapping declarations are in the data as in reality.

Example
-------
>>> from geo.declarations import Registry, parse_declarations
>>> reg = Registry(parse_declarations("decree_id,start,days,areas,confirmed\\nDS-1-2023-PCM,2023-03-20,60,150101,yes\\n"))
>>> ubigeos = ["150101"] + [f"1501{i:02d}" for i in range(2, 12)]
>>> counts, truth = simulate_panel(ubigeos, reg, "DS-1-2023-PCM", SimConfig(frequency="month", seed=1),
...                                start="2022-01-01", end="2023-12-31")
>>> sorted(counts.columns), len(counts) == 11 * 24, truth["share"]["150101"]["2023-03"]
(['month', 'n', 'ubigeo', 'year'], True, 0.387)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

AVG_MONTH_DAYS = 30.4375


@dataclass(frozen=True)
class SimConfig:
    """Knobs of :func:`simulate_panel`; sizes are reports a month, noise on the log scale.

    ``effect``: relative change while declared (``-0.18``); ``displacement``: relative
    change in undeclared neighbours while a neighbour is declared; ``shock``: city-wide
    relative change from the spell's start on (all districts); ``rho``/``sigma``: AR(1)
    district noise; ``trend_sd``: district trends (log per year); ``treated_trend``:
    extra log trend per year of the spell's districts (diverging prior trends);
    ``alpha``: NB2 over-dispersion; ``sizes``: fixed monthly sizes for some ubigeos.
    """

    frequency: str = "week"
    seed: int = 0
    size_median: float = 400.0
    size_sd: float = 1.2
    size_range: tuple[float, float] = (30.0, 6000.0)
    sizes: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.01
    rho: float = 0.0
    sigma: float = 0.05
    trend_sd: float = 0.05
    treated_trend: float = 0.0
    seasonal: float = 0.08
    shock: float = 0.0
    effect: float = 0.0
    displacement: float = 0.0


def _periods(start: str, end: str, frequency: str) -> pd.DatetimeIndex:
    if frequency == "week":
        return pd.date_range(pd.Timestamp(start) - pd.Timedelta(days=pd.Timestamp(start).weekday()), end, freq="W-MON")
    return pd.date_range(pd.Timestamp(start).replace(day=1), end, freq="MS")


def declared_shares(registry, ubigeos: Sequence[str], starts: pd.DatetimeIndex, frequency: str,
                    spell_id: str | None = None) -> np.ndarray:
    """Fraction of each period's days declared (by any registry row, or by ``spell_id``), ``(U, T)``."""
    end = (starts[-1] + (pd.Timedelta(days=6) if frequency == "week" else pd.offsets.MonthEnd(0))).date()
    status = registry.status_frame(list(ubigeos), starts[0].date(), end)
    if spell_id is not None:
        status = status[status["spell_id"] == registry.spell(spell_id).spell_id]
    out = np.zeros((len(ubigeos), len(starts)))
    if status.empty:
        return out
    status = status.drop_duplicates(["ubigeo", "day"])
    day = pd.to_datetime(status["day"])
    if frequency == "week":
        pstart = day - pd.to_timedelta(day.dt.weekday, unit="D")
        length = np.full(len(starts), 7.0)
    else:
        pstart = day.dt.to_period("M").dt.to_timestamp()
        length = starts.days_in_month.to_numpy(float)
    ui = pd.Index(list(ubigeos)).get_indexer(status["ubigeo"].astype(str))
    ti = pd.Index(starts).get_indexer(pstart)
    ok = (ui >= 0) & (ti >= 0)
    np.add.at(out, (ui[ok], ti[ok]), 1.0)
    return out / length[None, :]


def simulate_panel(ubigeos: Sequence[str], registry, spell_id: str, config: SimConfig, *, start: str, end: str,
                   adjacency: Mapping[str, Iterable[str]] | None = None) -> tuple[pd.DataFrame, dict]:
    """District-period counts (``ubigeo, week, n`` or ``ubigeo, year, month, n``) and the truth.

    ``registry``: a :class:`geo.declarations.Registry` over ``ubigeos``; ``spell_id``
    the spell whose districts get ``treated_trend`` and whose start times ``shock``.
    """
    c = config
    rng = np.random.default_rng(c.seed)
    ubigeos = [str(u) for u in ubigeos]
    starts = _periods(start, end, c.frequency)
    U, T = len(ubigeos), len(starts)
    spell = registry.spell(spell_id)
    focal = np.array([u in spell.ubigeos for u in ubigeos])
    lo, hi = c.size_range
    size = np.clip(np.exp(rng.normal(np.log(c.size_median), c.size_sd, U)), lo, hi)
    for u, v in c.sizes.items():
        if u in ubigeos:
            size[ubigeos.index(u)] = v
    days = np.full(T, 7.0) if c.frequency == "week" else starts.days_in_month.to_numpy(float)
    years = ((starts - pd.Timestamp(spell.start)).days.to_numpy() / 365.25)
    season = c.seasonal * np.sin(2 * np.pi * (starts.day_of_year.to_numpy() / 365.25 + rng.uniform()))
    trend = rng.normal(0, c.trend_sd, U)[:, None] * years[None, :] + c.treated_trend * focal[:, None] * years[None, :]
    eps = rng.normal(0, c.sigma, (U, T))
    noise = np.empty((U, T))
    noise[:, 0] = eps[:, 0]
    scale = np.sqrt(1 - c.rho**2)
    for t in range(1, T):  # AR(1) along time; vectorised over districts
        noise[:, t] = c.rho * noise[:, t - 1] + scale * eps[:, t]
    share_any = declared_shares(registry, ubigeos, starts, c.frequency)
    log_mu = (np.log(size * 1.0)[:, None] + np.log(days / AVG_MONTH_DAYS)[None, :] + season[None, :] + trend + noise
              + np.log1p(c.effect) * share_any)
    shock_on = np.asarray(starts >= pd.Timestamp(spell.start))
    log_mu += np.log1p(c.shock) * shock_on[None, :]
    if adjacency is not None and c.displacement:
        idx = {u: i for i, u in enumerate(ubigeos)}
        ring_share = np.zeros((U, T))
        for i, u in enumerate(ubigeos):
            nb = [idx[v] for v in adjacency.get(u, ()) if v in idx]
            if nb:
                ring_share[i] = share_any[nb].max(axis=0)
        ring_share = ring_share * (share_any == 0)
        log_mu += np.log1p(c.displacement) * ring_share
    mu = np.exp(log_mu)
    if c.alpha > 0:
        n = rng.poisson(rng.gamma(1 / c.alpha, c.alpha * mu))
    else:
        n = rng.poisson(mu)
    frame = pd.DataFrame({"ubigeo": np.repeat(ubigeos, T), "n": n.ravel().astype(np.int64)})
    st = np.tile(starts, U)
    if c.frequency == "week":
        frame.insert(1, "week", st.date if hasattr(st, "date") else pd.DatetimeIndex(st).date)
    else:
        st = pd.DatetimeIndex(st)
        frame.insert(1, "year", st.year.to_numpy())
        frame.insert(2, "month", st.month.to_numpy())
    spell_share = declared_shares(registry, ubigeos, starts, c.frequency, spell_id)
    share = {u: {starts[t].strftime("%Y-%m" if c.frequency == "month" else "%Y-%m-%d"): round(float(spell_share[i, t]), 3)
                 for t in np.flatnonzero(spell_share[i] > 0)} for i, u in enumerate(ubigeos) if spell_share[i].any()}
    truth = {"effect": c.effect, "displacement": c.displacement, "shock": c.shock, "sizes": dict(zip(ubigeos, size)),
             "share": share, "synthetic": True}
    return frame, truth
