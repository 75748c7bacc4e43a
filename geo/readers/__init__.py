"""Incident files -> canonical frames: every input row is accepted or rejected with a reason.

One module per file kind and one per source format, as geopandas splits ``io/``:

=====================  ==================================================================
``csvfile``            CSV: encoding, sniffed delimiter, rows that do not split
``parquetfile``        Parquet: pruned reads, whole rows again for rejects
``geojsonfile``        GeoJSON Point features (pyogrio)
``files``              which of them a file needs, and the one entry that reads it
``times``              times in any common format -> local naive ``Datetime[ms]``
``ids``                content-hash ids and repeated ids
``ubigeo``             Peru's district codes
``points``             generic point files (any city), columns named by the user
``mininter``           Peru's geo-referenced police reports (points with fixed names)
``counts``             any district-period counts table
``sidpol``             SIDPOL's district-month counts (a column preset of ``counts``)
``kinds``              which source format a file is
``rejects``            the rejects mechanism they all share; what a reader returns
=====================  ==================================================================

Validation is vectorised (Polars). A rejected row keeps its 1-based data row number,
a machine ``reason`` (see :data:`REJECT_REASONS`), a human ``detail`` and the original
row as JSON, so ``len(accepted) + len(rejects) == n_input`` always holds; counts tables
account for events (the sum of their counts) the same way.

Example
-------
>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "x.csv")
>>> _ = open(p, "w").write("when;y;x;what\\n21/09/2023 14:35;-12.05;-77.04;Robo\\n;-12.05;-77.04;Robo\\n")
>>> parsed = read_points(p, lat="y", lon="x", time="when", category="what")
>>> parsed.accepted[["time", "category"]].to_dict("records")
[{'time': Timestamp('2023-09-21 14:35:00'), 'category': 'robo'}]
>>> parsed.rejects["reason"].tolist(), parsed.n_input
(['unparseable_time'], 2)
"""

from geo.readers.columns import OnCoordinates
from geo.readers.counts import COUNT_ROLES, DISTRICT_MONTH_COLUMNS, parse_counts, parse_period, read_counts
from geo.readers.ids import content_ids
from geo.readers.kinds import detect_kind
from geo.readers.mininter import MININTER_COLUMNS, MININTER_ID_COLUMNS, parse_mininter, read_mininter
from geo.readers.points import POINT_COLUMNS, POINT_ROLES, parse_points, read_points
from geo.readers.rejects import REJECT_REASONS, REJECTS_SCHEMA, Parsed, ParsedFrames
from geo.readers.sidpol import SIDPOL_COLUMNS, SIDPOL_PRESETS, counts_preset, parse_sidpol, read_sidpol
from geo.readers.times import TIMEZONE, parse_times
from geo.readers.ubigeo import normalise_ubigeo

__all__ = [
    "COUNT_ROLES", "DISTRICT_MONTH_COLUMNS", "MININTER_COLUMNS", "MININTER_ID_COLUMNS", "POINT_COLUMNS", "POINT_ROLES",
    "REJECTS_SCHEMA", "REJECT_REASONS", "SIDPOL_COLUMNS", "SIDPOL_PRESETS", "TIMEZONE", "OnCoordinates", "Parsed",
    "ParsedFrames", "content_ids", "counts_preset", "detect_kind", "normalise_ubigeo", "parse_counts", "parse_mininter",
    "parse_period", "parse_points", "parse_sidpol", "parse_times", "read_counts", "read_mininter", "read_points",
    "read_sidpol",
]
