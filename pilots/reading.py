"""Reading a file: what the command line and the Data page hand in (a path, the bytes or the file
object of an upload, a table typed in the app) becomes one relation of text DuckDB can check, with
columns c0 … cN-1 in the header's order and `cx`, which holds what a row has beyond its header.
Everything about a file as a whole is decided here, before any of its rows is checked: its format
(the columns each kind of file has), size, encoding, dialect and header width, and for a workbook
its expansion. A refused file raises ValidationError naming where and why.

Limits, each refused with a message that names it before memory grows:
- MAX_FILE_BYTES (512 MiB): the file's size, before a byte of it is parsed (10 million rows of
  observations are about 300 MB of CSV; the Data page's uploads stop at Streamlit's 200 MB).
- MAX_ROWS (10 million data rows): the relation stops one row after it, so a longer file is
  refused having read no more than that.
- MAX_COLUMNS (50): the header's width.
- MAX_CELL_CHARS (1,000): a cell of a column the format uses (checked with the rows, see
  pilots.checks; ignored columns may hold longer text); a CSV line over DuckDB's 2 MB line limit.
- A workbook (XLSX): from the zip's directory, before parsing, every part's declared size, their
  total (MAX_XLSX_EXPANDED_BYTES, 512 MiB) and the compression ratio of any part over 1 MB
  (MAX_XLSX_RATIO, 100:1; real sheets are 5-20:1, zip bombs hundreds or thousands). Python's zipfile
  stops a part at its declared size (a part that lies fails its checksum), and openpyxl streams the
  first sheet read-only, at most MAX_ROWS rows and the header's width of cells (plus one, to see a
  value beyond it).

Encodings: UTF-8, with or without BOM. UTF-16 (a BOM, or NUL bytes between the letters) is refused
from the first bytes; anything else that is not UTF-8 (Latin-1, Windows-1252) is refused naming the
row and column of the first cell that is not, as it reads in Latin-1.

Its length: every file-level limit and format is decided here, before any row is checked;
split, a limit could be missed by one way of reading a file.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from .model import Problem, ValidationError
from .text import printable

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("observations", "measurements")
# Columns of each kind of file, as the SPEC fixes them: required, then optional.
REQUIRED = {"observations": ("unit", "metric", "date", "value"),
            "measurements": ("unit", "metric", "period_start", "value")}
OPTIONAL = {"observations": (), "measurements": ("n", "sd")}
DATE_COLUMN = {"observations": "date", "measurements": "period_start"}

MAX_FILE_BYTES = 512 * 2**20
MAX_ROWS = 10_000_000
MAX_COLUMNS = 50
MAX_CELL_CHARS = 1_000
MAX_XLSX_EXPANDED_BYTES = 512 * 2**20
MAX_XLSX_RATIO = 100
_RATIO_CHECKED_FROM = 2**20  # small parts (styles, themes) compress well and cannot hurt
PREVIEW_ROWS = 20

EXTRA = "cx"
_SNIFF_BYTES = 65536
# DuckDB reads this string as NULL: no cell holds it, so an empty field reads as '' and a row's
# missing fields (NULL) are told apart from empty ones, which is how `cx` sees one field too many.
_NULL_TEXT = "\x01pilots-null\x01"
_XLSX_CHUNK_ROWS = 50_000


def _file_problem(reason: str, kind: str, row: int | None = None, column: str | None = None,
                  value: str | None = None) -> ValidationError:
    return ValidationError([Problem(reason, row=row, column=column or ", ".join(REQUIRED[kind]), value=value)])


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


@dataclass(frozen=True)
class Text:
    """A file as DuckDB reads it. `relation` (SQL) has one VARCHAR per header column, c0 … cN-1,
    and `cx`; `names` is the header as written; `path` is the file on disk (None for a table typed
    in the app). A sheet's relation is a temporary table, a CSV's is DuckDB reading the file."""

    relation: str
    numbered: str  # the relation with `row`, 1 for the first data row, in file order
    names: tuple[str, ...]
    kind: str
    semicolon: bool = False
    spreadsheet: bool = False
    path: str | None = None
    delimiter: str = ","

    def execute(self, cur: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyConnection:
        """Run a statement that reads the file: DuckDB finds some faults of a CSV only as it reads
        it (a byte that is not UTF-8, a line over 2 MB), and they become problems of the file."""
        try:
            return cur.execute(sql)
        except duckdb.Error as error:
            if self.path is None or self.spreadsheet or "CSV Error" not in str(error):
                raise
            raise self._read_problem(str(error)) from None

    def _read_problem(self, text: str) -> ValidationError:
        line = re.search(r"Line: (\d+)", text)
        row = int(line[1]) - 1 if line else None
        found = text.lower()
        if "unicode" in found or "utf-8" in found:
            return _not_utf8(self, row)
        if "maximum line size" in found:
            return _file_problem("the line is over 2 MB long: no row of customer data is; is this the right file?",
                                 self.kind, row=row)
        if "quoted new lines" in found:
            return _file_problem("a cell in quotes holds a line break, which this import does not read: take the "
                                 "line breaks out of the cells (or leave out the column that holds them) and import "
                                 "again", self.kind, row=row if row else None)
        reason = text.splitlines()[0].split("Error:", 1)[-1].strip()
        return _file_problem(f"the file could not be read as CSV: {reason}", self.kind, row=row if row else None)


def _not_utf8(text: Text, row: int | None) -> ValidationError:
    """The first cell of line `row + 1` that is not UTF-8, named with its column and how it reads
    in Latin-1 (the usual culprit: 'CSV' rather than 'CSV UTF-8' from Excel)."""
    how = "the file is not UTF-8 text: save it as 'CSV UTF-8' (or as XLSX) and import it again"
    line = _physical_line(text.path, row + 1) if row is not None and row > 0 else None
    if line is None:
        return _file_problem(how, text.kind, row=row if row else None)
    decoded = line.decode("latin-1")
    try:
        cells = next(csv.reader([decoded], delimiter=text.delimiter), [])
    except csv.Error:  # a stray carriage return: the cells as the delimiter splits them will do
        cells = decoded.split(text.delimiter)
    for index, cell in enumerate(cells):
        try:
            cell.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            column = text.names[index] if index < len(text.names) else f"field {index + 1}"
            return _file_problem(f"{how} (this cell reads '{printable(cell, 60)}' as Latin-1)", text.kind,
                                 row=row, column=column.strip() or f"field {index + 1}")
    return _file_problem(how, text.kind, row=row)


def _physical_line(path: str | None, number: int) -> bytes | None:
    """Line `number` (1 = the header) of a file, read as bytes; only to explain a refused file."""
    if path is None:
        return None
    with open(path, "rb") as handle:
        for index, line in enumerate(handle, start=1):
            if index == number:
                return line.rstrip(b"\r\n")
    return None


# ---------------------------------------------------------------- one door for every kind of source

def is_table(source) -> bool:
    """Whether the source is a table typed in the app (a pandas DataFrame); such a table can only
    exist once pandas is imported, so a file import never imports it to ask."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(source, pandas.DataFrame)


@contextmanager
def opened(cur: duckdb.DuckDBPyConnection, source, name: str, kind: str, tag: str) -> Iterator[Text]:
    """The source as text DuckDB can check, for as long as the block runs (an upload is copied to
    a temporary file, removed afterwards). Raises ValidationError for a file refused as a whole."""
    if is_table(source):
        yield _table_text(cur, source, kind, tag)
        return
    with _local_file(source, kind) as path:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        if head[:4] == b"PK\x03\x04" or name.lower().endswith((".xlsx", ".xlsm")):
            yield _sheet_text(cur, path, kind, tag)
        else:
            yield _csv_text(path, head, kind)


def _refuse_size(size: int, kind: str) -> None:
    if size > MAX_FILE_BYTES:
        raise _file_problem(f"the file is {_mb(size)}; at most {_mb(MAX_FILE_BYTES)} can be imported at once: "
                            f"split it into smaller files", kind)


@contextmanager
def _local_file(source, kind: str) -> Iterator[str]:
    """A path DuckDB and openpyxl can read: a path as given (its size checked first), else the
    bytes or file object copied to a temporary file in blocks, refused by size before copying."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no file {path}")
        _refuse_size(os.path.getsize(path), kind)
        yield path
        return
    if isinstance(source, (bytes, bytearray, memoryview)):
        _refuse_size(len(source), kind)
    else:  # a file object (an upload): measured without reading it
        source.seek(0, os.SEEK_END)
        _refuse_size(source.tell(), kind)
        source.seek(0)
    handle, path = tempfile.mkstemp(prefix="pilots-import-")
    try:
        with os.fdopen(handle, "wb") as out:
            if isinstance(source, (bytes, bytearray, memoryview)):
                out.write(source)
            else:
                shutil.copyfileobj(source, out, 1 << 20)
        yield path
    finally:
        os.unlink(path)


# ---------------------------------------------------------------- CSV

def _looks_utf16(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    sample = head[:400]
    return len(sample) >= 8 and max(sample[0::2].count(0), sample[1::2].count(0)) > len(sample) // 4


def _csv_text(path: str, head: bytes, kind: str) -> Text:
    """The header (its delimiter is whichever of comma, semicolon and tab it uses most) read here;
    the rows read by DuckDB with every column as text and its sniffer off (an odd first line can
    make it guess another dialect); short rows padded, and one field too many kept in `cx`."""
    expected = ", ".join(REQUIRED[kind])
    if _looks_utf16(head):
        raise _file_problem("the file is UTF-16 text (Excel's 'Unicode Text'): save it as 'CSV UTF-8' (or as XLSX) "
                            "and import it again", kind)
    text = head.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise _file_problem(f"the file is empty: the first line must be the header {expected}", kind)
    first = text.splitlines()[0]
    if not first.strip():
        raise _file_problem(f"the first line is blank: it must be the header {expected}", kind)
    delimiter = max([",", ";", "\t"], key=first.count)
    names = next(csv.reader([first], delimiter=delimiter))
    _refuse_width(names, kind)
    columns = [f"c{i}" for i in range(len(names))] + [EXTRA]
    spec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
    quoted = path.replace("'", "''")
    relation = (f"(SELECT * FROM read_csv('{quoted}', auto_detect = false, columns = {spec}, delim = '{delimiter}', "
                f"quote = '\"', escape = '\"', header = true, null_padding = true, strict_mode = false, "
                f"nullstr = '{_NULL_TEXT}') LIMIT {MAX_ROWS + 1})")
    # DuckDB keeps a file's order through the scan and this window, so row_number() is the data row.
    numbered = f"(SELECT row_number() OVER () AS row, * FROM {relation})"
    return Text(relation, numbered, tuple(names), kind, semicolon=delimiter == ";", path=path, delimiter=delimiter)


def _refuse_width(names: list[str], kind: str) -> None:
    if len(names) > MAX_COLUMNS:
        raise _file_problem(f"the header has {len(names):,} columns; at most {MAX_COLUMNS} are read: keep the columns "
                            f"{', '.join(REQUIRED[kind] + OPTIONAL[kind])} and leave the others out", kind, row=None)


# ---------------------------------------------------------------- XLSX and tables typed in the app

def cell_text(value) -> str | None:
    """One spreadsheet or editor cell as the text a CSV would hold: Excel dates as ISO dates,
    whole floats without '.0', empty cells as NULL, an array formula as its formula text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ == "NaTType":
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(getattr(value, "text", value)).strip()  # openpyxl's ArrayFormula keeps its formula in .text
    return text or None


def _refuse_expansion(path: str, kind: str) -> None:
    """A workbook is a zip: refuse one that would expand past the limits before anything parses it."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise _file_problem("the file could not be read as an Excel workbook (.xlsx): it is not a valid zip "
                            "archive; save it again from Excel, or as CSV UTF-8", kind) from None
    total = sum(part.file_size for part in parts)
    if total > MAX_XLSX_EXPANDED_BYTES:
        raise _file_problem(f"the workbook expands to {_mb(total)} of XML; at most {_mb(MAX_XLSX_EXPANDED_BYTES)} "
                            f"are read: save the data as CSV UTF-8 instead", kind)
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _RATIO_CHECKED_FROM and ratio > MAX_XLSX_RATIO:
            raise _file_problem(f"the workbook's part {part.filename} expands {ratio:,.0f} times "
                                f"({_mb(part.compress_size)} to {_mb(part.file_size)}); a real sheet expands at most "
                                f"{MAX_XLSX_RATIO} times, so it is not read", kind)


def _sheet_text(cur: duckdb.DuckDBPyConnection, path: str, kind: str, tag: str) -> Text:
    """The first sheet, streamed row by row into a temporary table in blocks."""
    _refuse_expansion(path, kind)
    import openpyxl

    handle = open(path, "rb")  # a file object: openpyxl then reads an upload without asking for its extension
    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many types for a broken workbook
        handle.close()
        raise _file_problem(f"the file could not be read as an Excel workbook (.xlsx): {printable(error)}",
                            kind) from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [cell_text(v) for v in next(rows, ())]
        while header and header[-1] is None:
            header.pop()
        if not header:
            raise _file_problem(f"the first sheet is empty: its first row must be the header "
                                f"{', '.join(REQUIRED[kind])}", kind)
        names = [name or f"column{i + 1}" for i, name in enumerate(header)]
        _refuse_width(names, kind)
        table = _empty_table(cur, tag, len(names))
        block: list[list[str | None]] = []
        count = 0
        try:
            for count, row in enumerate(rows, start=1):
                block.append(_sheet_row(row, len(names)))
                if len(block) == _XLSX_CHUNK_ROWS or count > MAX_ROWS:
                    _append(cur, table, block, count - len(block))
                    block = []
                if count > MAX_ROWS:
                    break
        except (zipfile.BadZipFile, OSError, ValueError, KeyError) as error:  # a part that lies about its size
            raise _file_problem(f"the workbook is damaged: {printable(error)}; save it again from Excel, or as CSV "
                                f"UTF-8", kind) from None
        _append(cur, table, block, count - len(block))
    finally:
        book.close()
        handle.close()
    return _stored_text(table, names, kind, path)


def _sheet_row(row: tuple, width: int) -> list[str | None]:
    cells = [cell_text(v) for v in row[:width]]
    cells += [None] * (width - len(cells))
    beyond = next((text for text in map(cell_text, row[width:]) if text is not None), None)
    return cells + [beyond]


def _empty_table(cur: duckdb.DuckDBPyConnection, tag: str, width: int) -> str:
    table = f"{tag}_sheet"
    columns = ", ".join(f"c{i} VARCHAR" for i in range(width))
    cur.execute(f"CREATE TEMP TABLE {table} (__order BIGINT, {columns}, {EXTRA} VARCHAR)")
    return table


def _append(cur: duckdb.DuckDBPyConnection, table: str, block: list[list[str | None]], start: int) -> None:
    """Rows of text (the header's width, then `cx`) appended to `table`, the first as row `start` + 1."""
    if not block:
        return
    import pandas as pd

    names = [f"c{i}" for i in range(len(block[0]) - 1)] + [EXTRA]
    frame = pd.DataFrame(block, columns=names, dtype=object)
    frame.insert(0, "__order", range(start, start + len(frame)))
    view = f"{table}_block"
    cur.register(view, frame)
    try:
        cur.execute(f"INSERT INTO temp.{table} SELECT __order, {', '.join(f'CAST({n} AS VARCHAR)' for n in names)} "
                    f"FROM {view}")
    finally:
        cur.unregister(view)


def _table_text(cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame, kind: str, tag: str) -> Text:
    names = [str(c) for c in frame.columns]
    table = _empty_table(cur, tag, len(names))
    _append(cur, table, [[cell_text(v) for v in row] + [None] for row in frame.itertuples(index=False)], 0)
    return _stored_text(table, names, kind, None)


def _stored_text(table: str, names: list[str], kind: str, workbook: str | None) -> Text:
    return Text(table, f"(SELECT __order + 1 AS row, * FROM {table})", tuple(names), kind,
                spreadsheet=workbook is not None, path=workbook)


# ---------------------------------------------------------------- what the Data page shows

def display_names(names: tuple[str, ...]) -> list[str]:
    """The header's names made unique (a name given twice gets ' (2)'), so a preview shows every column."""
    seen: dict[str, int] = {}
    shown = []
    for index, name in enumerate(names):
        text = name.strip() or f"column{index + 1}"
        key = text.lower()
        seen[key] = seen.get(key, 0) + 1
        shown.append(text if seen[key] == 1 else f"{text} ({seen[key]})")
    return shown


def preview(cur: duckdb.DuckDBPyConnection, text: Text) -> pd.DataFrame:
    """The first PREVIEW_ROWS rows as read, with their row numbers and the file's own column names."""
    columns = ", ".join(f'c{i} AS "{name.replace(chr(34), chr(34) * 2)}"'
                        for i, name in enumerate(display_names(text.names)))
    # A CSV is read in file order and the scan stops after the first rows; a stored table is put in order.
    order = " ORDER BY row" if text.spreadsheet or text.path is None else ""
    return text.execute(cur, f"SELECT row, {columns} FROM {text.numbered}{order} LIMIT {PREVIEW_ROWS}").df()


def file_name(source, given: str | None) -> str:
    """The name a batch is known by: the one given, else the file's own, else 'uploaded file'."""
    if given:
        return Path(given).name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return str(getattr(source, "name", "") or "uploaded file")
