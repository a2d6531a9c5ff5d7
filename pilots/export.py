"""Exports for the meeting and the mail afterwards, rendered offline: a chart as PNG or SVG
(vl-convert renders Vega-Lite without a browser), and the slides of pilots.slides as a 16:9
PowerPoint deck (python-pptx) or PDF (reportlab; titles, messages and bullets are real text, charts
are pictures). One layout for both decks: title, the slide's message, then its chart or its bullets,
a page number on every page. The title slide carries the organisation's name and logo (pilots.org),
the date and who prepared the deck; every PowerPoint slide has speaker notes with its message and
reasons; the PDF puts the appendix slides after the others, under an "Appendix" heading page.

Text is data: whatever a pilot's name or hypothesis holds, every text is made printable and bounded
(pilots.text.printable) before a renderer sees it, here as well as where the slides and charts are
made: the chart renderer aborts the whole process on a control character, PowerPoint and PDF refuse
them, a very long text stalls all three, and PowerPoint's document properties hold 255 characters.

Its length is deliberate: the PPTX and the PDF are written from the same slides side by side,
so the two decks cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import textwrap
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

import altair as alt
import vl_convert as vlc
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from . import charts, org, slides as slide_model, text
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
FOOTER_TOP, FOOTER_H = PAGE_H - 0.45, 0.3  # page number (right) and organisation (left) on every page
BODY_BOTTOM = PAGE_H - 0.55  # charts and bullets end above the footer
LOGO_W, LOGO_H = 3.0, 1.1  # the box the logo is fitted into, top right of the title slide
CAPTION_H = 0.9  # small print under a chart for the bullets of a slide that has both
INK = (0x22, 0x22, 0x22)
MUTED = (0x55, 0x55, 0x55)
VERDICT_INK = {"Roll out": charts.GOOD_COLOUR, "Stop": charts.BAD_COLOUR, "Extend": charts.PILOT_COLOUR}

# Point sizes: readable on a projector (PowerPoint's own defaults are 44/28/24/18).
TITLE_PT, MESSAGE_PT, BULLET_PT, APPENDIX_PT = 36, 22, 20, 14
NUMBER_PT, NUMBER_LABEL_PT, NUMBER_DETAIL_PT = 40, 18, 14
ORG_PT, COVER_PT, FOOTER_PT = 24, 16, 11
APPENDIX_HEADING = "Appendix"
SUBTITLE_LINE = 80  # characters of a line under a picture's title: about as wide as the chart
PROPERTY_LIMIT = 255  # characters of a PowerPoint document property (title, author)


# ---------------------------------------------------------------- text is data

def _printable(value) -> str:
    return text.printable(value, text.MAX_TEXT)


def _printable_spec(spec):
    """Every string of a chart's specification (its data included) printable and bounded."""
    if isinstance(spec, dict):
        return {_printable(k): _printable_spec(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_printable_spec(v) for v in spec]
    return _printable(spec) if isinstance(spec, str) else spec


# ---------------------------------------------------------------- the title slide's cover lines

@dataclass(frozen=True)
class Cover:
    """What the title slide says beyond the slide itself: the organisation, its logo, the date and who
    prepared the deck."""

    organisation: str
    date: dt.date
    prepared_by: str
    logo: bytes | None = None

    @property
    def line(self) -> str:
        return f"{self.date.day} {self.date:%B %Y} · Prepared by {self.prepared_by}"


def prepared_by(settings: org.OrgSettings, actor: Actor, explicit: str | None = None) -> str:
    """Who the deck says prepared it: `explicit` if given; else the organisation's "prepared by"
    setting and the acting person's e-mail, "CCO office (ana@example.com)", or whichever of the two
    there is; the command line, acting as no person, without a setting: "the CCO office"."""
    if explicit and slide_model.one_line(explicit, org.MAX_TEXT):
        return slide_model.one_line(explicit, org.MAX_TEXT)
    person = slide_model.one_line(actor.email, PROPERTY_LIMIT) if "@" in actor.email else None
    setting = slide_model.one_line(settings.prepared_by, org.MAX_TEXT)
    if setting and person:
        return f"{setting} ({person})"
    return setting or person or "the CCO office"


def deck_cover(db: Database, actor: Actor, today: dt.date | None = None,
               prepared_by_text: str | None = None) -> Cover:
    """The cover lines of a deck exported now by `actor`, from the organisation's settings."""
    settings = org.org_settings(db)
    return Cover(slide_model.one_line(settings.name, org.MAX_TEXT) or org.DEFAULT_NAME, today or dt.date.today(),
                 prepared_by(settings, actor, prepared_by_text), settings.logo)


def speaker_notes(slide: Slide, cover: Cover | None = None) -> str:
    """What the presenter says on a slide, in plain text, one paragraph a line: its message, then its
    bullets (the reasons, the numbers written out, the status); on the title slide also the cover."""
    lines = [_printable(slide.message).strip(), *(_printable(b).strip() for b in slide.bullets)]
    if cover is not None and slide.kind == slide_model.TITLE:
        lines += [cover.organisation, cover.line]
    lines = [line for line in dict.fromkeys(lines) if line]
    return "\n".join(lines) or _printable(slide.title)


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _logo_box(logo: bytes) -> tuple[float, float, float, float]:
    """Left, top, width and height (inches) of the logo fitted into its box at the title slide's top right."""
    w, h = _image_size(logo)
    factor = min(LOGO_W / w, LOGO_H / h)
    return PAGE_W - MARGIN - w * factor, 0.4, w * factor, h * factor


# ---------------------------------------------------------------- charts

def _fixed_width(spec, width: int):
    """Charts drawn to fill their container on screen need a width to render offline."""
    if isinstance(spec, dict):
        return {k: (width if k == "width" and v == "container" else _fixed_width(v, width)) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_fixed_width(v, width) for v in spec]
    return spec


def _spec(chart: alt.TopLevelMixin | dict) -> dict:
    spec = chart if isinstance(chart, dict) else json.loads(chart.to_json())
    return _printable_spec(_fixed_width(spec, CHART_WIDTH))


def chart_png(chart: alt.TopLevelMixin | dict, scale: float = PNG_SCALE) -> bytes:
    """The chart (an Altair chart or its Vega-Lite spec) as a PNG, `scale` pixels per CSS pixel (2 is
    sharp on a projector and in a deck)."""
    return vlc.vegalite_to_png(_spec(chart), scale=scale)


def chart_svg(chart: alt.TopLevelMixin | dict) -> str:
    """The chart (an Altair chart or its Vega-Lite spec) as SVG text (text stays text: it scales and
    can be searched)."""
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
    for i, paragraph_text in enumerate(paragraphs):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = ("•  " if bullet else "") + _printable(paragraph_text)
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


def _slide_number_field(paragraph, number: int) -> None:
    """A PowerPoint slide-number field (it follows the slide if slides are moved), showing `number`."""
    field = paragraph._p.makeelement(qn("a:fld"), {"id": "{" + str(uuid.uuid4()).upper() + "}", "type": "slidenum"})
    props = field.makeelement(qn("a:rPr"), {"lang": "en-GB", "sz": str(FOOTER_PT * 100)})
    fill = props.makeelement(qn("a:solidFill"), {})
    fill.append(fill.makeelement(qn("a:srgbClr"), {"val": "%02X%02X%02X" % MUTED}))
    props.append(fill)
    field.append(props)
    digits = field.makeelement(qn("a:t"), {})
    digits.text = str(number)
    field.append(digits)
    paragraph._p.append(field)


def _pptx_footer(shapes, number: int, total: int, left_text: str) -> None:
    """The page number, "3 / 12", at the bottom right; `left_text` (the organisation) at the bottom left."""
    box = shapes.add_textbox(Inches(PAGE_W - MARGIN - 1.6), Inches(FOOTER_TOP), Inches(1.6), Inches(FOOTER_H))
    box.text_frame.word_wrap = True
    paragraph = box.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.RIGHT
    _slide_number_field(paragraph, number)
    run = paragraph.add_run()
    run.text = f" / {total}"
    run.font.size = Pt(FOOTER_PT)
    run.font.color.rgb = _rgb(MUTED)
    if left_text:
        _text_box(shapes, MARGIN, FOOTER_TOP, PAGE_W - 2 * MARGIN - 2.0, FOOTER_H, [left_text], FOOTER_PT, MUTED)


def _pptx_cover(shapes, cover: Cover) -> None:
    """The organisation, the date and who prepared the deck at the top of the title slide; the logo at
    its top right."""
    room = PAGE_W - 2 * MARGIN - (LOGO_W + 0.3 if cover.logo else 0)
    _text_box(shapes, MARGIN, 0.4, room, 0.55, [cover.organisation],
              _fitted_pt([cover.organisation], room, 0.55, ORG_PT, minimum=14), bold=True)
    _text_box(shapes, MARGIN, 0.98, room, 0.7, [cover.line], _fitted_pt([cover.line], room, 0.7, COVER_PT), MUTED)
    if cover.logo:
        left, top, w, h = _logo_box(cover.logo)
        shapes.add_picture(io.BytesIO(cover.logo), Inches(left), Inches(top), Emu(int(Inches(w))),
                           Emu(int(Inches(h))))


def deck_pptx(slides: list[Slide], title: str, cover: Cover | None = None) -> bytes:
    """A 16:9 PowerPoint deck: every slide its title, its message, then its chart as a picture (PNG at
    twice the chart's size, with the slide's bullets as small print below it if it has any) or its
    bullets or headline numbers; its page number at the bottom; speaker notes with its message and
    bullets. With `cover`, the title slide carries the organisation, logo, date and "prepared by", and
    every other slide the organisation's name at the bottom left."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(PAGE_W), Inches(PAGE_H)
    deck.core_properties.title = text.printable(title, PROPERTY_LIMIT)
    if cover is not None:
        deck.core_properties.author = text.printable(cover.prepared_by, PROPERTY_LIMIT)
    title_only = deck.slide_layouts[5]  # the default template's "Title Only": outline and screen readers see titles
    width = PAGE_W - 2 * MARGIN
    for number, slide in enumerate(slides, start=1):
        page = deck.slides.add_slide(title_only)
        shapes = page.shapes
        is_title = slide.kind == slide_model.TITLE
        _text_box(shapes, MARGIN, 2.0 if is_title else TITLE_TOP, width, 1.2 if is_title else TITLE_H,
                  [slide.title], 44 if is_title else TITLE_PT, bold=True, box=shapes.title)
        shapes.title.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
        shapes.title.text_frame.vertical_anchor = MSO_ANCHOR.TOP
        _text_box(shapes, MARGIN, 3.3 if is_title else MESSAGE_TOP, width, MESSAGE_H,
                  [slide.message], _fitted_pt([slide.message], width, MESSAGE_H, MESSAGE_PT), MUTED)
        body_top = 4.4 if is_title else BODY_TOP
        if slide.chart is not None:
            png = chart_png(slide.chart)
            caption = CAPTION_H if slide.bullets else 0
            box_h = BODY_BOTTOM - body_top - caption
            w, h = _fit(png, width, box_h)
            shapes.add_picture(io.BytesIO(png), Inches(MARGIN + (width - w) / 2), Inches(body_top),
                               Emu(int(Inches(w))), Emu(int(Inches(h))))
            if caption:
                _text_box(shapes, MARGIN, body_top + h + 0.05, width, caption - 0.05, slide.bullets,
                          _fitted_pt(slide.bullets, width, caption - 0.05, APPENDIX_PT, minimum=10), MUTED)
        elif slide.numbers:
            _pptx_numbers(shapes, slide)
        elif slide.bullets:
            box_h = BODY_BOTTOM - body_top
            _text_box(shapes, MARGIN, body_top, width, box_h, slide.bullets, _bullet_pt(slide, width, box_h),
                      bullet=True)
        if cover is not None and is_title:
            _pptx_cover(shapes, cover)
        _pptx_footer(shapes, number, len(slides), cover.organisation if cover is not None and not is_title else "")
        page.notes_slide.notes_text_frame.text = speaker_notes(slide, cover)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- PDF

_FONT_CANDIDATES = [("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")]
# Glyphs missing from Vera, the font reportlab ships, used when no DejaVu Sans is installed.
_VERA_MISSING = {"→": "->", "←": "<-", "↑": "up", "↓": "down", "Σ": "sum", "τ": "target"}


def pdf_text(value, full: bool) -> str:
    """Text for a reportlab Paragraph: printable, bounded, escaped (user text is never markup), and
    without glyphs the font lacks (`full`: the font covers every glyph)."""
    shown = _printable(value)
    if not full:
        for glyph, words in _VERA_MISSING.items():
            shown = shown.replace(glyph, words)
    return escape(shown)


def pdf_fonts() -> tuple[str, str, bool]:
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
    for name, path in zip(names, (regular, bold), strict=True):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, path))
    return names[0], names[1], full


def pdf_pages(slides: list[Slide]) -> list[Slide]:
    """The PDF's pages: the slides other than the appendix in their order; then, if there is an
    appendix, a page headed "Appendix" listing what it holds, and the appendix slides."""
    main = [s for s in slides if s.kind != slide_model.APPENDIX]
    appendix = [s for s in slides if s.kind == slide_model.APPENDIX]
    if not appendix:
        return main
    first = len(main) + 2
    contents = [f"{_appendix_title(s.title)} (page {first + i})" for i, s in enumerate(appendix)]
    heading = Slide(APPENDIX_HEADING, "The detail behind the slides: how the numbers were obtained and checked.",
                    bullets=contents, kind=slide_model.TEXT)
    return main + [heading] + appendix


def _appendix_title(title: str) -> str:
    """'Appendix: method' as 'Method'."""
    shown = _printable(title).strip()
    if shown.lower().startswith(APPENDIX_HEADING.lower()):
        shown = shown[len(APPENDIX_HEADING):].lstrip(" :–-")
    return shown[:1].upper() + shown[1:] if shown else _printable(title)


def deck_pdf(slides: list[Slide], title: str, cover: Cover | None = None) -> bytes:
    """The same slides as 16:9 PDF pages (pdf_pages: the appendix last, under an "Appendix" heading),
    text as real text, charts as pictures with a chart slide's bullets as small print below, a page
    number on every page, and a bookmark for every page. With `cover`, the title page carries the
    organisation, logo, date and "prepared by", and every other page the organisation at the bottom left."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Frame, KeepInFrame, Paragraph

    regular, bold, full = pdf_fonts()

    def clean(value: str) -> str:
        return pdf_text(value, full)

    def style(size: float, font: str = regular, colour=INK, space: float = 0, indent: float = 0,
              align: int = 0) -> ParagraphStyle:
        return ParagraphStyle("s", fontName=font, fontSize=size, leading=size * 1.2, spaceAfter=space,
                              leftIndent=indent, bulletFontName=font, bulletFontSize=size, alignment=align,
                              textColor="#%02x%02x%02x" % colour if isinstance(colour, tuple) else colour)

    def draw(pdf, left, top, width, height, paragraphs):
        """Paragraphs into a box given from the top-left corner, in inches; shrunk rather than cut
        should the estimate of _fitted_pt fall short."""
        frame = Frame(left * inch, (PAGE_H - top - height) * inch, width * inch, height * inch,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, showBoundary=0)
        frame.addFromList([KeepInFrame(width * inch, height * inch, list(paragraphs), mode="shrink")], pdf)

    def picture(data: bytes):
        """A logo for reportlab, whatever its colour mode (CMYK JPEG, palette PNG)."""
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            image.load()
            alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            return ImageReader(image.convert("RGBA" if alpha else "RGB"))

    pages = pdf_pages(slides)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(PAGE_W * inch, PAGE_H * inch), pageCompression=1)
    pdf.setTitle(text.printable(title, PROPERTY_LIMIT))
    if cover is not None:
        pdf.setAuthor(text.printable(cover.prepared_by, PROPERTY_LIMIT))
    width = PAGE_W - 2 * MARGIN
    for number, slide in enumerate(pages, start=1):
        is_title = slide.kind == slide_model.TITLE
        in_appendix = slide.kind == slide_model.APPENDIX  # after the page headed "Appendix" (pdf_pages)
        key = f"page{number}"
        pdf.bookmarkPage(key)
        pdf.addOutlineEntry(_printable(slide.title) or f"Page {number}", key,
                            level=1 if in_appendix else 0)
        draw(pdf, MARGIN, 2.0 if is_title else TITLE_TOP, width, 1.2 if is_title else TITLE_H,
             [Paragraph(clean(slide.title), style(44 if is_title else TITLE_PT, bold))])
        draw(pdf, MARGIN, 3.3 if is_title else MESSAGE_TOP, width, MESSAGE_H,
             [Paragraph(clean(slide.message), style(_fitted_pt([slide.message], width, MESSAGE_H, MESSAGE_PT),
                                                     colour=MUTED))])
        body_top = 4.4 if is_title else BODY_TOP
        if slide.chart is not None:
            png = chart_png(slide.chart)
            caption = CAPTION_H if slide.bullets else 0
            w, h = _fit(png, width, BODY_BOTTOM - body_top - caption)
            pdf.drawImage(ImageReader(io.BytesIO(png)), (MARGIN + (width - w) / 2) * inch,
                          (PAGE_H - body_top - h) * inch, w * inch, h * inch)
            if caption:
                size = _fitted_pt(slide.bullets, width, caption - 0.05, APPENDIX_PT, minimum=10)
                draw(pdf, MARGIN, body_top + h + 0.05, width, caption - 0.05,
                     [Paragraph(clean(b), style(size, colour=MUTED, space=size * 0.3)) for b in slide.bullets])
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
            size = _bullet_pt(slide, width, BODY_BOTTOM - body_top)
            draw(pdf, MARGIN, body_top, width, BODY_BOTTOM - body_top,
                 [Paragraph(clean(b), style(size, space=size * 0.5, indent=size), bulletText="•")
                  for b in slide.bullets])
        if cover is not None and is_title:
            room = width - (LOGO_W + 0.3 if cover.logo else 0)
            draw(pdf, MARGIN, 0.4, room, 0.55, [Paragraph(clean(cover.organisation), style(
                _fitted_pt([cover.organisation], room, 0.55, ORG_PT, minimum=14), bold))])
            draw(pdf, MARGIN, 0.98, room, 0.7, [Paragraph(clean(cover.line), style(
                _fitted_pt([cover.line], room, 0.7, COVER_PT), colour=MUTED))])
            if cover.logo:
                left, top, w, h = _logo_box(cover.logo)
                pdf.drawImage(picture(cover.logo), left * inch, (PAGE_H - top - h) * inch, w * inch, h * inch,
                              mask="auto")
        footer = [] if is_title else [cover.organisation] if cover is not None else []
        if in_appendix:
            footer.append(APPENDIX_HEADING)
        if footer:
            draw(pdf, MARGIN, FOOTER_TOP, width - 2.0, FOOTER_H,
                 [Paragraph(clean(" · ".join(footer)), style(FOOTER_PT, colour=MUTED))])
        draw(pdf, PAGE_W - MARGIN - 1.6, FOOTER_TOP, 1.6, FOOTER_H,
             [Paragraph(f"{number} / {len(pages)}", style(FOOTER_PT, colour=MUTED, align=2))])
        pdf.showPage()
    pdf.save()
    return out.getvalue()


# ---------------------------------------------------------------- one pilot, the portfolio

def _render(slides: list[Slide], title: str, fmt: str, headline: alt.TopLevelMixin | None,
            cover: Cover | None = None) -> bytes:
    if fmt == "pptx":
        return deck_pptx(slides, title, cover)
    if fmt == "pdf":
        return deck_pdf(slides, title, cover)
    if fmt == "png":
        if headline is None:
            raise ValueError("there is no chart to export as PNG")
        return chart_png(headline)
    raise ValueError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")


def headline_chart(slides: list[Slide], title: str, chart_title_starts: str,
                   message: str | None = None) -> alt.TopLevelMixin | None:
    """The one chart that stands for a deck (the first whose slide title starts so, else the first),
    titled with the deck's title and `message` (else its slide's message), wrapped to the chart's
    width, so that the picture alone says what it is."""
    charted = [s for s in slides if s.chart is not None]
    slide = next((s for s in charted if s.title.startswith(chart_title_starts)), charted[0] if charted else None)
    if slide is None:
        return None
    return slide.chart.properties(title=alt.TitleParams(
        title, subtitle=textwrap.wrap(message or slide.message, SUBTITLE_LINE), anchor="start",
        fontSize=slide_model.SLIDE_BASE_SIZE + 10,
        fontWeight="bold", subtitleFontSize=slide_model.SLIDE_BASE_SIZE + 2, subtitlePadding=8, offset=24))


def export_pilot(db: Database, actor: Actor, pilot_id: int, fmt: str, *, today: dt.date | None = None,
                 prepared_by: str | None = None) -> bytes:
    """One pilot's presentation: its deck as pptx or pdf (title slide dated `today`, default today, and
    prepared by `prepared_by`, default see export.prepared_by), or its headline chart (every metric
    against its target) as png."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    slides = slide_model.pilot_slides(db, actor, pilot_id)
    cover = deck_cover(db, actor, today, prepared_by) if fmt != "png" else None
    return _render(slides, slides[0].title, fmt,
                   headline_chart(slides, slides[0].title, "Every metric", headline_words(slides)), cover)


def headline_words(slides: list[Slide]) -> str:
    """What a pilot's picture says under its name: the decision or verdict (the headline slide's
    first figure), then what the figures mean (its message)."""
    headline = next(s for s in slides if s.kind == slide_model.NUMBERS)
    return f"{headline.numbers[0][2]}. {headline.message}"


def export_portfolio(db: Database, actor: Actor, fmt: str, *, today: dt.date | None = None,
                     prepared_by: str | None = None) -> bytes:
    """The portfolio's presentation: its deck as pptx or pdf (cover as for export_pilot), or its forest
    plot as png."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    slides = slide_model.portfolio_slides(db, actor, today=today)
    title = "Customer-experience pilot portfolio"
    cover = deck_cover(db, actor, today, prepared_by) if fmt != "png" else None
    return _render(slides, title, fmt, headline_chart(slides, title, "Every evaluated"), cover)
