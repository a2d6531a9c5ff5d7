"""Property-based tests (hypothesis): a malformed file never writes a row, and every problem reported
names a row or a column."""

import datetime as dt
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from pilots import ingest, reading, store
from pilots.access import COMMAND_LINE
from pilots.db import Database
from pilots.model import ValidationError

UNITS = ("Retail", "Online", "Claims")


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    # One database for every example: a refused file writes nothing, which is what is checked.
    database = Database(tmp_path_factory.mktemp("properties") / "p.duckdb")
    for name in UNITS:
        store.add_unit(database, COMMAND_LINE, name)
    yield database
    database.close()


good_observation = st.tuples(
    st.sampled_from(UNITS + ("retail", " ONLINE ")),
    st.sampled_from(["nps", "ces", "csat"]),
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2025, 12, 31)),
    st.integers(min_value=1, max_value=5),
).map(lambda r: [r[0], r[1], r[2].isoformat(), str(r[3])])

# Each defect makes one cell wrong in a way the format forbids.
defects = st.sampled_from([
    (0, "Retial"), (0, ""), (0, "Nowhere Unit"),
    (1, "npss"), (1, ""), (1, "NPS score"),
    (2, "2025-02-30"), (2, "31/12/2025"), (2, ""), (2, "yesterday"), (2, "1850-01-01"),
    (3, "11"), (3, "-1"), (3, "4.5"), (3, "x"), (3, ""), (3, "nan"), (3, "inf"),
])


def assert_refused_cleanly(db, data, kind, name):
    before = store.table_counts(db)
    with pytest.raises(ValidationError) as error:
        ingest.import_file(db, COMMAND_LINE, data, kind, file_name=name)
    assert store.table_counts(db) == before
    problems = error.value.problems
    assert problems
    for problem in problems:
        assert problem.row is not None or problem.column, problem
        assert str(problem).startswith(("row ", "column ")), str(problem)
    return problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(good_observation, min_size=1, max_size=12), data=st.data(),
       delimiter=st.sampled_from([",", ";"]), bom=st.booleans())
def test_a_file_with_any_bad_cell_is_refused_whole(org, rows, data, delimiter, bom):
    defective = data.draw(st.sets(st.integers(0, len(rows) - 1), min_size=1), label="defective rows")
    for index in defective:
        column, bad = data.draw(defects, label=f"defect of row {index + 1}")
        rows[index][column] = bad
    assume(any(_is_defect(r) for r in rows))
    text = ("\ufeff" if bom else "") + delimiter.join(["unit", "metric", "date", "value"]) + "\n"
    text += "".join(delimiter.join(r) + "\n" for r in rows)
    problems = assert_refused_cleanly(org, text.encode("utf-8"), "observations", "fuzz.csv")
    flagged = {p.row for p in problems}
    for number, row in enumerate(rows, start=1):
        if _is_defect(row) and any(cell.strip() for cell in row):
            assert number in flagged or any(p.row is None for p in problems)


def _is_defect(row):
    unit, metric, day, value = row
    ranges = {"nps": (0, 10), "ces": (1, 7), "csat": (1, 5)}
    if unit.strip().casefold() not in {u.casefold() for u in UNITS} or metric not in ranges:
        return True
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return True
    if day < "1990":
        return True
    try:
        number = float(value)
    except ValueError:
        return True
    low, high = ranges[metric]
    return not (low <= number <= high and number == int(number))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=string.printable + "éü€;\ufeff\"", max_size=300),
       kind=st.sampled_from(reading.KINDS))
def test_random_text_never_writes_and_always_names_where(org, text, kind):
    header = (text.lstrip("\ufeff").splitlines() or [""])[0]
    # A random text that happens to start with a valid header could be a valid file; skip that rare case.
    assume(not all(column in header.lower() for column in reading.REQUIRED[kind]))
    assert_refused_cleanly(org, text.encode("utf-8"), kind, "random.csv")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=200), kind=st.sampled_from(reading.KINDS))
def test_random_bytes_after_a_valid_header_never_write(org, garbage, kind):
    header = ",".join(reading.REQUIRED[kind]).encode() + b"\n"
    data = header + b"Retail,nps,2025-01-06,9\n" + garbage
    try:
        ingest.validate_file(org, COMMAND_LINE, data, kind, "bytes.csv")
    except Exception as error:  # the validation itself must never crash on garbage
        pytest.fail(f"validation crashed: {error!r}")
    before = store.table_counts(org)
    try:
        ingest.import_file(org, COMMAND_LINE, data, kind, file_name="bytes.csv")
    except ValidationError as error:
        assert store.table_counts(org) == before
        assert all(p.row is not None or p.column for p in error.problems)
    else:
        # Garbage that forms only blank lines or whitespace leaves a valid file: it wrote one batch.
        assert store.table_counts(org)["import_batches"] == before["import_batches"] + 1
