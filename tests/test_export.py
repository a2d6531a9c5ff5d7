"""Exports opened back: PNGs are real images of the expected size, SVGs are SVG, decks open in
python-pptx with the expected slides, titles and pictures, PDFs open in pypdf with the expected
pages and text, and the command line writes the files."""

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

from pilots import analysis, export, slides
from pilots.access import COMMAND_LINE
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


def test_pilot_deck_opens_in_powerpoint_with_its_slides_titles_and_pictures(pilot_deck):
    deck = Presentation(io.BytesIO(export.deck_pptx(pilot_deck, "Claim tracker")))
    assert deck.slide_width == Inches(export.PAGE_W) and deck.slide_height == Inches(export.PAGE_H)
    assert abs(deck.slide_width / deck.slide_height - 16 / 9) < 0.01
    assert len(deck.slides) == len(pilot_deck)
    assert deck.core_properties.title == "Claim tracker"
    for page, slide in zip(deck.slides, pilot_deck):
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
        for label, value, _ in slide.numbers:
            assert label in joined and value in joined
        sizes = [run.font.size.pt for shape in page.shapes if shape.has_text_frame
                 for p in shape.text_frame.paragraphs for run in p.runs]
        assert min(sizes) >= 10 and max(sizes) >= export.TITLE_PT


def test_pilot_deck_as_pdf_has_one_page_per_slide_with_real_text(pilot_deck):
    reader = PdfReader(io.BytesIO(export.deck_pdf(pilot_deck, "Claim tracker")))
    assert len(reader.pages) == len(pilot_deck)
    assert reader.metadata.title == "Claim tracker"
    for page, slide in zip(reader.pages, pilot_deck):
        box = page.mediabox
        assert abs(float(box.width) / float(box.height) - 16 / 9) < 0.01
        text = " ".join(page.extract_text().split())
        assert " ".join(slide.title.split()) in text
        assert " ".join(slide.message.split())[:40] in text
        if slide.chart is not None:
            assert page.images  # the chart as a picture
    decision = next(i for i, s in enumerate(pilot_deck) if s.title == "Decision and reasons")
    text = " ".join(reader.pages[decision].extract_text().split())
    assert " ".join(pilot_deck[decision].bullets[-1].split())[:40] in text


def test_export_pilot_in_every_format(demo):
    png = Image.open(io.BytesIO(export.export_pilot(demo, COMMAND_LINE, 1, "png")))
    assert png.format == "PNG" and png.size[0] > 1000
    deck = slides.pilot_slides(demo, COMMAND_LINE, 1)
    bare = next(s.chart for s in deck if s.title == "Every metric against its target")
    assert png.size[1] > Image.open(io.BytesIO(export.chart_png(bare))).size[1]  # room for the title
    case = analysis.analyze_pilot(demo, COMMAND_LINE, 1)
    headline = next(s for s in deck if s.kind == slides.NUMBERS)
    assert headline.message.startswith(f"{case.verdict}: ")
    titled = export.headline_chart(deck, case.pilot, "Every metric", headline.message)
    assert titled.to_dict()["title"]["subtitle"] == headline.message
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
            assert len(pages) == len(expected)
        else:
            assert Image.open(io.BytesIO(data)).format == "PNG"


def test_command_line_refuses_an_unknown_pilot_and_writes_nothing(demo, tmp_path, capsys):
    out = tmp_path / "x.pptx"
    assert main(["--db", str(demo.path), "export", "999", "--format", "pptx", "--out", str(out)]) == 1
    assert "no pilot with id 999" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["--db", str(demo.path), "export", "everything", "--format", "pptx", "--out", str(out)])
