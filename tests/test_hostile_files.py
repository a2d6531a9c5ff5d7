"""Hostile files against the import, built here byte by byte: each is refused whole with a message
naming where (row, column) and why, writes nothing (not even an audit entry), and raises nothing
but the refusal, through the domain and through the command line."""

import io
import os
import struct
import zipfile

import openpyxl
import pytest

from pilots import ingest, reading, store
from pilots.access import COMMAND_LINE
from pilots.cli import main
from pilots.db import Database
from pilots.model import ValidationError

HEADER = "unit,metric,date,value\n"


@pytest.fixture
def org(tmp_path):
    database = Database(tmp_path / "hostile.duckdb")
    store.add_unit(database, COMMAND_LINE, "Retail Stores")
    yield database
    database.close()


def refused(db, source, name, kind="observations"):
    before = store.table_counts(db)
    with pytest.raises(ValidationError) as error:
        ingest.import_file(db, COMMAND_LINE, source, kind, file_name=name)
    assert store.table_counts(db) == before, "a refused file writes nothing"
    return error.value.problems


def where(problems):
    return [(p.row, p.column) for p in problems]


def workbook(*rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- CSV: each case, its place and its reason

CSV_CASES = {
    "a decimal comma splits the value": (
        HEADER + "Retail Stores,resolution_days,2025-09-01,4,5\n", (1, None), "more fields than the header's 4"),
    "a quoted decimal comma": (HEADER + 'Retail Stores,ces,2025-09-01,"4,5"\n', (1, "value"), "not a number"),
    "a formula": (HEADER + "Retail Stores,nps,2025-09-01,=1+1\n", (1, "value"), "a formula, not a value"),
    "an @ before a name": (HEADER + "@SUM(A1:A9),nps,2025-09-01,4\n", (1, "unit"), "begins with '@'"),
    "a + before a name": (HEADER + "Retail Stores,+nps,2025-09-01,4\n", (1, "metric"), "begins with '+'"),
    "a - before a name": (HEADER + "-2+3,nps,2025-09-01,4\n", (1, "unit"), "begins with '-'"),
    "a NUL byte in a number": (HEADER + "Retail Stores,nps,2025-09-01,4\x00\n", (1, "value"), "U+0000"),
    "a NUL byte in a name": (HEADER + "Retail\x00Stores,nps,2025-09-01,4\n", (1, "unit"), "U+0000"),
    "a column named twice": ("unit,metric,date,value,value\nRetail Stores,nps,2025-09-01,4,5\n", (None, "value"),
                             "names column 'value' twice (columns 4 and 5)"),
    "NaN": (HEADER + "Retail Stores,nps,2025-09-01,NaN\n", (1, "value"), "not a finite number"),
    "infinity": (HEADER + "Retail Stores,nps,2025-09-01,-inf\n", (1, "value"), "not a finite number"),
    "9999-12-31": (HEADER + "Retail Stores,nps,9999-12-31,4\n", (1, "date"), "an implausible date"),
    "a date in 1900": (HEADER + "Retail Stores,nps,1900-01-01,4\n", (1, "date"), "an implausible date"),
    "the infinite date": (HEADER + "Retail Stores,nps,infinity,4\n", (1, "date"), "an implausible date"),
    "a cell of 2,000 characters": (HEADER + "R" * 2_000 + ",nps,2025-09-01,4\n", (1, "unit"), "at most 1,000"),
    "a line break in quotes": (HEADER + 'Retail Stores,nps,"2025-09-01\n",4\n', (1, "unit, metric, date, value"),
                               "holds a line break"),
    "sixty columns": (",".join(f"c{i}" for i in range(60)) + "\n1\n", (None, "unit, metric, date, value"),
                      "at most 50 are read"),
}


@pytest.mark.parametrize("case", CSV_CASES)
def test_each_hostile_csv_is_refused_where_and_why(org, case):
    text, place, reason = CSV_CASES[case]
    problems = refused(org, text.encode("utf-8"), "hostile.csv")
    assert where(problems) == [place], problems
    assert reason in problems[0].reason


def test_a_row_with_a_field_too_many_is_refused_even_when_the_rest_is_valid(org):
    # The case: read loosely, this row would be 4.0 resolution days; it is refused instead.
    problems = refused(org, (HEADER + "Retail Stores,nps,2025-09-01,9\n"
                             "Retail Stores,resolution_days,2025-09-01,4,5\n").encode(), "decimals.csv")
    assert where(problems) == [(2, None)] and problems[0].value == "5"
    assert 'decimal comma in quotes ("4,5") or save the file with semicolons' in problems[0].reason


def test_a_decimal_comma_in_a_semicolon_file_is_a_decimal_and_a_ces_answer_is_whole(org):
    problems = refused(org, b"unit;metric;date;value\nRetail Stores;ces;2025-09-01;4,5\n", "semicolons.csv")
    assert where(problems) == [(1, "value")] and "ces answers are whole numbers" in problems[0].reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_named_from_the_first_bytes(org, encoding):
    problems = refused(org, (HEADER + "Retail Stores,nps,2025-09-01,4\n").encode(encoding), "unicode.csv")
    assert len(problems) == 1 and "UTF-16" in problems[0].reason and "CSV UTF-8" in problems[0].reason


def test_latin1_is_named_with_the_row_column_and_how_the_cell_reads(org):
    text = HEADER + "Retail Stores,nps,2025-09-01,4\n" * 3 + "Rétail Stores,nps,2025-09-01,4\n"
    problems = refused(org, text.encode("latin-1"), "latin.csv")
    assert where(problems) == [(4, "unit")]
    assert "not UTF-8" in problems[0].reason and "'Rétail Stores' as Latin-1" in problems[0].reason


def test_a_known_name_is_never_refused_for_its_first_character(org):
    # The text rules explain why a cell does not read; a unit really named '+Plus' reads.
    store.add_unit(org, COMMAND_LINE, "+Plus")
    result = ingest.import_file(org, COMMAND_LINE, (HEADER + "+plus,nps,2025-09-01,4\n").encode(), "observations",
                                file_name="plus.csv")
    assert result.rows == 1 and result.units == ("+Plus",)


def test_a_file_over_the_size_limit_is_refused_by_its_size_before_it_is_read(org, tmp_path):
    # A sparse file: 1 MB over the limit on paper, nothing on disk. Were it read, its NUL bytes
    # would be refused as UTF-16; the message names the size, so it was refused by size alone.
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(reading.MAX_FILE_BYTES + 2**20)
    for source in (path, path.open("rb")):
        (problem,) = refused(org, source, "huge.csv")
        assert "the file is 513.0 MB; at most 512.0 MB can be imported at once" in problem.reason


@pytest.mark.slow
def test_a_file_over_the_row_limit_is_refused(org):
    body = b"Retail Stores,nps,2025-09-01,4\n" + b",,,\n" * reading.MAX_ROWS
    (problem,) = refused(org, HEADER.encode() + body, "long.csv")
    assert f"more than {reading.MAX_ROWS:,} rows" in problem.reason


@pytest.mark.parametrize("case", ["a decimal comma splits the value", "a formula", "a NUL byte in a name",
                                  "9999-12-31"])
def test_the_command_line_refuses_them_without_a_traceback(org, tmp_path, case):
    text, (row, _), reason = CSV_CASES[case]
    path = tmp_path / "hostile.csv"
    path.write_bytes(text.encode())
    before = store.table_counts(org)
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", str(org.path), "import", "observations", str(path)], out=out, err=err) == 1
    assert "refused, nothing was written" in err.getvalue() and reason in err.getvalue()
    assert f"row {row}" in err.getvalue() and "Traceback" not in err.getvalue()
    assert store.table_counts(org) == before


# ---------------------------------------------------------------- XLSX

def zip_bomb(sheet_megabytes: int) -> bytes:
    """A workbook whose sheet is `sheet_megabytes` of one repeated row: a few hundred KB zipped."""
    small = zipfile.ZipFile(io.BytesIO(workbook(["unit", "metric", "date", "value"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in small.infolist():
            if part.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(part.filename, small.read(part.filename))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                        b'2006/main"><sheetData>')
            rows = b'<row><c t="inlineStr"><is><t>Retail Stores</t></is></c></row>' * 1_000
            for _ in range(sheet_megabytes * 2**20 // len(rows)):
                sheet.write(rows)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def declaring(data: bytes, part: str, size: int) -> bytes:
    """The zip with `part` declaring `size` uncompressed bytes in its central directory entry."""
    edited = bytearray(data)
    at = edited.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", edited, at + 28)[0]
        if edited[at + 46:at + 46 + name_length].decode() == part:
            struct.pack_into("<I", edited, at + 24, size)
            return bytes(edited)
        at = edited.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no part {part}")


def test_a_zip_bomb_is_refused_from_the_zip_directory(org):
    bomb = zip_bomb(60)
    assert len(bomb) < 2**20
    (problem,) = refused(org, bomb, "bomb.xlsx")
    assert "xl/worksheets/sheet1.xml expands" in problem.reason and f"at most {reading.MAX_XLSX_RATIO} times" \
        in problem.reason


def test_a_workbook_declaring_too_much_xml_is_refused_before_parsing(org):
    lying = declaring(workbook(["unit", "metric", "date", "value"]), "xl/worksheets/sheet1.xml", 2**30)
    (problem,) = refused(org, lying, "big.xlsx")
    assert "the workbook expands to" in problem.reason and "at most 512.0 MB" in problem.reason


def test_a_part_larger_than_it_declares_is_cut_at_its_declared_size_and_refused(org):
    data = workbook(["unit", "metric", "date", "value"], ["Retail Stores", "nps", "2025-09-01", 4])
    (problem,) = refused(org, declaring(data, "xl/worksheets/sheet1.xml", 100), "lying.xlsx")
    assert "Bad CRC-32" in problem.reason and problem.row is None


@pytest.mark.parametrize("row, place, reason", [
    (["Retail Stores", "nps", "2025-09-01", "=1+1"], (1, "value"), "a formula, not a value"),
    (["Retail Stores", "nps", "2025-09-01", 4, 5], (1, None), "a value beyond the header's 4 columns"),
    (["Retail Stores", "nps", "9999-12-31", 4], (1, "date"), "an implausible date"),
    (["@cmd", "nps", "2025-09-01", 4], (1, "unit"), "begins with '@'"),
])
def test_hostile_cells_of_a_workbook_are_named(org, row, place, reason):
    problems = refused(org, workbook(["unit", "metric", "date", "value"], row), "cells.xlsx")
    assert where(problems) == [place] and reason in problems[0].reason


def test_a_file_named_xlsx_that_is_no_zip_is_refused(org):
    (problem,) = refused(org, b"PK\x03\x04 not really a zip", "fake.xlsx")
    assert "not a valid zip archive" in problem.reason


def test_nothing_of_a_refused_upload_stays_on_disk(org, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    refused(org, (HEADER + "Retail Stores,nps,2025-09-01,=1+1\n").encode(), "upload.csv")
    assert not [p for p in os.listdir(tmp_path) if p.startswith("pilots-import-")]
