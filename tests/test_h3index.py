"""geo.h3index.latlng_to_cells_multi: exact H3 cells at several resolutions from one pass.

Every result is compared point by point with h3-py's ``latlng_to_cell`` (and with
``latlng_to_cells``, the function it replaces): the parents it keeps are only worth
having if they are never wrong, even for points on cell edges and vertices, next to
pentagons, the poles or the antimeridian.

Small inputs have too few points per distinct parent for proofs to pay, so the function
would re-index them all and prove nothing; the ``always_prove`` fixture lowers that
threshold to zero (and splits the parents over threads) so that these small inputs go
through the proofs. The large tests run with the defaults.
"""

from __future__ import annotations

import math

import h3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import h3index
from geo.h3index import latlng_to_cells, latlng_to_cells_multi

LIMA = (-12.3, -11.7, -77.2, -76.7)
SULLANA = (-4.97, -4.83, -80.76, -80.62)


@pytest.fixture
def always_prove(monkeypatch):
    monkeypatch.setattr(h3index, "_MIN_POINTS_PER_PARENT", 0)
    monkeypatch.setattr(h3index, "_PROOF_CHUNK_MIN", 4)


def h3py_cells(lat, lon, resolution: int) -> np.ndarray:
    return np.array([h3.str_to_int(h3.latlng_to_cell(a, b, resolution)) for a, b in zip(lat, lon)],
                    dtype=np.uint64)


def uniform(rng, box, n):
    lat0, lat1, lon0, lon1 = box
    return rng.uniform(lat0, lat1, n), rng.uniform(lon0, lon1, n)


def assert_exact(lat, lon, resolutions, got, *, on_boundaries: bool = False):
    """Each resolution's cells equal ``latlng_to_cells`` everywhere, and h3-py's.

    ``on_boundaries``: the points include exact cell vertices and edge points, where
    h3ronpy (h3o, which ``latlng_to_cells`` uses) and h3-py (the C library) may break the
    tie differently; there the result must still equal ``latlng_to_cells`` and h3-py's
    cell must be a neighbour of it (the point is on their shared boundary).
    """
    assert sorted(got) == sorted(set(resolutions))
    for r in set(resolutions):
        assert got[r].dtype == np.uint64 and got[r].shape == (len(lat),)
        exact = latlng_to_cells(lat, lon, r)
        wrong = np.flatnonzero(got[r] != exact)
        assert wrong.size == 0, (f"res {r}: {wrong.size} of {len(lat)} points differ from latlng_to_cells, "
                                 f"e.g. ({lat[wrong[0]]!r}, {lon[wrong[0]]!r})")
        want = h3py_cells(lat, lon, r)
        ties = np.flatnonzero(got[r] != want)
        if on_boundaries:
            ties = [i for i in ties if not h3.are_neighbor_cells(h3.int_to_str(int(got[r][i])), h3.int_to_str(int(want[i])))]
        assert len(ties) == 0, (f"res {r}: {len(ties)} of {len(lat)} points differ from h3, e.g. "
                                f"({lat[ties[0]]!r}, {lon[ties[0]]!r})")


@pytest.mark.parametrize("resolutions", [(9, 10), (7, 8, 9, 10)])
def test_lima_and_sullana_points_match_h3(always_prove, resolutions):
    rng = np.random.default_rng(11)
    la1, lo1 = uniform(rng, LIMA, 30_000)
    la2, lo2 = uniform(rng, SULLANA, 10_000)
    lat, lon = np.concatenate([la1, la2]), np.concatenate([lo1, lo2])
    assert_exact(lat, lon, resolutions, latlng_to_cells_multi(lat, lon, resolutions))


def _unit(lat, lon):
    a, b = math.radians(lat), math.radians(lon)
    return np.array([math.cos(a) * math.cos(b), math.cos(a) * math.sin(b), math.sin(a)])


def _latlng(v):
    v = v / np.linalg.norm(v)
    return math.degrees(math.asin(max(-1.0, min(1.0, v[2])))), math.degrees(math.atan2(v[1], v[0]))


def boundary_points(lat, lon, resolution):
    """The vertices and the edge midpoints (on the great circle) of the cell holding a point."""
    ring = h3.cell_to_boundary(h3.latlng_to_cell(lat, lon, resolution))
    mids = [_latlng(_unit(*ring[k]) + _unit(*ring[(k + 1) % len(ring)])) for k in range(len(ring))]
    return list(ring) + mids


anywhere = st.tuples(st.floats(-90, 90), st.floats(-180, 180))
near_pole = st.tuples(st.sampled_from([-1, 1]), st.floats(0, 0.5), st.floats(-180, 180)).map(
    lambda t: (t[0] * (90 - t[1]), t[2]))
near_antimeridian = st.tuples(st.floats(-89, 89), st.sampled_from([-1, 1]), st.floats(0, 0.5)).map(
    lambda t: (t[0], t[1] * (180 - t[2])))
RESOLUTION_SETS = [(9, 10), (7, 8, 9, 10), (10, 5, 8), (6, 7), (12, 9), (4, 10)]


@st.composite
def awkward_points(draw):
    """Points anywhere, near the poles and the antimeridian, on and next to pentagon
    centres, and exactly on cell vertices and edge midpoints at the tested resolutions."""
    resolutions = draw(st.sampled_from(RESOLUTION_SETS))
    pts = draw(st.lists(st.one_of(anywhere, near_pole, near_antimeridian), min_size=1, max_size=30))
    for r in resolutions:
        pentagon = h3.cell_to_latlng(draw(st.sampled_from(h3.get_pentagons(r))))
        jitter = draw(st.floats(-1e-3, 1e-3))
        pts += [pentagon, (pentagon[0] + jitter, pentagon[1] - jitter)]
        for seed in draw(st.lists(st.one_of(anywhere, near_pole, near_antimeridian), min_size=1, max_size=3)):
            pts += boundary_points(*seed, r)
    lat, lon = (np.array(v, dtype=np.float64) for v in zip(*pts))
    return lat, lon, resolutions


@given(awkward_points())
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_awkward_points_anywhere_match_h3(always_prove, case):
    lat, lon, resolutions = case
    assert_exact(lat, lon, resolutions, latlng_to_cells_multi(lat, lon, resolutions), on_boundaries=True)


def test_dense_points_around_cell_vertices_match_h3(always_prove):
    # Many points within a few metres of the vertices of Lima's res-9 cells: the ones the
    # parent gets wrong, and the ones a too generous proof would wrongly accept.
    rng = np.random.default_rng(5)
    seeds = zip(*uniform(rng, LIMA, 400))
    verts = np.array([v for s in seeds for v in boundary_points(*s, 9)])
    lat = np.repeat(verts[:, 0], 10) + rng.normal(0, 3e-5, 10 * len(verts))
    lon = np.repeat(verts[:, 1], 10) + rng.normal(0, 3e-5, 10 * len(verts))
    assert_exact(lat, lon, (9, 10), latlng_to_cells_multi(lat, lon, (9, 10)))
    exact_vertices = latlng_to_cells_multi(verts[:, 0], verts[:, 1], (9, 10))
    assert_exact(verts[:, 0], verts[:, 1], (9, 10), exact_vertices, on_boundaries=True)


def test_invalid_coordinates_give_zero_at_every_resolution(always_prove):
    bad_lat = [np.nan, 0.0, np.inf, 91.0, -90.5, 10.0, np.nan, -12.0]
    bad_lon = [-77.0, np.nan, 0.0, 0.0, 10.0, 180.5, np.nan, -np.inf]
    rng = np.random.default_rng(3)
    ok_lat, ok_lon = uniform(rng, LIMA, 200)
    lat = np.concatenate([bad_lat, ok_lat, bad_lat])
    lon = np.concatenate([bad_lon, ok_lon, bad_lon])
    got = latlng_to_cells_multi(lat, lon, (7, 8, 9, 10))
    invalid = np.r_[np.ones(8, bool), np.zeros(200, bool), np.ones(8, bool)]
    for r, cells in got.items():
        assert (cells[invalid] == 0).all(), r
        np.testing.assert_array_equal(cells[~invalid], h3py_cells(ok_lat, ok_lon, r))


@pytest.mark.parametrize("resolutions", [(9, 10), (7, 8, 9, 10), (10,), [10, 7, 9], (9, 9, 10, 10), range(7, 11)])
def test_resolution_sets_in_any_order(always_prove, resolutions):
    rng = np.random.default_rng(8)
    lat, lon = uniform(rng, SULLANA, 3_000)
    got = latlng_to_cells_multi(lat, lon, resolutions)
    assert set(got) == set(resolutions)
    assert_exact(lat, lon, resolutions, got)


def test_empty_input_and_bad_arguments():
    got = latlng_to_cells_multi(np.zeros(0), np.zeros(0), (9, 10))
    assert {r: c.shape for r, c in got.items()} == {9: (0,), 10: (0,)}
    with pytest.raises(ValueError):
        latlng_to_cells_multi(np.zeros(1), np.zeros(1), ())
    with pytest.raises(ValueError):
        latlng_to_cells_multi(np.zeros(1), np.zeros(1), (9, 16))
    with pytest.raises(ValueError):
        latlng_to_cells_multi(np.zeros(2), np.zeros(1), (9, 10))


def test_two_million_lima_points_agree_and_most_parents_are_proven(monkeypatch):
    # Default settings: the proofs must actually carry most points (else this is just two
    # passes), and every point must still agree with a full exact pass.
    rng = np.random.default_rng(2)
    lat, lon = uniform(rng, LIMA, 2_000_000)
    reindexed: dict[int, int] = {}
    exact = h3index.latlng_to_cells

    def spy(a, b, resolution, **kw):
        reindexed[resolution] = reindexed.get(resolution, 0) + len(a)
        return exact(a, b, resolution, **kw)

    monkeypatch.setattr(h3index, "latlng_to_cells", spy)
    got = latlng_to_cells_multi(lat, lon, (9, 10))
    monkeypatch.undo()
    assert reindexed[10] == len(lat) and reindexed[9] < 0.12 * len(lat), reindexed  # ~8%: the proven hexagons
    for r in (9, 10):
        np.testing.assert_array_equal(got[r], latlng_to_cells(lat, lon, r))
    sample = rng.choice(len(lat), 20_000, replace=False)
    np.testing.assert_array_equal(got[9][sample], h3py_cells(lat[sample], lon[sample], 9))


@pytest.mark.parametrize("resolution", [5, 7, 9, 12])
def test_proven_hexagons_corners_lie_in_their_cell_everywhere(resolution):
    # The proof's worst points are the corners of its regular hexagon: map them back to
    # degrees for cells all over the globe and ask h3-py which cell holds them.
    rng = np.random.default_rng(resolution)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 400)))
    lon = rng.uniform(-180, 180, 400)
    cells = np.unique(latlng_to_cells(lat, lon, resolution))
    proofs = h3index._safe_hexagons(cells).to_pandas()
    proven = proofs.dropna()
    assert len(proven) > 0.8 * len(cells)  # most cells away from face edges and poles get one
    ang = np.radians(30.0 + 60.0 * np.arange(6))
    corners = 0.9999 * (2 / np.sqrt(3)) * np.stack([np.cos(ang), np.sin(ang)])  # (2, 6), inradius ~1
    for row in proven.itertuples():
        dlon, dlat = np.linalg.solve(np.array([[row.b11, row.b12], [row.b21, row.b22]]), corners)
        got = {h3.latlng_to_cell(row.lat_c + b, row.lon_c + a, resolution) for a, b in zip(dlon, dlat)}
        assert got == {h3.int_to_str(int(row.p))}, (h3.int_to_str(int(row.p)), got)
