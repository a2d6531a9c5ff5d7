"""Read back what an AppTest chart draws: Streamlit moves an Altair chart's data out of its spec into
Arrow datasets, so tests look at those to check which rows a page sent to a chart."""

import json

import pandas as pd
import pyarrow as pa


def chart_frames(element) -> list[pd.DataFrame]:
    """Every data set of one `vega_lite_chart` element, as data frames (inline data included)."""
    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in element.proto.datasets]
    inline = json.loads(element.proto.spec).get("datasets", {})
    return frames + [pd.DataFrame(rows) for rows in inline.values()]


def chart_rows(at, column: str) -> list[pd.DataFrame]:
    """Of every chart on the page, the data sets that have `column`."""
    return [frame for chart in at.get("vega_lite_chart") for frame in chart_frames(chart) if column in frame.columns]
