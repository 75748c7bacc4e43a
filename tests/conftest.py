"""Shared fixtures.

Boundaries: the whole session runs with ``HEXWATCH_CACHE_DIR`` pointing at a session
temp folder (shared by pytest-xdist workers), so no test reads or writes a developer's
own cache, and a fresh clone behaves like any other checkout. ``boundary_cache``
fetches the real boundaries once through the mirror (``<repo>/../shared/boundaries``,
or ``$HEXWATCH_BOUNDARY_MIRROR``); the loaded tables are session fixtures too: treat
them as read-only (``.copy()`` before changing one).

Other engineers: append your fixtures at the end of this file.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def boundary_mirror() -> Path:
    """The folder of upstream boundary files: ``$HEXWATCH_BOUNDARY_MIRROR``, else
    ``<repo>/../shared/boundaries`` (where CI places it beside the clone)."""
    env = os.environ.get("HEXWATCH_BOUNDARY_MIRROR")
    path = Path(env) if env else REPO.parent / "shared" / "boundaries"
    if not (path / "SOURCES.md").is_file() and not any(path.glob("*.rda")):
        pytest.fail(f"boundary mirror not found at {path}: put the upstream files there "
                    f"or set HEXWATCH_BOUNDARY_MIRROR", pytrace=False)
    return path


@pytest.fixture(scope="session")
def mirror() -> Path:
    """Path of the boundary mirror (read-only: copy files before altering them)."""
    return boundary_mirror()


@pytest.fixture(scope="session", autouse=True)
def session_cache_dir(tmp_path_factory) -> Path:
    """The session's boundary cache, exported as ``HEXWATCH_CACHE_DIR`` (and the mirror
    as ``HEXWATCH_BOUNDARY_MIRROR`` when it exists) for every test."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # one cache for all workers of this run
    path = root / "hexwatch-boundary-cache"
    path.mkdir(exist_ok=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("HEXWATCH_CACHE_DIR", str(path))
    default_mirror = REPO.parent / "shared" / "boundaries"
    if not os.environ.get("HEXWATCH_BOUNDARY_MIRROR") and default_mirror.is_dir():
        patch.setenv("HEXWATCH_BOUNDARY_MIRROR", str(default_mirror))
    yield path
    patch.undo()


@pytest.fixture(scope="session")
def boundary_cache(session_cache_dir, mirror) -> Path:
    """The session cache with the real boundaries fetched through the mirror."""
    from geo import boundaries

    with open(session_cache_dir / ".fetch.lock", "a+") as lock:  # xdist workers fetch once
        fcntl.flock(lock, fcntl.LOCK_EX)
        boundaries.fetch(mirror=mirror, cache_dir=session_cache_dir)
    return session_cache_dir


@pytest.fixture(scope="session")
def districts(boundary_cache):
    """The 1,891 districts of Peru (GeoDataFrame, read-only)."""
    from geo import boundaries

    return boundaries.load_districts(boundary_cache)


@pytest.fixture(scope="session")
def provinces(boundary_cache):
    """The 196 provinces of Peru (GeoDataFrame, read-only)."""
    from geo import boundaries

    return boundaries.load_provinces(boundary_cache)


@pytest.fixture(scope="session")
def lima_callao(boundary_cache):
    """The 50 high-detail Lima/Callao districts (GeoDataFrame, read-only)."""
    from geo import boundaries

    return boundaries.load_lima_callao(boundary_cache)


@pytest.fixture(scope="session")
def study_districts(boundary_cache):
    """All districts with Lima/Callao in high detail (GeoDataFrame, read-only)."""
    from geo import boundaries

    return boundaries.load_study_districts(boundary_cache)


# --- dashboard / geo.views (appended by the dashboard engineer) --------------------------


def build_views_store(path: Path, n_incidents: int = 40_000, seed: int = 3) -> Path:
    """A store with synthetic points over the real study districts and cubes built here
    with plain pandas (an independent reference for geo.views), plus an ingest report."""
    import numpy as np
    import orjson
    import pandas as pd

    from geo.declarations import Registry
    from geo.demo import DemoConfig, default_districts, simulate_counts, simulate_points
    from geo.h3index import cells_to_parent, latlng_to_cells
    from geo.store import write_version

    districts = default_districts()
    counts, _ = simulate_counts(DemoConfig(n_incidents=n_incidents, seed=seed), districts, Registry.load())
    pts = simulate_points(counts, districts, seed)
    day = pd.to_datetime(pts["fecha_hora_hecho"]).dt.date
    ubigeo = pts["ubigeo_hecho"].astype(str).str.zfill(6)
    cat = pts["tipo_hecho"].astype(str)
    cell10 = latlng_to_cells(pts["lat_hecho"].to_numpy(), pts["long_hecho"].to_numpy(), 10)
    cubes = []
    for res in (7, 8, 9, 10):
        c = pd.DataFrame({"cell": cells_to_parent(cell10, res), "day": day, "category": cat})
        g = c.groupby(["cell", "day", "category"]).size().reset_index(name="n")
        g.insert(0, "resolution", np.int8(res))
        cubes.append(g)
    cube_cell = pd.concat(cubes, ignore_index=True).astype({"cell": "uint64", "n": "int32"})
    cube_district = (pd.DataFrame({"ubigeo": ubigeo, "day": day, "category": cat})
                     .groupby(["ubigeo", "day", "category"]).size().reset_index(name="n").astype({"n": "int32"}))
    report = {"n_input": len(pts) + 7, "n_accepted": len(pts), "n_rejected": 7,
              "rejects_by_reason": {"bad_coordinate": 5, "bad_time": 2}}
    write_version(path, tables={"cube_cell": cube_cell, "cube_district": cube_district},
                  meta={"synthetic": True, "dataset": "test synthetic", "cube_resolutions": [7, 8, 9, 10],
                        "coverage": {"start": "2022-01-01", "end": "2025-12-31"}},
                  files={"ingest_report.json": orjson.dumps(report)})
    return path


@pytest.fixture(scope="session")
def views_store(tmp_path_factory, boundary_cache) -> Path:
    """A small synthetic store (about 40,000 incidents) for geo.views and the dashboard."""
    return build_views_store(tmp_path_factory.mktemp("views-store") / "store")


@pytest.fixture(scope="session")
def demo_districts(boundary_cache):
    """The demo area: 50 Lima/Callao (high detail) + 8 Sullana districts (GeoDataFrame, read-only)."""
    from geo.demo import default_districts

    return default_districts()


# --- sharing (export, embed, privacy): a small synthetic store built to hold small cells ---
from sharing_data import build_sharing_store, sharing_incidents  # noqa: E402


@pytest.fixture(scope="session")
def sharing_store(tmp_path_factory):
    """``(path, incidents)`` of the small sharing store (read-only)."""
    inc = sharing_incidents()
    return build_sharing_store(tmp_path_factory.mktemp("sharing") / "store", inc), inc


@pytest.fixture(scope="session")
def sharing_path(sharing_store):
    """The small sharing store's folder."""
    return sharing_store[0]


@pytest.fixture(scope="session")
def sharing_rows(sharing_store):
    """The small sharing store's incidents (pandas, read-only)."""
    return sharing_store[1]



# --- access (dashboard.auth): one official account and a browser-like login ---------------
_OFFICIAL = ("ana", "correct horse battery")


@pytest.fixture(scope="session")
def official_login() -> tuple[str, str]:
    """``(name, password)`` of the test official."""
    return _OFFICIAL


@pytest.fixture(scope="session")
def official_users():
    """``{"ana": User}`` with the password of :func:`official_login` (scrypt-hashed once)."""
    from dashboard.auth import hash_password, parse_users_env

    return parse_users_env(f"{_OFFICIAL[0]}:{hash_password(_OFFICIAL[1])}")


def _log_in(client, name: str = _OFFICIAL[0], password: str = _OFFICIAL[1], **form):
    """POST the login form as a browser does (CSRF token read from the form); the response."""
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r"name='csrf' value='([^']+)'", page).group(1)
    return client.post("/login", data={"csrf": token, "username": name, "password": password, **form})


@pytest.fixture
def log_in():
    """``log_in(client, name=..., password=..., **form)``: sign a Flask test client in."""
    return _log_in


# --- security (sessions): no test keeps sessions in a developer's own config folder -------
@pytest.fixture(scope="session", autouse=True)
def session_config_dir(tmp_path_factory):
    """``HEXWATCH_CONFIG_DIR`` for the session (where the live-session database and the
    session key are kept unless a test names its own), unless already set."""
    if os.environ.get("HEXWATCH_CONFIG_DIR"):
        yield Path(os.environ["HEXWATCH_CONFIG_DIR"])
        return
    path = tmp_path_factory.mktemp("hexwatch-config")
    patch = pytest.MonkeyPatch()
    patch.setenv("HEXWATCH_CONFIG_DIR", str(path))
    yield path
    patch.undo()
