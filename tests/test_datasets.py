"""`hexwatch data fetch`: mirror -> pinned URL -> sha256 -> git-ignored cache, and store layers' provenance."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
import tomllib
from pathlib import Path

import pytest

from geo import datasets
from geo.cli import main
from geo.datasets import DatasetError

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "sidpol" / "denuncias_sidpol_clean.parquet"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("HEXWATCH_DATA_CACHE", str(path))
    monkeypatch.delenv("HEXWATCH_DATA_MIRROR", raising=False)
    return path


@pytest.fixture
def real_mirror(tmp_path) -> Path:
    """A mirror folder made by the test, holding a copy of the real SIDPOL file."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    shutil.copyfile(REAL, folder / REAL.name)
    return folder


def _small_manifest(tmp_path: Path, data: bytes, url: str = "http://127.0.0.1:9/x.csv") -> dict:
    return {"datasets": {"toy": {"title": "toy", "file": "x.csv", "url": url, "sha256": hashlib.sha256(data).hexdigest(),
                                 "bytes": len(data), "licence": "CC0", "attribution": "Fuente: test", "layer": "district_month",
                                 "mirror_folder": "toy"}}}


def test_manifest_pins_the_sidpol_file_with_its_licence_and_attribution():
    ds = datasets.dataset("sidpol")
    assert ds.sha256 == "d2b8907c4a0b0eddbb7e9dfb1872cb646d661e2f366efa272abbe232a11f71e1" and ds.bytes == 1_442_935
    assert "/d7db2ab91420d8bf4bbc3fe758f8622ba8b6a170/" in ds.url  # pinned to a commit, not a branch
    assert ds.licence.startswith("ODC-By") and ds.attribution == "Fuente: Ministerio del Interior (MININTER), SIDPOL — datos abiertos"
    assert ds.layer == "district_month"
    assert dict(ds.ingest) == {"format": "counts", "ubigeo": "ubigeo", "year": "anio", "month": "mes",
                               "category": "tipo_hecho", "count": "cantidad"}
    with pytest.raises(DatasetError, match="no data set called 'sidpl'; known: sidpol"):
        datasets.dataset("sidpl")


def test_installed_wheel_carries_the_manifest():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["data/sources/manifest.toml"] == "geo/_data/sources_manifest.toml"


def test_cache_folder_is_git_ignored():
    ignored = (REPO / ".gitignore").read_text().split()
    assert "/data/sources/cache/" in ignored


def test_cli_fetch_from_the_right_mirror_verifies_and_caches(cache, real_mirror, capsys, tmp_path):
    main(["data", "fetch", "sidpol", "--mirror", str(real_mirror)])
    out = capsys.readouterr().out
    path = datasets.cache_path(datasets.dataset("sidpol"))
    assert path.is_file() and path.is_relative_to(cache)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == datasets.dataset("sidpol").sha256
    assert "1,442,935 bytes" in out and "verified" in out and "ODC-By" in out and "MININTER" in out
    # A second fetch is served from the verified cache: the (now empty) mirror is not read.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert datasets.fetch("sidpol", mirror=empty) == path


def test_cli_refuses_a_wrong_sha_in_one_line_and_caches_nothing(cache, real_mirror, capsys):
    victim = real_mirror / REAL.name
    data = bytearray(victim.read_bytes())
    data[len(data) // 3] ^= 0x01  # one bit: same size, different sha256
    victim.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as info:
        main(["data", "fetch", "sidpol", "--mirror", str(real_mirror)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: denuncias_sidpol_clean.parquet failed its sha256 check") and "\n" not in err
    assert "Traceback" not in err
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))


def test_cli_missing_file_in_the_named_mirror_says_where_to_put_it(cache, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("HEXWATCH_DATA_MIRROR", str(empty))  # named by the environment: strict too
    with pytest.raises(SystemExit) as info:
        main(["data", "fetch", "sidpol"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "denuncias_sidpol_clean.parquet is not in the mirror folder" in err and str(empty) in err and "\n" not in err


def test_mirror_may_hold_a_folder_per_data_set(cache, tmp_path):
    shared = tmp_path / "shared"
    (shared / "sidpol").mkdir(parents=True)
    shutil.copyfile(REAL, shared / "sidpol" / REAL.name)
    path = datasets.fetch("sidpol", mirror=shared)
    assert path.read_bytes() == REAL.read_bytes()


def test_no_mirror_and_no_network_is_one_line(cache, tmp_path, monkeypatch):
    data = b"ubigeo,anio\n150132,2023\n"
    manifest = _small_manifest(tmp_path, data)  # port 9 on loopback: connection refused
    monkeypatch.setattr(datasets, "default_mirror", lambda ds: (None, False))
    with pytest.raises(DatasetError) as info:
        datasets.fetch("toy", manifest=manifest)
    msg = str(info.value)
    assert msg.startswith("could not download x.csv (ConnectionError)") and "HEXWATCH_DATA_MIRROR" in msg and "\n" not in msg
    assert not cache.exists()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_is_verified_and_a_damaged_cache_is_fetched_again(cache, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    data = b"ubigeo,anio,mes\n150132,2023,9\n" * 100
    (served / "x.csv").write_bytes(data)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(datasets, "default_mirror", lambda ds: (None, False))
    try:
        manifest = _small_manifest(tmp_path, data, url=f"http://127.0.0.1:{server.server_address[1]}/x.csv")
        path = datasets.fetch("toy", manifest=manifest)
        assert path.read_bytes() == data
        path.write_bytes(data[:-1] + b"X")  # the cache rots: the next fetch notices and fetches again
        assert datasets.fetch("toy", manifest=manifest).read_bytes() == data
        (served / "x.csv").write_bytes(b"not the pinned file")
        with pytest.raises(DatasetError, match="failed its sha256 check"):
            datasets.fetch("toy", manifest=manifest, force=True)
        assert path.read_bytes() == data  # a refused download leaves the verified copy
    finally:
        server.shutdown()
        server.server_close()


def test_layers_say_which_part_of_a_store_is_real():
    real = datasets.layer_entry(datasets.dataset("sidpol"))
    meta = {"synthetic": True, "dataset": "demo", "layers": {"points": datasets.synthetic_layer("demo points"),
                                                             "district_month": real}}
    layers = datasets.store_layers(meta)
    assert layers["points"]["synthetic"] is True and layers["district_month"]["synthetic"] is False
    assert layers["district_month"]["attribution"].startswith("Fuente: Ministerio del Interior")
    # A store from before layers were recorded: both layers take the store-wide flag.
    old = datasets.store_layers({"synthetic": False, "dataset": "mine"})
    assert [v["synthetic"] for v in old.values()] == [False, False] and old["points"]["title"] == "mine"
    assert datasets.layer_of_table("cube_cell") == "points" and datasets.layer_of_table("district_month") == "district_month"
