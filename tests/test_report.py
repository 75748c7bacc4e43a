"""``hexwatch report``: the one-page report as written by the CLI, and its PDF (WeasyPrint, no browser)."""

from __future__ import annotations

import pytest

from test_area_answers import REGISTRY, SPELL, counts, counts_store  # noqa: F401  (module fixtures)


def test_cli_writes_the_report_and_a_one_page_pdf(counts_store, tmp_path, capsys, boundary_cache):  # noqa: F811
    from weasyprint import HTML

    from geo.cli import main

    reg = tmp_path / "registry.csv"
    reg.write_text(REGISTRY)
    out = tmp_path / "informe.html"
    main(["report", "--store", str(counts_store), "--declaration", SPELL, "--registry", str(reg), "--out", str(out),
          "--pdf", "--area", "sullana"])
    assert "wrote" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'lang="es"' in page
    assert page.index('data-area="sullana"') < page.index('data-area="lima_callao"')  # the lead area first
    assert "Veredicto: Sullana:" in page
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(HTML(string=page).render().pages) == 1
    with pytest.raises(SystemExit) as exc:
        main(["report", "--store", str(counts_store), "--declaration", SPELL, "--registry", str(reg),
              "--out", str(out), "--lang", "fr"])
    assert exc.value.code == 2 and "--lang must be en or es" in capsys.readouterr().err
