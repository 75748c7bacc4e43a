"""The declarations registry: the bundled facts, the questions the analysis asks, and a bad file's messages."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cli import main
from geo.declarations import (COLUMNS, Declaration, Registry, as_date, default_path, end_date, format_decree_id,
                              normalise_decree_id)
from geo.errors import HexwatchError

LIMA = [f"1501{i:02d}" for i in range(1, 44)]
CALLAO = [f"0701{i:02d}" for i in range(1, 8)]
SULLANA = [f"2006{i:02d}" for i in range(1, 9)]
# Districts the registry names, their neighbours in code, and some it never touches.
POOL = LIMA + CALLAO + SULLANA + ["150201", "200101", "010101", "070201"]

HEADER = ",".join(COLUMNS)


def write_csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "declarations.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def row(decree_id: str, start: str, end: str = "", days: str = "", areas: str = "150132", extends: str = "",
        confirmed: str = "yes", published: str = "", source_url: str = "https://example.org/decree") -> str:
    return ",".join([decree_id, published, start, end, days, areas, "", extends, source_url, confirmed, ""])


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@pytest.fixture(scope="module")
def district_ubigeos(districts) -> list[str]:
    """The real district ubigeos (through conftest's boundary cache, which the CLI reads too)."""
    return districts["ubigeo"].tolist()


# --- the bundled registry -------------------------------------------------------------

def test_bundled_registry_validates_against_the_real_districts(registry, district_ubigeos):
    problems = registry.validate(known_ubigeos=district_ubigeos)
    assert [str(p) for p in problems if p.severity == "error"] == []
    # What the sources leave open is reported, not hidden: the 2025 gap and the 2023 addition.
    warned = {p.decree_id: p.message for p in problems}
    assert "gap of 30 days (2025-04-17 to 2025-05-16)" in warned["UNCONFIRMED-2025-05-17-LIMA-CALLAO"]
    assert "overlaps" in warned["UNCONFIRMED-2023-10-10-LIMA"]


def test_bundled_registry_keeps_a_source_for_every_confirmed_decree(registry):
    confirmed = [d for d in registry.declarations if d.confirmed]
    assert len(confirmed) == 9
    assert all(d.source_url.startswith("http") for d in confirmed)
    assert {d.decree_id for d in registry.declarations if not d.confirmed} == {
        "UNCONFIRMED-2023-10-10-LIMA", "UNCONFIRMED-2025-05-17-LIMA-CALLAO", "DS-083-2025-PCM", "DS-027-2026-PCM",
        "UNCONFIRMED-2026-01-19-TRUJILLO-VIRU", "UNCONFIRMED-2026-01-19-TUMBES-ZARUMILLA"}
    # Every row the 2026 press reports added names its source; an unconfirmed one says what is open.
    for d in registry.declarations:
        if d.start.year == 2026:
            assert d.source_url.startswith("https://")
            assert d.confirmed or "not" in d.notes


def test_registry_reaches_the_end_of_the_sidpol_record(registry):
    """The real counts run to April 2026: the registry says what held until then, and the
    2026 lapse (DS 006-2026-PCM not extended) is a gap, not a declared stretch."""
    spell = registry.spell("DS-006-2026-PCM")
    assert spell.spell_id == "DS-124-2025-PCM" and spell.end.isoformat() == "2026-02-18"
    assert registry.spell_on("150132", "2026-02-10").spell_id == "DS-124-2025-PCM"
    assert registry.spell_on("150132", "2026-02-22") is None
    loose = Registry.load(include_unconfirmed=True)
    assert loose.spell_on("070101", "2026-03-10").spell_id == "DS-027-2026-PCM"
    assert loose.spell_on("130101", "2026-02-01") is not None and registry.spell_on("130101", "2026-02-01") is None


@pytest.mark.parametrize("ubigeo, day, spell_id", [
    ("150132", "2023-10-15", "DS-105-2023-PCM"),
    ("150132", "2024-01-10", "DS-105-2023-PCM"),   # under the extension DS 126-2023-PCM
    ("150132", "2024-02-01", None),
    ("150132", "2023-09-19", None),                # published, not yet in force
    ("150132", "2023-09-20", "DS-105-2023-PCM"),
    ("150132", "2024-01-17", "DS-105-2023-PCM"),   # last day of DS 126, inclusive
    ("150132", "2024-01-18", None),
    ("150135", "2024-10-01", "DS-100-2024-PCM"),
    ("150135", "2025-01-10", "DS-100-2024-PCM"),   # last day of DS 129-2024-PCM (45 days)
    ("200601", "2023-10-15", "DS-105-2023-PCM"),
    ("070106", "2024-10-01", "DS-100-2024-PCM"),   # Ventanilla, named in DS 100-2024-PCM
    ("070101", "2024-10-01", None),                # the rest of Callao was not
    ("150101", "2025-03-20", "DS-035-2025-PCM"),   # Cercado de Lima through province 150100
    ("070107", "2025-04-16", "DS-035-2025-PCM"),   # Mi Perú through province 070100
    ("200601", "2025-03-20", None),                # province 150100 is not Sullana's
    ("150143", "2026-01-19", "DS-124-2025-PCM"),   # end of DS 140-2025-PCM
    ("150101", "2023-10-15", None),                # only an unconfirmed row covers it
    ("150132", "2025-05-20", None),                # idem (2025-05-17 extension)
])
def test_spell_on_answers_the_bundled_facts(registry, ubigeo, day, spell_id):
    spell = registry.spell_on(ubigeo, day)
    assert (spell.spell_id if spell else None) == spell_id


def test_lancones_is_never_under_ds_105(registry):
    spell = registry.spell("DS-105-2023-PCM")
    days = pd.date_range(spell.start - timedelta(days=5), spell.end + timedelta(days=5)).date
    assert not any(spell.covers("200604", d) for d in days)
    assert all(spell.covers("200605", d) for d in days if spell.start <= d <= spell.end)


def test_spell_accepts_any_spelling_and_knows_its_decrees(registry):
    for spelling in ("DS 105-2023-PCM", "ds-105-2023-pcm", "D.S. N° 105-2023-PCM", "DS-126-2023-PCM"):
        assert registry.spell(spelling).spell_id == "DS-105-2023-PCM"
    s = registry.spell("ds 105-2023-pcm")
    assert s.decree_ids == ("DS-105-2023-PCM", "DS-126-2023-PCM")
    assert (s.start, s.end, s.confirmed, s.name) == (date(2023, 9, 20), date(2024, 1, 17), True, "DS 105-2023-PCM")
    assert [(p.start, p.end, p.decree_id) for p in s.periods] == [
        (date(2023, 9, 20), date(2023, 11, 18), "DS-105-2023-PCM"), (date(2023, 11, 19), date(2024, 1, 17), "DS-126-2023-PCM")]
    with pytest.raises(HexwatchError, match="no spell DS-999-2023-PCM"):
        registry.spell("DS 999-2023-PCM")
    with pytest.raises(HexwatchError, match="include_unconfirmed=True"):
        registry.spell("DS 083-2025-PCM")


def test_confirmed_spells_span_exactly_the_confirmed_decrees(registry):
    assert [(s.spell_id, s.start, s.end) for s in registry.spells] == [
        ("DS-105-2023-PCM", date(2023, 9, 20), date(2024, 1, 17)),
        ("DS-100-2024-PCM", date(2024, 9, 28), date(2025, 1, 10)),
        ("DS-035-2025-PCM", date(2025, 3, 18), date(2025, 4, 16)),
        ("DS-124-2025-PCM", date(2025, 10, 22), date(2026, 2, 18)),  # with DS 006-2026-PCM
    ]


def test_unconfirmed_rows_join_only_on_request_and_are_marked():
    loose = Registry.load(include_unconfirmed=True)
    s = loose.spell_on("150101", "2023-10-15")
    assert s.spell_id == "DS-105-2023-PCM" and not s.confirmed
    assert s.decree_ids == ("DS-105-2023-PCM", "UNCONFIRMED-2023-10-10-LIMA", "DS-126-2023-PCM")
    assert [p.confirmed for p in s.periods] == [True, False, True]
    later = loose.spell("DS-035-2025-PCM")
    assert later.end == date(2025, 7, 15) and loose.spell_on("150132", "2025-05-20") is later
    assert loose.spell_on("150132", "2025-05-01") is None  # the gap the sources leave
    assert Registry.load().spell("DS-105-2023-PCM").ubigeos == frozenset(
        ["150132", "150135", "200601", "200602", "200603", "200605", "200606", "200607", "200608"])


def test_whole_provinces_expand_to_their_districts_given_a_district_list(registry, district_ubigeos):
    with pytest.raises(HexwatchError, match="districts="):
        _ = registry.spell("DS-035-2025-PCM").ubigeos
    reg = Registry.load(districts=district_ubigeos)
    assert reg.spell("DS-035-2025-PCM").ubigeos == frozenset(LIMA + CALLAO)
    declared = reg.declared_ubigeos("2025-03-20")
    assert sorted(declared) == sorted(LIMA + CALLAO)
    assert {s.spell_id for s in declared.values()} == {"DS-035-2025-PCM"}
    assert sorted(reg.declared_ubigeos(date(2023, 10, 15))) == ["150132", "150135", "200601", "200602", "200603",
                                                                "200605", "200606", "200607", "200608"]
    assert reg.declared_ubigeos("2024-02-01") == {}
    period_start, period_end, ubigeos, decree = reg.spell("DS-100-2024-PCM").periods[0]
    assert (period_start, decree, len(ubigeos)) == (date(2024, 9, 28), "DS-100-2024-PCM", 14)


# --- status_frame ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def frames(registry):
    loose = Registry.load(include_unconfirmed=True)
    span = ("2023-01-01", "2026-03-31")
    return {False: (registry, registry.status_frame(POOL, *span)), True: (loose, loose.status_frame(POOL, *span))}


def test_status_frame_has_the_documented_shape(frames):
    _, f = frames[False]
    assert list(f.columns) == ["ubigeo", "day", "spell_id"]
    assert f["day"].dtype == "datetime64[s]"
    assert not f.duplicated(["ubigeo", "day"]).any()
    assert f.equals(f.sort_values(["ubigeo", "day"]).reset_index(drop=True))
    sjl = f[f["ubigeo"] == "150132"]
    # DS 105 + 126, DS 100 + 129, DS 035 (through province 150100), DS 124 + 132 + 140
    assert len(sjl) == 120 + 105 + 30 + 120  # DS 124-2025-PCM and its extensions run to 2026-02-18


@settings(max_examples=300, deadline=None)
@given(ubigeo=st.sampled_from(POOL), offset=st.integers(0, (date(2026, 3, 31) - date(2023, 1, 1)).days),
       include_unconfirmed=st.booleans())
def test_status_frame_agrees_with_spell_on(frames, ubigeo, offset, include_unconfirmed):
    reg, frame = frames[include_unconfirmed]
    day = date(2023, 1, 1) + timedelta(days=offset)
    hit = frame[(frame["ubigeo"] == ubigeo) & (frame["day"] == pd.Timestamp(day))]
    spell = reg.spell_on(ubigeo, day)
    assert hit["spell_id"].tolist() == ([spell.spell_id] if spell else [])


@st.composite
def random_registries(draw):
    """Registries with chains, province codes and overlapping spells (which validate warns of)."""
    areas = st.lists(st.sampled_from(["150132", "150135", "150101", "150100", "070106", "070100", "200601"]),
                     min_size=1, max_size=3, unique=True)
    decls: list[Declaration] = []
    for i in range(draw(st.integers(1, 6))):
        start = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 90)))
        parent = draw(st.sampled_from([None, *[d.decree_id for d in decls]]))
        if parent is not None and draw(st.booleans()):
            start = next(d for d in decls if d.decree_id == parent).end + timedelta(days=1)
        decls.append(Declaration(f"DS-{i + 1:03d}-2024-PCM", start, end_date(start, draw(st.integers(1, 40))),
                                 tuple(draw(areas)), extends=parent, confirmed=draw(st.booleans())))
    return Registry(decls, include_unconfirmed=draw(st.booleans()))


@settings(max_examples=60, deadline=None)
@given(reg=random_registries())
def test_status_frame_agrees_with_spell_on_for_any_registry(reg):
    pool = ["150132", "150135", "150101", "150143", "070106", "070101", "200601", "200604"]
    frame = reg.status_frame(pool, "2023-12-25", "2024-06-30")
    got = {(u, d.date()): s for u, d, s in frame.itertuples(index=False)}
    days = [date(2023, 12, 25) + timedelta(days=k) for k in range(189)]
    want = {(u, d): s.spell_id for u in pool for d in days if (s := reg.spell_on(u, d)) is not None}
    assert got == want


def test_status_frame_of_no_district_or_no_declared_day_is_empty(registry):
    assert registry.status_frame(["150132"], "2024-02-01", "2024-09-27").empty
    assert registry.status_frame([], "2023-01-01", "2026-01-01").empty
    with pytest.raises(HexwatchError, match="districts="):
        registry.status_frame(None, "2023-01-01", "2023-12-31")


# --- dates and ids ----------------------------------------------------------------------

def test_end_date_counts_the_start_day():
    assert end_date("2023-09-20", 60) == date(2023, 11, 18)
    assert end_date(date(2024, 11, 27), 45) == date(2025, 1, 10)
    assert end_date("2025-03-18", 30) == date(2025, 4, 16)
    assert end_date("2024-02-28", 2) == date(2024, 2, 29)
    with pytest.raises(HexwatchError):
        end_date("2024-01-01", 0)


@given(start=st.dates(date(2000, 1, 1), date(2040, 1, 1)), days=st.integers(1, 3650))
def test_end_date_and_days_are_inverse(start, days):
    d = Declaration("DS-001-2024-PCM", start, end_date(start, days), ("150132",))
    assert d.days == days


@given(number=st.integers(1, 999), year=st.integers(1990, 2040), sector=st.sampled_from(["PCM", "MININTER", "PCM"]),
       spelling=st.sampled_from(["DS {n}-{y}-{s}", "ds-{n}-{y}-{s}", "D.S. N° {n}-{y}-{s}", "Decreto Supremo Nº {n:03d}-{y}-{s}",
                                 "  ds {n:03d} - {y} - {s} "]))
def test_normalise_decree_id_is_spelling_blind_and_idempotent(number, year, sector, spelling):
    canonical = f"DS-{number:03d}-{year}-{sector}"
    text = spelling.format(n=number, y=year, s=sector)
    assert normalise_decree_id(text) == canonical
    assert normalise_decree_id(text.lower()) == canonical
    assert normalise_decree_id(canonical) == canonical
    assert normalise_decree_id(format_decree_id(canonical)) == canonical


def test_as_date_refuses_what_is_not_an_iso_date():
    assert as_date(np.datetime64("2023-09-20")) == date(2023, 9, 20)
    assert as_date(pd.Timestamp("2023-09-20 13:00")) == date(2023, 9, 20)
    for bad in ("20/09/2023", "2023-9-20", "2023-02-30", "", None):
        with pytest.raises(HexwatchError, match="YYYY-MM-DD"):
            as_date(bad)


def test_the_documented_examples_run():
    import doctest

    import geo.declarations

    result = doctest.testmod(geo.declarations)
    assert result.failed == 0 and result.attempted >= 15


# --- reading a file people edit -----------------------------------------------------------

def test_a_spreadsheet_save_reads_like_the_original(registry, tmp_path):
    """Excel in Spanish saves ';'-separated Windows-1252 text; the registry must read the same."""
    original = default_path().read_text(encoding="utf-8")
    path = tmp_path / "excel.csv"
    import csv
    import io

    rows = list(csv.reader(io.StringIO(original)))
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\r\n").writerows(rows + [[""] * len(COLUMNS)])
    path.write_bytes(buf.getvalue().encode("cp1252"))
    again = Registry.load(path)
    assert again.declarations == registry.declarations
    assert "San Martín de Porres" in again.declaration("ds 105-2023-pcm").area_names


def test_a_file_in_an_unknown_encoding_is_one_clear_line(tmp_path):
    path = tmp_path / "declarations.csv"
    path.write_bytes(HEADER.encode() + b"\nDS 1-2024-PCM,,2024-01-01,,10,150132,\x81\x8d,,,yes,\n")
    with pytest.raises(HexwatchError, match="neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8"):
        Registry.load(path)


def test_days_or_end_alone_is_enough_and_ids_are_normalised(tmp_path):
    path = write_csv(tmp_path, row("ds 1-2024-pcm", "2024-01-01", days="31"),
                     row("DS 2-2024-PCM", "2024-02-01", end="2024-02-29", extends="DS-001-2024-PCM"))
    reg = Registry.load(path)
    assert [(d.decree_id, d.end, d.days) for d in reg.declarations] == [
        ("DS-001-2024-PCM", date(2024, 1, 31), 31), ("DS-002-2024-PCM", date(2024, 2, 29), 29)]
    assert reg.validate() == []
    assert reg.spell("DS-002-2024-PCM").spell_id == "DS-001-2024-PCM"


def test_environment_variable_points_at_another_registry(tmp_path, monkeypatch):
    path = write_csv(tmp_path, row("DS 7-2024-PCM", "2024-03-01", days="10", areas="200604"))
    monkeypatch.setenv("HEXWATCH_DECLARATIONS", str(path))
    assert Registry.load().spell_on("200604", "2024-03-10").spell_id == "DS-007-2024-PCM"


@pytest.mark.parametrize("rows, header, message", [
    ([row("DS 1-2024-PCM", "2024-13-01", days="10")], HEADER, r"line 2 \(DS-001-2024-PCM\): start '2024-13-01' is not a date"),
    ([row("DS 1-2024-PCM", "01/02/2024", days="10")], HEADER, r"start '01/02/2024' is not a date; write YYYY-MM-DD"),
    ([row("DS 1-2024-PCM", "2024-01-10", end="2024-01-01")], HEADER, r"end 2024-01-01 is before start 2024-01-10"),
    ([row("DS 1-2024-PCM", "2023-09-20", end="2023-11-19", days="60")], HEADER,
     r"end 2023-11-19 does not match 60 days from 2023-09-20 \(that ends 2023-11-18"),
    ([row("DS 1-2024-PCM", "2024-01-01", days="10"), row("DS 2-2024-PCM", "2024-01-11", days="5", extends="DS 9-2024-PCM")],
     HEADER, r"line 3 \(DS-002-2024-PCM\): extends DS-009-2024-PCM, which is not in the registry"),
    ([row("DS 1-2024-PCM", "2024-01-01", days="10"), row("ds-001-2024-pcm", "2024-02-01", days="5")], HEADER,
     r"line 3: DS-001-2024-PCM is already on line 2"),
    ([row("DS 1-2024-PCM", "2024-01-01", days="10", extends="DS 2-2024-PCM"),
      row("DS 2-2024-PCM", "2024-01-11", days="5", extends="DS 1-2024-PCM")], HEADER, r"chain of extends returns to"),
    ([row("DS 1-2024-PCM", "2024-01-01", days="10", confirmed="maybe")], HEADER, r"confirmed is 'maybe'; write yes or no"),
    ([row("DS 1-2024-PCM", "2024-01-01", days="10", areas="")], HEADER, r"areas is blank"),
    ([row("DS 1-2024-PCM", "2024-01-01")], HEADER, r"give end \(YYYY-MM-DD\) or days"),
    ([row("DS 1-2024-PCM", "2024-01-01", days="10") + ",x"], HEADER + ",district", r"unknown column 'district'"),
    ([], "decree_id,end,days,areas,confirmed", r"missing column 'start'"),
])
def test_a_malformed_row_is_one_clear_line(tmp_path, rows, header, message):
    path = write_csv(tmp_path, *rows, header=header)
    with pytest.raises(HexwatchError, match=message) as info:
        Registry.load(path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("declarations.csv")


# --- validate ---------------------------------------------------------------------------------

def problems_of(tmp_path, *rows, known=None):
    return [(p.severity, p.decree_id, p.message) for p in Registry.load(write_csv(tmp_path, *rows)).validate(known)]


def test_validate_reports_unknown_and_malformed_areas(tmp_path):
    got = problems_of(tmp_path, row("DS 1-2024-PCM", "2024-01-01", days="10", areas="150132 150199 150900 15013x 150000"),
                      known=LIMA)
    assert [(s, m.split(":")[0]) for s, _, m in got] == [
        ("error", "unknown ubigeo 150199"), ("error", "unknown province code 150900"),
        ("error", "area '15013x' is not a 6-digit ubigeo or province code"), ("error", "150000 is a department code; list its provinces (e.g. 150100) or districts")]
    # Without a list of districts only the form can be checked.
    assert [m.split(":")[0] for *_, m in problems_of(tmp_path, row("DS 1-2024-PCM", "2024-01-01", days="10",
                                                                    areas="150199 15013x"))] == [
        "area '15013x' is not a 6-digit ubigeo or province code"]


@pytest.mark.parametrize("child_start, kind, days_off", [("2024-01-15", "gap", "4 days (2024-01-11 to 2024-01-14)"),
                                                         ("2024-01-08", "overlap", "overlaps it by 3 days")])
@pytest.mark.parametrize("confirmed, severity", [("yes", "error"), ("no", "warning")])
def test_validate_finds_a_gap_or_an_overlap_in_a_chain(tmp_path, child_start, kind, days_off, confirmed, severity):
    got = problems_of(tmp_path, row("DS 1-2024-PCM", "2024-01-01", days="10"),
                      row("DS 2-2024-PCM", child_start, days="10", extends="DS 1-2024-PCM", confirmed=confirmed))
    assert len(got) == 1
    s, decree, message = got[0]
    assert (s, decree) == (severity, "DS-002-2024-PCM")
    assert days_off in message and "starts the day after its parent ends (2024-01-11)" in message


def test_validate_warns_of_two_spells_on_one_district(tmp_path):
    got = problems_of(tmp_path, row("DS 1-2024-PCM", "2024-01-01", days="10", areas="150100"),
                      row("DS 2-2024-PCM", "2024-01-05", days="10", areas="150132 070106"),
                      row("DS 3-2024-PCM", "2024-01-05", days="10", areas="200601"))
    assert got == [("warning", "DS-002-2024-PCM", "spell DS-002-2024-PCM and spell DS-001-2024-PCM both cover 150132 "
                                                  "between 2024-01-05 and 2024-01-10; the later spell is used on those days")]
    reg = Registry.load(tmp_path / "declarations.csv")
    assert reg.spell_on("150132", "2024-01-07").spell_id == "DS-002-2024-PCM"
    assert reg.spell_on("150101", "2024-01-07").spell_id == "DS-001-2024-PCM"


def test_validate_asks_for_sources_and_sane_publication_dates(tmp_path):
    got = problems_of(tmp_path, row("DS 1-2024-PCM", "2024-01-01", days="10", source_url="", published="2024-01-03"))
    assert [(s, m.split(";")[0].split(",")[0]) for s, _, m in got] == [
        ("warning", "confirmed but has no source_url"), ("warning", "published 2024-01-03")]


# --- command line ---------------------------------------------------------------------------------

def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_validate_passes_on_the_bundled_registry(capsys, district_ubigeos):
    code, out, err = run_cli(capsys, "declarations", "validate")
    assert code == 0
    assert "ok: 15 decrees in 4 spells, 2 warnings" in out
    assert "error:" not in err and "boundaries not fetched" not in err


def test_cli_validate_fails_on_a_broken_chain(capsys, tmp_path):
    path = write_csv(tmp_path, row("DS 1-2024-PCM", "2024-01-01", days="10"),
                     row("DS 2-2024-PCM", "2024-01-20", days="10", extends="DS 1-2024-PCM"))
    code, out, err = run_cli(capsys, "declarations", "validate", "--registry", str(path))
    assert code == 2 and out == ""
    assert "error: 1 error(s) in declarations.csv; fix the rows named above" in err
    assert "error: DS-002-2024-PCM: extends DS-001-2024-PCM, which ends 2024-01-10, but starts 2024-01-20: leaves a gap" in err


def test_cli_status_names_the_spell(capsys):
    code, out, _ = run_cli(capsys, "declarations", "status", "150132", "2023-10-15")
    assert code == 0 and "150132 2023-10-15: under emergency, spell DS 105-2023-PCM" in out
    code, out, _ = run_cli(capsys, "declarations", "status", "150132", "2024-02-01")
    assert code == 0 and "not under emergency" in out
    code, out, _ = run_cli(capsys, "declarations", "status", "150101", "2023-10-15", "--unconfirmed")
    assert "decree in force UNCONFIRMED-2023-10-10-LIMA" in out and "includes unconfirmed rows" in out


def test_cli_list_shows_every_decree_and_its_spell(capsys):
    code, out, _ = run_cli(capsys, "declarations", "list")
    assert code == 0
    lines = out.splitlines()
    assert "spell DS 035-2025-PCM: 2025-03-18 to 2025-04-16 (2025-03-18 to 2025-07-15 with unconfirmed rows)" in lines
    ds126 = next(line for line in lines if line.strip().startswith("DS 126-2023-PCM"))
    assert ds126.split()[2:6] == ["2023-11-19", "2024-01-17", "60", "DS"]
    assert sum(line.startswith("  UNCONFIRMED-") or line.startswith("  DS ") for line in lines) == 15


@pytest.mark.parametrize("args, message", [
    (["declarations", "status", "150132", "2023-1-15"], "error: '2023-1-15' is not a date; write dates as YYYY-MM-DD"),
    (["declarations", "status", "15013", "2023-10-15"], "error: '15013' is not a district ubigeo"),
])
def test_cli_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith(message)


def test_console_script_reports_a_bad_date_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "geo.cli", "declarations", "status", "150132", "15-10-2023"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error: '15-10-2023' is not a date; write dates as YYYY-MM-DD, e.g. 2023-09-20" in proc.stderr.splitlines()
