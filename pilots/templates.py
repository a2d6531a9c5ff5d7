"""Example files: a file of each kind of data naming the given units and metrics, every unit and
every metric at least once, each value within its metric's valid range, as CSV (UTF-8, comma) or
XLSX (real Excel dates). `pilots.ingest.template` is the door that reads the units and metrics."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING

from .model import Metric
from .reading import OPTIONAL, REQUIRED

if TYPE_CHECKING:
    import pandas as pd


def _example_value(low, high, whole: bool) -> float:
    if low is not None and high is not None:
        value = low + 0.8 * (high - low)
        return float(round(value)) if whole else round(value, 2)
    return (low or 0) + 2.5


def example_frame(units: list[str], metrics: list[Metric], kind: str) -> pd.DataFrame:
    """An example file of this kind as a table: rows dated in last week, as many as there are
    units or metrics, whichever is more."""
    import pandas as pd

    units = units or ["Your unit"]
    monday = dt.date.today() - dt.timedelta(days=dt.date.today().weekday() + 7)
    rows = []
    for i in range(max(len(units), len(metrics))):
        metric = metrics[i % len(metrics)]
        if kind == "observations":
            rows.append({"unit": units[i % len(units)], "metric": metric.key, "date": monday + dt.timedelta(days=i % 5),
                         "value": _example_value(metric.min_value, metric.max_value, metric.whole_numbers)})
        else:
            low, high = metric.period_range()
            spread = None if metric.aggregation != "mean" or low is None or high is None else round((high - low) / 4, 2)
            rows.append({"unit": units[i % len(units)], "metric": metric.key, "period_start": monday,
                         "value": _example_value(low, high, False), "n": 250,
                         "sd": spread if spread is not None else (1.0 if metric.aggregation == "mean" else None)})
    return pd.DataFrame(rows, columns=list(REQUIRED[kind] + OPTIONAL[kind]))


def as_file(frame: pd.DataFrame, kind: str, fmt: str) -> bytes:
    """An example table as the bytes of a CSV or XLSX file."""
    import pandas as pd

    if fmt == "csv":
        return frame.to_csv(index=False, date_format="%Y-%m-%d").encode("utf-8")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl", date_format="YYYY-MM-DD") as writer:
            frame.to_excel(writer, sheet_name=kind, index=False)
        return buffer.getvalue()
    raise ValueError(f"unknown format '{fmt}'; expected csv or xlsx")
