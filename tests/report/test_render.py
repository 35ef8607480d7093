"""Renderers: JSON, HTML (grid and gauge) and PDF (Chinese text extracted back out)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import orjson
import pytest
from pypdf import PdfReader

from credo.report.render import render, render_html, render_json
from credo.report.schema import schema_text
from credo.report.snapshot import Viewer

from .snapshots import assembled

DOCS = Path(__file__).resolve().parents[2] / "docs"
ZH_TITLES = [
    "个人信用报告",
    "信用评分",
    "身份信息",
    "信息概要",
    "信贷交易信息明细",
    "公共信息明细",
    "异议标注",
    "本人声明",
    "查询记录",
]
EN_TITLES = [
    "Personal credit report",
    "Credit score",
    "Identity",
    "Summary",
    "Account details",
    "Public records",
    "Dispute marks",
    "Personal statements",
    "Inquiries",
]


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_published_json_schema_is_current():
    published = (DOCS / "report.schema.json").read_text(encoding="utf-8")
    assert published == schema_text(), (
        "docs/report.schema.json is stale; regenerate it with python -c 'from "
        'credo.report.schema import schema_text; print(schema_text(), end="")\' '
        "> docs/report.schema.json"
    )


def test_json_keeps_chinese_as_characters_and_round_trips():
    doc = assembled(Viewer.subject, "zh")
    body = render_json(doc)
    assert "张三".encode() in body and orjson.loads(body) == doc
    assert render(doc, "json") == body
    with pytest.raises(ValueError, match="format must be"):
        render(doc, "docx")


def test_html_has_the_coloured_grid_and_the_gauge():
    doc = assembled(Viewer.operator, "zh")
    html = render_html(doc)
    for title in ZH_TITLES:
        assert title in html
    assert html.count('<table class="grid"') == len(doc["accounts"])
    cells = re.findall(r'<td class="cell (g\d+)"[^>]*>([^<]+)</td>', html)
    assert len(cells) == 24 * len(doc["accounts"])
    # each code has its own colour class, and the class carries a background colour
    by_code = {code: cls for cls, code in cells}
    assert len({by_code[c] for c in ("N", "7", "B", "/")}) == 4
    assert re.search(rf"\.{by_code['7']} {{ background:#", html)
    assert '<svg class="gauge"' in html and "<path d=" in html and ">551<" in html
    assert "@media print" in html and "张*" in html and "{{" not in html


def test_html_in_english_and_without_a_score():
    html = render_html(assembled(Viewer.institution, "en", with_score=False))
    for title in EN_TITLES:
        assert title in html
    assert '<svg class="gauge"' not in html and "not scored by that date" in html
    assert "an online lender (name withheld)" in html


def test_html_escapes_furnished_text():
    doc = assembled(Viewer.operator, "en")
    doc["public_records"][0]["authority"] = "<script>alert(1)</script>"
    html = render_html(doc)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_pdf_in_chinese_extracts_the_section_titles_and_the_masked_name():
    doc = assembled(Viewer.institution, "zh")
    started = time.perf_counter()
    data = render(doc, "pdf")
    elapsed = time.perf_counter() - started
    assert data.startswith(b"%PDF-") and elapsed < 1.0
    text = _pdf_text(data)
    for title in ZH_TITLES:
        assert title in text, title
    assert "张*" in text and "某网络借贷机构" in text and "551" in text
    assert "张三" not in text


def test_pdf_in_english_extracts_the_english_titles():
    doc = assembled(Viewer.subject, "en")
    text = _pdf_text(render(doc, "pdf"))
    for title in EN_TITLES:
        assert title in text, title
    # the subject's own name is Chinese inside the English report
    assert "张三" in text and "Repayment codes" in text and "Key factors" in text


def test_pdf_of_an_empty_file():
    text = _pdf_text(render(assembled(Viewer.subject, "zh", empty=True), "pdf"))
    assert "无信贷账户，暂无法评分" in text and "无记录" in text
