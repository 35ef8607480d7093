"""The validation report as one self-contained HTML page: a Jinja2 template and matplotlib charts.

Charts are drawn from the report's data alone, so a report read back from its JSON renders the
same page. They use matplotlib's Agg canvas through `Figure` (no pyplot and its global state) and
are embedded as base64 PNG data URIs; the CSS is inline, so the page fetches nothing.

Fonts: the page's bilingual headings are drawn by the reader's browser, but the charts by
whatever fonts the rendering machine has. Fixed chart texts are English; group names (which may
well be Chinese, e.g. regions) use an installed CJK font when there is one, and otherwise are
shown as "#n" (the row of the table beside the chart) plus their ASCII part, never as boxes.
"""

from __future__ import annotations

import base64
import io
import math
from functools import cache
from pathlib import Path
from typing import Any

from matplotlib import font_manager
from matplotlib.figure import Figure

from credo.core.templates import environment

TEMPLATES = Path(__file__).parent / "templates"
GOOD, BAD, GREY, INK = "#2f6db5", "#c8433a", "#9aa3ad", "#333333"
#: fonts with Chinese glyphs, in order of preference (Linux, then Windows and macOS names)
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "SimHei",
    "Arial Unicode MS",
)  # fmt: skip


def render_html(report: dict[str, Any]) -> str:
    """The page of a report dict (`ValidationReport.to_dict()`)."""
    env = environment(TEMPLATES, num=fmt_num, pct=fmt_pct, binlabel=bin_label)
    return env.get_template("validation.html.j2").render(r=report, charts=charts(report))


def fmt_num(v: Any, digits: int = 3) -> str:
    """1234 -> "1,234"; 0.71234 -> "0.712"; None -> "n/a"."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int) or (float(v).is_integer() and abs(v) >= 100):
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    """0.1234 -> "12.3 %"; None -> "n/a"."""
    if v is None:
        return "n/a"
    return f"{100 * v:.{digits}f} %"


def charts(r: dict[str, Any]) -> dict[str, Any]:
    """Every chart of the page as a PNG data URI."""
    return {
        "roc": _png(roc_chart(r)),
        "ks": _png(ks_chart(r)),
        "distribution": _png(distribution_chart(r)),
        "calibration": _png(calibration_chart(r)),
        "psi": _png(psi_chart(r)),
        "fairness": [_png(fairness_chart(a)) for a in r["fairness"]["attributes"]],
    }


def _figure(width: float = 5.4, height: float = 3.6) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    ax = fig.subplots()
    ax.grid(alpha=0.3, linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return fig, ax


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def roc_chart(r: dict[str, Any]) -> Figure:
    fig, ax = _figure()
    roc, auc = r["curves"]["roc"], r["discrimination"]["test"]["auc"]["value"]
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=0.8, label="random")
    ax.plot(roc["fpr"], roc["tpr"], color=BAD, linewidth=1.6, label=f"test, AUC {auc:.3f}")
    c = r["confusion"]["matrix"]
    goods = c["good_declined"] + c["good_approved"]
    bads = c["bad_declined"] + c["bad_approved"]
    ax.plot(c["good_declined"] / goods, c["bad_declined"] / bads, "o", color=INK,
            label=f"cut-off {fmt_num(r['cutoff']['score'])}")  # fmt: skip
    ax.set(xlim=(0, 1), ylim=(0, 1.01), title="ROC (test)")
    ax.set_xlabel("share of goods declined (FPR)", fontsize=8)
    ax.set_ylabel("share of bads declined (TPR)", fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def ks_chart(r: dict[str, Any]) -> Figure:
    fig, ax = _figure()
    ks, d = r["curves"]["ks"], r["discrimination"]
    ax.step(ks["score"], ks["cum_bad"], where="post", color=BAD, label="bads")
    ax.step(ks["score"], ks["cum_good"], where="post", color=GOOD, label="goods")
    at = d["ks_score"]
    ax.axvline(at, color=INK, linewidth=0.8)
    ax.text(at, 0.03, f" KS {d['test']['ks']['value']:.3f} at {fmt_num(at)}", fontsize=8)
    ax.axvline(r["cutoff"]["score"], color=GREY, linestyle=":", label="cut-off")
    ax.set(ylim=(0, 1.01), title="KS: cumulative share at or below a score (test)")
    ax.title.set_fontsize(10)
    ax.set_xlabel("score", fontsize=8)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def distribution_chart(r: dict[str, Any]) -> Figure:
    fig, ax = _figure()
    d = r["score_distribution"]
    ax.stairs(d["good_share"], d["edges"], fill=True, alpha=0.45, color=GOOD, label="goods")
    ax.stairs(d["bad_share"], d["edges"], fill=True, alpha=0.45, color=BAD, label="bads")
    ax.axvline(r["cutoff"]["score"], color=INK, linestyle=":", label="cut-off")
    ax.set(title="Score distribution of goods and bads (test)")
    ax.title.set_fontsize(10)
    ax.set_xlabel("score", fontsize=8)
    ax.set_ylabel("share of the class", fontsize=8)
    ax.legend(fontsize=8)
    return fig


def calibration_chart(r: dict[str, Any]) -> Figure:
    fig, ax = _figure()
    rows = r["calibration"]["rows"]
    x = [b["mean_pd"] for b in rows]
    y = [b["bad_rate"] for b in rows]
    top = max([*x, *y, 0.01]) * 1.08
    ax.plot([0, top], [0, top], color=GREY, linestyle="--", linewidth=0.8, label="perfect")
    ax.plot(x, y, "o-", color=BAD, markersize=4, label="deciles of predicted PD")
    ax.set(xlim=(0, top), ylim=(0, top), title="Calibration (test)")
    ax.set_xlabel("mean predicted PD", fontsize=8)
    ax.set_ylabel("observed bad rate", fontsize=8)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def psi_chart(r: dict[str, Any]) -> Figure:
    fig, ax = _figure()
    p = r["stability"]["score_psi"]
    n = len(p["bins"])
    xs = list(range(n))
    ax.bar([i - 0.2 for i in xs], [b["train_share"] for b in p["bins"]], 0.4, color=GREY,
           label="train")  # fmt: skip
    ax.bar([i + 0.2 for i in xs], [b["test_share"] for b in p["bins"]], 0.4, color=GOOD,
           label="test")  # fmt: skip
    ax.set_xticks(xs, [bin_label(b) for b in p["bins"]], rotation=45, ha="right", fontsize=7)
    ax.set(title=f"Score PSI {p['psi']:.3f} ({p['band']}), bins = train deciles")
    ax.title.set_fontsize(10)
    ax.set_ylabel("share of rows", fontsize=8)
    top = max(max(b["train_share"], b["test_share"]) for b in p["bins"])
    ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.legend(fontsize=8, ncols=2, loc="upper center")
    return fig


def fairness_chart(a: dict[str, Any]) -> Figure:
    groups = a["groups"]
    fig, ax = _figure(5.4, max(1.6, 0.5 + 0.32 * len(groups)))
    colours = [BAD if g["flagged"] else (GOOD if g["judged"] else GREY) for g in groups]
    ys = list(range(len(groups)))
    ax.barh(ys, [g["approval_rate"] for g in groups], color=colours)
    labels, family = drawable([g["group"] for g in groups])
    ax.set_yticks(ys, labels, fontfamily=family)
    judged = [g["approval_rate"] for g in groups if g["judged"]]
    if judged and max(judged) > 0:
        ax.axvline(0.8 * max(judged), color=INK, linestyle="--", linewidth=0.8,
                   label="4/5 of the highest rate")  # fmt: skip
        ax.legend(fontsize=7, loc="lower right")
    ax.invert_yaxis()
    (attribute,), family = drawable([a["attribute"]], numbered=False)
    ax.set_xlim(0, 1)
    ax.set_title(f"Approval rate by {attribute}", fontsize=10, fontfamily=family)
    ax.tick_params(labelsize=7)
    return fig


def bin_label(b: dict[str, Any]) -> str:
    """A PSI bin as text: "< 580", "580 - 600", ">= 640"."""
    if b["low"] is None and b["high"] is None:
        return "all"
    if b["low"] is None:
        return f"< {fmt_num(b['high'], 2)}"
    if b["high"] is None:
        return f">= {fmt_num(b['low'], 2)}"
    return f"{fmt_num(b['low'], 2)} - {fmt_num(b['high'], 2)}"


def drawable(texts: list[str], numbered: bool = True) -> tuple[list[str], list[str] | None]:
    """Texts a chart can draw, and the font family list to draw them with.

    Texts with CJK characters keep them when a CJK font is installed (used as a fallback after
    matplotlib's default font); otherwise each becomes "#n" (its position, when `numbered`) and
    its ASCII part.
    """
    if not any(_needs_cjk(t) for t in texts):
        return texts, None
    family = cjk_family()
    if family is not None:
        return texts, ["DejaVu Sans", family]
    out = []
    for i, t in enumerate(texts, start=1):
        ascii_part = "".join(ch for ch in t if ord(ch) < 128).strip()
        if not _needs_cjk(t):
            out.append(t)
        elif numbered:
            out.append(f"#{i} {ascii_part}".strip())
        else:
            out.append(ascii_part or "(name not drawable)")
    return out, None


@cache
def cjk_family() -> str | None:
    """The first installed font of `CJK_FAMILIES`, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in CJK_FAMILIES if f in installed), None)


def _needs_cjk(text: str) -> bool:
    # DejaVu Sans covers Latin, Greek and Cyrillic; CJK starts at the radicals block
    return any(ord(ch) >= 0x2E80 for ch in text)
