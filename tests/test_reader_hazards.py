"""Silent data problems in CSV files become rejects with reasons (issue 14, item 8): mixed
encodings, an unclosed quote, a repeated header, one huge field, and rejects CSVs that a
spreadsheet would run as formulas."""

from __future__ import annotations

import csv

import pytest

from geo.errors import HexwatchError
from geo.incidents import read_points
from geo.ingest import ingest_file

COLUMNS = {"lat": "lat", "lon": "lon", "time": "t", "category": "cat"}
HEADER = b"t,lat,lon,cat\n"


def _read(path):
    return read_points(path, lat="lat", lon="lon", time="t", category="cat")


def test_a_file_mixing_utf8_and_latin1_keeps_one_category(tmp_path):
    # Two exports pasted together: the first half UTF-8, the second Windows-1252.
    utf8 = "".join(f"2023-09-{d:02d} 10:00,-12.05,-77.04,Extorsión\n" for d in range(1, 11)).encode("utf-8")
    latin = "".join(f"2023-10-{d:02d} 10:00,-12.05,-77.04,Extorsión\n" for d in range(1, 11)).encode("cp1252")
    p = tmp_path / "mixed.csv"
    p.write_bytes(HEADER + utf8 + latin + "2023-11-01 10:00,-12.05,-77.04,Peñalolén \n".encode("utf-8"))
    parsed = _read(p)
    assert parsed.n_input == 21 and len(parsed.accepted) == 21
    assert sorted(set(parsed.accepted["category"])) == ["extorsión", "peñalolén"]
    report = ingest_file(p, tmp_path / "s", kind="points", columns=COLUMNS, boundaries=False, progress=False)
    assert any("10 lines in Windows-1252" in n for n in report.notes), report.notes


def test_an_unclosed_quote_does_not_swallow_the_next_lines_silently(tmp_path):
    p = tmp_path / "quote.csv"
    p.write_bytes(HEADER + b'2023-09-21 10:00,-12.05,-77.04,Robo\n'
                           b'2023-09-21 11:00,-12.06,-77.04,"Hurto\n'
                           b'2023-09-21 12:00,-12.07,-77.04,Robo\n'
                           b'2023-09-21 13:00,-12.08,-77.04,Robo\n')
    parsed = _read(p)
    assert parsed.n_input == 4  # every line of the file is a row, accepted or rejected
    assert len(parsed.accepted) == 1 and parsed.accepted["category"].tolist() == ["robo"]
    rejects = dict(zip(parsed.rejects["row_number"], parsed.rejects["detail"]))
    assert sorted(rejects) == [2, 3, 4] and set(parsed.rejects["reason"]) == {"malformed_row"}
    assert "quote opened in column 'cat' is not closed" in rejects[2] and "2 lines after it" in rejects[2]
    assert rejects[3] == rejects[4] == "read into row 2 by its unclosed quote"
    assert "12:00" in parsed.rejects.loc[parsed.rejects["row_number"] == 3, "raw"].iloc[0]


def test_a_legitimate_multiline_value_is_kept(tmp_path):
    p = tmp_path / "multi.csv"
    p.write_bytes(b"t,lat,lon,cat,notes\n2023-09-21 10:00,-12.05,-77.04,Robo,\"two\nlines\"\n"
                  b"2023-09-21 11:00,-12.06,-77.04,Robo,x\n")
    parsed = _read(p)
    assert parsed.n_input == 2 and len(parsed.accepted) == 2


def test_a_repeated_header_is_a_one_line_error(tmp_path):
    p = tmp_path / "twice.csv"
    p.write_bytes(b"t,lat,lat,cat\n2023-09-21 10:00,-12.05,-77.04,Robo\n")
    with pytest.raises(HexwatchError) as info:
        read_points(p, lat="lat", lon="lat", time="t", category="cat")
    message = str(info.value)
    assert "\n" not in message and "two columns named 'lat'" in message and "columns 2 and 3" in message


def test_one_huge_field_rejects_its_row_not_the_file(tmp_path):
    p = tmp_path / "huge.csv"
    p.write_bytes(HEADER + b"2023-09-21 10:00,-12.05,-77.04,Robo\n"
                  + b"2023-09-21 11:00,-12.06,-77.04," + b"A" * 3_000_000 + b"\n"
                  + b"2023-09-21 12:00,-12.07,-77.04,Hurto\n")
    parsed = _read(p)
    assert parsed.n_input == 3 and parsed.accepted["category"].tolist() == ["robo", "hurto"]
    (reason, detail, row), = parsed.rejects[["reason", "detail", "row_number"]].itertuples(index=False)
    assert (reason, row) == ("malformed_row", 2) and "field 'cat' holds 3,000,000 bytes" in detail
    assert len(parsed.rejects["raw"].iloc[0]) < 1000  # the reject keeps a sample, not the 3 MB


def test_the_rejects_csv_cannot_start_a_cell_with_a_formula(tmp_path):
    p = tmp_path / "=HYPERLINK(evil).csv"
    p.write_bytes(HEADER + b"2023-09-21 10:00,x,-77.04,Robo\n" + b"@SUM(1),-12.05,-77.04,Robo\n"
                  + b"2023-09-21 10:00,-12.05,-77.04,\n")
    out = tmp_path / "rejects.csv"
    report = ingest_file(p, tmp_path / "s", kind="points", columns=COLUMNS, boundaries=False, progress=False,
                         rejects_path=out)
    assert report.n_rejected == 3
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    cells = [cell for row in rows[1:] for cell in row]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), cells
    assert rows[1][0] == "'=HYPERLINK(evil).csv"  # escaped, not dropped
