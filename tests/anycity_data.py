"""A made-up city far from Peru, for the "any city" tests of the library and the dashboard.

**Everything here is SYNTHETIC** (invented boundaries and incidents). The city,
"Nordvik", lies at about 60.17 N, 24.95 E: northern and eastern hemispheres, where
longitude degrees are half as long as latitude degrees (Peru's tests never see that).
It is unlike the demo on purpose:

- **Boundaries** (``nordvik_neighbourhoods.geojson``): 13 neighbourhoods in 3 boroughs.
  Neighbourhood names repeat across boroughs ("Central", "Harbour", "Riverside" ...), so
  no single field identifies an area: the id is made of two fields, ``borough_code`` and
  ``nbhd_code`` (``"N"`` + ``"01"``). Sizes differ by a factor of ~40; one area is a
  MultiPolygon (an island). Until ``--boundary-id-field a,b`` lands (branch
  ``readers``) the file also carries ``area_id`` = ``borough_code + "-" + nbhd_code``,
  which the library path below uses.
- **Points** (``nordvik_incidents.csv``): date and time in two columns (``date``
  ``dd/mm/yyyy``, ``time`` ``HH:MM``), coordinates ``x``/``y``, English categories with
  spaces; monthly counts per area from ~10 to ~1,500; one area starts mid-month
  (2023-03-15); a few bad rows (no coordinates, a bad date) and points outside every area
  (in the sea). Until ``--time-of-day`` lands the file also carries ``datetime`` (the two
  columns joined), which the library path uses.
- **Policy events** (``nordvik_events.csv``): the city's own "declarations" in the
  registry's format, with ``event_id`` and area ids from the boundary file.

Use :func:`write_anycity_files` for the files and :func:`build_anycity_store` for a store
built from them through the library (``geo.ingest.ingest_file``), as a user's
``hexwatch ingest ... --boundaries`` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Centre of the made-up city (lat, lon degrees).
CENTRE = (60.17, 24.95)
#: (borough_code, borough name, nbhd_code, neighbourhood name, (south, west, north, east), weight)
#: Weights set each area's share of incidents (30x between the quietest and the busiest).
AREAS = (
    ("N", "Northfield", "01", "Central", (60.200, 24.900, 60.230, 24.960), 3.0),
    ("N", "Northfield", "02", "Riverside", (60.200, 24.960, 60.230, 25.020), 1.0),
    ("N", "Northfield", "03", "Harbour", (60.230, 24.900, 60.260, 25.020), 0.6),
    ("N", "Northfield", "04", "Old Mill", (60.260, 24.900, 60.330, 25.100), 0.1),
    ("S", "Southport", "01", "Central", (60.140, 24.900, 60.170, 24.950), 6.0),
    ("S", "Southport", "02", "Harbour", (60.140, 24.950, 60.170, 25.000), 4.0),
    ("S", "Southport", "03", "Riverside", (60.170, 24.900, 60.200, 24.950), 2.0),
    ("S", "Southport", "04", "Park", (60.170, 24.950, 60.200, 25.000), 1.5),
    ("S", "Southport", "05", "Island", (60.120, 24.960, 60.130, 24.980), 0.2),
    ("E", "Eastwood", "01", "Central", (60.140, 25.020, 60.200, 25.080), 2.5),
    ("E", "Eastwood", "02", "Park", (60.200, 25.020, 60.260, 25.100), 0.8),
    ("E", "Eastwood", "03", "Harbour", (60.140, 25.000, 60.170, 25.020), 0.5),
    ("E", "Eastwood", "04", "Riverside", (60.170, 25.000, 60.200, 25.020), 0.4),
)
#: The area whose data start mid-month.
LATE_START_AREA = "E-04"
LATE_START = "2023-03-15"
CATEGORIES = (("burglary", 0.30), ("vehicle theft", 0.25), ("assault", 0.20), ("robbery", 0.15),
              ("domestic violence", 0.10))
START, END = "2023-01-01", "2024-12-31"


def area_id(borough_code: str, nbhd_code: str) -> str:
    """The combined id the fixture uses (``"N-01"``)."""
    return f"{borough_code}-{nbhd_code}"


@dataclass(frozen=True)
class AnycityFiles:
    """Paths of the fixture's files."""

    boundaries: Path
    incidents: Path
    events: Path


def boundaries_frame():
    """The neighbourhoods as a GeoDataFrame (EPSG:4326) with the file's fields."""
    import geopandas as gpd
    import shapely

    rows, geoms = [], []
    for bcode, bname, ncode, nname, (s, w, n, e), _ in AREAS:
        rows.append({"borough_code": bcode, "borough": bname, "nbhd_code": ncode, "name": nname,
                     "area_id": area_id(bcode, ncode)})
        if nname == "Island":  # two islets: a MultiPolygon
            geoms.append(shapely.MultiPolygon([shapely.box(w, s, w + (e - w) * 0.45, n),
                                               shapely.box(w + (e - w) * 0.55, s, e, n)]))
        else:
            geoms.append(shapely.box(w, s, e, n))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


def incidents_frame(n: int = 40_000, seed: int = 11):
    """The incident rows as the CSV holds them (pandas), bad rows included."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    weights = np.array([a[5] for a in AREAS])
    which = rng.choice(len(AREAS), size=n, p=weights / weights.sum())
    bounds = np.array([a[4] for a in AREAS])
    # Points cluster around a few fixed hot spots per area (a spatial pattern that stays put).
    centre_lat = bounds[which, 0] + (bounds[which, 2] - bounds[which, 0]) * rng.choice([0.3, 0.5, 0.7], n)
    centre_lon = bounds[which, 1] + (bounds[which, 3] - bounds[which, 1]) * rng.choice([0.25, 0.6, 0.8], n)
    lat = np.clip(rng.normal(centre_lat, (bounds[which, 2] - bounds[which, 0]) * 0.18),
                  bounds[which, 0] + 1e-5, bounds[which, 2] - 1e-5)
    lon = np.clip(rng.normal(centre_lon, (bounds[which, 3] - bounds[which, 1]) * 0.18),
                  bounds[which, 1] + 1e-5, bounds[which, 3] - 1e-5)
    island = [i for i, a in enumerate(AREAS) if a[3] == "Island"][0]
    on_island = which == island
    s, w, nn, e = AREAS[island][4]
    left = rng.random(n) < 0.5  # on one of the two islets, never in the channel between them
    lon = np.where(on_island, np.where(left, rng.uniform(w, w + (e - w) * 0.45, n), rng.uniform(w + (e - w) * 0.55, e, n)), lon)
    lat = np.where(on_island, rng.uniform(s, nn, n), lat)
    start, end = np.datetime64(START), np.datetime64(END)
    day = start + rng.integers(0, int((end - start).astype(int)) + 1, n).astype("timedelta64[D]")
    late = np.array([area_id(a[0], a[2]) == LATE_START_AREA for a in AREAS])[which]
    day = np.where(late & (day < np.datetime64(LATE_START)), day + np.timedelta64(120, "D"), day)
    minute = rng.integers(0, 24 * 60, n)
    cats = np.array([c for c, _ in CATEGORIES], dtype=object)
    share = np.array([p for _, p in CATEGORIES])
    frame = pd.DataFrame({
        "incident_no": [f"NV-{i:06d}" for i in range(n)],
        "date": pd.to_datetime(day).strftime("%d/%m/%Y"),
        "time": [f"{m // 60:02d}:{m % 60:02d}" for m in minute],
        "offence": rng.choice(cats, size=n, p=share),
        "x": np.round(lon, 6), "y": np.round(lat, 6),
    })
    # In the sea south of the city: inside no neighbourhood.
    sea = rng.choice(n, 25, replace=False)
    frame.loc[sea, "y"] = np.round(rng.uniform(60.05, 60.10, 25), 6)
    frame.loc[frame.index[:3], ["x", "y"]] = np.nan  # no coordinates
    frame.loc[frame.index[3], "date"] = "31/02/2024"  # no such day
    frame["datetime"] = frame["date"] + " " + frame["time"]
    return frame


EVENTS_CSV = """event_id,name,start,end,areas,area_names,source_url,confirmed,notes
NV-CURFEW-2023,Night curfew Southport,2023-09-01,2023-11-30,S-01;S-02,"Central, Harbour (Southport)",,yes,Made up for tests.
NV-CURFEW-2023-EXT,,2023-12-01,2024-01-31,S-01;S-02;S-03,"Central, Harbour, Riverside (Southport)",,yes,Extends NV-CURFEW-2023.
NV-PATROL-2024,Extra patrols Northfield,2024-04-01,2024-06-30,N-01;N-02,"Central, Riverside (Northfield)",,no,Date of the end not known.
"""


def events_csv() -> str:
    """The fixture's policy-event file (the extension is linked through ``extends``)."""
    lines = EVENTS_CSV.strip().split("\n")
    header = lines[0] + ",extends"
    rows = [lines[1] + ",", lines[2] + ",NV-CURFEW-2023", lines[3] + ","]
    return "\n".join([header, *rows]) + "\n"


def write_anycity_files(folder: str | Path, *, n: int = 40_000, seed: int = 11) -> AnycityFiles:
    """Write the boundary GeoJSON, the incident CSV and the events CSV into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = AnycityFiles(folder / "nordvik_neighbourhoods.geojson", folder / "nordvik_incidents.csv",
                         folder / "nordvik_events.csv")
    if files.boundaries.exists():
        files.boundaries.unlink()
    boundaries_frame().to_file(files.boundaries, driver="GeoJSON", engine="pyogrio")
    incidents_frame(n, seed).to_csv(files.incidents, index=False)
    files.events.write_text(events_csv(), encoding="utf-8")
    return files


def build_anycity_store(store: str | Path, files: AnycityFiles | None = None, *, n: int = 40_000, seed: int = 11):
    """Ingest the fixture into ``store`` through the library; returns the ingest report.

    Uses the pre-joined ``area_id`` and ``datetime`` columns (see the module docstring).
    """
    from geo.boundaries import read_boundary_file
    from geo.ingest import ingest_file

    store = Path(store)
    files = files or write_anycity_files(store.parent / (store.name + "-input"), n=n, seed=seed)
    districts = read_boundary_file(files.boundaries, id_field="area_id", name_field="name",
                                   province_field="borough", province_code_field="borough_code")
    return ingest_file(files.incidents, store, kind="points", boundaries=districts, progress=False,
                       columns={"lat": "y", "lon": "x", "time": "datetime", "category": "offence", "id": "incident_no"},
                       time_format="%d/%m/%Y %H:%M",
                       meta_updates={"synthetic": True, "dataset": "SYNTHETIC test city (Nordvik) — not real incidents"})
