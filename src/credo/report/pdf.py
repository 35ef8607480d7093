"""The credit report as PDF, with ReportLab (pure Python: installs from PyPI alone).

Chinese text uses ``STSong-Light``, one of the Adobe-GB1 CID fonts every PDF reader supplies
(Acrobat's Asian font pack, PDFium, pdf.js, Preview, poppler through fontconfig), so no font file
ships with Credo and the PDF stays small. The text is written as Unicode (UniGB-UCS2-H), so it
can be searched, copied and extracted (tested with pypdf). Latin text and digits are set in
Helvetica: runs of CJK characters are switched to the CID font inside each paragraph.
The font is referenced, not embedded, so the file is not PDF/A.
"""

from __future__ import annotations

import io
import math
import re
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import ArcPath, Circle, Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table
from reportlab.platypus import TableStyle as TS

from credo.report import labels
from credo.report.render import (
    GRADE_COLOURS,
    GRID_COLOURS,
    fmt_money,
    fmt_pd,
    fmt_when,
    gauge_geometry,
    grid_years,
    institution_name,
)

CJK_FONT = "STSong-Light"
LATIN, LATIN_BOLD = "Helvetica", "Helvetica-Bold"
ACCENT = colors.HexColor("#1d4e89")
LINE = colors.HexColor("#d9dee3")
BAND = colors.HexColor("#f4f6f8")
MUTED = colors.HexColor("#5f6b76")
WIDTH = A4[0] - 28 * mm
# CJK ideographs, CJK punctuation, full-width forms, and the kana/hangul blocks between them
_CJK = re.compile(r"([\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+)")

pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))

_STYLES = {
    "body": ParagraphStyle("body", fontName=LATIN, fontSize=8.5, leading=11),
    "small": ParagraphStyle("small", fontName=LATIN, fontSize=7.5, leading=9.5, textColor=MUTED),
    "key": ParagraphStyle("key", fontName=LATIN, fontSize=7, leading=8.5, textColor=MUTED),
    "value": ParagraphStyle("value", fontName=LATIN_BOLD, fontSize=8.5, leading=10.5),
    "lead": ParagraphStyle("lead", fontName=LATIN_BOLD, fontSize=10, leading=18),
    "title": ParagraphStyle(
        "title", fontName=LATIN_BOLD, fontSize=20, leading=24, textColor=ACCENT
    ),
    "right": ParagraphStyle(
        "right", fontName=LATIN, fontSize=7.5, leading=10, textColor=MUTED, alignment=TA_RIGHT
    ),
    "h2": ParagraphStyle(
        "h2",
        fontName=LATIN_BOLD,
        fontSize=11,
        leading=14,
        textColor=colors.white,
        backColor=ACCENT,
        borderPadding=(3, 4, 3, 4),
        spaceBefore=10,
        spaceAfter=6,
    ),
    "h3": ParagraphStyle(
        "h3",
        fontName=LATIN_BOLD,
        fontSize=9,
        leading=12,
        textColor=ACCENT,
        spaceBefore=6,
        spaceAfter=3,
    ),
    "th": ParagraphStyle("th", fontName=LATIN_BOLD, fontSize=7.5, leading=9.5),
    "td": ParagraphStyle("td", fontName=LATIN, fontSize=7.5, leading=9.5),
    "num": ParagraphStyle("num", fontName=LATIN, fontSize=7.5, leading=9.5, alignment=TA_RIGHT),
    "thnum": ParagraphStyle(
        "thnum", fontName=LATIN_BOLD, fontSize=7.5, leading=9.5, alignment=TA_RIGHT
    ),
}
_GRID = {
    code: (colors.HexColor(bg), colors.HexColor(fg)) for code, (bg, fg) in GRID_COLOURS.items()
}


def _markup(text: object) -> str:
    """Escaped paragraph markup with every run of CJK characters set in the CID font."""
    return _CJK.sub(rf'<font name="{CJK_FONT}">\1</font>', escape(str(text)))


def P(text: object, style: str = "body") -> Paragraph:
    return Paragraph(_markup(text), _STYLES[style])


def _table(rows, widths, *, header=True) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    cmds = [
        ("GRID", (0, 0), (-1, -1), 0.4, LINE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        cmds.append(("BACKGROUND", (0, 0), (-1, 0), BAND))
    t.setStyle(TS(cmds))
    return t


def _kv(pairs: list[tuple[str, object]], cols: int = 3) -> Table:
    cells = [[P(k, "key"), P(v if v not in (None, "") else "—", "value")] for k, v in pairs]
    rows = [cells[i : i + cols] for i in range(0, len(cells), cols)]
    rows[-1] += [""] * (cols - len(rows[-1]))
    return _table(rows, [WIDTH / cols] * cols, header=False)


class _Doc:
    """Builds the story of one report in one language."""

    def __init__(self, report: dict):
        self.r = report
        self.lang = report["header"]["lang"]

    def t(self, key: str, **kw) -> str:
        return labels.text(key, self.lang, **kw)

    def l(self, group: str, code: object) -> str:  # noqa: E743 - mirrors the template's l()
        return labels.label(group, code, self.lang)

    def inst(self, ref: dict | None) -> str:
        return institution_name(ref, self.lang)

    # -- sections ---------------------------------------------------------------------
    def title(self) -> list:
        h, idn = self.r["header"], self.r["identity"]
        sub = self.l("viewer", h["viewer"])
        if h["historical"]:
            sub += " · " + self.t("title.historical")
        left = [P(self.t("title." + idn["subject_type"]), "title"), P(sub, "small")]
        right = P(f"{self.t('report_id')} {h['report_id']}\n", "right")
        when = P(f"{self.t('generated_at')} {fmt_when(h['generated_at'])}", "right")
        t = Table([[left, [right, when]]], colWidths=[WIDTH * 0.55, WIDTH * 0.45])
        t.setStyle(
            TS(
                [
                    ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                    ("LINEBELOW", (0, 0), (-1, 0), 2, ACCENT),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                ]
            )
        )
        return [t]

    def header(self) -> list:
        h = self.r["header"]
        out = [
            P(self.t("section.header"), "h2"),
            _kv(
                [
                    (self.t("report_id"), h["report_id"]),
                    (self.t("generated_at"), fmt_when(h["generated_at"])),
                    (self.t("as_of"), h["as_of"]),
                    (self.t("institution"), self.inst(h["institution"])),
                    (self.t("purpose"), self.l("purpose", h["purpose"]) if h["purpose"] else None),
                    (
                        self.t("viewer"),
                        f"{self.l('viewer', h['viewer'])} · {self.t('schema_version')} "
                        f"{self.r['schema_version']}",
                    ),
                ]
            ),
        ]
        if h["historical"]:
            out.append(P(self.t("historical_note", date=h["as_of"]), "small"))
        alert = h.get("fraud_alert")
        if alert:
            text = self.t("fraud_alert_text", date=alert["expires_on"] or "—")
            if alert["extended"]:
                text += self.t("fraud_alert_extended")
            out.append(P(f"{self.t('fraud_alert')}: {text}"))
        if h.get("frozen"):
            out.append(P(self.t("frozen")))
        return out

    def gauge(self, sc: dict) -> Drawing:
        """A half-circle gauge: grade bands from worst (left) to best (right), and a needle."""
        g = gauge_geometry(sc)
        span = (g["hi"] - g["lo"]) or 1.0
        d = Drawing(150, 92)
        cx, cy, r = 75, 18, 60

        def at(v: float, radius: float) -> tuple[float, float]:
            theta = math.pi * (1 - min(1.0, max(0.0, (v - g["lo"]) / span)))
            return cx + radius * math.cos(theta), cy + radius * math.sin(theta)

        for a in g["arcs"]:
            arc = ArcPath(strokeColor=colors.HexColor(a["colour"]), strokeWidth=10, fillColor=None)
            arc.addArc(
                cx, cy, r, *(180.0 * (1 - (v - g["lo"]) / span) for v in (a["to"], a["from"]))
            )
            d.add(arc)
            x, y = at((a["from"] + a["to"]) / 2, r + 11)
            d.add(
                String(
                    x,
                    y - 2,
                    a["grade"],
                    fontName=LATIN,
                    fontSize=6,
                    fillColor=MUTED,
                    textAnchor="middle",
                )
            )
        x, y = at(g["value"], r - 16)
        d.add(Line(cx, cy, x, y, strokeColor=colors.black, strokeWidth=2))
        d.add(Circle(cx, cy, 3.5, fillColor=colors.black, strokeColor=None))
        d.add(
            String(
                cx, cy + 20, str(sc["score"]), fontName=LATIN_BOLD, fontSize=18, textAnchor="middle"
            )
        )
        for v, x in ((g["lo"], cx - r), (g["hi"], cx + r)):
            d.add(
                String(
                    x,
                    cy - 14,
                    f"{v:.0f}",
                    fontName=LATIN,
                    fontSize=6,
                    fillColor=MUTED,
                    textAnchor="middle",
                )
            )
        return d

    def score(self) -> list:
        sc = self.r["score"]
        out = [P(self.t("section.score"), "h2")]
        if not sc["available"]:
            return [*out, P(f"{self.t('no_score')}: {sc['unavailable']['text']}")]
        grade = GRADE_COLOURS.get(sc["grade"], "#888888")
        facts = [
            Paragraph(
                f'<font color="{grade}" size="16"><b>{escape(sc["grade"])}</b></font>  '
                + _markup(f"{self.t('score')} {sc['score']} · {self.t('pd')} {fmt_pd(sc['pd'])}"),
                _STYLES["lead"],
            ),
            P(
                f"{self.t('model')} {sc['model']} · {self.t('scored_at')} {sc['scored_at'][:10]} · "
                f"{self.t('as_of')} {sc['as_of']}",
                "small",
            ),
            Spacer(1, 4),
            P(self.t("reasons"), "th"),
        ]
        for i, reason in enumerate(sc["reasons"], 1):
            facts.append(P(f"{i}. [{reason['code']}] {reason['text']}"))
        if not sc["reasons"]:
            facts.append(P(self.t("none"), "small"))
        t = Table([[self.gauge(sc), facts]], colWidths=[160, WIDTH - 160])
        t.setStyle(
            TS([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BOX", (0, 0), (-1, -1), 0.4, LINE)])
        )
        return [*out, t]

    def identity(self) -> list:
        idn = self.r["identity"]
        pairs = [
            (self.t("name"), idn["name"]),
            (self.t("id_type"), self.l("id_type", idn["id_type"])),
            (self.t("id_number"), idn["id_number"]),
        ]
        if idn["subject_type"] == "person":
            gender = self.l("gender", idn["gender"]) if idn["gender"] else self.t("not_shown")
            pairs += [(self.t("birth_date"), idn["birth_date"]), (self.t("gender"), gender)]
        pairs.append((self.t("subject_ref"), idn["subject_ref"]))
        out = [P(self.t("section.identity"), "h2"), _kv(pairs)]
        if idn["contacts"]:
            rows = [
                [P(self.t(k), "th") for k in ("phone", "address", "reported_by", "reported_on")]
            ]
            rows += [
                [
                    P(c["phone"] or "—", "td"),
                    P(c["address"] or "—", "td"),
                    P(self.inst(c["institution"]), "td"),
                    P(c["reported_on"], "td"),
                ]
                for c in idn["contacts"]
            ]
            w = WIDTH
            out += [
                P(self.t("sub.contacts"), "h3"),
                _table(rows, [w * 0.2, w * 0.45, w * 0.2, w * 0.15]),
            ]
        return out

    def summary(self) -> list:
        sm = self.r["summary"]
        acc = sm["accounts"]
        rows = [
            [P(self.t("account_type"), "th"), P(self.t("currency"), "th")]
            + [P(self.t(k), "thnum") for k in ("accounts", "open", "credit_limit", "balance")]
        ]
        for b in acc["by_type"]:
            rows.append(
                [
                    P(self.l("account_type", b["account_type"]), "td"),
                    P(b["currency"], "td"),
                    P(b["accounts"], "num"),
                    P(b["open"], "num"),
                    P(fmt_money(b["credit_limit"]), "num"),
                    P(fmt_money(b["balance"]), "num"),
                ]
            )
        if not acc["by_type"]:
            rows.append([P(self.t("none_records"), "td"), "", "", "", "", ""])
        w = WIDTH
        totals = " · ".join(
            f"{self.t(k)} {acc[k]}"
            for k in ("total", "open", "closed", "charged_off", "transferred")
        )
        ov, pr = sm["overdue"], sm["public_records"]
        amounts = ", ".join(fmt_money(a["amount"], a["currency"]) for a in ov["amounts"]) or "0.00"
        overdue = [
            [P(self.t(k), "td"), P(v, "num")]
            for k, v in (
                ("accounts_overdue", ov["accounts_overdue"]),
                ("overdue_amount", amounts),
                ("worst_dpd_24m", ov["worst_days_past_due_24m"]),
                ("overdue_months_24m", ov["overdue_months_24m"]),
                ("accounts_90plus_24m", ov["accounts_90plus_24m"]),
            )
        ]
        public = [
            [P(self.t("total"), "td"), P(pr["total"], "num")],
            [P(self.t("unresolved"), "td"), P(pr["unresolved"], "num")],
        ]
        public += [
            [P(self.l("public_record_kind", k), "td"), P(pr[k], "num")]
            for k in labels.codes("public_record_kind")
        ]
        inq = [
            [P(self.t("window"), "th")]
            + [P(self.t(k), "thnum") for k in ("hard", "soft", "hard_institutions")]
        ]
        for key in ("last_1m", "last_3m", "last_6m", "last_12m", "last_24m"):
            win = sm["inquiries"][key]
            inq.append(
                [
                    P(self.t(key), "td"),
                    P(win["hard"], "num"),
                    P(win["soft"], "num"),
                    P(win["hard_institutions"], "num"),
                ]
            )
        half = (w - 6 * mm) / 2
        left = [
            P(self.t("sub.overdue"), "h3"),
            _table(overdue, [half * 0.7, half * 0.3], header=False),
            P(self.t("sub.public_records"), "h3"),
            _table(public, [half * 0.7, half * 0.3], header=False),
        ]
        right = [
            P(self.t("sub.inquiries"), "h3"),
            _table(inq, [half * 0.34, half * 0.2, half * 0.2, half * 0.26]),
        ]
        cols = Table([[left, right]], colWidths=[half + 3 * mm, half + 3 * mm])
        cols.setStyle(
            TS(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 3 * mm),
                ]
            )
        )
        return [
            P(self.t("section.summary"), "h2"),
            P(self.t("sub.accounts"), "h3"),
            _table(rows, [w * 0.24, w * 0.1, w * 0.12, w * 0.12, w * 0.2, w * 0.22]),
            P(totals, "small"),
            cols,
        ]

    def legend(self) -> Table:
        codes = labels.codes("grid")
        cells, style = [], []
        for i, code in enumerate(codes):
            bg = _GRID[code][0]
            cells += [
                Paragraph(
                    f'<font color="{GRID_COLOURS[code][1]}"><b>{escape(code)}</b></font>',
                    _STYLES["td"],
                ),
                P(self.l("grid", code), "small"),
            ]
            style.append(("BACKGROUND", (2 * (i % 7), i // 7), (2 * (i % 7), i // 7), bg))
        rows = [cells[:14], cells[14:] + [""] * (28 - len(cells))]
        t = Table(rows, colWidths=[5 * mm, WIDTH / 7 - 5 * mm] * 7)
        t.setStyle(
            TS(
                [
                    *style,
                    ("FONTSIZE", (0, 0), (-1, -1), 7),
                    ("ALIGN", (0, 0), (0, -1), "CENTER"),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                    ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return t

    def grid(self, cells: list[dict]) -> Table:
        years, months, codes, style = [], [], [], []
        col = 0
        for year, n in grid_years(cells):
            years += [year] + [""] * (n - 1)
            style.append(("SPAN", (col, 0), (col + n - 1, 0)))
            col += n
        for i, c in enumerate(cells):
            months.append(c["period"][5:])
            codes.append(c["code"])
            bg, fg = _GRID[c["code"]]
            style += [("BACKGROUND", (i, 2), (i, 2), bg), ("TEXTCOLOR", (i, 2), (i, 2), fg)]
        t = Table([years, months, codes], colWidths=[WIDTH / len(cells)] * len(cells))
        t.setStyle(
            TS(
                [
                    *style,
                    ("GRID", (0, 0), (-1, -1), 0.4, LINE),
                    ("BACKGROUND", (0, 0), (-1, 1), BAND),
                    ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                    ("FONT", (0, 0), (-1, 1), LATIN, 6),
                    ("TEXTCOLOR", (0, 0), (-1, 1), MUTED),
                    ("FONT", (0, 2), (-1, 2), LATIN_BOLD, 8),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return t

    def accounts(self) -> list:
        out = [P(self.t("section.accounts"), "h2"), P(self.t("sub.legend"), "h3"), self.legend()]
        if not self.r["accounts"]:
            return [*out, P(self.t("none_records"))]
        for i, a in enumerate(self.r["accounts"], 1):
            status = self.l("account_status", a["status"])
            if a["disputed"]:
                status += " · " + self.t("disputed")
            head = P(
                f"{i}. {self.l('account_type', a['account_type'])} · {self.inst(a['institution'])}"
                f" · {a['account_ref']} — {status}",
                "h3",
            )
            latest = a["latest"] or {}
            cur = a["currency"]
            pairs = [(self.t("opened_on"), a["opened_on"]), (self.t("closed_on"), a["closed_on"])]
            if a["credit_limit"] is not None:
                pairs.append((self.t("credit_limit"), fmt_money(a["credit_limit"], cur)))
            else:
                pairs.append((self.t("principal"), fmt_money(a["principal"], cur)))
            if a["term_months"]:
                pairs.append((self.t("term_months"), a["term_months"]))
            pairs += [
                (self.t("latest_period"), latest.get("period")),
                (self.t("balance"), fmt_money(latest.get("balance"))),
            ]
            if latest:
                pairs += [
                    (self.t("amount_due"), fmt_money(latest["amount_due"])),
                    (self.t("amount_paid"), fmt_money(latest["amount_paid"])),
                    (self.t("days_past_due"), latest["days_past_due"]),
                    (self.t("overdue_amount"), fmt_money(latest["overdue_amount"])),
                ]
            pairs.append((self.t("worst_dpd_grid"), a["worst_days_past_due"]))
            out.append(KeepTogether([head, _kv(pairs, cols=6), Spacer(1, 3), self.grid(a["grid"])]))
        return out

    def public_records(self) -> list:
        out = [P(self.t("section.public_records"), "h2")]
        if not self.r["public_records"]:
            return [*out, P(self.t("none_records"))]
        heads = ("kind", "authority", "case_ref", "amount", "filed_on", "resolved_on")
        rows = [[P(self.t(k), "thnum" if k == "amount" else "th") for k in heads]]
        for p in self.r["public_records"]:
            amount = fmt_money(p["amount"], p["currency"]) if p["amount"] else "—"
            rows.append(
                [
                    P(self.l("public_record_kind", p["kind"]), "td"),
                    P(p["authority"], "td"),
                    P(p["case_ref"], "td"),
                    P(amount, "num"),
                    P(p["filed_on"], "td"),
                    P(p["resolved_on"] or self.l("record_status", "unresolved"), "td"),
                ]
            )
        w = WIDTH
        return [*out, _table(rows, [w * 0.17, w * 0.25, w * 0.2, w * 0.14, w * 0.12, w * 0.12])]

    def disputes(self) -> list:
        out = [P(f"{self.t('section.disputes')} / {self.t('section.statements')}", "h2")]
        for key, items in (
            ("section.disputes", self.r["disputes"]),
            ("section.statements", self.r["statements"]),
        ):
            out.append(P(self.t(key), "h3"))
            if not items:
                out.append(P(self.t("none"), "small"))
            for item in items:
                if "record" in item:
                    status = self.l("dispute_status", item["status"])
                    if item["escalated"]:
                        status += f" · {self.t('escalated')}"
                    text = f"{item['opened_on']} {item['record']} · {status}"
                    if item["note"]:
                        text += f" · {item['note']}"
                else:
                    text = f"{item['added_on']} {item['text']}"
                out.append(P(text))
        return out

    def inquiries(self) -> list:
        out = [P(self.t("section.inquiries"), "h2")]
        if not self.r["inquiries"]:
            return [*out, P(self.t("none_records"))]
        rows = [
            [P(self.t(k), "th") for k in ("inquired_on", "institution", "purpose", "inquiry_kind")]
        ]
        rows += [
            [
                P(q["inquired_on"], "td"),
                P(self.inst(q["institution"]), "td"),
                P(self.l("purpose", q["purpose"]), "td"),
                P(self.l("inquiry_kind", q["kind"]), "td"),
            ]
            for q in self.r["inquiries"]
        ]
        w = WIDTH
        return [*out, _table(rows, [w * 0.18, w * 0.42, w * 0.25, w * 0.15])]

    def story(self) -> list:
        return [
            *self.title(),
            *self.header(),
            *self.score(),
            *self.identity(),
            *self.summary(),
            *self.accounts(),
            *self.public_records(),
            *self.disputes(),
            *self.inquiries(),
            Spacer(1, 8),
            P(self.t("footer"), "small"),
        ]

    def page(self, canvas, doc) -> None:
        canvas.saveState()
        canvas.setStrokeColor(LINE)
        canvas.line(14 * mm, 12 * mm, A4[0] - 14 * mm, 12 * mm)
        canvas.setFont(LATIN, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(
            14 * mm,
            8 * mm,
            f"{self.r['identity']['subject_ref']} · {self.r['header']['report_id']}",
        )
        page = self.t("page", n=doc.page)
        font = CJK_FONT if self.lang == "zh" else LATIN
        canvas.setFont(font, 7)
        canvas.drawRightString(A4[0] - 14 * mm, 8 * mm, page)
        canvas.restoreState()


def render_pdf(report: dict) -> bytes:
    """The report as an A4 PDF in the report's language."""
    doc = _Doc(report)
    buf = io.BytesIO()
    h, idn = report["header"], report["identity"]
    pdf = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=12 * mm,
        bottomMargin=16 * mm,
        title=f"{doc.t('title.' + idn['subject_type'])} {idn['subject_ref']}",
        author="Credo",
        subject=h["report_id"],
        creator="Credo",
        invariant=True,
    )
    pdf.build(doc.story(), onFirstPage=doc.page, onLaterPages=doc.page)
    return buf.getvalue()
