"""The one rejects mechanism every reader shares: reasons, the ``rejects`` schema, what a
reader returns (:class:`Parsed`, :class:`ParsedFrames`) and a file's rows before validation.

A rejected row keeps its 1-based data row number, a machine ``reason`` (see
:data:`REJECT_REASONS`), a human ``detail`` and the original row as JSON, so
``len(accepted) + len(rejects) == n_input`` always holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa

from geo.readers.values import _coded_text, _nulls, _plain


#: Machine codes of rejected rows, with what each means.
REJECT_REASONS: dict[str, str] = {
    "malformed_row": "the row could not be split into the header's columns",
    "missing_coordinate": "latitude or longitude is empty",
    "bad_coordinate": "latitude/longitude not a number, not finite, out of range, or 0,0",
    "unparseable_time": "the time could not be read",
    "bad_period": "the year, month or date of a count could not be read as a period",
    "missing_category": "the category is empty",
    "duplicate_id": "the id repeats an earlier row of the same file",
    "unknown_ubigeo": "the ubigeo is not a 6-digit code of a known district",
    "bad_count": "the count is not a non-negative whole number",
    "duplicate_row": "the same district, period and category, with the same count, as an earlier row",
    "conflicting_count": "the same district, period and category appear with different counts",
    "already_in_store": "the store already holds this incident (or district-month)",
    "outside_area": "the point lies outside every district (only when clipping)",
}
#: Schema of the store's ``rejects`` table.
REJECTS_SCHEMA = pa.schema([("source_file", pa.string()), ("row_number", pa.int64()),
                            ("reason", pa.string()), ("detail", pa.string()), ("raw", pa.string())])


@dataclass(frozen=True)
class Parsed:
    """What a reader made of a file.

    ``accepted``: canonical rows (:data:`POINT_COLUMNS` for point files,
    :data:`DISTRICT_MONTH_COLUMNS` for SIDPOL); ``rejects``: the store's ``rejects``
    schema; ``n_input``: data rows in the file. ``len(accepted) + len(rejects) == n_input``.
    """

    accepted: pd.DataFrame
    rejects: pd.DataFrame
    n_input: int
    #: Counts tables: the sum of every readable count (accepted ``n`` + rejected ``events``).
    n_events_input: int | None = None


@dataclass
class ParsedFrames:
    """:class:`Parsed` as Polars frames (what :mod:`geo.ingest` works on; no pandas copy)."""

    accepted: pl.DataFrame
    rejects: pl.DataFrame
    n_input: int
    kind: str
    notes: list[str] = field(default_factory=list)
    #: Where each accepted row came from: its position in the file's table (for
    #: :meth:`reject`); ``None`` when row ``i`` is the table's row ``i`` (all accepted).
    accepted_pos: np.ndarray | None = None
    raw: _Raw | None = None
    #: Counts tables: the sum of every readable count in the file. Their ``rejects`` then
    #: have an ``events`` column (the row's count, 0 when unreadable), so that accepted
    #: ``n`` plus rejected ``events`` always add up to it.
    n_events_input: int | None = None

    def __post_init__(self) -> None:
        if self.accepted.height + self.rejects.height != self.n_input:
            raise AssertionError(f"parser lost rows: {self.accepted.height} accepted + "
                                 f"{self.rejects.height} rejected != {self.n_input} input")

    def reject(self, mask: np.ndarray, reason: str, detail: pl.Series | str, *, source_file: str,
               with_raw: bool = True) -> tuple[pl.DataFrame, np.ndarray]:
        """Move accepted rows where ``mask`` holds to rejects (a later stage's verdict).

        Returns the new reject rows (``raw`` left empty unless ``with_raw``, which costs
        a JSON encoding per row) and the mask of rows kept; ``self`` is updated so that
        the counts still add up.
        """
        idx = np.flatnonzero(mask)
        if isinstance(detail, str):
            detail = pl.repeat(detail, len(idx), eager=True, dtype=pl.String)
        elif len(detail) == len(mask):
            detail = detail.gather(idx)
        pos = self.accepted_pos[idx] if self.accepted_pos is not None else idx
        rows = self.raw.row_numbers(pos) if self.raw is not None else pos + 1
        raw = self.raw.rows_json(pos) if (with_raw and self.raw is not None) else \
            _nulls("raw", len(idx))
        new = pl.DataFrame({"source_file": pl.repeat(source_file, len(idx), eager=True, dtype=pl.String),
                            "row_number": pl.Series(rows, dtype=pl.Int64), "reason": pl.repeat(reason, len(idx), eager=True),
                            "detail": detail.alias("detail"), "raw": raw.alias("raw")})
        if "events" in self.rejects.columns:
            new = new.with_columns(self.accepted["n"].gather(idx).cast(pl.Int64).alias("events"))
        keep = ~np.asarray(mask, dtype=bool)
        self.accepted = self.accepted.filter(pl.Series(keep))
        self.accepted_pos = np.flatnonzero(keep) if self.accepted_pos is None else self.accepted_pos[keep]
        self.rejects = pl.concat([self.rejects, new])
        return new, keep

    def to_parsed(self) -> Parsed:
        """The pandas form (dates as :class:`datetime.date`, as :meth:`geo.store.Store.read` gives)."""
        plain = self.accepted.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))
        rejects = self.rejects.select(REJECTS_SCHEMA.names).to_arrow().cast(REJECTS_SCHEMA).to_pandas()
        return Parsed(plain.to_arrow().to_pandas(), rejects, self.n_input, self.n_events_input)

    @property
    def n_events_accepted(self) -> int | None:
        """Counts tables: events (sum of ``n``) accepted."""
        return None if self.n_events_input is None else int(self.accepted["n"].sum())

    def events_rejected_by_reason(self) -> dict[str, int]:
        """Counts tables: events rejected, by reason (empty for point files)."""
        if "events" not in self.rejects.columns or not self.rejects.height:
            return {}
        by = self.rejects.group_by("reason").agg(pl.col("events").sum()).sort("reason")
        return {r: int(e) for r, e in zip(by["reason"], by["events"])}


@dataclass(frozen=True)
class _RowCount:
    """What is left of a released table: how many rows it had."""

    num_rows: int


@dataclass
class _Raw:
    """A file's rows before validation: the source columns and each row's data row number.

    ``table`` may hold only the columns validation needs (Parquet is read pruned);
    :meth:`rows_json` fetches whole original rows for the few that are rejected.
    """

    table: pa.Table | _RowCount  # only its row count once released (see :meth:`release`)
    #: int64, 1-based data row of each table row; ``None`` when it is the position + 1
    #: (no malformed rows were skipped), so that no per-row array is kept for nothing.
    row_number: np.ndarray | None
    malformed: pl.DataFrame  # rejects for rows that could not be split into columns
    fmt: str
    notes: list[str] = field(default_factory=list)
    #: Reads whole rows at table positions again from the file, when ``table`` holds only
    #: some of its columns (a pruned Parquet read; see :meth:`rows_json`).
    refetch: Callable[[np.ndarray], pa.Table] | None = None
    #: The coordinates already went to the caller's ``on_coordinates`` (read first).
    coordinates_sent: bool = False

    @property
    def n_input(self) -> int:
        return self.table.num_rows + self.malformed.height

    def release(self) -> None:
        """Let go of the values read once they are validated, when whole rows can be read
        again from the file (a pruned Parquet read): ~570 MB at 10M MININTER rows that
        the rest of an ingest would otherwise carry."""
        if self.refetch is not None:
            self.table = _RowCount(self.table.num_rows)

    def row_numbers(self, idx: np.ndarray) -> np.ndarray:
        """Data row numbers (1-based) of table positions ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return idx + 1 if self.row_number is None else self.row_number[idx]

    def column(self, name: str | None) -> pl.Series | None:
        if name is None:
            return None
        s = pl.from_arrow(self.table.column(name))
        return _plain(s if isinstance(s, pl.Series) else s.to_series())

    def text(self, name: str, fn, alias: str) -> pl.Series:
        """A low-cardinality text column mapped by ``fn`` (see :func:`_coded_text`)."""
        return _coded_text(self.table.column(name), fn, alias)

    def rows(self, name: str, idx: np.ndarray) -> pl.Series:
        """Column ``name`` at positions ``idx`` as read (for explaining rejects)."""
        s = pl.from_arrow(self.table.column(name).take(pa.array(idx, pa.int64())))
        s = s if isinstance(s, pl.Series) else s.to_series()
        if s.dtype == pl.Categorical:
            s = s.cast(pl.String)
        return _plain(s)

    def rows_json(self, idx: np.ndarray) -> pl.Series:
        """The original rows at table positions ``idx`` as JSON objects (column -> value)."""
        if not len(idx):
            return pl.Series("raw", [], dtype=pl.String)
        if self.refetch is not None:
            sub = self.refetch(idx)
        else:
            sub = self.table.take(pa.array(idx))
        return _json_rows(sub.drop_columns([c for c in sub.column_names if c.startswith("__")]))


def _no_malformed() -> pl.DataFrame:
    return pl.DataFrame(schema={"source_file": pl.String, "row_number": pl.Int64, "reason": pl.String,
                                "detail": pl.String, "raw": pl.String})


def _reasons(rules: list[tuple[pl.Series, str, pl.Series | str]], n: int) -> tuple[pl.Series, pl.Series]:
    """First failing rule of each row: ``(reason, detail)``, null where every rule passes."""
    reason, detail = _nulls("reason", n), _nulls("detail", n)
    for fails, code, why in rules:
        take = fails.fill_null(False) & reason.is_null()
        if not take.any():
            continue
        why_s = why if isinstance(why, pl.Series) else pl.repeat(why, n, eager=True, dtype=pl.String)
        reason = pl.select(pl.when(take).then(pl.lit(code)).otherwise(reason)).to_series()
        detail = pl.select(pl.when(take).then(why_s).otherwise(detail)).to_series()
    return reason.alias("reason"), detail.alias("detail")


def _quoted(s: pl.Series) -> pl.Series:
    text = s.cast(pl.String, strict=False).fill_null("")
    return "'" + text.str.slice(0, 60) + "'"


def _json_rows(sub: pa.Table) -> pl.Series:
    """Rows of an Arrow table as JSON objects (values as read; exotic types as text)."""
    frame = pl.from_arrow(sub)
    if isinstance(frame, pl.Series):
        frame = frame.to_frame()
    safe = [pl.col(c) if (frame[c].dtype.is_numeric() or frame[c].dtype in (pl.String, pl.Boolean))
            else pl.col(c).cast(pl.String, strict=False) for c in frame.columns]
    try:
        return frame.select(pl.struct(safe).struct.json_encode().alias("raw")).to_series()
    except pl.exceptions.PolarsError:
        return pl.Series("raw", [orjson.dumps(r, default=str).decode() for r in sub.to_pylist()], dtype=pl.String)


def _rejects_frame(raw: _Raw, idx: np.ndarray, reason: pl.Series, detail: pl.Series, source_file: str,
                   events: pl.Series | None = None) -> pl.DataFrame:
    """Reject rows for table positions ``idx`` (with their reasons), plus the malformed rows;
    ``events`` (counts tables): each rejected row's count, 0 for malformed rows."""
    bad = pl.DataFrame({
        "source_file": pl.repeat(source_file, len(idx), eager=True, dtype=pl.String),
        "row_number": pl.Series(raw.row_numbers(idx), dtype=pl.Int64),
        "reason": reason.alias("reason"),
        "detail": detail.alias("detail"),
        "raw": raw.rows_json(idx),
    })
    malformed = raw.malformed.with_columns(pl.lit(source_file).alias("source_file"))
    if events is not None:
        bad = bad.with_columns(events.cast(pl.Int64).alias("events"))
        malformed = malformed.with_columns(pl.lit(0, pl.Int64).alias("events"))
    return pl.concat([malformed, bad]).sort("row_number") if malformed.height else bad.sort("row_number")
