"""Upstream files pinned by URL and sha256: take them from a mirror folder or download them, then verify.

Real inputs that hexwatch may not redistribute (Peru's boundaries, the SIDPOL counts)
are described by a manifest entry: ``file`` (its name), ``url`` (pinned to an upstream
commit, so its bytes never change) and ``sha256``. :func:`obtain` returns the verified
bytes of one entry, from a mirror folder when it holds the file, else from the URL;
nothing unverified is ever handed back. :mod:`geo.boundaries` and :mod:`geo.datasets`
share this path, each with its own error class and manifest named in the messages.

>>> import hashlib, tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "a.txt").write_bytes(b"hello")
>>> src = {"file": "a.txt", "url": "https://example.invalid/a.txt", "sha256": hashlib.sha256(b"hello").hexdigest()}
>>> obtain(src, d, strict=True)
b'hello'
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from geo.errors import HexwatchError

#: The project root of a source checkout (where ``pyproject.toml`` is), whether or not it is one.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def checkout_root(marker: str) -> Path | None:
    """The project root when running from a source checkout holding ``marker`` (a path
    relative to the root, e.g. ``data/boundaries/manifest.toml``), else ``None`` (a wheel)."""
    if (PACKAGE_ROOT / "pyproject.toml").is_file() and (PACKAGE_ROOT / marker).is_file():
        return PACKAGE_ROOT
    return None


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def verified(data: bytes, src: Mapping[str, Any], where: str, *, error: type[HexwatchError] = HexwatchError) -> bytes:
    """``data`` if its sha256 is the entry's, else ``error`` (one line) naming ``where`` it came from."""
    digest = sha256_hex(data)
    if digest != src["sha256"]:
        raise error(f"{src['file']} failed its sha256 check (got {digest[:12]}..., expected {src['sha256'][:12]}...) "
                    f"at {where}: it is damaged or not the pinned upstream version; get a fresh copy of {src['url']}")
    return data


def download(src: Mapping[str, Any], *, error: type[HexwatchError] = HexwatchError, mirror_hint: str = "--mirror DIR",
             timeout_s: float = 120.0) -> bytes:
    """The bytes at the entry's ``url`` (not verified yet); ``error`` when the network fails."""
    import requests

    try:
        response = requests.get(src["url"], timeout=timeout_s)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise error(f"could not download {src['file']} ({type(exc).__name__}); check the network "
                    f"or pass {mirror_hint} with the file in it") from None
    return response.content


def find_in_mirror(src: Mapping[str, Any], mirror: Path, subfolders: Iterable[str] = ()) -> Path | None:
    """Where ``mirror`` holds the entry's file: ``mirror/file`` or ``mirror/<subfolder>/file``."""
    for folder in (mirror, *(mirror / s for s in subfolders)):
        path = folder / src["file"]
        if path.is_file():
            return path
    return None


def obtain(src: Mapping[str, Any], mirror: Path | None, *, strict: bool, error: type[HexwatchError] = HexwatchError,
           manifest: str = "the manifest", mirror_hint: str = "--mirror DIR", subfolders: Iterable[str] = ()) -> bytes:
    """The verified bytes of one manifest entry, from ``mirror`` or the network.

    A mirror holding the file is used (and a damaged copy there is an error, never a
    reason to download instead). ``strict`` (the user named the mirror): a mirror
    without the file is an error rather than a fallback to the network. Every failure
    is one ``error`` line saying what to do.
    """
    if mirror is not None:
        path = find_in_mirror(src, Path(mirror), subfolders)
        if path is not None:
            return verified(path.read_bytes(), src, str(path), error=error)
        if strict:
            raise error(f"{src['file']} is not in the mirror folder {mirror}; put the upstream file there "
                        f"(see {manifest}) or point {mirror_hint} elsewhere")
    return verified(download(src, error=error, mirror_hint=mirror_hint), src, src["url"], error=error)


def env_path(name: str) -> Path | None:
    """``$name`` as a path, or ``None`` when unset or empty."""
    value = os.environ.get(name)
    return Path(value) if value else None
