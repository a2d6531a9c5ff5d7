"""How numbers are written for people, everywhere: at most three significant digits, a true minus
sign, shares (0–1) as percentage points, and the chance a result shows up when a pilot does nothing
instead of a p-value. Money is written by pilots.org.format_money, in the organisation's currency.
Pure functions; the wording of a pilot's state (pilots.wording) and every page, slide and chart use
them (charts' axes through Vega's own formats, whose minus sign is a true one too)."""

from __future__ import annotations

import math

SHARES = ("top2box", "rate")


def number(x: float | None, signed: bool = False) -> str:
    """At most three significant digits (whole numbers from 100 up, with thousands separators);
    '—' for no number."""
    if x is None or not math.isfinite(x):
        return "—"
    sign = "+" if signed else ""
    magnitude = abs(x)
    if magnitude >= 100:
        text = f"{x:{sign},.0f}"
    elif magnitude == 0:
        text = f"{x:{sign}.0f}"
    else:
        decimals = max(0, 2 - int(math.floor(math.log10(magnitude))))
        text = f"{x:{sign},.{decimals}f}"
    return text.replace("-", "−")


def amount(x: float | None, unit: str = "", aggregation: str | None = None, signed: bool = False) -> str:
    """A quantity of a metric in its own words: shares as percentage points ('+8.41 percentage points'),
    anything else with its unit ('−2.03 days')."""
    if aggregation in SHARES and x is not None and math.isfinite(x):
        return f"{number(100 * x, signed)} percentage points"
    return f"{number(x, signed)} {unit}".rstrip()


def chance_words(p: float) -> str:
    """A two-sided p-value as a steering committee reads it."""
    if not (p == p):
        return "no estimate"
    if p < 0.001:
        return "a change this large would show up less than 1 time in 1,000 if the pilot did nothing"
    times = max(1, round(1 / p)) if p > 0 else 1000
    if p >= 0.5:
        return "a change this large shows up more often than not even when a pilot does nothing"
    return f"a change this large shows up about 1 time in {times:,} even when a pilot does nothing"


def p_words(p: float) -> str:
    """A p-value as a statistician reads it: 'p < 0.001' rather than a rounded 'p = 0.000'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
