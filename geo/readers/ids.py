"""Incident ids: content hashes when a file has none, and ids that repeat within a file.

When a file has no id column (or a row's id is blank), the id is a hash of the row's
parsed content (time, coordinates to 1e-7 degrees, category, subcategory), so the same
incident gets the same id from CSV, Parquet or GeoJSON and a re-ingest adds nothing; the
k-th identical row of a file gets the suffix ``-k`` so genuinely repeated reports are kept.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from geo.readers.rejects import _Raw


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit mix (stable across versions)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def _text_hash(s: pl.Series) -> np.ndarray:
    """A stable 64-bit hash of each string (blake2b of each distinct value); null -> 0."""
    uniq = s.drop_nulls().unique()
    codes = [int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little") for v in uniq.to_list()]
    mapped = s.replace_strict(uniq, pl.Series(codes, dtype=pl.UInt64), default=0, return_dtype=pl.UInt64) if len(uniq) else \
        pl.Series([0] * len(s), dtype=pl.UInt64)
    return mapped.to_numpy()


def content_ids(time: pl.Series, lat: pl.Series, lon: pl.Series, category: pl.Series,
                subcategory: pl.Series | None = None) -> pl.Series:
    """Deterministic incident ids from parsed content: ``"h<uint64>"``, ``-k`` on the k-th repeat.

    Stable across runs, versions and file formats (a fixed mix of the time in ms,
    coordinates in 1e-7 degrees and blake2b hashes of the texts).

    >>> import polars as pl
    >>> t = pl.Series([1_695_300_900_000, 1_695_300_900_000]).cast(pl.Datetime("ms"))
    >>> ids = content_ids(t, pl.Series([-12.05, -12.05]), pl.Series([-77.04, -77.04]), pl.Series(["robo", "robo"]))
    >>> ids[1] == ids[0] + "-1"
    True
    """
    parts = [
        time.cast(pl.Datetime("ms")).dt.epoch("ms").fill_null(0).to_numpy().astype(np.int64).view(np.uint64),
        (lat.fill_nan(None).fill_null(0) * 1e7).round(0).cast(pl.Int64).to_numpy().view(np.uint64),
        (lon.fill_nan(None).fill_null(0) * 1e7).round(0).cast(pl.Int64).to_numpy().view(np.uint64),
        _text_hash(category.cast(pl.String)),
        _text_hash(subcategory.cast(pl.String)) if subcategory is not None else np.zeros(len(time), np.uint64),
    ]
    h = np.full(len(time), 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i, p in enumerate(parts):
            h = _mix64(h ^ (p + np.uint64(i + 1) * np.uint64(0x9E3779B97F4A7C15)))
    hs = pl.Series("incident_id", h, dtype=pl.UInt64)
    ids = "h" + hs.cast(pl.String)
    if hs.n_unique() == len(hs):
        return ids
    k = pl.DataFrame({"h": hs}).select(pl.int_range(pl.len()).over("h").alias("k")).to_series()
    return pl.select(pl.when(k > 0).then(ids + "-" + k.cast(pl.String)).otherwise(ids)).to_series().alias("incident_id")


def _repeated_ids(ids: pl.Series, candidate: np.ndarray, raw: _Raw) -> tuple[np.ndarray, pl.Series]:
    """Positions of ``candidate`` rows whose id repeats an earlier candidate's, and why.

    Fast paths, so that the repeated ids are sought only when there are some: ids in
    increasing order (database exports usually are) are distinct when no two neighbours
    are equal, one pass; else a per-run 64-bit hash with ``n_unique`` proves them
    distinct without sorting the strings.
    """
    every = bool(candidate.all())
    cand_idx = None if every else np.flatnonzero(candidate)
    sub = ids if every else ids.gather(cand_idx)  # no copy of every id when all are in
    if (len(sub) and sub.is_sorted() and sub.rle_id().max() == len(sub) - 1) or sub.hash(seed=0).n_unique() == len(sub):
        return np.zeros(0, np.int64), pl.Series("detail", [], dtype=pl.String)
    if cand_idx is None:
        cand_idx = np.arange(len(ids))
    frame = pl.DataFrame({"id": sub, "pos": cand_idx, "row": raw.row_numbers(cand_idx)})
    dup_ids = frame.group_by("id").len().filter(pl.col("len") > 1)["id"]
    dups = (frame.filter(pl.col("id").is_in(dup_ids.implode())).sort("pos")
            .with_columns(pl.col("row").first().over("id").alias("first_row"), pl.int_range(pl.len()).over("id").alias("k"))
            .filter(pl.col("k") > 0))
    detail = "id '" + dups["id"].str.slice(0, 60) + "' already on row " + dups["first_row"].cast(pl.String)
    return dups["pos"].to_numpy().astype(np.int64), detail.alias("detail")
