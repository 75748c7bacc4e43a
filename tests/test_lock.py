"""The dependency lock (``requirements.lock``) is what ``dev.sh`` installs: it must
pin every dependency that ``pyproject.toml`` declares (main, ``test`` and ``bench``
extras) at a version inside the declared range, each with its sha256."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import REPO

LOCKED_EXTRAS = ("test", "bench")


def _lock() -> dict[str, tuple[Version, int]]:
    text = (REPO / "requirements.lock").read_text()
    pins: dict[str, tuple[Version, int]] = {}
    # One entry: "name==version \" then its "--hash=sha256:..." lines.
    for m in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})*)", text, re.M):
        pins[canonicalize_name(m.group(1))] = (Version(m.group(2)), m.group(3).count("--hash=sha256:"))
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in LOCKED_EXTRAS:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"python_version": "3.11", "sys_platform": "linux"})]


def test_every_declared_dependency_is_locked_inside_its_range_with_hashes():
    pins = _lock()
    assert len(pins) > 50, "the lock looks truncated"
    problems = []
    for req in _declared():
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name}: not in requirements.lock")
            continue
        version, n_hashes = pins[name]
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: locked {version}, pyproject wants {req.specifier}")
        if n_hashes == 0:
            problems.append(f"{req.name}: no sha256 in the lock")
    assert not problems, "regenerate the lock (README, 'Dependencies'): " + "; ".join(problems)


def test_every_locked_package_has_a_hash():
    text = (REPO / "requirements.lock").read_text()
    entries = re.findall(r"^[A-Za-z0-9._-]+==\S+", text, re.M)
    assert len(entries) == len(_lock()), "a pinned package in requirements.lock has no --hash (pip --require-hashes would refuse it)"
