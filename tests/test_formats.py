"""Numbers as people read them: three significant digits, a true minus sign, shares as percentage
points, and p-values as chances."""

import math

from pilots import formats


def test_at_most_three_significant_digits_and_a_true_minus():
    assert formats.number(2.0341) == "2.03"
    assert formats.number(0.084123) == "0.0841"
    assert formats.number(-12.345, signed=True) == "−12.3"
    assert formats.number(1234.6) == "1,235"
    assert formats.number(0.5, signed=True) == "+0.500"
    assert formats.number(0) == "0" and formats.number(math.nan) == "—" and formats.number(None) == "—"


def test_shares_read_as_percentage_points():
    assert formats.amount(0.0841, "share resolved", "rate", signed=True) == "+8.41 percentage points"
    assert formats.amount(-2.03, "days") == "−2.03 days"
    assert formats.amount(5.0, "") == "5.00"


def test_p_values_as_chances():
    assert formats.chance_words(0.05) == ("a change this large shows up about 1 time in 20 even when a pilot "
                                          "does nothing")
    assert formats.chance_words(0.8).startswith("a change this large shows up more often than not")
    assert formats.p_words(0.0001) == "p < 0.001"
