"""District-period counts tables (``--format counts`` and the SIDPOL presets): every row and
every event accepted or rejected with a reason, whatever the layout of the release.

The tables here are SYNTHETIC, shaped like Peru's SIDPOL record: districts from ~30 to
~6,000 reports a month, months with no report of a type absent (never zero rows), a
district whose series starts mid-way, and categories with accents.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geo.errors import HexwatchError
from geo.incidents import REJECT_REASONS, detect_kind, parse_counts, parse_period, read_counts, read_sidpol
from geo.ingest import ingest_file
from geo.store import Store

CATEGORIES = [("Hurto", 0.38), ("Robo", 0.22), ("Estafa", 0.14), ("Violencia Contra La Mujer E Integrantes", 0.16),
              ("Extorsión", 0.04), ("Otros", 0.05), ("Secuestro", 0.01)]
MONTHS_ES = ["Enero", "Febrero", "Marzo", "Abril", "Mayo", "Junio", "Julio", "Agosto", "Setiembre", "Octubre",
             "Noviembre", "Diciembre"]


def sidpol_like(seed: int = 7) -> pd.DataFrame:
    """Long district-month-type counts: ubigeo, year, month, category, n (zeros left out)."""
    rng = np.random.default_rng(seed)
    # Monthly sizes from a rural district (~30) to San Juan de Lurigancho (~3,000) and beyond.
    districts = {"150132": 3000, "150135": 1700, "150101": 6000, "070101": 900, "200601": 260, "200602": 45,
                 "200605": 30, "010202": 35, "080101": 420, "150143": 150}
    rows = []
    for u, size in districts.items():
        start = 2021 * 12 + 6 if u == "150143" else 2021 * 12  # one series starts in July 2021
        for ym in range(start, 2024 * 12):
            season = 1 + 0.1 * math.sin(2 * math.pi * (ym % 12) / 12)
            for cat, share in CATEGORIES:
                n = rng.negative_binomial(20, 20 / (20 + size * share * season))
                if n > 0:  # months with no report of a type are absent, as in SIDPOL
                    rows.append((u, ym // 12, ym % 12 + 1, cat, int(n)))
    return pd.DataFrame(rows, columns=["ubigeo", "year", "month", "category", "n"])


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return sidpol_like()


def _expected(truth: pd.DataFrame) -> pd.DataFrame:
    t = truth.assign(category=truth["category"].str.lower())
    return t.sort_values(["ubigeo", "year", "month", "category"]).reset_index(drop=True)


def _stored(store: Path, table: str = "district_month") -> pd.DataFrame:
    dm = Store.open(store).read(table)
    keys = [c for c in ("ubigeo", "year", "month", "category") if c in dm.columns]
    return dm.astype({"year": int, **({"month": int} if "month" in dm else {}), "n": int}).sort_values(keys) \
        .reset_index(drop=True)


def _adds_up(report) -> None:
    assert report.n_accepted + report.n_rejected == report.n_input
    assert report.n_events_accepted + report.n_events_rejected == report.n_events_input
    assert sum(report.events_rejected_by_reason.values()) == report.n_events_rejected
    assert set(report.rejects_by_reason) <= set(REJECT_REASONS)


# --------------------------------------------------------------------------- layouts


def write_upstream_csv(truth: pd.DataFrame, path: Path) -> None:
    """SIDPOL's own CSV: upper-case names, ubigeo as an integer, UTF-8 with BOM."""
    out = pd.DataFrame({"ANIO": truth["year"], "MES": truth["month"], "DPTO_HECHO_NEW": "LIMA METROPOLITANA",
                        "PROV_HECHO": "LIMA", "DIST_HECHO": "X", "UBIGEO_HECHO": truth["ubigeo"].astype(int),
                        "P_MODALIDADES": truth["category"], "cantidad": truth["n"]})
    path.write_bytes(out.to_csv(index=False).encode("utf-8-sig"))


def write_clean_parquet(truth: pd.DataFrame, path: Path, *, broken_row: bool = True) -> None:
    """The cleaned release's layout: text columns, the ubigeo without its leading zero, one broken year."""
    out = pd.DataFrame({"anio": truth["year"].astype(str), "mes": truth["month"].astype(str),
                        "departamento": "LIMA METROPOLITANA", "provincia": "Lima", "distrito": "X",
                        "ubigeo": truth["ubigeo"].str.lstrip("0"), "tipo_hecho": truth["category"],
                        "cantidad": truth["n"].astype("int64")})
    if broken_row:
        out.loc[len(out)] = ['c"2018"', "1", "AMAZONAS", "Bagua", "Aramango", "10202", "Otros", 4]
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False), path)


def write_spreadsheet_csv(truth: pd.DataFrame, path: Path) -> None:
    """A spreadsheet release: Latin-1, semicolons, accented headers with spaces, month names,
    ubigeo with its zero as text, and counts with a thousands point (1.303)."""
    head = "Año;Mes;Código UBIGEO;Distrito;Tipo de hecho;N° de denuncias\r\n"
    lines = [f"{y};{MONTHS_ES[m - 1]};{u};Distrito {u};{c};{n:,}".replace(",", ".") + "\r\n"
             for u, y, m, c, n in truth.itertuples(index=False)]
    path.write_bytes((head + "".join(lines)).encode("latin-1"))


def write_date_per_row_csv(truth: pd.DataFrame, path: Path) -> None:
    """One period column as the first day of the month (dd/mm/yyyy), tab-separated."""
    lines = [f"{u}\t01/{m:02d}/{y}\t{c}\t{n}\n" for u, y, m, c, n in truth.itertuples(index=False)]
    path.write_text("ubigeo\tfecha\tdelito\ttotal\n" + "".join(lines), encoding="utf-8")


def test_every_layout_of_the_same_record_ingests_the_same(tmp_path, truth):
    expected = _expected(truth)
    events = int(truth["n"].sum())
    assert truth.groupby("ubigeo")["n"].sum().div(36).between(25, 7000).all()  # the fixture looks like the record

    write_upstream_csv(truth, tmp_path / "sidpol.csv")
    write_clean_parquet(truth, tmp_path / "clean.parquet")
    write_spreadsheet_csv(truth, tmp_path / "planilla.csv")
    write_date_per_row_csv(truth, tmp_path / "por_fecha.tsv")
    runs = {
        "upstream, auto": (tmp_path / "sidpol.csv", "auto", None),
        "clean, auto": (tmp_path / "clean.parquet", "auto", None),
        "clean, named": (tmp_path / "clean.parquet", "counts",
                         {"ubigeo": "ubigeo", "year": "anio", "month": "mes", "category": "tipo_hecho", "count": "cantidad"}),
        "spreadsheet": (tmp_path / "planilla.csv", "counts", {"ubigeo": "Código UBIGEO", "year": "año", "month": "MES",
                                                              "category": "tipo de hecho", "count": "N° de denuncias"}),
        "date per row": (tmp_path / "por_fecha.tsv", "counts",
                         {"ubigeo": "ubigeo", "date": "fecha", "category": "delito", "count": "total"}),
    }
    for name, (path, kind, columns) in runs.items():
        store = tmp_path / name.replace(" ", "_").replace(",", "")
        report = ingest_file(path, store, kind=kind, columns=columns, boundaries=False, progress=False)
        _adds_up(report)
        broken = path.suffix == ".parquet"
        assert report.n_input == len(truth) + broken, name
        assert report.n_accepted == len(truth), name
        assert report.n_events_accepted == events and report.n_events_input == events + 4 * broken, name
        if broken:
            assert report.rejects_by_reason == {"bad_period": 1} and report.events_rejected_by_reason == {"bad_period": 4}
        pd.testing.assert_frame_equal(_stored(store), expected, check_dtype=False, obj=name)
    assert "read as cp1252" in " ".join(ingest_file(tmp_path / "planilla.csv", tmp_path / "again", kind="counts",
                                                    columns=runs["spreadsheet"][2], boundaries=False,
                                                    progress=False).notes)


def test_the_broken_row_of_the_clean_release_is_rejected_with_its_reason(tmp_path, truth):
    write_clean_parquet(truth.head(50), tmp_path / "clean.parquet")
    parsed = parse_counts(tmp_path / "clean.parquet", {"ubigeo": "ubigeo", "year": "anio", "month": "mes",
                                                       "category": "tipo_hecho", "count": "cantidad"})
    bad = parsed.rejects.to_dicts()
    assert len(bad) == 1 and bad[0]["reason"] == "bad_period" and bad[0]["row_number"] == 51
    assert "c\"2018\"" in bad[0]["detail"] and bad[0]["events"] == 4
    assert detect_kind(tmp_path / "clean.parquet") == "sidpol"


# --------------------------------------------------------------------------- reasons


def test_each_problem_is_a_reject_with_its_reason_and_events_add_up(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(
        "ubigeo,anio,mes,tipo,n\n"
        "150132,2023,9,Robo,1200\n"      # 1 ok
        "150132,2023,9,Robo,1200\n"      # 2 duplicate_row (same count as row 1)
        "150135,2023,9,Robo,50\n"        # 3 conflicting_count
        "150135,2023,9,Robo,55\n"        # 4 conflicting_count
        "150135,2023,13,Robo,5\n"        # 5 bad_period
        "150135,c\"2018\",1,Robo,4\n"    # 6 bad_period
        "999999,2023,9,Robo,7\n"         # 7 unknown_ubigeo
        "150135,2023,10,,3\n"            # 8 missing_category
        "150135,2023,10,Robo,-2\n"       # 9 bad_count
        "150135,2023,10,Robo,2.5\n"      # 10 bad_count
        "150135,2023,10,Hurto,\"1,303\"\n"  # 11 ok: thousands separator
        "150135,2023,11,Hurto,0\n",      # 12 ok: a zero is a count
        encoding="utf-8")
    cols = {"ubigeo": "ubigeo", "year": "anio", "month": "mes", "category": "tipo", "count": "n"}
    report = ingest_file(p, tmp_path / "s", kind="counts", columns=cols, boundaries=False, progress=False,
                         rejects_path=tmp_path / "rejects.csv")
    _adds_up(report)
    rejects = pd.read_csv(tmp_path / "rejects.csv")
    assert dict(zip(rejects["row_number"], rejects["reason"])) == {
        2: "duplicate_row", 3: "conflicting_count", 4: "conflicting_count", 5: "bad_period", 6: "bad_period",
        7: "unknown_ubigeo", 8: "missing_category", 9: "bad_count", 10: "bad_count"}
    assert report.n_events_accepted == 1200 + 1303
    # Counts of -2 and 2.5 are no events: their rows are rejected, carrying none.
    assert report.events_rejected_by_reason == {"duplicate_row": 1200, "conflicting_count": 105, "bad_period": 9,
                                                "unknown_ubigeo": 7, "missing_category": 3, "bad_count": 0}
    assert report.n_events_input == 1200 * 2 + 1303 + 105 + 9 + 7 + 3
    detail = dict(zip(rejects["row_number"], rejects["detail"]))
    assert detail[2] == "150132 2023-09 robo repeats row 1"
    assert "different counts (50, 55) on rows 3, 4" in detail[3]
    assert "events (sum of counts): 2,503 added" in report.summary()


def test_unknown_ubigeos_are_those_the_boundaries_do_not_hold(tmp_path, truth):
    write_clean_parquet(truth, tmp_path / "clean.parquet", broken_row=False)
    parsed = parse_counts(tmp_path / "clean.parquet", {"ubigeo": "ubigeo", "year": "anio", "month": "mes",
                                                       "category": "tipo_hecho", "count": "cantidad"},
                          known_ubigeos=set(truth["ubigeo"]) - {"200605"})
    unknown = parsed.rejects.filter(pl.col("reason") == "unknown_ubigeo")
    assert unknown.height == (truth["ubigeo"] == "200605").sum()
    assert unknown["events"].sum() == truth.loc[truth["ubigeo"] == "200605", "n"].sum()


def test_a_store_that_holds_a_district_month_keeps_it_and_counts_the_repeat(tmp_path, truth):
    write_upstream_csv(truth.iloc[:400], tmp_path / "a.csv")
    write_upstream_csv(truth.iloc[300:700], tmp_path / "b.csv")  # a later release overlapping the first
    ingest_file(tmp_path / "a.csv", tmp_path / "s", boundaries=False, progress=False)
    report = ingest_file(tmp_path / "b.csv", tmp_path / "s", boundaries=False, progress=False)
    _adds_up(report)
    assert report.n_already_present == 100 and report.n_accepted == 300
    assert report.events_rejected_by_reason == {"already_in_store": int(truth.iloc[300:400]["n"].sum())}
    assert _stored(tmp_path / "s")["n"].sum() == truth.iloc[:700]["n"].sum()


# --------------------------------------------------------------------------- periods


def test_period_column_forms():
    got = parse_period(["2023", "2023-09", "2023/9", "202309", "09/2023", "Set-2023", "setiembre de 2023",
                        "SEP 2023", "21/09/2023", "2023-09-21 10:00", "", "x", "2023-13"]).rows()
    assert got == [(2023, None, None, "year")] + [(2023, 9, None, "month")] * 7 + [(2023, 9, 21, "day")] * 2 \
        + [(None, None, None, None)] * 2 + [(2023, 13, None, "month")]  # (month 13 is refused by the reader)
    # A column of dates that are all the 1st is a column of months.
    assert parse_period(["01/09/2023", "01/10/2023"])["precision"].to_list() == ["month", "month"]
    assert parse_period(pl.Series([2023, 202309]))["precision"].to_list() == ["year", "month"]


def test_daily_counts_are_summed_into_months_and_repeated_days_rejected(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("ubigeo,dia,cat,n\n150132,2023-09-01,robo,10\n150132,2023-09-02,robo,5\n150132,2023-09-02,robo,6\n"
                 "150132,2023-10-15,robo,3\n")
    report = ingest_file(p, tmp_path / "s", kind="counts", boundaries=False, progress=False,
                         columns={"ubigeo": "ubigeo", "date": "dia", "category": "cat", "count": "n"})
    _adds_up(report)
    assert report.rejects_by_reason == {"conflicting_count": 2}
    assert _stored(tmp_path / "s")[["month", "n"]].values.tolist() == [[9, 10], [10, 3]]
    assert any("summed into months" in n for n in report.notes)


def test_yearly_counts_stay_out_of_the_monthly_table(tmp_path, truth):
    yearly = truth.groupby(["ubigeo", "year", "category"], as_index=False)["n"].sum()
    p = tmp_path / "y.csv"
    yearly.rename(columns={"year": "anio", "category": "tipo", "n": "total"}).to_csv(p, index=False)
    cols = {"ubigeo": "ubigeo", "year": "anio", "category": "tipo", "count": "total"}
    write_upstream_csv(truth, tmp_path / "monthly.csv")
    ingest_file(tmp_path / "monthly.csv", tmp_path / "s", boundaries=False, progress=False)
    report = ingest_file(p, tmp_path / "s", kind="counts", columns=cols, boundaries=False, progress=False)
    _adds_up(report)
    assert report.rows_by_precision == {"year": len(yearly)} and report.n_events_accepted == truth["n"].sum()
    assert "for yearly views only" in report.summary()
    s = Store.open(tmp_path / "s")
    assert s.read("district_month")["n"].sum() == truth["n"].sum()  # the months are untouched
    dy = s.read("district_year")
    assert list(dy.columns) == ["ubigeo", "year", "category", "n"] and dy["n"].sum() == truth["n"].sum()
    again = ingest_file(p, tmp_path / "s", kind="counts", columns=cols, boundaries=False, progress=False)
    assert again.n_already_present == len(yearly) and again.version is None


def test_column_options_are_checked_in_one_line(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("u,y,m,f,c,n\n150132,2023,9,2023-09,robo,3\n")
    base = {"ubigeo": "u", "category": "c", "count": "n"}
    for columns, message in [({**base, "year": "y", "date": "f"}, "not both"), ({**base, "month": "m"}, "--month needs"),
                             ({"ubigeo": "u", "year": "y", "category": "c"}, "--count"), ({**base}, "name the period"),
                             ({**base, "year": "nope"}, "has no column 'nope'")]:
        with pytest.raises(HexwatchError, match=message) as info:
            read_counts(p, **{k: v for k, v in columns.items()})
        assert "\n" not in str(info.value)
    with pytest.raises(HexwatchError, match="name the columns"):
        ingest_file(p, tmp_path / "s", kind="counts", boundaries=False, progress=False)


def test_cli_ingest_counts(tmp_path, truth, capsys):
    from geo.cli import main

    write_clean_parquet(truth, tmp_path / "clean.parquet")
    main(["ingest", str(tmp_path / "clean.parquet"), "--store", str(tmp_path / "s"), "--format", "counts",
              "--ubigeo", "ubigeo", "--year", "anio", "--month", "mes", "--category", "tipo_hecho", "--count", "cantidad",
              "--no-boundaries"])
    out = capsys.readouterr().out
    assert f"{len(truth) + 1:,} rows read: {len(truth):,} added, 1 rejected (bad_period 1)" in out
    assert f"{truth['n'].sum() + 4:,} events (sum of counts): {truth['n'].sum():,} added, 4 rejected" in out
    assert read_sidpol(tmp_path / "clean.parquet").accepted["n"].sum() == truth["n"].sum()


def test_a_counts_store_without_boundaries_is_analysed_with_peru_declarations(tmp_path, truth, capsys):
    """The real record ingested before any boundary was fetched (`--no-boundaries`) is
    still Peru's: its six-digit ubigeos get Peru's registry, so `analyze` needs no flag."""
    from geo.cli import main

    write_clean_parquet(truth, tmp_path / "clean.parquet")
    main(["ingest", str(tmp_path / "clean.parquet"), "--store", str(tmp_path / "s"), "--format", "counts",
          "--ubigeo", "ubigeo", "--year", "anio", "--month", "mes", "--category", "tipo_hecho", "--count", "cantidad",
          "--no-boundaries"])
    capsys.readouterr()
    main(["analyze", "--store", str(tmp_path / "s"), "--declaration", "DS-105-2023-PCM", "--json", str(tmp_path / "a.json")])
    result = orjson.loads((tmp_path / "a.json").read_bytes())
    assert result["source"] == "sidpol" and [a["area"] for a in result["areas"]][0] == "lima_callao"
    lima = result["areas"][0]
    assert set(lima["estimates"]["did"]["districts"]["treated"]) == {"150132", "150135"}
    # A city's counts (ids that are no ubigeos), also without boundaries: no declarations.
    city = truth.assign(ubigeo="N-" + truth["ubigeo"])
    city.to_csv(tmp_path / "city.csv", index=False)
    main(["ingest", str(tmp_path / "city.csv"), "--store", str(tmp_path / "c"), "--format", "counts",
          "--ubigeo", "ubigeo", "--year", "year", "--month", "month", "--category", "category", "--count", "n",
          "--no-boundaries"])
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--store", str(tmp_path / "c"), "--declaration", "DS-105-2023-PCM"])
    assert exc.value.code == 2 and "has no declarations" in capsys.readouterr().err
