"""Randomisation inference for a count DiD with few treated districts.

Why not the usual errors. With two declared districts, cluster-robust errors are far
too small (each treated district's residuals sum to zero under its fixed effect, so
it adds almost nothing to the "meat"; Conley & Taber 2011, MacKinnon & Webb 2017),
and the NB2 model error assumes independent noise, which district crime series are
not (serially correlated noise made it 30 % too small in the simulation study of
issue 17). Taking the larger of the two has no known coverage. A wild cluster
bootstrap (Webb weights, restricted) is no cure with two treated clusters either
(MacKinnon & Webb 2017/2018: it under-rejects wildly), and ``pyfixest``'s wild
bootstrap only covers OLS (``fepois(...).wildboottest`` raises NotImplementedError,
pyfixest 0.60).

What is done instead. The declaration's timing is re-assigned to ``k`` comparison
districts of the area (``k``: the number of treated districts; every combination when
there are at most :data:`MAX_PLACEBOS`, else that many random ones), the DiD is
re-estimated for each such placebo on the comparison districts alone, and the
observed statistic is ranked among the placebo ones. The statistic is studentised,
``t = b / se_model``, so that placebo districts of another size than the declared ones
are comparable: the NB2 model error scales with a district's size and noise, and
whatever the model misses (serial correlation) inflates treated and placebo ``t``
alike (Ferman & Pinto 2019 discuss the heteroskedasticity this handles). The
p-value is equal-tailed (twice the smaller share of placebos, the observed one
included, at or beyond the observed ``t``); the 95 % interval inverts the test under a constant effect:
``b - q_hi se <= tau <= b - q_lo se`` with ``q`` the placebo ``t`` quantiles.

Speed. Each placebo estimate is the one-step (score) estimate from the model fitted
without any treatment on the comparison districts: ``b_j = z_j' r / (z_j' W z_j - ...)``
with the fixed effects partialled out, so all placebos come from one fit and one
sparse product (2,000 placebos on a 36-district, 28-week panel in a few ms; a full
refit per placebo costs 40 ms with ``countfe``, 113 ms with ``pyfixest.fepois``).
Under the null the one-step estimate equals the maximum-likelihood one to first
order; the observed ``b`` is the full fit's.

Example
-------
>>> rng = np.random.default_rng(1)
>>> unit, time = np.repeat(np.arange(20), 24), np.tile(np.arange(24), 20)
>>> y = rng.poisson(30 * np.exp(0.05 * unit + 0.1 * np.sin(time)))
>>> z, _ = placebo_columns(unit, time, np.arange(20), [(12, 12, 23)])
>>> r = one_step_placebos(y, unit, time, z)
>>> r["b"].shape, bool(np.all(r["se"] > 0))
((20,), True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp

from geo.analysis.countfe import _codes, _design, _irls, _keep_estimable, _nb2_alpha, single_threaded_blas

#: At most this many placebo assignments (all combinations when there are fewer).
MAX_PLACEBOS = 2000
#: Fewer distinct assignments than this and a 5 % test is impossible (1/19 > 0.05).
MIN_PLACEBOS = 19
LEVEL = 0.95


def assignments(n_donors: int, k: int, *, ordered: bool, seed: int = 0,
                max_draws: int = MAX_PLACEBOS) -> np.ndarray:
    """Placebo assignments: rows of ``k`` distinct donor indices.

    Every combination (``ordered=False``: the treated share one timing, so order does
    not matter) or ordered tuple when there are at most ``max_draws``; otherwise
    ``max_draws`` distinct random ones (seeded).

    >>> assignments(4, 2, ordered=False).tolist()
    [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    """
    if k <= 0 or n_donors < k:
        return np.zeros((0, max(k, 0)), dtype=np.int64)
    total = math.comb(n_donors, k) * (math.factorial(k) if ordered else 1)
    if total <= max_draws:
        it = itertools.permutations(range(n_donors), k) if ordered else itertools.combinations(range(n_donors), k)
        return np.array(list(it), dtype=np.int64).reshape(-1, k)
    rng = np.random.default_rng(seed)
    rows = np.zeros((0, k), dtype=np.int64)
    while len(rows) < max_draws:
        # k distinct donors per row: the first k of a random permutation (argsort of noise).
        draw = np.argsort(rng.random((2 * max_draws, n_donors)), axis=1)[:, :k]
        if not ordered:
            draw = np.sort(draw, axis=1)
        rows = np.unique(np.vstack([rows, draw]), axis=0)
    keep = rng.permutation(len(rows))[:max_draws]
    return rows[np.sort(keep)]


def placebo_columns(unit: np.ndarray, time: np.ndarray, donors: Sequence, patterns: Sequence[tuple[int, int, int]],
                    *, seed: int = 0, max_draws: int = MAX_PLACEBOS) -> tuple[sp.csc_matrix, np.ndarray]:
    """One sparse indicator column per placebo: the rows where the assigned donor
    districts would have been declared.

    ``patterns``: one ``(onset, first_post, last_post)`` period triple per treated
    district (``onset`` is kept for the caller's bookkeeping; rows from ``first_post``
    to ``last_post`` are marked). ``donors``: the unit labels that may receive a
    pattern. Returns the columns and the assignments (rows of donor indices).
    """
    unit, time = np.asarray(unit), np.asarray(time)
    donors = list(donors)
    k = len(patterns)
    same = len(set(patterns)) == 1
    combos = assignments(len(donors), k, ordered=not same, seed=seed, max_draws=max_draws)
    donor_idx = pd.Index(donors).get_indexer(unit)
    rows, cols = [], []
    for slot, (_, first, last) in enumerate(patterns):
        in_post = (time >= first) & (time <= last) & (donor_idx >= 0)
        r = np.flatnonzero(in_post)
        d = donor_idx[r]
        # Placebo j marks row r when its donor in this slot is the row's district.
        for j_slot_donor in np.unique(d):
            js = np.flatnonzero(combos[:, slot] == j_slot_donor)
            rr = r[d == j_slot_donor]
            rows.append(np.repeat(rr, len(js)))
            cols.append(np.tile(js, len(rr)))
    if not rows:
        return sp.csc_matrix((len(unit), len(combos))), combos
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return sp.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(unit), len(combos))), combos


@single_threaded_blas
def one_step_placebos(y, unit, time, Z: sp.spmatrix, *, family: str = "nb2") -> dict[str, np.ndarray | float]:
    """Score (one-step) estimates and model standard errors of many single-dummy DiDs.

    Fits ``log E[y] = a[unit] + g[time]`` once (NB2 with ``alpha`` by moments, as
    :func:`geo.analysis.countfe.fit_fe_count`), then for each column ``z`` of ``Z``
    returns ``b = z' s / I`` and ``se = sqrt(phi / I)`` with ``s`` the score residuals,
    ``I`` the information for ``b`` with the fixed effects partialled out and ``phi``
    the Pearson dispersion. Columns with no information get NaN.
    """
    y = np.asarray(y, dtype=float)
    Z = sp.csc_matrix(Z, dtype=float)
    u, _ = _codes(np.asarray(unit))
    t, _ = _codes(np.asarray(time))
    keep = _keep_estimable(y, u, t)
    y, Zk = y[keep], Z[keep]
    u, n_u = _codes(u[keep])
    t, n_t = _codes(t[keep])
    X = _design(u, n_u, t, n_t, np.zeros((len(y), 0)))
    n, p = X.shape
    _, eta, mu, _, _ = _irls(X, y, 0.0, None, 100, 1e-10)
    alpha = 0.0
    if family == "nb2":
        for _ in range(2):
            alpha = _nb2_alpha(y, mu, n, p)
            _, eta, mu, _, _ = _irls(X, y, alpha, eta, 100, 1e-10)
    w = mu / (1.0 + alpha * mu)
    resid = (y - mu) / (1.0 + alpha * mu)
    phi = float(np.sum((y - mu) ** 2 / (mu + alpha * mu**2)) / max(n - p - 1, 1))
    Xw = X.multiply(w[:, None]).tocsc()
    A = (X.T @ Xw).toarray()
    cho = sla.cho_factor(A, check_finite=False)
    XtWZ = (Xw.T @ Zk).toarray()                      # p x P
    proj = np.einsum("ij,ij->j", XtWZ, sla.cho_solve(cho, XtWZ, check_finite=False))
    zWz = np.asarray(Zk.multiply(w[:, None]).sum(axis=0)).ravel()  # z is 0/1: z'Wz = sum of w over z
    info = zWz - proj
    score = np.asarray(Zk.T @ resid).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = info > 1e-9 * np.maximum(zWz, 1e-300)
        b = np.where(ok, score / info, np.nan)
        se = np.where(ok, np.sqrt(phi / info), np.nan)
    return {"b": b, "se": se, "alpha": float(alpha), "dispersion": phi}


def rank_test(b_obs: float, se_obs: float, t_placebo: np.ndarray, *, level: float = LEVEL) -> dict:
    """p-value and test-inversion interval of the observed ``b`` among placebo ``t``.

    Equal-tailed, so that the two always agree (the interval excludes zero exactly
    when ``p < 1 - level``, up to the placebos' granularity): ``p`` is twice the
    smaller tail share of the placebos and the observed one at or beyond ``t_obs``,
    capped at 1; the interval is ``[b - q_hi se, b - q_lo se]``, ``q`` the placebo
    ``t`` quantiles at ``(1 -+ level) / 2`` (``higher``/``lower`` order statistics, so
    the interval never undercovers by interpolation).

    >>> from scipy import stats
    >>> r = rank_test(-0.25, 0.1, stats.norm.ppf((np.arange(999) + 0.5) / 999))
    >>> round(r["p_value"], 3), [round(x, 2) for x in (r["low"], r["high"])]
    (0.014, [-0.45, -0.05])
    """
    t_pl = np.asarray(t_placebo, dtype=float)
    t_pl = t_pl[np.isfinite(t_pl)]
    if not (math.isfinite(b_obs) and math.isfinite(se_obs) and se_obs > 0) or len(t_pl) == 0:
        return {"low": float("nan"), "high": float("nan"), "p_value": float("nan"), "n_placebos": int(len(t_pl)),
                "t": float("nan"), "q": [float("nan"), float("nan")]}
    t_obs = b_obs / se_obs
    n = len(t_pl)
    below = (1 + int(np.sum(t_pl <= t_obs))) / (1 + n)
    above = (1 + int(np.sum(t_pl >= t_obs))) / (1 + n)
    p = min(1.0, 2 * min(below, above))
    a = (1 - level) / 2
    q_lo = float(np.quantile(t_pl, a, method="lower"))
    q_hi = float(np.quantile(t_pl, 1 - a, method="higher"))
    return {"low": b_obs - q_hi * se_obs, "high": b_obs - q_lo * se_obs, "p_value": float(p),
            "n_placebos": int(n), "t": float(t_obs), "q": [q_lo, q_hi]}


def variance_model(b: np.ndarray, herfindahl: np.ndarray, poisson: np.ndarray) -> tuple[float, float]:
    """``(lambda_m, lambda_p)`` of ``Var(b) = lambda_m H + lambda_p P``, fitted to the
    placebo estimates by non-negative least squares on ``b^2``.

    ``H`` is the Herfindahl index of the group's district sizes (1 for one district;
    1/2 for two of equal size): district-level noise (trends, serial correlation)
    averages out across districts of similar size, not across events. ``P`` is the
    Poisson variance of the group's log before/after ratio (``1/pre + 1/post`` events):
    event-level noise shrinks with size. Ferman & Pinto (2019) model the variance of a
    few-group DiD as a known function of group size in the same spirit.
    """
    from scipy.optimize import nnls

    ok = np.isfinite(b) & np.isfinite(herfindahl) & np.isfinite(poisson)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    A = np.column_stack([herfindahl[ok], poisson[ok]])
    b2 = b[ok] ** 2
    lam, _ = nnls(A, b2)
    # b^2 has variance 2 v^2: reweighting by 1/v (Gaussian likelihood's scoring steps)
    # keeps the many small placebos, all Poisson noise, from drowning the few large ones
    # that identify the district-level term.
    for _ in range(20):
        v = A @ lam
        if not np.all(v > 0):
            break
        new, _ = nnls(A / v[:, None], b2 / v)
        if np.allclose(new, lam, rtol=1e-6, atol=1e-12):
            break
        lam = new
    return float(lam[0]), float(lam[1])


def _district_terms(total, rows, post, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Each district's information weight in an NB2 fit and the Poisson variance of
    its own before/after log ratio. The NB2 weight of a period with mean ``m`` is
    ``m / (1 + alpha m)``: it grows with size for small districts and levels off at
    ``1/alpha`` for large ones, so two large declared districts weigh about equally
    whatever their sizes."""
    total, rows, post = (np.asarray(v, dtype=float) for v in (total, rows, post))
    with np.errstate(divide="ignore", invalid="ignore"):
        m = total / rows
        weight = rows * m / (1.0 + alpha * m)
        term = 1.0 / post + 1.0 / (total - post)
    return weight, term


def _combine(weights: np.ndarray, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``H = sum w^2`` and ``P = sum w^2 P_d`` with weights normalised per row:
    the group estimate is about the weighted mean of its districts' own."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = weights / weights.sum(axis=1, keepdims=True)
        return (w**2).sum(axis=1), (w**2 * terms).sum(axis=1)


def randomization_did(y, unit, time, is_donor: np.ndarray, donors: Sequence, patterns: Sequence[tuple[int, int, int]],
                      b_obs: float, *, treated_rows: np.ndarray, treated_post: np.ndarray, cells=None,
                      level: float = LEVEL, seed: int = 0, max_draws: int = MAX_PLACEBOS) -> dict:
    """Randomisation inference for an observed DiD ``b_obs``: :func:`placebo_distribution`
    then :func:`rank_test`."""
    dist = placebo_distribution(y, unit, time, is_donor, donors, patterns, treated_rows=treated_rows,
                                treated_post=treated_post, cells=cells, seed=seed, max_draws=max_draws)
    return rank_against(dist, b_obs, level=level)


def rank_against(dist: dict, b_obs: float, *, level: float = LEVEL) -> dict:
    """:func:`rank_test` of ``b_obs`` against a :func:`placebo_distribution`."""
    out = rank_test(b_obs, dist["se"], dist["t"], level=level)
    out.update(se=dist["se"], placebo_b=dist["b"], method="randomization",
               descriptive=out["n_placebos"] < MIN_PLACEBOS, variance_model=dist["variance_model"])
    return out


def placebo_distribution(y, unit, time, is_donor: np.ndarray, donors: Sequence, patterns: Sequence[tuple[int, int, int]],
                         *, treated_rows: np.ndarray, treated_post: np.ndarray, cells=None, seed: int = 0,
                         max_draws: int = MAX_PLACEBOS) -> dict:
    """Randomisation inference for an observed DiD ``b_obs`` (log scale).

    ``y, unit, time``: the estimation sample; ``is_donor`` marks its rows of comparison
    districts (the placebos are estimated on those rows alone); ``donors`` their unit
    labels; ``patterns`` the treated districts' ``(onset, first_post, last_post)`` in
    the periods of ``time``; ``cells`` the time fixed effects' labels (default ``time``;
    area x period labels when several areas share the sample);
    ``treated_rows`` / ``treated_post`` mark the treated districts' rows and those
    declared (for the treated group's sizes in :func:`variance_model`).

    Each estimate, observed or placebo, is divided by its predicted standard error
    ``sqrt(lambda_m H + lambda_p P)`` before ranking, so that a pair of small placebo
    districts (Poisson noise) and a pair of large declared ones (district noise) are
    compared on one scale. Returns :func:`rank_test`'s dict (``se`` the predicted
    error of ``b_obs``) plus ``placebo_b``, ``method`` and ``descriptive`` (True when
    fewer than :data:`MIN_PLACEBOS` placebos exist, so no 5 % test is possible).
    """
    m = np.asarray(is_donor, dtype=bool)
    y = np.asarray(y, dtype=float)
    unit = np.asarray(unit)
    yy, uu, tt = y[m], unit[m], np.asarray(time)[m]
    cc = tt if cells is None else np.asarray(cells)[m]
    Z, combos = placebo_columns(uu, tt, donors, patterns, seed=seed, max_draws=max_draws)
    if Z.shape[1] == 0:
        return {"t": np.array([]), "b": np.array([]), "se": float("nan"), "variance_model": {}}
    r = one_step_placebos(yy, uu, cc, Z)
    alpha = r["alpha"]
    d_idx = pd.Index(list(donors)).get_indexer(uu)
    ok = d_idx >= 0
    n_d = len(donors)
    d_tot = np.bincount(d_idx[ok], weights=yy[ok], minlength=n_d)
    d_rows = np.bincount(d_idx[ok], minlength=n_d).astype(float)
    # Per slot (a treated district's timing), each donor's declared-period events.
    weights = np.zeros((len(combos), len(patterns)))
    terms = np.zeros((len(combos), len(patterns)))
    for slot, (_, first, last) in enumerate(patterns):
        in_post = ok & (tt >= first) & (tt <= last)
        d_post = np.bincount(d_idx[in_post], weights=yy[in_post], minlength=n_d)
        d = combos[:, slot]
        weights[:, slot], terms[:, slot] = _district_terms(d_tot[d], d_rows[d], d_post[d], alpha)
    H, P = _combine(weights, terms)
    lam_m, lam_p = variance_model(r["b"], H, P)
    tr, tp = np.asarray(treated_rows, dtype=bool), np.asarray(treated_post, dtype=bool)
    t_units, t_codes = np.unique(unit[tr], return_inverse=True)
    t_tot = np.bincount(t_codes, weights=y[tr], minlength=len(t_units))
    t_rows = np.bincount(t_codes, minlength=len(t_units)).astype(float)
    t_post = np.bincount(t_codes[tp[tr]], weights=y[tr & tp], minlength=len(t_units))
    wt, pt = _district_terms(t_tot, t_rows, t_post, alpha)
    H_T, P_T = (float(v[0]) for v in _combine(wt[None, :], pt[None, :]))
    with np.errstate(divide="ignore", invalid="ignore"):
        se_pl = np.sqrt(lam_m * H + lam_p * P)
        t_pl = r["b"] / se_pl
    se_T = math.sqrt(lam_m * H_T + lam_p * P_T) if math.isfinite(P_T) and math.isfinite(H_T) else float("nan")
    return {"t": t_pl, "b": r["b"][np.isfinite(r["b"])], "se": se_T,
            "variance_model": {"district": lam_m, "poisson": lam_p, "herfindahl": H_T, "poisson_term": P_T}}
