"""Exports for the meeting and the mail afterwards, rendered offline: a chart as PNG or SVG
(vl-convert renders Vega-Lite without a browser), and the slides of pilots.slides as a 16:9
PowerPoint deck (python-pptx) or PDF (reportlab; titles, messages and bullets are real text, charts
are pictures). One layout for both decks: title, the slide's message, then its chart or its bullets."""

from __future__ import annotations

import io
import json
import os
from xml.sax.saxutils import escape

import altair as alt
import vl_convert as vlc
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Inches, Pt

from . import charts, slides as slide_model
from .access import Actor
from .db import Database
from .slides import Slide

FORMATS = ("pptx", "pdf", "png")
CHART_WIDTH = 1000  # pixels, for charts drawn to fit their container on screen
PNG_SCALE = 2

# 16:9 page: 13.333 × 7.5 inches, the PowerPoint default widescreen.
PAGE_W, PAGE_H = 13.333, 7.5
MARGIN = 0.55
TITLE_TOP, TITLE_H = 0.35, 0.85
MESSAGE_TOP, MESSAGE_H = 1.2, 0.9
BODY_TOP = 2.15
INK = (0x22, 0x22, 0x22)
MUTED = (0x55, 0x55, 0x55)
VERDICT_INK = {"Roll out": charts.GOOD_COLOUR, "Stop": charts.BAD_COLOUR, "Extend": charts.PILOT_COLOUR}

# Point sizes: readable on a projector (PowerPoint's own defaults are 44/28/24/18).
TITLE_PT, MESSAGE_PT, BULLET_PT, APPENDIX_PT = 36, 22, 20, 14
NUMBER_PT, NUMBER_LABEL_PT, NUMBER_DETAIL_PT = 40, 18, 14


# ---------------------------------------------------------------- charts

def _fixed_width(spec, width: int):
    """Charts drawn to fill their container on screen need a width to render offline."""
    if isinstance(spec, dict):
        return {k: (width if k == "width" and v == "container" else _fixed_width(v, width)) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_fixed_width(v, width) for v in spec]
    return spec


def _spec(chart: alt.TopLevelMixin) -> dict:
    return _fixed_width(json.loads(chart.to_json()), CHART_WIDTH)


def chart_png(chart: alt.TopLevelMixin, scale: float = PNG_SCALE) -> bytes:
    """The chart as a PNG, `scale` pixels per CSS pixel (2 is sharp on a projector and in a deck)."""
    return vlc.vegalite_to_png(_spec(chart), scale=scale)


def chart_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as SVG text (text stays text: it scales and can be searched)."""
    return vlc.vegalite_to_svg(_spec(chart))


def _png_size(png: bytes) -> tuple[int, int]:
    # The IHDR chunk holds width and height, big-endian, at bytes 16-24 of every PNG.
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _fit(png: bytes, box_w: float, box_h: float) -> tuple[float, float]:
    """Width and height (inches) of the picture scaled to fit the box, keeping its shape."""
    w, h = _png_size(png)
    factor = min(box_w / w, box_h / h)
    return w * factor, h * factor


def _fitted_pt(texts: list[str], width: float, height: float, size: int, minimum: int = 12,
               spacing: float = 0.5) -> int:
    """The largest type size, from `size` down to `minimum`, at which the paragraphs fill no more than
    the box (inches); estimated with an average glyph width of half the type size."""
    while size > minimum:
        per_line = max(1, int(width * 72 / (size * 0.52)))
        lines = sum(-(-max(len(t), 1) // per_line) for t in texts)
        if (lines * 1.2 + spacing * (len(texts) - 1)) * size / 72 <= height:
            break
        size -= 1
    return size


def _bullet_pt(slide: Slide, width: float, height: float) -> int:
    """Bullets as large as fit; the appendix is small print."""
    largest = APPENDIX_PT if slide.kind == slide_model.APPENDIX else BULLET_PT
    return _fitted_pt(slide.bullets, width, height, largest, minimum=10)


# ---------------------------------------------------------------- PowerPoint

def _rgb(colour) -> RGBColor:
    if isinstance(colour, str):
        return RGBColor.from_string(colour.lstrip("#"))
    return RGBColor(*colour)


def _text_box(shapes, left, top, width, height, paragraphs, size, colour=INK, bold=False, bullet=False, box=None):
    """A text box of the paragraphs at this place and size; given `box` (a placeholder), that one."""
    if box is None:
        box = shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    else:
        box.left, box.top, box.width, box.height = Inches(left), Inches(top), Inches(width), Inches(height)
    frame = box.text_frame
    frame.word_wrap = True
    for i, text in enumerate(paragraphs):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = ("•  " if bullet else "") + text
        run.font.size = Pt(size)
        run.font.bold = bold
        run.font.color.rgb = _rgb(colour)
        if bullet:
            paragraph.space_after = Pt(size * 0.5)
    return box


def _pptx_numbers(shapes, slide: Slide) -> None:
    columns = 2
    tile_w = (PAGE_W - 2 * MARGIN - 0.4) / columns
    tile_h = (PAGE_H - BODY_TOP - MARGIN - 0.3) / 2
    for i, (label, value, detail) in enumerate(slide.numbers):
        left = MARGIN + (i % columns) * (tile_w + 0.4)
        top = BODY_TOP + (i // columns) * (tile_h + 0.3)
        _text_box(shapes, left, top, tile_w, 0.5, [label], NUMBER_LABEL_PT, MUTED)
        _text_box(shapes, left, top + 0.45, tile_w, 0.8, [value], NUMBER_PT, VERDICT_INK.get(value, INK), bold=True)
        _text_box(shapes, left, top + 1.3, tile_w, tile_h - 1.3, [detail],
                  _fitted_pt([detail], tile_w, tile_h - 1.3, NUMBER_DETAIL_PT, minimum=10), MUTED)


def deck_pptx(slides: list[Slide], title: str) -> bytes:
    """A 16:9 PowerPoint deck: every slide its title, its message, then its chart as a picture (PNG at
    twice the chart's size) or its bullets or headline numbers."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(PAGE_W), Inches(PAGE_H)
    deck.core_properties.title = title
    title_only = deck.slide_layouts[5]  # the default template's "Title Only": outline and screen readers see titles
    for slide in slides:
        page = deck.slides.add_slide(title_only)
        shapes = page.shapes
        is_title = slide.kind == slide_model.TITLE
        _text_box(shapes, MARGIN, 2.0 if is_title else TITLE_TOP, PAGE_W - 2 * MARGIN, 1.2 if is_title else TITLE_H,
                  [slide.title], 44 if is_title else TITLE_PT, bold=True, box=shapes.title)
        shapes.title.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
        shapes.title.text_frame.vertical_anchor = MSO_ANCHOR.TOP
        _text_box(shapes, MARGIN, 3.3 if is_title else MESSAGE_TOP, PAGE_W - 2 * MARGIN, MESSAGE_H,
                  [slide.message], _fitted_pt([slide.message], PAGE_W - 2 * MARGIN, MESSAGE_H, MESSAGE_PT), MUTED)
        body_top = 4.4 if is_title else BODY_TOP
        if slide.chart is not None:
            png = chart_png(slide.chart)
            box_w, box_h = PAGE_W - 2 * MARGIN, PAGE_H - body_top - MARGIN / 2
            w, h = _fit(png, box_w, box_h)
            shapes.add_picture(io.BytesIO(png), Inches(MARGIN + (box_w - w) / 2), Inches(body_top),
                               Emu(int(Inches(w))), Emu(int(Inches(h))))
        elif slide.numbers:
            _pptx_numbers(shapes, slide)
        elif slide.bullets:
            box_w, box_h = PAGE_W - 2 * MARGIN, PAGE_H - body_top - MARGIN / 2
            _text_box(shapes, MARGIN, body_top, box_w, box_h, slide.bullets, _bullet_pt(slide, box_w, box_h),
                      bullet=True)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- PDF

_FONT_CANDIDATES = [("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")]
# Glyphs missing from Vera, the font reportlab ships, used when no DejaVu Sans is installed.
_VERA_MISSING = {"→": "->", "←": "<-", "↑": "up", "↓": "down", "Σ": "sum", "τ": "target"}


def _pdf_fonts() -> tuple[str, str, bool]:
    """Regular and bold font names registered with reportlab, and whether they cover every glyph."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for regular, bold in _FONT_CANDIDATES:
        if os.path.exists(regular) and os.path.exists(bold):
            names, full = ("DejaVuSans", "DejaVuSans-Bold"), True
            break
    else:
        import reportlab

        folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
        regular, bold = os.path.join(folder, "Vera.ttf"), os.path.join(folder, "VeraBd.ttf")
        names, full = ("Vera", "VeraBd"), False
    for name, path in zip(names, (regular, bold)):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, path))
    return names[0], names[1], full


def deck_pdf(slides: list[Slide], title: str) -> bytes:
    """The same slides as 16:9 PDF pages, text as real text, charts as pictures."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Frame, KeepInFrame, Paragraph

    regular, bold, full = _pdf_fonts()

    def clean(text: str) -> str:
        if not full:
            for glyph, words in _VERA_MISSING.items():
                text = text.replace(glyph, words)
        return escape(text)

    def style(size: float, font: str = regular, colour=INK, space: float = 0, indent: float = 0) -> ParagraphStyle:
        return ParagraphStyle("s", fontName=font, fontSize=size, leading=size * 1.2, spaceAfter=space,
                              leftIndent=indent, bulletFontName=font, bulletFontSize=size,
                              textColor="#%02x%02x%02x" % colour if isinstance(colour, tuple) else colour)

    def draw(pdf, left, top, width, height, paragraphs):
        """Paragraphs into a box given from the top-left corner, in inches; shrunk rather than cut
        should the estimate of _fitted_pt fall short."""
        frame = Frame(left * inch, (PAGE_H - top - height) * inch, width * inch, height * inch,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, showBoundary=0)
        frame.addFromList([KeepInFrame(width * inch, height * inch, list(paragraphs), mode="shrink")], pdf)

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(PAGE_W * inch, PAGE_H * inch), pageCompression=1)
    pdf.setTitle(title)
    width = PAGE_W - 2 * MARGIN
    for slide in slides:
        is_title = slide.kind == slide_model.TITLE
        draw(pdf, MARGIN, 2.0 if is_title else TITLE_TOP, width, 1.2 if is_title else TITLE_H,
             [Paragraph(clean(slide.title), style(44 if is_title else TITLE_PT, bold))])
        draw(pdf, MARGIN, 3.3 if is_title else MESSAGE_TOP, width, MESSAGE_H,
             [Paragraph(clean(slide.message), style(_fitted_pt([slide.message], width, MESSAGE_H, MESSAGE_PT),
                                                     colour=MUTED))])
        body_top = 4.4 if is_title else BODY_TOP
        if slide.chart is not None:
            png = chart_png(slide.chart)
            box_h = PAGE_H - body_top - MARGIN / 2
            w, h = _fit(png, width, box_h)
            pdf.drawImage(ImageReader(io.BytesIO(png)), (MARGIN + (width - w) / 2) * inch,
                          (PAGE_H - body_top - h) * inch, w * inch, h * inch)
        elif slide.numbers:
            tile_w = (width - 0.4) / 2
            tile_h = (PAGE_H - BODY_TOP - MARGIN - 0.3) / 2
            for i, (label, value, detail) in enumerate(slide.numbers):
                left = MARGIN + (i % 2) * (tile_w + 0.4)
                top = BODY_TOP + (i // 2) * (tile_h + 0.3)
                ink = VERDICT_INK.get(value, "#%02x%02x%02x" % INK)
                draw(pdf, left, top, tile_w, tile_h, [
                    Paragraph(clean(label), style(NUMBER_LABEL_PT, colour=MUTED, space=4)),
                    Paragraph(clean(value), style(NUMBER_PT, bold, colour=ink, space=6)),
                    Paragraph(clean(detail), style(_fitted_pt([detail], tile_w, tile_h - 1.3, NUMBER_DETAIL_PT,
                                                              minimum=10), colour=MUTED))])
        elif slide.bullets:
            size = _bullet_pt(slide, width, PAGE_H - body_top - MARGIN / 2)
            draw(pdf, MARGIN, body_top, width, PAGE_H - body_top - MARGIN / 2,
                 [Paragraph(clean(b), style(size, space=size * 0.5, indent=size), bulletText="•")
                  for b in slide.bullets])
        pdf.showPage()
    pdf.save()
    return out.getvalue()


# ---------------------------------------------------------------- one pilot, the portfolio

def _render(slides: list[Slide], title: str, fmt: str, headline: alt.TopLevelMixin | None) -> bytes:
    if fmt == "pptx":
        return deck_pptx(slides, title)
    if fmt == "pdf":
        return deck_pdf(slides, title)
    if fmt == "png":
        if headline is None:
            raise ValueError("there is no chart to export as PNG")
        return chart_png(headline)
    raise ValueError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")


def headline_chart(slides: list[Slide], title: str, chart_title_starts: str,
                   message: str | None = None) -> alt.TopLevelMixin | None:
    """The one chart that stands for a deck (the first whose slide title starts so, else the first),
    titled with the deck's title and `message` (else its slide's message), so that the picture
    alone says what it is."""
    charted = [s for s in slides if s.chart is not None]
    slide = next((s for s in charted if s.title.startswith(chart_title_starts)), charted[0] if charted else None)
    if slide is None:
        return None
    return slide.chart.properties(title=alt.TitleParams(
        title, subtitle=message or slide.message, anchor="start", fontSize=slide_model.SLIDE_BASE_SIZE + 10,
        fontWeight="bold", subtitleFontSize=slide_model.SLIDE_BASE_SIZE + 2, subtitlePadding=8, offset=24))


def export_pilot(db: Database, actor: Actor, pilot_id: int, fmt: str) -> bytes:
    """One pilot's presentation: its deck as pptx or pdf, or its headline chart (every metric against
    its target) as png."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    slides = slide_model.pilot_slides(db, actor, pilot_id)
    verdict = next(s.message for s in slides if s.kind == slide_model.NUMBERS)
    return _render(slides, slides[0].title, fmt, headline_chart(slides, slides[0].title, "Every metric", verdict))


def export_portfolio(db: Database, actor: Actor, fmt: str) -> bytes:
    """The portfolio's presentation: its deck as pptx or pdf, or its forest plot as png."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    slides = slide_model.portfolio_slides(db, actor)
    title = "Customer-experience pilot portfolio"
    return _render(slides, title, fmt, headline_chart(slides, title, "Every evaluated"))
