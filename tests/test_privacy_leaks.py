"""Issue 14, items 1-3, as attacks: a tiny store holding the sensitive wordings a probe
found leaking (with a zero-width space, a hyphen, accents), its first and last incidents
and the only incident of a 16-day stretch each a sensitive one. Public output (exports,
provenance, embed, the dashboard's page, layout, callbacks list and "about the data"
panel) must name none of those wordings and no exact day of them, and say the store's
extent in months and its total as a range, from the published grid alone."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import create_app
from dashboard.access import AccessConfig
from dashboard.i18n import fmt_date, t
from dashboard.testing import response_values, update_request
from geo import privacy
from geo.export import view_data
from geo.h3index import cells_to_parent, latlng_to_cells
from geo.store import Store
from geo.viewspec import View
from sharing_data import build_sharing_store, sharing_districts

#: The wordings of issue 14 item 2 (real MININTER / SIDPOL wordings and evasions).
LEAKED = [
    "violencia contra las mujeres y los integrantes del grupo familiar",
    "agresiones en contra de las mujeres o integrantes del grupo familiar",
    "violencia-familiar",
    "proxenetismo",
    "acoso",
    "violencia psicologica",
    "maltrato infantil",
    "viol\u200bencia sexual",         # a zero-width space inside the word
    "VIOLACIÓN de la libertad sexual",  # accents, upper case
    "Violéncia Familiar",
    "Tocamientos indebidos",
    "Trata de personas",
]
#: A wording nobody reviewed: public output fails closed and leaves it out too.
UNREVIEWED = "Categoría nueva sin revisar"
PUBLIC = ("robo", "hurto")
FIRST_DAY, LAST_DAY, LONE_DAY = date(2023, 5, 20), date(2023, 12, 14), date(2023, 8, 12)
GAP = (date(2023, 8, 5), date(2023, 8, 20))  # no public incident in these days


def leak_incidents(seed: int = 11) -> pd.DataFrame:
    """Public incidents over June-November 2023 (none in GAP), plus one incident of each
    sensitive or unreviewed wording: on FIRST_DAY, LONE_DAY, LAST_DAY and in between."""
    rng = np.random.default_rng(seed)
    n = 6000
    days = np.datetime64("2023-06-01") + rng.integers(0, 183, n).astype("timedelta64[D]")
    days = days[(days < np.datetime64(GAP[0])) | (days > np.datetime64(GAP[1]))]
    n = len(days)
    lat, lon = rng.uniform(-12.06, -11.96, n), rng.uniform(-77.12, -76.94, n)
    cats = rng.choice(np.array(PUBLIC, dtype=object), n)
    special = [*LEAKED, UNREVIEWED]
    s_days = [FIRST_DAY, LONE_DAY, LAST_DAY] + [date(2023, 7, 1 + i) for i in range(len(special) - 3)]
    s_lat, s_lon = rng.uniform(-12.05, -11.97, len(special)), rng.uniform(-77.1, -76.95, len(special))
    all_days = np.concatenate([days, np.array(s_days, dtype="datetime64[D]")])
    all_lat, all_lon = np.concatenate([lat, s_lat]), np.concatenate([lon, s_lon])
    return pd.DataFrame({
        "incident_id": [f"l{i}" for i in range(len(all_days))], "time": all_days.astype("datetime64[ms]"),
        "day": all_days, "category": np.concatenate([cats, np.array(special, dtype=object)]), "subcategory": None,
        "lat": all_lat, "lon": all_lon, "cell": latlng_to_cells(all_lat, all_lon, 9),
        "ubigeo": np.where(all_lon > -77.02, "150132", "150135").astype(object), "source": "test"})


@pytest.fixture(scope="module")
def leak_store(tmp_path_factory):
    inc = leak_incidents()
    path = build_sharing_store(tmp_path_factory.mktemp("leaks") / "store", inc)
    # The store's own coverage is every category's: first and last day are sensitive ones.
    import orjson

    from geo.store import write_version

    report = {"source_file": "denuncias.csv", "n_input": len(inc), "n_accepted": len(inc), "n_rejected": 0,
              "rejects_by_reason": {}, "coverage": {"start": FIRST_DAY.isoformat(), "end": LAST_DAY.isoformat()},
              "started_at": "2023-12-15T08:00:00"}
    meta = Store.open(path).meta | {"coverage": {"start": FIRST_DAY.isoformat(), "end": LAST_DAY.isoformat()}}
    write_version(path, tables={}, meta=meta, files={"ingest_report.json": orjson.dumps(report)})
    return path, inc


@pytest.fixture(scope="module")
def app(leak_store):
    return create_app(leak_store[0], districts=sharing_districts(), access=AccessConfig(users={}, secret_key="k" * 40))


def norm(text: str) -> str:
    """An independent fold (not geo.privacy's): lower case, no accents, no invisible
    characters, every run of non-alphanumerics one space."""
    import unicodedata

    s = "".join(c for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
                if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return re.sub(r"[\W_]+", " ", s).strip()


def exact_days() -> list[str]:
    """Every way public output could write the sensitive incidents' days."""
    out = []
    for d in (FIRST_DAY, LAST_DAY, LONE_DAY):
        out += [d.isoformat(), fmt_date(d, "es"), fmt_date(d, "en"), d.strftime("%d/%m/%Y")]
    return out


def assert_clean(text: str, where: str) -> None:
    folded = norm(text)
    for wording in [*LEAKED, UNREVIEWED]:
        assert norm(wording) not in folded, f"{where} names {wording!r}"
    for day in exact_days():
        assert day not in text, f"{where} shows the exact day {day} of a sensitive incident"
    # Nor the gap list that gives a lone incident's day by subtraction.
    assert GAP[0].isoformat() not in text and "2023-08-11" not in text and "2023-08-13" not in text


# -- item 2: the matcher --------------------------------------------------------------------


def test_every_leaked_wording_and_an_unreviewed_one_is_kept_out_of_public_output():
    assert privacy.is_sensitive([*LEAKED, UNREVIEWED]).all()
    assert not privacy.is_sensitive(["ROBO", "Robo agravado", "hurto simple", "Extorsión", "ESTAFA", "Homicidio"]).any()
    # Evasions of the deny terms still fail closed: the public vocabulary must admit a wording.
    assert privacy.is_sensitive(["robo sexual", "r\u200bobo", "robo\u00adagravado contra la mujer", "v i o l e n c i a",
                                 "vi\u043elencia"]).tolist() == [True, False, True, True, True]


def test_other_cities_common_wordings_are_public_and_their_sensitive_ones_are_not():
    """A city outside Peru (English or Portuguese releases) gets its ordinary categories on
    the public map without a vocabulary of its own, and never its sensitive ones."""
    ordinary = ["burglary", "Vehicle theft", "THEFT FROM THE PERSON", "robbery", "assault", "Criminal damage and arson",
                "ROBO DE VEHICULO DE SERVICIO PARTICULAR", "Roubo de veículo", "Furto", "Anti-social behaviour"]
    sensitive = ["domestic violence", "Sexual assault", "RAPE", "child abuse", "Indecent exposure", "harassment",
                 "Human trafficking", "assault - domestic", "Stalking", "Estupro de vulnerável", "violência doméstica",
                 "Assault on a partner", "kidnapping", "VIOLENCIA FAMILIAR"]
    assert not privacy.is_sensitive(ordinary).any(), dict(zip(ordinary, privacy.is_sensitive(ordinary)))
    assert privacy.is_sensitive(sensitive).all(), dict(zip(sensitive, privacy.is_sensitive(sensitive)))


def test_the_vocabulary_file_is_configurable_and_fails_closed(tmp_path):
    extra = tmp_path / "vocabulary.toml"
    extra.write_text('[public]\nadmit = ["otros"]\nadmit_exact = ["violacion de domicilio"]\n'
                     '[sensitive]\ndeny = ["hurto agravado"]\n')
    v = privacy.Vocabulary.load(extra)
    assert v.is_public(["Otros", "Violación de domicilio", "hurto agravado", "hurto", "violacion sexual"]).tolist() == \
        [True, True, False, True, False]
    assert not privacy.Vocabulary.load().is_public(["Otros"])[0]  # the bundled one: not reviewed, not public
    bad = tmp_path / "bad.toml"
    bad.write_text('[public]\nallow = ["x"]\n')
    with pytest.raises(privacy.HexwatchError, match="may hold only"):
        privacy.Vocabulary.load(bad)
    env = {"HEXWATCH_PUBLIC_VOCABULARY": str(extra)}
    assert AccessConfig.from_env(env=env).grid.vocabulary.is_public(["otros"])[0]


# -- items 1 and 2: exports, provenance, embed ---------------------------------------------------


def test_public_exports_and_provenance_name_no_sensitive_wording_nor_its_days(leak_store, tmp_path):
    from geo.export import export_view

    store, inc = leak_store
    for view in (View(resolution=8), View(start=date(2023, 5, 1), end=date(2023, 12, 31), resolution=8)):
        for fmt in ("geojson", "csv"):
            paths = export_view(store, view, fmt, tmp_path / f"pub.{fmt}", public=True, districts=sharing_districts())
            text = "".join(p.read_text(encoding="utf-8") for p in paths)
            assert_clean(text, f"public {fmt} export")
    data = view_data(store, View(resolution=8), public=True, districts=sharing_districts())
    cov = data.provenance["store_coverage"]
    assert (cov["start_month"], cov["end_month"]) == ("2023-06", "2023-11")  # the published months only
    assert (data.view.start, data.view.end) == (date(2023, 6, 1), date(2023, 11, 30))
    official = view_data(store, View(resolution=8), districts=sharing_districts())
    assert official.provenance["store_coverage"] == {"start": "2023-05-20", "end": "2023-12-14"}
    for wording in LEAKED:
        with pytest.raises(privacy.HexwatchError, match="sensitive"):
            view_data(store, View(categories=(wording,), resolution=8), public=True, districts=sharing_districts())


def test_the_public_embed_names_no_sensitive_wording_nor_its_days(app):
    r = app.server.test_client().get("/embed?res=8")
    assert r.status_code == 200
    assert_clean(r.get_data(as_text=True), "/embed")
    r = app.server.test_client().get("/export?fmt=csv&res=8&part=provenance")
    assert_clean(r.get_data(as_text=True), "/export provenance")
    for wording in ("proxenetismo", "violencia-familiar", "maltrato infantil"):
        r = app.server.test_client().get(f"/export?fmt=csv&res=8&category={wording}")
        assert r.status_code == 400 and "sensitive" in r.get_data(as_text=True)


def test_grid_coverage_is_months_and_a_range_from_the_grid_alone(leak_store):
    from geo.export import public_coverage

    store, inc = leak_store
    grid = privacy.PublicGrid()
    cov = public_coverage(Store.open(store), grid)
    assert (cov["start"], cov["end"]) == ("2023-06-01", "2023-11-30")
    public = inc.loc[~privacy.is_sensitive(inc["category"])]
    assert cov["n_low"] <= len(public) <= cov["n_high"]
    # A function of the grid alone: a sensitive incident a month after the last public
    # one (the store's exact extent changes) changes nothing public.
    more = pd.concat([inc, inc.iloc[-1:].assign(day=np.datetime64("2024-01-09"), category="acoso")])
    cells = cells_to_parent(latlng_to_cells(more["lat"].to_numpy(), more["lon"].to_numpy(), 10), 8)  # as the cube
    pub = privacy.publish(pd.DataFrame({"cell": cells, "day": more["day"].to_numpy().astype("datetime64[D]"),
                                        "category": more["category"].to_numpy(), "n": 1}), grid)
    assert privacy.grid_coverage(pub, grid) == cov


# -- items 1 and 3: the dashboard's public page ---------------------------------------------------


def test_the_public_page_layout_and_callbacks_name_no_sensitive_wording_day_or_officials_section(app):
    anon = app.server.test_client()
    page = anon.get("/").get_data(as_text=True)
    config = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', page, re.S).group(1)
    assert "validation_layout" in config  # the renderer still validates callbacks
    for text, where in ((page, "/"), (anon.get("/_dash-layout").get_data(as_text=True), "/_dash-layout"),
                        (anon.get("/_dash-dependencies").get_data(as_text=True), "/_dash-dependencies")):
        assert_clean(text, where)
        # Trends, hot spots and the verdict are public sections now (published-grid totals,
        # ratios on public categories); their officials' parts, the exact district series
        # and table, the impact plots, are not on the public page.
        for official_only in ("impact-es-graph", "impact-sc-graph", "district-table", '"id":"points"', '"series-note"', '"series"',
                              "table-download"):
            assert official_only not in text, f"{where} names the officials' {official_only}"
    for category in PUBLIC:  # the page's config holds no data at all (the layout request brings it)
        assert f'"{category}"' not in config
    deps = anon.get("/_dash-dependencies").get_json()
    official_kinds = {getattr(spec.get("callback"), "access_kind", None) for spec in app.callback_map.values()}
    assert "series" in official_kinds and deps  # the app has official callbacks; the public list is not empty
    listed = {d["output"] for d in deps}
    for key, spec in app.callback_map.items():
        if getattr(spec.get("callback"), "access_kind", "map") not in ("map", "about"):
            assert key not in listed


def test_the_public_about_panel_gives_months_and_a_range_never_days_gaps_or_the_exact_total(app, leak_store):
    from geo.export import public_coverage

    store, inc = leak_store
    body = update_request(app, "about-body.children", {"lang.value": "en"}, "lang.value")
    texts = {}
    for lang in ("en", "es"):
        body["inputs"][0]["value"] = lang
        r = app.server.test_client().post("/_dash-update-component", json=body)
        texts[lang] = str(response_values(r.get_json())["about-body.children"])
        # (the panel's own note names the kinds of category left out, in general terms)
        assert_clean(texts[lang].replace(t("about.public_note", lang), ""), f"about panel ({lang})")
    assert "Jun 2023 – Nov 2023" in texts["en"] and "Runs of 7" not in texts["en"]
    public_total = int((~privacy.is_sensitive(inc["category"])).sum())
    cov = public_coverage(Store.open(store), privacy.PublicGrid())
    assert cov["n_low"] < cov["n_high"]  # some entries are suppressed: the total is a range
    assert f"{cov['n_low']:,}–{cov['n_high']:,}" in texts["en"]
    assert f"{len(inc):,}" not in texts["en"] and f"{public_total:,}" not in texts["en"]
    # The date pickers the public is offered span the published months, not the store's days.
    layout = app.server.test_client().get("/_dash-layout").get_data(as_text=True)
    assert '"2023-06-01"' in layout and '"2023-11-30"' in layout
