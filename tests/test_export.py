"""Exports opened back: PNGs are real images of the expected size, SVGs are SVG, decks open in
python-pptx with the expected slides, titles, pictures, page numbers and speaker notes, PDFs open in
pypdf with the expected pages and text and the appendix last under its heading, the title slide
carries the organisation, date, "prepared by" and logo, and the command line writes the files.
Hostile text (control characters, 100 KB names) in every export: tests/test_hostile_text.py."""

import datetime as dt
import io
import re

import altair as alt
import pandas as pd
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches
from pypdf import PdfReader

from pilots import analysis, export, org, slides
from pilots.access import COMMAND_LINE, Actor
from pilots.cli import main


@pytest.fixture(scope="module")
def pilot_deck(demo):
    return slides.pilot_slides(demo, COMMAND_LINE, 2)


def svg_size(svg: str) -> tuple[float, float]:
    head = re.search(r"<svg[^>]*>", svg).group(0)
    return float(re.search(r'width="([\d.]+)"', head).group(1)), float(re.search(r'height="([\d.]+)"', head).group(1))


def bar_chart(width="container"):
    frame = pd.DataFrame({"unit": ["A", "B"], "value": [1.0, 2.0]})
    return alt.Chart(frame).mark_bar().encode(x="value:Q", y=alt.Y("unit:N", title="Business unit")).properties(
        width=width, height=120)


def test_png_is_an_image_of_the_charts_size_times_the_scale():
    chart = bar_chart(width=300)
    width, height = svg_size(export.chart_svg(chart))
    for scale in (1, 2):
        image = Image.open(io.BytesIO(export.chart_png(chart, scale=scale)))
        assert image.format == "PNG"
        assert image.size == (pytest.approx(width * scale, abs=1), pytest.approx(height * scale, abs=1))
    assert width > 300 and height > 120  # the plot plus its axes


def test_svg_keeps_text_as_text_and_container_charts_get_a_width():
    svg = export.chart_svg(bar_chart())
    assert svg.lstrip().startswith("<svg") and "Business unit" in svg
    assert svg_size(svg)[0] > export.CHART_WIDTH


def page_number(texts: list[str]) -> tuple[int, int] | None:
    """The "n / N" footer among a page's texts, as (n, N)."""
    found = [re.fullmatch(r"\s*(\d+) / (\d+)\s*", t) for t in texts]
    numbers = [(int(m[1]), int(m[2])) for m in found if m]
    assert len(numbers) <= 1, texts
    return numbers[0] if numbers else None


def test_pilot_deck_opens_in_powerpoint_with_its_slides_titles_and_pictures(pilot_deck):
    deck = Presentation(io.BytesIO(export.deck_pptx(pilot_deck, "Claim tracker")))
    assert deck.slide_width == Inches(export.PAGE_W) and deck.slide_height == Inches(export.PAGE_H)
    assert abs(deck.slide_width / deck.slide_height - 16 / 9) < 0.01
    assert len(deck.slides) == len(pilot_deck)
    assert deck.core_properties.title == "Claim tracker"
    for page, slide in zip(deck.slides, pilot_deck, strict=True):
        texts = [shape.text_frame.text for shape in page.shapes if shape.has_text_frame]
        assert texts[0] == slide.title and texts[1] == slide.message
        assert page.shapes.title.text_frame.text == slide.title  # a real title: PowerPoint's outline lists it
        pictures = [shape for shape in page.shapes if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == (slide.chart is not None)
        for picture in pictures:
            assert picture.image.content_type == "image/png"
            assert picture.left >= 0 and picture.left + picture.width <= deck.slide_width
            assert picture.top + picture.height <= deck.slide_height
            image = Image.open(io.BytesIO(picture.image.blob))
            assert abs(image.size[0] / image.size[1] - picture.width / picture.height) < 0.01
        joined = "\n".join(texts)
        for bullet in slide.bullets if slide.chart is None and not slide.numbers else []:
            assert bullet in joined
        for bullet in slide.bullets if slide.chart is not None else []:
            assert bullet in joined  # small print under the chart, as present mode shows it
        for label, value, _ in slide.numbers:
            assert label in joined and value in joined
        sizes = [run.font.size.pt for shape in page.shapes if shape.has_text_frame
                 for p in shape.text_frame.paragraphs for run in p.runs]
        assert min(sizes) >= 10 and max(sizes) >= export.TITLE_PT
    for number, page in enumerate(deck.slides, start=1):
        assert page_number([s.text_frame.text for s in page.shapes if s.has_text_frame]) == (number, len(deck.slides))
        # a real slide-number field, so the number follows the slide if the deck is rearranged
        assert page.shapes[-1].text_frame._txBody.xpath(".//a:fld[@type='slidenum']")


def test_every_slide_has_speaker_notes_with_its_message_and_reasons(pilot_deck):
    deck = Presentation(io.BytesIO(export.deck_pptx(pilot_deck, "Claim tracker")))
    for page, slide in zip(deck.slides, pilot_deck, strict=True):
        assert page.has_notes_slide
        notes = page.notes_slide.notes_text_frame.text
        lines = notes.split("\n")
        assert lines[0] == slide.message
        assert lines[1:] == [b for b in slide.bullets if b != slide.message]
        assert "•" not in notes and notes == export.speaker_notes(slide)
    reasons = next(page for page, s in zip(deck.slides, pilot_deck, strict=True) if s.title == "Decision and reasons")
    assert next(s for s in pilot_deck if s.title == "Decision and reasons").bullets[-1] in \
        reasons.notes_slide.notes_text_frame.text


def test_pilot_deck_as_pdf_has_one_page_per_slide_with_real_text_and_the_appendix_last(pilot_deck):
    reader = PdfReader(io.BytesIO(export.deck_pdf(pilot_deck, "Claim tracker")))
    pages = export.pdf_pages(pilot_deck)
    appendix = [s for s in pilot_deck if s.kind == slides.APPENDIX]
    assert appendix and len(pages) == len(pilot_deck) + 1  # the slides, and a page headed "Appendix"
    assert pages == [s for s in pilot_deck if s.kind != slides.APPENDIX] + [pages[-len(appendix) - 1]] + appendix
    assert len(reader.pages) == len(pages)
    assert reader.metadata.title == "Claim tracker"
    texts = [" ".join(page.extract_text().split()) for page in reader.pages]
    heading = len(pages) - len(appendix) - 1
    assert texts[heading].startswith("Appendix ")
    for i, slide in enumerate(appendix, start=heading + 2):  # the heading page lists what follows, with its page
        assert f"{export._appendix_title(slide.title)} (page {i})" in texts[heading]
        assert texts[i - 1].startswith(" ".join(slide.title.split()))
    for number, text in enumerate(texts, start=1):
        assert text.endswith(f"{number} / {len(pages)}")
    assert [o.title for o in reader.outline if not isinstance(o, list)] == \
        [s.title for s in pages if s.kind != slides.APPENDIX]  # bookmarks: the appendix slides under "Appendix"
    assert [o.title for o in next(o for o in reader.outline if isinstance(o, list))] == [s.title for s in appendix]
    for page, slide in zip(reader.pages, pages, strict=True):
        box = page.mediabox
        assert abs(float(box.width) / float(box.height) - 16 / 9) < 0.01
        text = " ".join(page.extract_text().split())
        assert " ".join(slide.title.split()) in text
        assert " ".join(slide.message.split())[:40] in text
        if slide.chart is not None:
            assert page.images  # the chart as a picture
        for bullet in slide.bullets if not slide.numbers else []:  # numbers slides: their tiles say the same
            assert " ".join(bullet.split())[:40] in text  # every reason is on the page, also under a chart
    decision = next(i for i, s in enumerate(pages) if s.title == "Decision and reasons")
    text = " ".join(reader.pages[decision].extract_text().split())
    assert " ".join(pages[decision].bullets[-1].split())[:40] in text


def test_export_pilot_in_every_format(demo):
    png = Image.open(io.BytesIO(export.export_pilot(demo, COMMAND_LINE, 1, "png")))
    assert png.format == "PNG" and png.size[0] > 1000
    deck = slides.pilot_slides(demo, COMMAND_LINE, 1)
    bare = next(s.chart for s in deck if s.title == "Every metric against its target")
    assert png.size[1] > Image.open(io.BytesIO(export.chart_png(bare))).size[1]  # room for the title
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 1)
    headline = next(s for s in deck if s.kind == slides.NUMBERS)
    said = export.headline_words(deck)
    assert said == f"{headline.numbers[0][2]}. {headline.message}" and said.startswith("Decided: Roll out")
    titled = export.headline_chart(deck, case.pilot, "Every metric", said)
    assert " ".join(titled.to_dict()["title"]["subtitle"]) == said  # in lines about as wide as the chart
    assert export.export_pilot(demo, COMMAND_LINE, 1, "png") == export.chart_png(titled)  # the picture says both
    assert len(Presentation(io.BytesIO(export.export_pilot(demo, COMMAND_LINE, 1, "pptx"))).slides) == \
        len(slides.pilot_slides(demo, COMMAND_LINE, 1))
    with pytest.raises(ValueError, match="unknown format"):
        export.export_pilot(demo, COMMAND_LINE, 1, "docx")


def test_portfolio_deck(demo):
    deck = Presentation(io.BytesIO(export.export_portfolio(demo, COMMAND_LINE, "pptx")))
    titles = [next(s.text_frame.text for s in page.shapes if s.has_text_frame) for page in deck.slides]
    assert titles == [s.title for s in slides.portfolio_slides(demo, COMMAND_LINE)]
    forest = Image.open(io.BytesIO(export.export_portfolio(demo, COMMAND_LINE, "png")))
    assert forest.format == "PNG"


def test_command_line_writes_each_format(demo, tmp_path, capsys):
    for target, fmt in (("2", "pdf"), ("2", "png"), ("portfolio", "pdf")):
        out = tmp_path / "out" / f"{target}.{fmt}"
        assert main(["--db", str(demo.path), "export", target, "--format", fmt, "--out", str(out)]) == 0
        assert capsys.readouterr().out.strip() == str(out)
        data = out.read_bytes()
        if fmt == "pdf":
            pages = PdfReader(io.BytesIO(data)).pages
            expected = slides.portfolio_slides(demo, COMMAND_LINE) if target == "portfolio" \
                else slides.pilot_slides(demo, COMMAND_LINE, 2)
            assert len(pages) == len(export.pdf_pages(expected))
        else:
            assert Image.open(io.BytesIO(data)).format == "PNG"


def test_command_line_refuses_an_unknown_pilot_and_writes_nothing(demo, tmp_path, capsys):
    out = tmp_path / "x.pptx"
    assert main(["--db", str(demo.path), "export", "999", "--format", "pptx", "--out", str(out)]) == 1
    assert "no pilot with id 999" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["--db", str(demo.path), "export", "everything", "--format", "pptx", "--out", str(out)])


# ---------------------------------------------------------------- the organisation, text as data

def logo_png() -> bytes:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    image.paste((0, 90, 160, 255), (20, 20, 580, 180))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_title_slide_carries_the_organisation_date_prepared_by_and_logo(demo_org):
    logo = logo_png()
    org.save_org_settings(demo_org, COMMAND_LINE, org.OrgSettings(
        name="Northwind Insurance", prepared_by="CCO office", currency_code="EUR", currency_symbol="€", logo=logo),
        expected_version=org.org_settings(demo_org).version)
    ana = Actor("ana@example.com", "steering")
    deck_slides = slides.pilot_slides(demo_org, ana, 2)
    day = dt.date(2026, 3, 5)

    deck = Presentation(io.BytesIO(export.export_pilot(demo_org, ana, 2, "pptx", today=day)))
    assert len(deck.slides) == len(deck_slides)
    title = [s.text_frame.text for s in deck.slides[0].shapes if s.has_text_frame]
    assert title[0] == deck_slides[0].title
    assert "Northwind Insurance" in title
    assert "5 March 2026 · Prepared by CCO office (ana@example.com)" in title
    pictures = [s for s in deck.slides[0].shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert [p.image.blob for p in pictures] == [logo]
    assert pictures[0].left + pictures[0].width <= deck.slide_width and pictures[0].top >= 0
    assert abs(pictures[0].width / pictures[0].height - 3) < 0.01  # the logo keeps its shape
    assert deck.core_properties.author == "CCO office (ana@example.com)"
    for number, page in enumerate(deck.slides, start=1):
        texts = [s.text_frame.text for s in page.shapes if s.has_text_frame]
        assert page_number(texts) == (number, len(deck.slides))
        assert "Northwind Insurance" in texts  # on the title slide's top, at the foot of every other slide
        assert page.notes_slide.notes_text_frame.text.strip()
    assert "Prepared by CCO office (ana@example.com)" in deck.slides[0].notes_slide.notes_text_frame.text

    reader = PdfReader(io.BytesIO(export.export_pilot(demo_org, ana, 2, "pdf", today=day,
                                                      prepared_by="Ana Lima, CX lead")))
    pages = export.pdf_pages(deck_slides)
    assert len(reader.pages) == len(pages)
    texts = [" ".join(p.extract_text().split()) for p in reader.pages]
    assert "Northwind Insurance" in texts[0] and "5 March 2026 · Prepared by Ana Lima, CX lead" in texts[0]
    assert len(reader.pages[0].images) == 1  # the logo
    assert reader.metadata.author == "Ana Lima, CX lead"
    for number, text in enumerate(texts, start=1):
        assert text.endswith(f"{number} / {len(pages)}")
    heading = texts.index(next(t for t in texts if t.startswith("Appendix The detail")))
    assert all(s.kind == slides.APPENDIX for s in pages[heading + 1:])
    assert all(s.kind != slides.APPENDIX for s in pages[:heading])
    assert all("Northwind Insurance · Appendix" in t for t in texts[heading + 1:])

    portfolio = Presentation(io.BytesIO(export.export_portfolio(demo_org, COMMAND_LINE, "pptx", today=day)))
    title = [s.text_frame.text for s in portfolio.slides[0].shapes if s.has_text_frame]
    assert "5 March 2026 · Prepared by CCO office" in title and "as of 5 March 2026" in " ".join(title)


def test_without_settings_a_deck_names_the_default_organisation_and_who_exported_it(db):
    cover = export.deck_cover(db, Actor("ben@example.com", "editor"), dt.date(2026, 1, 9))
    assert cover == export.Cover("Our organisation", dt.date(2026, 1, 9), "ben@example.com", None)
    assert cover.line == "9 January 2026 · Prepared by ben@example.com"
    assert export.deck_cover(db, COMMAND_LINE).prepared_by == "the CCO office"


@pytest.mark.parametrize("setting, actor, explicit, shown", [
    ("", Actor("ana@example.com", "editor"), None, "ana@example.com"),
    ("CCO office", Actor("ana@example.com", "editor"), None, "CCO office (ana@example.com)"),
    ("CCO office", COMMAND_LINE, None, "CCO office"),
    ("", COMMAND_LINE, None, "the CCO office"),
    ("CCO office", COMMAND_LINE, "Ana\x00 Lima\n", "Ana Lima"),
    ("CCO office", COMMAND_LINE, "  ", "CCO office"),
])
def test_who_a_deck_says_prepared_it(setting, actor, explicit, shown):
    assert export.prepared_by(org.OrgSettings(prepared_by=setting), actor, explicit) == shown


def test_a_deck_without_an_appendix_has_no_appendix_heading():
    plain_slides = [slides.Slide("Title", "Message", kind=slides.TITLE, bullets=["One"]),
                    slides.Slide("Decisions", "None yet.", kind=slides.TEXT, bullets=["a", "b"])]
    assert export.pdf_pages(plain_slides) == plain_slides
    reader = PdfReader(io.BytesIO(export.deck_pdf(plain_slides, "Deck")))
    assert [" ".join(p.extract_text().split())[-5:] for p in reader.pages] == ["1 / 2", "2 / 2"]
    mixed = [plain_slides[0], slides.Slide("Appendix: data", "Rows.", kind=slides.APPENDIX, bullets=["x"]),
             plain_slides[1]]
    assert [s.title for s in export.pdf_pages(mixed)] == ["Title", "Decisions", "Appendix", "Appendix: data"]
