"""The monthly CX scorecard (`pilots.scorecard`) as one A4 landscape PDF page, the way a top team gets its
revenue report: the organisation and the month at the top, the north star large with its change against
last month and last year, the drivers in a table, then pilots in flight, decisions due and rollouts that
need a look. Text is real text, in the fonts the decks use (`pilots.export`); changes are coloured as
the charts colour good and bad news, and always written in words too. Also the one call the command line
needs: a unit by name and a month (by default the last complete one) to the PDF's bytes."""

from __future__ import annotations

import io
import re

from . import charts, org, store, text
from .access import Actor
from .analysis import today
from .db import Database
from .export import VERDICT_INK, pdf_fonts, pdf_text
from .model import Problem, ValidationError
from .scorecard import ENOUGH, WHOLE_ORGANISATION, Card, Change, FigureLine, last_complete_month, month_words, monthly_card

FORMATS = ("pdf",)
PAGE_W, PAGE_H = 11.69, 8.27  # A4 landscape, inches
MARGIN = 0.5
GAP = 0.35
LEFT_W = 6.9  # the figures; the pilots take the rest
INK, MUTED = "#222222", "#555555"
CHANGE_INK = {True: charts.GOOD_COLOUR, False: charts.BAD_COLOUR, None: MUTED}
STATE_INK = {**charts.VERDICT_COLOURS, **VERDICT_INK}  # as the decks colour a verdict on paper
MAX_LISTED = 8  # pilots in a list before "and N more"
METHOD = ("Monthly values pool every answer in the month (NPS: promoters +100, passives 0, detractors −100) and "
          f"every period figure weighted by its n; {ENOUGH}. Pilot states as of today.")


def card_pdf(card: Card, org_settings: org.OrgSettings) -> bytes:
    """The card as one A4 landscape page of PDF, under the organisation's name."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Frame, KeepInFrame, Paragraph, Table, TableStyle

    regular, bold, full = pdf_fonts()

    def clean(value) -> str:
        return pdf_text(value, full)

    def style(size: float, font: str = regular, colour: str = INK, space: float = 0) -> ParagraphStyle:
        return ParagraphStyle("s", fontName=font, fontSize=size, leading=size * 1.2, spaceAfter=space,
                              textColor=colour)

    def line(value, size: float, font: str = regular, colour: str = INK, space: float = 0) -> Paragraph:
        return Paragraph(clean(value), style(size, font, colour, space))

    def draw(left: float, top: float, width: float, height: float, flowables) -> None:
        """Flowables into a box given from the top-left corner, in inches, shrunk rather than cut."""
        frame = Frame(left * inch, (PAGE_H - top - height) * inch, width * inch, height * inch,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, showBoundary=0)
        frame.addFromList([KeepInFrame(width * inch, height * inch, list(flowables), mode="shrink")], pdf)

    def change(c: Change, size: float, against: bool = True) -> Paragraph:
        return line(f"vs {month_words(c.month)}: {c.reads}" if against else c.reads, size, colour=CHANGE_INK[c.good])

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(PAGE_W * inch, PAGE_H * inch), pageCompression=1)
    organisation = org_settings.name or org.DEFAULT_NAME
    pdf.setTitle(text.printable(f"{card.title}: {card.scope}", 255))
    pdf.setAuthor(text.printable(organisation, 255))
    width = PAGE_W - 2 * MARGIN
    draw(MARGIN, 0.4, width, 1.1, [
        line(organisation, 12, bold, MUTED, 2),
        line(f"{card.title}: {card.scope}", 24, bold, space=3),
        line(f"Figures for {month_words(card.month)}; pilots and decisions as of {card.as_of:%d %B %Y}.", 11,
             colour=MUTED)])

    body_top, body_h = 1.65, PAGE_H - 1.65 - 0.95
    figures = []
    for f in card.north_star:
        figures += [line(f"North star: {f.label}", 13, colour=MUTED, space=2),
                    line(f.value_words, 30, bold, space=4),
                    change(f.vs_last_month, 12), change(f.vs_last_year, 12),
                    line(f"{_basis(f)}", 9, colour=MUTED, space=12)]
    if card.drivers:
        cell = style(9.5)
        first = card.drivers[0]
        heads = ("Driver", month_words(card.month), f"vs {month_words(first.vs_last_month.month)}",
                 f"vs {month_words(first.vs_last_year.month)}", "n this month")
        rows = [[line(h, 9.5, bold) for h in heads]]
        rows += [[Paragraph(clean(f.label), cell), Paragraph(clean(f.value_words), cell),
                  change(f.vs_last_month, 9.5, against=False), change(f.vs_last_year, 9.5, against=False),
                  Paragraph(clean(f.this_month.basis), style(9.5, colour=MUTED))] for f in card.drivers]
        table = Table(rows, colWidths=[w * inch for w in (1.7, 1.1, 1.6, 1.6, 0.9)], repeatRows=1)
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                                   ("LINEBELOW", (0, 1), (-1, -1), 0.3, "#BBBBBB"),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]))
        figures += [line("Drivers", 13, colour=MUTED, space=4), table]
    draw(MARGIN, body_top, LEFT_W, body_h, figures)

    right = []
    Items = list[tuple[str, str, str | None]]  # a name, a line under it, the state label colouring that line
    flying: Items = [(card.pilot_name(p), p.state.headline, p.state.label) for p in card.in_flight]
    waiting: Items = [(card.pilot_name(d), f"window ended {d.window_ended:%d %b %Y}, waiting {d.waiting}; "
                       f"the evidence: {d.state.headline}", None) for d in card.decisions_due]
    sections = [("Pilots in flight", flying, "No pilot window ran this month."),
                ("Decisions due", waiting, "No pilot is waiting for a decision.")]
    if card.rollouts_needing_a_look:
        sections.append(("Rollouts that need a look", [(item, "", None) for item in card.rollouts_needing_a_look], ""))
    for heading, items, empty in sections:
        right.append(line(heading, 13, colour=MUTED, space=4))
        for name, detail, label in items[:MAX_LISTED]:
            right.append(line(name, 10.5, bold if detail else regular, space=0 if detail else 5))
            if detail:
                ink = STATE_INK.get(label, MUTED) if label else MUTED
                right.append(line(detail, 9.5, colour=ink, space=5))
        if len(items) > MAX_LISTED:
            right.append(line(f"and {len(items) - MAX_LISTED} more", 9.5, colour=MUTED, space=5))
        if not items:
            right.append(line(empty, 9.5, colour=MUTED, space=5))
        right.append(line("", 6))
    draw(MARGIN + LEFT_W + GAP, body_top, width - LEFT_W - GAP, body_h, right)

    prepared = today()
    draw(MARGIN, PAGE_H - 0.85, width, 0.5, [line(f"{METHOD} Prepared {prepared.day} {prepared:%B %Y}.", 8,
                                                  colour=MUTED)])
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _basis(f: FigureLine) -> str:
    return f"{f.this_month.basis} this month; {f.last_month.basis} last month; {f.last_year.basis} a year ago"


def export_scorecard(db: Database, actor: Actor, month: str | None = None, unit: str | None = None,
                     fmt: str = "pdf") -> bytes:
    """What `pilots scorecard` writes: the card of `month` (YYYY-MM; default the last complete month
    with data) for the unit named `unit` (case does not matter; None: the whole organisation) as PDF.
    ValidationError naming 'unit' or 'month' for an unknown unit or a month without data; AccessDenied
    for a unit (or the organisation) the actor may not read."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    unit_id = None
    if unit is not None:
        units = store.list_units(db, actor)
        found = store.unit_lookup(units).get(unit.strip().casefold())
        if found is None:
            raise ValidationError([store.unknown_unit_problem(unit, units, column="unit")])
        unit_id = found.unit_id
    month = month or last_complete_month(db, actor, unit_id)
    if month is None:
        raise ValidationError([Problem("there is no data yet for a scorecard", column="month")])
    return card_pdf(monthly_card(db, actor, month, unit_id), org.org_settings(db))


def file_name(card: Card) -> str:
    """'cx-scorecard-2026-11-contact-centre.pdf': the card's month and scope, in letters and digits only."""
    scope = "organisation" if card.scope == WHOLE_ORGANISATION else card.scope
    slug = re.sub(r"[^a-z0-9]+", "-", text.printable(scope).casefold()).strip("-")[:40] or f"unit-{card.unit_id}"
    return f"cx-scorecard-{card.key}-{slug}.pdf"
