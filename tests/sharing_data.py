"""A small synthetic store built to hold small cells, for the export, embed, privacy and access tests.

A plain module rather than conftest: several conftest.py files exist, so ``from conftest import``
would pick whichever one was imported first.
"""

SHARING_CATEGORIES = ("robo", "hurto", "violencia familiar", "<script>window.__pwned=1</script>")


def sharing_districts():
    """Three made-up squares named like SJL, SMP and Sullana (test geometry, not real
    boundaries); one name carries markup to test escaping."""
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame(
        {"ubigeo": ["150132", "150135", "200601"], "name": ["San Juan <b>de</b> Lurigancho", "=HYPERLINK(\"x\")", "Sullana"],
         "province": ["Lima", "Lima", "Sullana"], "department": ["Lima", "Lima", "Piura"],
         "province_code": ["150100", "150100", "200600"]},
        geometry=[shapely.box(-77.02, -12.06, -76.94, -11.96), shapely.box(-77.12, -12.06, -77.02, -11.96),
                  shapely.box(-80.72, -4.95, -80.62, -4.85)], crs="EPSG:4326")


def sharing_incidents(n: int = 12_000, seed: int = 7):
    """Incidents uniform over the three squares, June-December 2023; sparse enough at
    resolution 8 per month and category that many cells fall below k."""
    import numpy as np
    import pandas as pd

    from geo.h3index import latlng_to_cells

    rng = np.random.default_rng(seed)
    b = sharing_districts().geometry.bounds.to_numpy()
    which = rng.choice(3, size=n, p=[0.5, 0.4, 0.1])
    lon, lat = rng.uniform(b[which, 0], b[which, 2]), rng.uniform(b[which, 1], b[which, 3])
    day = np.datetime64("2023-06-01") + rng.integers(0, 214, n).astype("timedelta64[D]")
    return pd.DataFrame({
        "incident_id": [f"t{i}" for i in range(n)], "time": day.astype("datetime64[ms]"), "day": day,
        "category": rng.choice(np.array(SHARING_CATEGORIES, dtype=object), size=n, p=[.5, .3, .15, .05]),
        "subcategory": None, "lat": lat, "lon": lon, "cell": latlng_to_cells(lat, lon, 9),
        "ubigeo": np.array(["150132", "150135", "200601"], dtype=object)[which], "source": "test"})


def build_sharing_store(path, incidents, *, synthetic: bool = True):
    """Write ``incidents`` and their cubes (resolutions 7-10, in the store schema) to ``path``."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from geo.h3index import cells_to_parent, latlng_to_cells
    from geo.store import write_version

    def arrow(df):
        t = pa.Table.from_pandas(df, preserve_index=False)
        return t.set_column(t.schema.get_field_index("day"), "day", t["day"].cast(pa.date32()))

    fine = latlng_to_cells(incidents["lat"].to_numpy(), incidents["lon"].to_numpy(), 10)
    cube = pd.concat([pd.DataFrame({"resolution": np.int8(r), "cell": cells_to_parent(fine, r),
                                    "day": incidents["day"].to_numpy(), "category": incidents["category"].to_numpy()})
                      for r in (7, 8, 9, 10)])
    cube = cube.groupby(["resolution", "cell", "day", "category"], as_index=False).size().rename(columns={"size": "n"})
    cube["n"] = cube["n"].astype(np.int32)
    district = incidents.groupby(["ubigeo", "day", "category"], as_index=False).size().rename(columns={"size": "n"})
    district["n"] = district["n"].astype(np.int32)
    write_version(path, tables={"incidents": arrow(incidents), "cube_cell": arrow(cube), "cube_district": arrow(district)},
                  meta={"synthetic": synthetic, "dataset": "sharing test store", "h3_resolution": 9,
                        "cube_resolutions": [7, 8, 9, 10], "coverage": {"start": "2023-06-01", "end": "2023-12-31"}})
    return path


def in_window(incidents, start: str = "2023-09-01", end: str = "2023-10-31"):
    """The incidents (pandas) of days ``start..end`` inclusive."""
    import numpy as np

    day = incidents["day"].to_numpy()
    return incidents[(day >= np.datetime64(start)) & (day <= np.datetime64(end))]


def planted_grid(**kwargs):
    """A public grid whose vocabulary also admits the planted-markup category (as a
    deployment's allow file would): the default vocabulary fails closed and never
    publishes it, so the tests that check it is escaped in public output opt in."""
    from geo.privacy import PublicGrid, Vocabulary, normalise_category

    vocabulary = Vocabulary.load().merged(Vocabulary(admit_exact=(normalise_category(SHARING_CATEGORIES[3]),)))
    return PublicGrid(vocabulary=vocabulary, **kwargs)
