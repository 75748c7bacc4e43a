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


@pytest.fixture(scope="session")
def demo_districts(boundary_cache):
    """The demo area: 50 Lima/Callao (high detail) + 8 Sullana districts (GeoDataFrame, read-only)."""
    from geo.demo import default_districts

    return default_districts()
