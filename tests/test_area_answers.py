"""An answer per area, on monthly panels that look like the real SIDPOL record.

The fixture is unlike the demo generator's uniform world: district sizes from 30 to
6,000 reports a month (lognormal), over-dispersed counts with seasonality and district
trends, a spell that starts on the 20th of a month and is extended, two big declared
districts in one area (Lima and Callao) and seven small ones in another (Sullana,
compared with the rest of Piura), and a later declaration that covers other districts.
"""

from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd
import pytest

from geo.analysis import METHODS, AnalysisResult, analyze, analyze_counts
from geo.analysis.all_declarations import all_declarations
from geo.analysis.areas import AreaMap, parse_areas
from geo.analysis.pipeline import choose_source
from geo.declarations import Registry, parse_declarations
from geo.errors import HexwatchError
from geo.store import Store, write_version

SPELL = "DS-105-2023-PCM"
LIMA_TREATED = ("150132", "150135")
SULLANA_TREATED = ("200601", "200602", "200603", "200605", "200606", "200607", "200608")
REGISTRY = """decree_id,start,end,areas,extends,confirmed
DS-105-2023-PCM,2023-09-20,2023-11-18,150132 150135 200601 200602 200603 200605 200606 200607 200608,,yes
DS-126-2023-PCM,2023-11-19,2024-01-17,150132 150135 200601 200602 200603 200605 200606 200607 200608,DS-105-2023-PCM,yes
DS-001-2021-PCM,2021-05-03,2021-06-30,150101,,yes
DS-200-2024-PCM,2024-06-15,2024-08-13,150103 150110,,yes
"""
#: Lima's true effect in the fixture; Sullana's is zero.
LIMA_EFFECT = -0.20


def districts() -> dict[str, str]:
    """ubigeo -> area of the fixture's districts."""
    lima = [f"1501{i:02d}" for i in range(1, 44)] + [f"0701{i:02d}" for i in range(1, 8)]
    sullana = [f"2006{i:02d}" for i in range(1, 9)]
    piura = [f"2001{i:02d}" for i in range(1, 11)] + [f"2004{i:02d}" for i in range(1, 9)]
    return {**{u: "lima_callao" for u in lima}, **{u: "sullana" for u in sullana}, **{u: "piura" for u in piura}}


def monthly_counts(seed: int = 3, lima_effect: float = LIMA_EFFECT) -> pd.DataFrame:
    """``ubigeo, year, month, category, n`` for Jan 2021 - Dec 2024, two categories."""
    rng = np.random.default_rng(seed)
    ub = list(districts())
    size = np.exp(rng.normal(np.log(500), 1.1, len(ub))).clip(30, 6000)
    size[ub.index("150132")], size[ub.index("150135")] = 3000.0, 1800.0
    for u in SULLANA_TREATED:
        size[ub.index(u)] = rng.uniform(30, 300)
    months = pd.period_range("2021-01", "2024-12", freq="M")
    t = np.arange(len(months))
    season = 1 + 0.08 * np.sin(2 * np.pi * (months.month.to_numpy() - 3) / 12)
    trend = rng.normal(0, 0.004, len(ub))
    declared = (months >= pd.Period("2023-10", "M")) & (months <= pd.Period("2023-12", "M"))
    partial = months == pd.Period("2023-09", "M")
    rows = []
    for i, u in enumerate(ub):
        mu = size[i] * season * np.exp(trend[i] * (t - 30))
        if u in LIMA_TREATED:
            mu = mu * np.where(declared, 1 + lima_effect, np.where(partial, 1 + lima_effect / 3, 1.0))
        lam = rng.gamma(30.0, mu / 30.0)  # over-dispersed (NB2, alpha = 1/30)
        n = rng.poisson(lam)
        for cat, share in (("Robo", 0.35), ("Hurto", 0.65)):
            k = rng.binomial(n, share)
            rows.append(pd.DataFrame({"ubigeo": u, "year": months.year, "month": months.month, "category": cat, "n": k}))
    out = pd.concat(rows, ignore_index=True)
    return out[out["n"] > 0].reset_index(drop=True)  # months with no report are absent, as in SIDPOL


def adjacency() -> dict[str, set[str]]:
    """A few neighbours per declared district (the ring), symmetric."""
    pairs = [("150132", "150103"), ("150132", "150110"), ("150135", "150106"), ("150135", "150139"),
             ("200601", "200604"), ("200603", "200402"), ("200608", "200101")]
    adj: dict[str, set[str]] = {u: set() for u in districts()}
    for a, b in pairs:
        adj[a].add(b)
        adj[b].add(a)
    return adj


AREAS = AreaMap.load(province_names={"2006": "SULLANA", "2001": "PIURA", "2004": "MORROPON"})


@pytest.fixture(scope="module")
def registry():
    return Registry(parse_declarations(REGISTRY), districts=list(districts()))


@pytest.fixture(scope="module")
def counts():
    return monthly_counts()


@pytest.fixture(scope="module")
def result(counts, registry):
    return analyze_counts(counts, registry, SPELL, adjacency(), frequency="month", source="sidpol", areas=AREAS)


def test_each_area_is_answered_on_its_own(result):
    assert [a.area for a in result.areas] == ["lima_callao", "sullana"]  # most expected events first
    lima, sullana = result.areas
    assert (lima.name("es"), sullana.name("en")) == ("Lima y Callao", "Sullana")
    assert sorted(x["ubigeo"] for x in lima.design["treated"]) == list(LIMA_TREATED)
    assert sorted(x["ubigeo"] for x in sullana.design["treated"]) == list(SULLANA_TREATED)
    declared = set(LIMA_TREATED) | set(SULLANA_TREATED)
    for a, region in ((lima, ("1501", "0701")), (sullana, ("20",))):
        comparison = {x["ubigeo"] for x in a.design["comparison"]}
        ring = {x["ubigeo"] for x in a.design["ring"]}
        assert comparison and all(u.startswith(region) for u in comparison)
        assert not comparison & declared and not comparison & ring
        assert set(a["did"].districts["treated"]) == {x["ubigeo"] for x in a.design["treated"]}
    # Districts declared by another decree inside the window are not clean comparisons; ring districts are left out.
    lima_cmp = {x["ubigeo"] for x in lima.design["comparison"]}
    assert {"150103", "150110", "150106", "150139"}.isdisjoint(lima_cmp)
    assert {x["ubigeo"] for x in sullana.design["ring"]} >= {"200604", "200402", "200101"}
    # The spell starts on the 20th: September is a transition month, October the first declared in full.
    t = {x["ubigeo"]: x for x in lima.design["treated"]}["150132"]
    assert (t["onset"], t["declared_from"], t["declared_to"]) == ("2023-09-01", "2023-10-01", "2023-12-31")
    # The other area's districts are not reported as missing data.
    assert not any(w.code == "dropped_districts" for a in result.areas for w in a.warnings)


def test_the_area_estimates_recover_each_areas_truth(result):
    lima, sullana = result.areas
    d = lima["did"]
    assert d.available and d.ci[0] < LIMA_EFFECT < d.ci[1] and d.ci[1] < 0
    assert sullana["did"].available and sullana["did"].ci[0] < 0 < sullana["did"].ci[1]
    # The transparent 2x2 on the DiD's own rows is consistent with the model's interval.
    tbt = lima.descriptive["two_by_two"]
    assert d.ci[0] < tbt["effect"] < d.ci[1]
    assert (tbt["pre"], tbt["post"]) == (d.windows["pre"], d.windows["post"])
    assert tbt["n_treated"] == 2 and tbt["n_comparison"] == len(d.districts["comparison"])
    wide = lima.descriptive["two_by_two_area"]
    assert wide["n_comparison"] == 48 and d.ci[0] < wide["effect"] < d.ci[1]


def test_two_by_two_is_the_plain_ratio_of_the_counts(result, counts):
    lima = result.areas[0]
    tbt = lima.descriptive["two_by_two"]
    c = counts.assign(t=pd.to_datetime(dict(year=counts["year"], month=counts["month"], day=1)))
    treated = c["ubigeo"].isin(LIMA_TREATED)
    comparison = c["ubigeo"].isin(lima["did"].districts["comparison"])

    def total(mask, w):
        return c.loc[mask & (c["t"] >= w["start"]) & (c["t"] <= w["end"]), "n"].sum()

    ratio = (total(treated, tbt["post"]) / total(treated, tbt["pre"])) / (
        total(comparison, tbt["post"]) / total(comparison, tbt["pre"]))
    assert tbt["effect"] == pytest.approx(ratio - 1, rel=1e-9)


def test_pooled_figure_is_weighted_by_expected_events_as_stated(result):
    lima, sullana = result.areas
    for a in result.areas:
        observed = a.descriptive["declared_events"]
        assert a.descriptive["expected_events"] == pytest.approx(observed / (1 + a["did"].effect))
    w = {a.area: a.descriptive["expected_events"] for a in result.areas}
    assert result.pooling["weights"] == pytest.approx({k: v / sum(w.values()) for k, v in w.items()})
    assert result.pooling["weights"]["lima_callao"] > 0.7  # 4,800 reports a month against about 1,100
    assert "expected events" in result.pooling["weighting_en"] and "eventos esperados" in result.pooling["weighting_es"]
    for m in ("did", "event_study", "synthetic_control", "displacement"):
        parts = [(w[a.area], math.log1p(a[m].effect), (math.log1p(a[m].ci[1]) - math.log1p(a[m].ci[0])) / (2 * 1.959963984540054))
                 for a in result.areas if a[m].available]
        W = sum(p[0] for p in parts)
        b = sum(p[0] * p[1] for p in parts) / W
        se = math.sqrt(sum((p[0] * p[2]) ** 2 for p in parts)) / W
        pooled = result[m]
        assert pooled.effect == pytest.approx(math.expm1(b), rel=1e-9), m
        assert pooled.ci == pytest.approx((math.expm1(b - 1.959963984540054 * se), math.expm1(b + 1.959963984540054 * se)))
    lo, hi = sorted((lima["did"].effect, sullana["did"].effect))
    assert lo < result["did"].effect < hi
    # The naive figure adds the counts.
    assert result["naive"].details["before"] == lima["naive"].details["before"] + sullana["naive"].details["before"]


def test_the_headline_is_the_lead_areas_primary_and_lead_reorders(result):
    assert result.areas[0].primary["method"] == "did"
    assert set(result.areas[0].primary["robustness"]) == set(METHODS) - {"did", "naive"}
    assert result.headline is result.areas[0]["did"]
    assert result.sentence("es").startswith("Lima y Callao: ")
    s = result.lead("sullana")
    assert [a.area for a in s.areas] == ["sullana", "lima_callao"] and s.sentence("en").startswith("Sullana: ")
    assert [a.area for a in result.areas] == ["lima_callao", "sullana"]  # lead() does not change the original
    assert result.lead("nowhere") is result and result.lead(None) is result
    text = s.summary("en")
    assert text.index("== Area: Sullana") < text.index("== Area: Lima and Callao") < text.index("All areas pooled")
    assert "Transparent 2x2" in text and "(Sullana)" in text  # warnings name their area


def test_json_has_every_area_with_the_top_levels_estimates_and_round_trips(result):
    d = orjson.loads(result.to_json())
    assert [a["area"] for a in d["areas"]] == ["lima_callao", "sullana"]
    for a in d["areas"]:
        assert a["name_es"] and a["name_en"] and a["primary"]["method"] == "did"
        assert set(a["estimates"]) == set(d["estimates"]) == set(METHODS)
        for e in a["estimates"].values():
            assert {"method", "effect", "ci"} <= set(e)
        assert a["estimates"]["synthetic_control"]["details"]["districts"]  # per district where the method has it
    assert d["pooling"]["method"] == "expected_events"
    back = AnalysisResult.from_dict(d)
    assert back.to_dict() == d
    assert back.lead("sullana").areas[0]["did"].effect == result.areas[1]["did"].effect


def test_one_area_spell_has_the_areas_own_figures_at_the_top(counts, registry):
    r = analyze_counts(counts, registry, "DS-200-2024-PCM", adjacency(), frequency="month", source="sidpol", areas=AREAS)
    assert [a.area for a in r.areas] == ["lima_callao"] and r.pooling is None
    assert r["did"] is r.areas[0]["did"]


# -- from a store ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def counts_store(tmp_path_factory, counts):
    """A store holding only real-looking district-month counts (no points, no cube_district)."""
    root = tmp_path_factory.mktemp("counts-store") / "store"
    write_version(root, tables={"district_month": counts.astype({"year": "int16", "month": "int8"})},
                  meta={"synthetic": False, "dataset": "district-month counts fixture"})
    return root


def test_a_store_with_only_district_counts_is_analysed_and_says_which_source(counts_store, registry):
    assert choose_source(Store.open(counts_store))[0] == "sidpol"
    r = analyze(counts_store, SPELL, registry=registry, adjacency=adjacency(), areas=AREAS)
    assert r.source == "sidpol" and r.frequency == "month" and "real district-month" in r.source_note["en"]
    assert r.store_version == Store.open(counts_store).version and "SIDPOL" in r.attribution
    assert [a.area for a in r.areas] == ["lima_callao", "sullana"]
    with pytest.raises(HexwatchError, match="no cube_district table"):
        analyze(counts_store, SPELL, registry=registry, source="points")


def test_cli_analyze_prints_areas_the_2x2_and_the_source(counts_store, tmp_path, capsys, monkeypatch):
    from geo.cli import main

    reg = tmp_path / "registry.csv"
    reg.write_text(REGISTRY)
    out = tmp_path / "out.json"
    main(["analyze", "--store", str(counts_store), "--declaration", SPELL, "--registry", str(reg), "--json", str(out),
          "--area", "lima_callao"])
    text = capsys.readouterr().out
    assert "source chosen: sidpol" in text and "== Area: Lima and Callao (lima_callao) ==" in text
    assert "Transparent 2x2 (descriptive)" in text and "Difference-in-differences (primary)" in text
    d = orjson.loads(out.read_bytes())
    assert d["areas"][0]["area"] == "lima_callao" and d["source"] == "sidpol"
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--store", str(counts_store), "--declaration", SPELL, "--registry", str(reg), "--area", "cusco"])
    assert exc.value.code == 2 and "covers no area 'cusco'" in capsys.readouterr().err


def test_all_declarations_one_row_per_spell_and_area_cached_by_version(counts_store, registry, tmp_path):
    import shutil

    store = tmp_path / "copy"
    shutil.copytree(counts_store, store)
    table = all_declarations(store, registry=registry, adjacency=adjacency(), areas=AREAS)
    keys = [(r["spell_id"], r["area"]) for r in table.rows]
    assert ("DS-105-2023-PCM", "lima_callao") in keys and ("DS-105-2023-PCM", "sullana") in keys
    assert ("DS-200-2024-PCM", "lima_callao") in keys
    assert [s["spell_id"] for s in table.skipped] == []  # DS-001-2021 is in the data too
    row = next(r for r in table.rows if r["spell_id"] == SPELL and r["area"] == "lima_callao")
    lima = analyze(store, SPELL, registry=registry, adjacency=adjacency(), areas=AREAS).areas[0]
    assert row["estimates"]["did"]["effect"] == lima["did"].effect and row["primary"] == "did"
    assert row["sentence_es"] == lima["did"].sentence_es
    assert table.pooled["figure"] is None and "stacked" in table.pooled["why_en"]
    cached = list((store / "cache").glob("all_declarations-*.json"))
    assert len(cached) == 1
    again = all_declarations(store, registry=registry, adjacency=adjacency(), areas=AREAS)
    assert again.to_dict() == table.to_dict()
    # A new store version is a new key: evaluated afresh, not served from the old file.
    write_version(store, tables={"district_month": monthly_counts(seed=9).astype({"year": "int16", "month": "int8"})},
                  meta={"synthetic": False})
    fresh = all_declarations(store, registry=registry, adjacency=adjacency(), areas=AREAS)
    assert fresh.store_version != table.store_version and len(list((store / "cache").glob("*.json"))) == 2
    assert "DS-105-2023-PCM" in fresh.summary("en") and "Sin cifra combinada" in fresh.summary("es")


def test_areas_file_errors_name_the_line():
    with pytest.raises(HexwatchError, match="line 3: province 150100 is already in area 'a'"):
        parse_areas("area,name_es,name_en,provinces\na,A,A,150100\nb,B,B,150100\n")
    with pytest.raises(HexwatchError, match="line 2: area id 'Lima Callao'"):
        parse_areas("area,name_es,name_en,provinces\nLima Callao,A,A,150100\n")
    m = AreaMap.load(province_names={"2001": "PIURA", "0201": "PIURA"})  # a repeated province name
    assert m.area_of("200101") != m.area_of("020101")


def test_auto_source_prefers_real_district_counts_over_synthetic_points(tmp_path, counts):
    cube = pd.DataFrame({"ubigeo": ["150132", "150101"], "day": pd.to_datetime(["2023-01-02", "2023-01-03"]).date,
                         "category": ["Robo", "Robo"], "n": [3, 4]})
    dm = counts.astype({"year": "int16", "month": "int8"})
    mixed = tmp_path / "mixed"
    write_version(mixed, tables={"cube_district": cube, "district_month": dm},
                  meta={"synthetic": True, "layers": {"points": {"synthetic": True},
                                                      "district_month": {"synthetic": False, "attribution": "Fuente: X"}}})
    source, why = choose_source(Store.open(mixed))
    assert source == "sidpol" and "real" in why["en"]
    both = tmp_path / "both-synthetic"
    write_version(both, tables={"cube_district": cube, "district_month": dm}, meta={"synthetic": True})
    source, why = choose_source(Store.open(both))
    assert source == "points" and "synthetic" in why["en"]
    empty = tmp_path / "empty"
    write_version(empty, tables={"rejects": pd.DataFrame({"reason": ["x"]})}, meta={})
    with pytest.raises(HexwatchError, match="holds no district counts"):
        choose_source(Store.open(empty))
