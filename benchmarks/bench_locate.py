"""District assignment speed: ``geo.locate.assign_districts`` vs ``geopandas.sjoin``.

Points: N demo points (10,000,000; ``--quick`` 1,000,000) from a Parquet file, made by
``geo.demo.simulate_points`` over Lima/Callao and Sullana, plus 1 % uniform over the
bounding boxes of Lima/Callao and of Sullana (sea, desert, neighbouring
provinces: the stray geocodes real files carry). The file is
kept in ``benchmarks/out/`` (git-ignored) for later runs. Districts: the study set
(all 1,891 of Peru, Lima/Callao in high detail), what ingest locates points in.

Figures: loading the study districts from the cache, beside rebuilding the cache from
the upstream files; then, each beside ``geopandas.sjoin(points, districts, predicate="within")`` on the
same points (in the full run sjoin times 1,000,000 random points of them and is scaled
linearly to N, as the figure says; building 10M shapely points alone takes GBs):

- lookup build for Lima/Callao+Sullana (``DistrictLocator.precompute``), as a fraction
  of the sjoin time;
- ``assign_districts`` from lat/lon with the lookup cached (the steady state: a
  boundary set's lookup is built once and kept on disk); most of it is H3 indexing
  (``geo.h3index.latlng_to_cells``, timed alone in the name), target >= 5x;
- the same given the points' res-9 cells (ingest indexes the points into cells anyway;
  it now passes its exact res-10 cells to a res-10 locator, whose smaller border cells
  leave fewer points for exact tests), target >= 5x;
- cold: a fresh locator with nothing cached, classifying every cell it meets.

Every result is checked identical to sjoin (tie rule: first district in row order) on
the points sjoin ran on, and all locator variants identical to each other on all N.

Run: ``python -m benchmarks.bench_locate [--quick]``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._common import Figure, median_time, print_figures
from geo import boundaries
from geo.h3index import latlng_to_cells
from geo.locate import DistrictLocator, assign_districts

OUT = Path(__file__).resolve().parent / "out"
AREA_PROVINCES = ("150100", "070100", "200600")
SJOIN_SAMPLE = 1_000_000
SEED = 1


def demo_points(n: int, study: gpd.GeoDataFrame) -> Path:
    """Parquet file of ``n`` demo-like points (``lat``, ``lon``), made once and kept."""
    from geo.declarations import Registry
    from geo.demo import DemoConfig, default_districts, simulate_counts, simulate_points

    path = OUT / f"locate_points_{n}_seed{SEED}.parquet"
    if path.is_file():
        return path
    districts = default_districts()
    n_demo = n - n // 100
    counts, _ = simulate_counts(DemoConfig(n_incidents=n_demo, seed=SEED), districts, Registry.load())
    points = simulate_points(counts, districts, seed=SEED)
    lat, lon = points["lat_hecho"].to_numpy()[:n_demo], points["long_hecho"].to_numpy()[:n_demo]
    del points, counts
    rng = np.random.default_rng(SEED)
    n_noise = n - len(lat)
    for codes, k in ((AREA_PROVINCES[:2], n_noise - n_noise // 3), (AREA_PROVINCES[2:], n_noise // 3)):
        x0, y0, x1, y1 = study[study["province_code"].isin(codes)].total_bounds
        lat, lon = np.concatenate([lat, rng.uniform(y0, y1, k)]), np.concatenate([lon, rng.uniform(x0, x1, k)])
    order = rng.permutation(n)  # demo rows come sorted by time; mix the noise in
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{time.time_ns()}.tmp")
    pq.write_table(pa.table({"lat": lat[order], "lon": lon[order]}), tmp, compression="zstd")
    tmp.rename(path)
    return path


def sjoin_ubigeos(lat: np.ndarray, lon: np.ndarray, districts: gpd.GeoDataFrame) -> np.ndarray:
    """The reference: sjoin within, lowest district row where several contain a point."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, districts[["geometry"]].reset_index(drop=True), predicate="within", how="inner")
    first = joined["index_right"].groupby(level=0).min()
    rows = np.full(len(lat), -1)
    rows[first.index.to_numpy()] = first.to_numpy()
    return np.append(districts["ubigeo"].to_numpy(dtype=object), None)[rows]


def run(quick: bool = False) -> list[Figure]:
    n = 1_000_000 if quick else 10_000_000
    boundaries.fetch()
    study = boundaries.load_study_districts()
    table = pq.read_table(demo_points(n, study))
    lat, lon = table.column("lat").to_numpy(), table.column("lon").to_numpy()
    del table

    sample = np.sort(np.random.default_rng(SEED).choice(n, SJOIN_SAMPLE, replace=False)) if n > SJOIN_SAMPLE else np.arange(n)
    t_sjoin, expected = median_time(lambda: sjoin_ubigeos(lat[sample], lon[sample], study), runs=1 if quick else 2)
    t_ref = t_sjoin * n / len(sample)
    ref_name = "geopandas.sjoin" + ("" if len(sample) == n else f" (timed on {len(sample):,} of the points, x{n / len(sample):g})")

    workdir = Path(tempfile.mkdtemp(prefix="bench_locate_"))
    try:
        t_fetch, _ = median_time(lambda: boundaries.fetch(cache_dir=workdir / "fetch", force=True), runs=1)
        t_load, _ = median_time(lambda: boundaries.load_study_districts(workdir / "fetch"), runs=5)
        area = study.loc[study["province_code"].isin(AREA_PROVINCES), "ubigeo"]
        locator = DistrictLocator(study, cache_dir=workdir)
        t0 = time.perf_counter()
        n_cells = locator.precompute(area)
        t_build = time.perf_counter() - t0

        t_cold, cold = median_time(lambda: assign_districts(lat, lon, study, cache_dir=False), runs=1)
        # Steady state: the cached lookup loaded, and the cells of the stray points
        # outside the precomputed area learnt by one untimed pass.
        assign_districts(lat, lon, study, cache_dir=workdir)
        t_warm, warm = median_time(lambda: assign_districts(lat, lon, study, cache_dir=workdir), runs=3)
        cells = latlng_to_cells(lat, lon, 9)
        t_cells, with_cells = median_time(lambda: assign_districts(lat, lon, study, cells=cells, cache_dir=workdir), runs=3)
        t_h3, _ = median_time(lambda: latlng_to_cells(lat, lon, 9), runs=3)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    same = bool((warm[sample] == expected).all() and (cold == warm).all() and (with_cells == warm).all())
    checked = {"identical_to_sjoin": same, "points": n, "sjoin_points": len(sample),
               "outside_every_district": int((warm == None).sum())}  # noqa: E711 (object array)
    runs_w = 3
    return [
        Figure("load_study_districts from the cache (1,891 districts)", t_load, "s",
               "fetch --force (read, verify and convert the upstream files)", t_fetch, ratio=t_fetch / t_load,
               target="< 1 s", met=t_load < 1, runs=5),
        Figure(f"lookup build, Lima/Callao+Sullana ({n_cells:,} res-9 cells)", t_build, "s", ref_name + f" of {n:,} points",
               t_ref, ratio=t_build / t_ref, ratio_kind="fraction", target="seconds (< 10 s)", met=t_build < 10),
        Figure(f"assign_districts, {n:,} points from lat/lon (lookup cached; H3 indexing alone {t_h3:.2f} s)", t_warm, "s",
               ref_name, t_ref,
               ratio=t_ref / t_warm, target=">= 5x, identical", met=t_ref / t_warm >= 5 and same, runs=runs_w,
               extra={**checked, "of_which_h3_indexing_s": t_h3}),
        Figure(f"assign_districts, {n:,} points given res-9 cells", t_cells, "s", ref_name, t_ref,
               ratio=t_ref / t_cells, target=">= 5x, identical", met=t_ref / t_cells >= 5 and same, runs=runs_w,
               extra=checked),
        Figure(f"assign_districts cold, {n:,} points (nothing cached)", t_cold, "s", ref_name, t_ref,
               ratio=t_ref / t_cold, extra=checked),
    ]


if __name__ == "__main__":
    figures = run(quick="--quick" in sys.argv)
    print_figures("district assignment", figures)
    checked = figures[2].extra
    print(f"  results identical to sjoin: {checked['identical_to_sjoin']} ({checked['sjoin_points']:,} points compared; "
          f"{checked['outside_every_district']:,} outside every district)")
