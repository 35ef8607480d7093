"""Renderers: the report document as JSON, as a print-friendly HTML page, and as PDF.

All three take the assembled document (`credo.report.assemble`), never the database, so what a
person reads is exactly what a machine receives. The HTML page is self-contained (inline CSS
and an SVG score gauge, no scripts, no external files); the PDF is built by `credo.report.pdf`.
"""

from __future__ import annotations

import math
from itertools import groupby
from pathlib import Path
from typing import Any

import orjson
from markupsafe import Markup, escape

from credo.core.templates import environment
from credo.report import labels
from credo.report.labels import institution_name

TEMPLATES = Path(__file__).parent / "templates"

#: grid code -> (background, text colour); shared by the HTML and PDF renderers
GRID_COLOURS: dict[str, tuple[str, str]] = {
    "N": ("#cfe9d4", "#1d5b2c"),
    "*": ("#eef1f3", "#5c6770"),
    "1": ("#fff1b8", "#6b5200"),
    "2": ("#ffd591", "#7a4100"),
    "3": ("#ffb37a", "#7a2e00"),
    "4": ("#ff8a65", "#5c1600"),
    "5": ("#f0643f", "#ffffff"),
    "6": ("#d8402a", "#ffffff"),
    "7": ("#a8221a", "#ffffff"),
    "C": ("#d6e4f0", "#24476b"),
    "B": ("#5a1010", "#ffffff"),
    "G": ("#c9c2de", "#3b2f63"),
    "/": ("#ffffff", "#9aa3ab"),
}
#: grade -> gauge colour, best to worst
GRADE_COLOURS = {
    "A": "#1a7f37",
    "B": "#4c9a2a",
    "C": "#9cb92c",
    "D": "#e0b422",
    "E": "#ef8a1f",
    "F": "#e0561b",
    "G": "#c0261a",
}


def render_json(report: dict) -> bytes:
    """The report as indented UTF-8 JSON (Chinese kept as characters, not escapes)."""
    return orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"


# -- helpers shared by HTML and PDF -----------------------------------------------------------
def fmt_money(value: str | None, currency: str | None = None) -> str:
    """'1234567.50' -> '1,234,567.50' (with the currency code after it when given)."""
    if value is None:
        return "—"
    whole, _, frac = value.partition(".")
    out = f"{int(whole):,}.{frac or '00'}"
    return f"{out} {currency}" if currency else out


def fmt_when(iso: str | None) -> str:
    """'2026-11-21T21:06:56+00:00' -> '2026-11-21 21:06:56 UTC'."""
    if not iso:
        return "—"
    text = iso.replace("T", " ")
    return text[:-6] + " UTC" if text.endswith("+00:00") else text


def fmt_pd(pd_: float | None) -> str:
    return "—" if pd_ is None else f"{pd_ * 100:.2f}%"


def grid_years(cells: list[dict]) -> list[tuple[str, int]]:
    """(year, number of months) runs over a grid, for the year header above the months."""
    return [(y, len(list(g))) for y, g in groupby(c["period"][:4] for c in cells)]


def gauge_geometry(score: dict, *, cx=120.0, cy=118.0, r=96.0) -> dict[str, Any]:
    """Arcs (per grade band) and the needle of a half-circle gauge, in SVG user units."""
    value = score["score"]
    lo, hi = score["range"] or [value - 100, value + 100]
    span = (hi - lo) or 1.0

    def point(v: float, radius: float = r) -> tuple[float, float]:
        t = min(1.0, max(0.0, (v - lo) / span))
        theta = math.pi * (1 - t)
        return round(cx + radius * math.cos(theta), 2), round(cy - radius * math.sin(theta), 2)

    arcs = []
    for band in score["bands"] or [{"grade": score["grade"], "min_score": lo, "max_score": hi}]:
        a = max(lo, band["min_score"] if band["min_score"] is not None else lo)
        b = min(hi, band["max_score"] if band["max_score"] is not None else hi)
        if b <= a:
            continue
        (x1, y1), (x2, y2) = point(a), point(b)
        arcs.append(
            {
                "grade": band["grade"],
                "colour": GRADE_COLOURS.get(band["grade"], "#888"),
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "from": a,
                "to": b,
                "mid": point((a + b) / 2, r + 17),
            }
        )
    return {
        "cx": cx,
        "cy": cy,
        "r": r,
        "lo": lo,
        "hi": hi,
        "arcs": arcs,
        "needle": point(value, r - 22),
        "value": value,
    }


def gauge_svg(score: dict) -> Markup:
    """The score gauge as inline SVG: grade bands left (worst) to right (best) and a needle."""
    g = gauge_geometry(score)
    parts = [
        '<svg class="gauge" viewBox="0 0 240 150" role="img" '
        f'aria-label="{escape(str(g["value"]))}" xmlns="http://www.w3.org/2000/svg">'
    ]
    # a band is the arc from its low score to its high score, drawn clockwise (sweep 1)
    for a in g["arcs"]:
        parts.append(
            f'<path d="M {a["x1"]} {a["y1"]} A {g["r"]} {g["r"]} 0 0 1 {a["x2"]} '
            f'{a["y2"]}" stroke="{a["colour"]}" stroke-width="16" fill="none"/>'
        )
        mx, my = a["mid"]
        parts.append(f'<text x="{mx}" y="{my + 3}" class="band">{escape(a["grade"])}</text>')
    nx, ny = g["needle"]
    parts.append(f'<line x1="{g["cx"]}" y1="{g["cy"]}" x2="{nx}" y2="{ny}" class="needle"/>')
    parts.append(f'<circle cx="{g["cx"]}" cy="{g["cy"]}" r="6" class="hub"/>')
    parts.append(
        f'<text x="{g["cx"] - g["r"]}" y="{g["cy"] + 18}" class="end">{g["lo"]:.0f}</text>'
    )
    parts.append(
        f'<text x="{g["cx"] + g["r"]}" y="{g["cy"] + 18}" class="end">{g["hi"]:.0f}</text>'
    )
    parts.append(f'<text x="{g["cx"]}" y="{g["cy"] - 28}" class="value">{g["value"]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# -- HTML -------------------------------------------------------------------------------------
def render_html(report: dict) -> str:
    """The report as one self-contained, print-friendly HTML page in the report's language."""
    env = environment(TEMPLATES, money=fmt_money, pd=fmt_pd, when=fmt_when)
    lang = report["header"]["lang"]
    return env.get_template("report.html.j2").render(
        r=report,
        lang=lang,
        t=lambda key, **kw: labels.text(key, lang, **kw),
        l=lambda group, code: labels.label(group, code, lang),
        inst=lambda ref: institution_name(ref, lang),
        grid_years=grid_years,
        grid_colours=GRID_COLOURS,
        gclass={code: f"g{i}" for i, code in enumerate(GRID_COLOURS)},
        grid_codes=labels.codes("grid"),
        gauge=gauge_svg(report["score"]) if report["score"]["available"] else None,
        grade_colours=GRADE_COLOURS,
    )


def render(report: dict, fmt: str) -> bytes:
    """The report in `fmt` (json, html or pdf) as bytes."""
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report).encode()
    if fmt == "pdf":
        from credo.report.pdf import render_pdf  # reportlab is only imported when needed

        return render_pdf(report)
    raise ValueError(f"format must be json, html or pdf; got {fmt!r}")
