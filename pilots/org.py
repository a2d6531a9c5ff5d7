"""The organisation's own settings: its name and logo (on every deck's title slide), the currency money
is shown in, and who a deck says it was prepared by when no person is named. One row in
`org_settings`, absent until the CCO office first saves it; until then `org_settings` returns the
defaults. Any role reads the settings (they are on every deck); only the CCO office changes them,
audited, and a save made from settings someone else has saved since is refused, overwriting nothing.

Money is formatted here, with the currency, so that every page, slide and deck writes it the same
way: `format_money` (or `OrgSettings.money`) for text, `money_label_expr` for chart labels."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import math
from dataclasses import dataclass, field


from .access import Actor
from .db import Database
from .model import Problem, ValidationError
from .store import StaleEdit
from .text import MAX_NAME, checked_text, refused_characters

DEFAULT_NAME = "Our organisation"
MAX_TEXT = MAX_NAME  # characters of the organisation name and of "prepared by"
MAX_SYMBOL = 8  # characters of a currency symbol: "€", "US$", "CHF", "kr"
MAX_LOGO_BYTES = 1_000_000
MAX_LOGO_SIDE = 4000  # pixels; a logo is small, and this keeps a hostile file from filling memory when decoded
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}

# ISO 4217 currency codes in use (List One, 2025), plus codes replaced since 2021 that books may still be
# kept in; the precious metals, XTS (testing) and XXX (no currency) are left out.
CURRENCY_CODES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
VES VND VUV WST XAF XCD XCG XDR XOF XPF YER ZAR ZMW ZWG ZWL
""".split())


@dataclass(frozen=True)
class OrgSettings:
    """The organisation's settings as stored, or the defaults (version 0) before the first save.
    An empty currency code and symbol mean that no currency is set: money is a plain number."""

    name: str = DEFAULT_NAME
    currency_code: str = ""
    currency_symbol: str = ""
    prepared_by: str = ""
    logo: bytes | None = field(default=None, repr=False)
    logo_format: str | None = None  # "PNG" or "JPEG", set by save_org_settings from the logo itself
    version: int = 0
    updated_by: str | None = None
    updated_at: dt.datetime | None = None
    # Whether unit heads see every unit's customers and revenue per customer (else only their own).
    unit_figures_for_unit_heads: bool = False

    @property
    def logo_mime(self) -> str | None:
        return LOGO_FORMATS.get(self.logo_format) if self.logo else None

    @property
    def has_currency(self) -> bool:
        return bool(self.currency_code or self.currency_symbol)

    def money(self, value: float | None, *, short: bool = True, signed: bool = False) -> str:
        """`value` as money in this organisation's currency: see format_money."""
        return format_money(value, self, short=short, signed=signed)


_COLUMNS = ("name, currency_code, currency_symbol, prepared_by, logo, logo_format, version, updated_by, "
            "updated_at, unit_figures_for_unit_heads")


def org_settings(db: Database) -> OrgSettings:
    """The organisation's settings; the defaults (name "Our organisation", no currency, no logo,
    version 0) until the CCO office first saves them. Open to every role: they are on every deck."""
    with db.cursor() as cur:
        row = cur.execute(f"SELECT {_COLUMNS} FROM org_settings WHERE settings_id = 1").fetchone()
    return OrgSettings() if row is None else _from_row(row)


def _from_row(row: tuple) -> OrgSettings:
    name, code, symbol, prepared_by, logo, logo_format, version, updated_by, updated_at, open_figures = row
    return OrgSettings(name, code, symbol, prepared_by, None if logo is None else bytes(logo), logo_format,
                       version, updated_by, updated_at, open_figures)


# ---------------------------------------------------------------- checking what is saved

def check_logo(data: bytes) -> str:
    """The logo's format, "PNG" or "JPEG", after opening it with Pillow and decoding it whole;
    ValidationError (column 'logo') for anything else: too large, not a picture, another kind of
    picture, a damaged file."""
    from PIL import Image, UnidentifiedImageError

    def refuse(reason: str) -> ValidationError:
        return ValidationError([Problem(reason, column="logo")])

    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise refuse("the logo file is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise refuse(f"the logo file is {len(data) / 1e6:.1f} MB; a logo may be at most {MAX_LOGO_BYTES / 1e6:g} MB "
                     f"(save it smaller, e.g. 600 pixels wide)")
    found = "PNG or JPEG"
    try:
        with Image.open(io.BytesIO(bytes(data)), formats=list(LOGO_FORMATS)) as image:
            found = image.format
            width, height = image.size
            if width > MAX_LOGO_SIDE or height > MAX_LOGO_SIDE:
                raise refuse(f"the logo is {width} × {height} pixels; at most {MAX_LOGO_SIDE} pixels a side")
            image.load()  # decodes every pixel: a damaged or truncated file fails here, not in a deck
    except ValidationError:
        raise
    except UnidentifiedImageError:
        raise refuse("the logo is not a PNG or JPEG picture: only PNG and JPEG files can be a logo") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as broken:
        raise refuse(f"the logo file is damaged and cannot be read as a {found} picture ({broken})") from None
    return found


def check_settings(settings: OrgSettings) -> OrgSettings:
    """The settings as they would be saved (text trimmed, the currency code in capitals, the logo's
    format read from the logo); ValidationError listing every problem, each naming its field."""
    problems: list[Problem] = []
    name = checked_text(problems, settings.name, "name", "organisation name", limit=MAX_TEXT, required=True)
    prepared_by = checked_text(problems, settings.prepared_by, "prepared_by", '"prepared by" text', limit=MAX_TEXT)
    code = checked_text(problems, settings.currency_code, "currency_code", "currency code", limit=MAX_TEXT).upper()
    symbol = checked_text(problems, settings.currency_symbol, "currency_symbol", "currency symbol", limit=MAX_SYMBOL)
    if code and code not in CURRENCY_CODES and not refused_characters(code):
        problems.append(Problem("the currency code is not an ISO 4217 code: three letters such as EUR, USD, GBP "
                                "or CHF", column="currency_code", value=code[:40]))
    if any(ch.isdigit() for ch in symbol):
        problems.append(Problem("the currency symbol must not contain digits (it is written before every amount)",
                                column="currency_symbol", value=symbol))
    if symbol and not code:
        problems.append(Problem(f"a currency symbol needs its currency code too ('{symbol}' alone can mean "
                                "several currencies): set the code, e.g. EUR for €", column="currency_code"))
    logo, logo_format = settings.logo, None
    if logo is not None:
        try:
            logo, logo_format = bytes(logo), check_logo(logo)
        except ValidationError as refused:
            problems += refused.problems
    if problems:
        raise ValidationError(problems)
    return dataclasses.replace(settings, name=name, prepared_by=prepared_by, currency_code=code,
                               currency_symbol=symbol, logo=logo, logo_format=logo_format)


def _audited(settings: OrgSettings | None) -> dict | None:
    """The settings for the audit log: the logo by its format, size and SHA-256, not its bytes."""
    if settings is None:
        return None
    logo = None if not settings.logo else {
        "format": settings.logo_format, "bytes": len(settings.logo),
        "sha256": hashlib.sha256(settings.logo).hexdigest()}
    return {"name": settings.name, "currency_code": settings.currency_code,
            "currency_symbol": settings.currency_symbol, "prepared_by": settings.prepared_by, "logo": logo,
            "unit_figures_for_unit_heads": settings.unit_figures_for_unit_heads, "version": settings.version}


def save_org_settings(db: Database, actor: Actor, settings: OrgSettings,
                      expected_version: int | None) -> OrgSettings:
    """Save the organisation's name, currency, "prepared by" and logo (`settings.logo` None: no
    logo; pass the loaded settings' logo to keep it). CCO office only (AccessDenied otherwise);
    checked by check_settings (ValidationError); audited. `expected_version` is the version the
    editor loaded (0 before the first save): if someone else has saved since, StaleEdit and nothing is
    overwritten. None skips that check (scripts that mean to overwrite). Returns the settings saved."""
    with db.write(actor, "change the organisation settings") as w:
        checked = check_settings(settings)
        cur = w.cursor
        row = cur.execute(f"SELECT {_COLUMNS} FROM org_settings WHERE settings_id = 1").fetchone()
        before = None if row is None else _from_row(row)
        version = 0 if before is None else before.version
        if expected_version is not None and expected_version != version:
            raise _stale(expected_version, version, before)
        saved = dataclasses.replace(checked, version=version + 1, updated_by=actor.email)
        values = [saved.name, saved.currency_code, saved.currency_symbol, saved.prepared_by, saved.logo,
                  saved.logo_format, saved.version, saved.updated_by, bool(saved.unit_figures_for_unit_heads)]
        if before is None:
            cur.execute("INSERT INTO org_settings (settings_id, name, currency_code, currency_symbol, prepared_by, "
                        "logo, logo_format, version, updated_by, unit_figures_for_unit_heads) "
                        "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        else:
            cur.execute("UPDATE org_settings SET name = ?, currency_code = ?, currency_symbol = ?, prepared_by = ?, "
                        "logo = ?, logo_format = ?, version = ?, updated_by = ?, unit_figures_for_unit_heads = ?, "
                        "updated_at = current_timestamp WHERE settings_id = 1", values)
        w.audit("update", "org_settings", 1, before=_audited(before), after=_audited(saved))
    return org_settings(db)


def _stale(expected: int | None, now: int | None, current: OrgSettings | None) -> StaleEdit:
    who = f" ({current.updated_by}, version {now}; you opened version {expected})" if current else ""
    return StaleEdit([Problem(f"someone else just saved the organisation settings{who}; nothing was saved: "
                              "look at their change and make yours again", column="version")])


# ---------------------------------------------------------------- money

def short_number(value: float) -> str:
    """1,234,567 as '1.2M', 45,600 as '45.6k', 999,960 as '1.0M' (not '1,000.0k'): the steps of
    money in thousands, millions and billions, for a value that is not negative."""
    # A step starts where the step below would round up to 1,000 of itself.
    for size, suffix, starts in ((1e9, "bn", 999_950_000), (1e6, "M", 999_950), (1e3, "k", 999.5)):
        if abs(value) >= starts:
            return f"{value / size:,.1f}{suffix}"
    return f"{value:,.0f}"


def currency_prefix(settings: OrgSettings | None) -> str:
    """What goes before an amount: the symbol ('€'; 'CHF ' and 'kr ' with a space, as they end in a
    letter), else the code with a space ('EUR '), else nothing when no currency is set."""
    if settings is None:
        return ""
    if settings.currency_symbol:
        symbol = settings.currency_symbol
        return symbol + (" " if symbol[-1].isalpha() else "")
    return f"{settings.currency_code} " if settings.currency_code else ""


def format_money(value: float | None, settings: OrgSettings | None = None, *, short: bool = True,
                 signed: bool = False) -> str:
    """An amount of money in the organisation's currency: '€1.2M', 'CHF 45.6k', 'EUR 980', '-€3.4M'
    (short, the default: k, M, bn with one decimal) or '€1,234,568' (short=False: whole units with
    thousands separators); '+€1.2M' with signed=True; plain '1.2M' when no currency is set; '—' for
    None, NaN or infinite."""
    try:
        value = float(value)
    except (TypeError, ValueError):  # None, pandas' NA
        return "—"
    if not math.isfinite(value):
        return "—"
    amount = short_number(abs(value)) if short else f"{abs(value):,.0f}"
    sign = "" if abs(value) < 0.5 else "-" if value < 0 else "+" if signed else ""
    return f"{sign}{currency_prefix(settings)}{amount}"


def money_label_expr(settings: OrgSettings | None, field: str = "datum.value") -> str:
    """A Vega expression that writes the number in `field` as format_money does ('€1.2M'), for chart
    axes and bar labels: alt.Axis(labelExpr=money_label_expr(s)) or alt.Text via transform_calculate."""
    prefix = json.dumps(currency_prefix(settings), ensure_ascii=False)
    v = f"abs({field})"
    number = (f"{v} >= 999950000 ? format({v} / 1e9, ',.1f') + 'bn' : "
              f"{v} >= 999950 ? format({v} / 1e6, ',.1f') + 'M' : "
              f"{v} >= 999.5 ? format({v} / 1e3, ',.1f') + 'k' : format({v}, ',.0f')")
    return f"({field} <= -0.5 ? '-' : '') + {prefix} + ({number})"
