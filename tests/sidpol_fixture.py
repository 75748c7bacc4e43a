"""A small file in the exact format of the real SIDPOL release (``../shared/sidpol``), for tests.

Same columns, types and quirks as ``denuncias_sidpol_clean.parquet``: every column text
except ``cantidad`` (int64); ``ubigeo`` without its leading zero (Callao is ``70101``);
names title-cased; upper-case police departments (``LIMA METROPOLITANA``,
``PROV. CONST. DEL CALLAO``); months with no report of a type absent, not zero; one
malformed row (``anio`` = ``c"2018"``). The counts are invented but shaped like the real
record: San Juan de Lurigancho with thousands a month, rural districts with a handful,
types missing in some months, districts far from the demo's areas (Cusco, Tumbes).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["anio", "mes", "departamento", "provincia", "distrito", "ubigeo", "tipo_hecho", "cantidad"]
SENSITIVE = "Violencia Contra La Mujer E Integrantes"
TYPES = ["Hurto", "Robo", "Estafa", "Extorsión", "Otros", SENSITIVE]
#: The types public output may count: the public vocabulary fails closed, so the real
#: record's catch-all "Otros" (no reviewed wording) is left out as well as the sensitive one.
PUBLIC_TYPES = ["Hurto", "Robo", "Estafa", "Extorsión"]
#: (ubigeo as SIDPOL writes it, department, province, district, monthly scale)
DISTRICTS = [
    ("150132", "LIMA METROPOLITANA", "Lima", "San Juan De Lurigancho", 2900),
    ("150135", "LIMA METROPOLITANA", "Lima", "San Martin De Porres", 1700),
    ("150101", "LIMA METROPOLITANA", "Lima", "Lima", 2500),
    ("150140", "LIMA METROPOLITANA", "Lima", "Santiago De Surco", 900),
    ("150119", "LIMA METROPOLITANA", "Lima", "Lurin", 60),
    ("150129", "LIMA METROPOLITANA", "Lima", "Punta Negra", 8),
    ("70101", "PROV. CONST. DEL CALLAO", "Callao", "Callao", 1100),
    ("70106", "PROV. CONST. DEL CALLAO", "Callao", "Ventanilla", 600),
    ("200601", "PIURA", "Sullana", "Sullana", 450),
    ("200604", "PIURA", "Sullana", "Lancones", 3),
    ("80101", "CUSCO", "Cusco", "Cusco", 700),
    ("240101", "TUMBES", "Tumbes", "Tumbes", 300),
]


def sidpol_frame(first_year: int = 2022, last: tuple[int, int] = (2026, 4), seed: int = 11) -> pd.DataFrame:
    """District-month-type rows in the real file's format (one malformed row first)."""
    rng = np.random.default_rng(seed)
    shares = np.array([0.34, 0.25, 0.12, 0.04, 0.15, 0.10])
    rows = [{"anio": 'c"2018"', "mes": "1", "departamento": "LIMA METROPOLITANA", "provincia": "Lima",
             "distrito": "San Juan De Lurigancho", "ubigeo": "150132", "tipo_hecho": "Hurto", "cantidad": 4}]
    months = [(y, m) for y in range(first_year, last[0] + 1) for m in range(1, 13) if (y, m) <= last]
    for ubigeo, dept, prov, dist, scale in DISTRICTS:
        for y, m in months:
            season = 1 + 0.15 * np.cos(2 * np.pi * (m - 12) / 12)
            counts = rng.poisson(scale * season * shares)
            for tipo, n in zip(TYPES, counts):
                if n > 0:  # the cleaning script dropped rows with cantidad <= 0: absent, not zero
                    rows.append({"anio": str(y), "mes": str(m), "departamento": dept, "provincia": prov,
                                 "distrito": dist, "ubigeo": ubigeo, "tipo_hecho": tipo, "cantidad": int(n)})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({c: "str" for c in COLUMNS if c != "cantidad"} | {"cantidad": "int64"})


def write_sidpol_fixture(path: Path, **kwargs) -> Path:
    """Write :func:`sidpol_frame` as Parquet at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sidpol_frame(**kwargs).to_parquet(path, index=False)
    return path


def manifest_for(path: Path) -> dict:
    """The bundled manifest with the ``sidpol`` entry pinned to this fixture's bytes (all
    else, title, licence, attribution and how to read it, stays the real entry's)."""
    from geo import datasets

    manifest = datasets.load_manifest()
    data = path.read_bytes()
    manifest["datasets"]["sidpol"] = {**manifest["datasets"]["sidpol"], "file": path.name,
                                      "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return manifest


def expected_counts(frame: pd.DataFrame, months: list[tuple[int, int]], *, public: bool) -> pd.Series:
    """Reports per 6-digit ubigeo over ``months``, computed with plain pandas (the reference)."""
    ok = frame[frame["anio"].str.fullmatch(r"\d{4}")]
    ym = list(zip(ok["anio"].astype(int), ok["mes"].astype(int)))
    keep = pd.Series([k in set(months) for k in ym], index=ok.index)
    if public:
        keep &= ok["tipo_hecho"].isin(PUBLIC_TYPES)
    sel = ok[keep]
    return sel.groupby(sel["ubigeo"].str.zfill(6))["cantidad"].sum()
