"""The organisation's settings on a real DuckDB file: defaults before the first save, a save read back,
every field checked with a message naming it, the logo opened with Pillow, only the CCO office saving,
every save audited, a stale save refused without overwriting anything; and money in the currency."""

import dataclasses
import io
import json
import threading
import time

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc
from PIL import Image

from pilots import audit, org, store
from pilots.access import COMMAND_LINE, AccessDenied, Actor
from pilots.model import ValidationError

CCO = Actor("ana@example.com", "editor")


def picture(fmt: str = "PNG", size=(300, 100), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "navy" if mode == "RGB" else None).save(out, fmt)
    return out.getvalue()


def refusal(call) -> list:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.problems


def stored_row_count(db) -> int:
    with db.cursor() as cur:
        return cur.execute("SELECT count(*) FROM org_settings").fetchone()[0]


def test_defaults_before_anything_is_saved(db):
    settings = org.org_settings(db)
    assert settings == org.OrgSettings()
    assert (settings.name, settings.currency_code, settings.currency_symbol, settings.prepared_by) == (
        "Our organisation", "", "", "")
    assert settings.logo is None and settings.logo_mime is None and settings.version == 0
    assert not settings.has_currency


def test_a_save_is_read_back_trimmed_with_its_logo_and_audited(db):
    logo = picture()
    saved = org.save_org_settings(db, CCO, org.OrgSettings(
        name="  Northwind Insurance  ", currency_code="eur", currency_symbol=" € ", prepared_by="CCO office",
        logo=logo), expected_version=0)
    assert saved == org.org_settings(db)
    assert (saved.name, saved.currency_code, saved.currency_symbol, saved.prepared_by) == (
        "Northwind Insurance", "EUR", "€", "CCO office")
    assert saved.logo == logo and saved.logo_format == "PNG" and saved.logo_mime == "image/png"
    assert (saved.version, saved.updated_by) == (1, "ana@example.com") and saved.updated_at is not None

    again = org.save_org_settings(db, CCO, dataclasses.replace(saved, logo=None, currency_symbol=""),
                                  expected_version=1)
    assert again.logo is None and again.logo_format is None and again.version == 2
    assert stored_row_count(db) == 1

    trail = audit.list_audit(db, CCO, audit.AuditFilter(entities=("org_settings",)))
    assert trail["action"].tolist() == ["update", "update"] and trail["actor"].unique().tolist() == [CCO.email]
    first, second = (json.loads(a) for a in trail["after"].iloc[::-1])
    assert first["name"] == "Northwind Insurance" and first["version"] == 1
    assert first["logo"] == {"format": "PNG", "bytes": len(logo), "sha256": first["logo"]["sha256"]}  # not the bytes
    assert second["logo"] is None and json.loads(trail["before"].iloc[0])["logo"]["bytes"] == len(logo)
    assert pd.isna(trail["before"].iloc[1])  # the first save had nothing before it


def test_a_jpeg_logo_is_accepted_and_known_as_jpeg(db):
    saved = org.save_org_settings(db, CCO, org.OrgSettings(logo=picture("JPEG")), expected_version=0)
    assert saved.logo_format == "JPEG" and saved.logo_mime == "image/jpeg"


@pytest.mark.parametrize("field, value, words", [
    ("name", "x" * 121, "organisation name is 121 characters long; at most 120"),
    ("name", "   ", "organisation name must not be empty"),
    ("name", "Acme\x07 Corp", "organisation name contains control or invisible character (U+0007)"),
    ("name", "Acme\nCorp", "organisation name contains control or invisible character (U+000A)"),
    ("prepared_by", "p" * 121, '"prepared by" text is 121 characters long; at most 120'),
    ("prepared_by", "CCO\x00office\x1b", '"prepared by" text contains control or invisible characters (U+0000, U+001B)'),
    ("currency_code", "EURO", "currency code is not an ISO 4217 code"),
    ("currency_code", "XYZ", "currency code is not an ISO 4217 code"),
    ("currency_code", "E\tU", "currency code contains control or invisible character (U+0009)"),
    ("currency_symbol", "€€€€€€€€€", "currency symbol is 9 characters long; at most 8"),
    ("currency_symbol", "1$", "currency symbol must not contain digits"),
])
def test_each_field_is_checked_with_a_message_naming_it(db, field, value, words):
    settings = dataclasses.replace(org.OrgSettings(currency_code="EUR"), **{field: value})
    problems = refusal(lambda: org.save_org_settings(db, CCO, settings, expected_version=0))
    assert [p.column for p in problems] == [field]
    assert words in problems[0].reason
    assert stored_row_count(db) == 0 and org.org_settings(db) == org.OrgSettings()


def test_a_symbol_needs_its_code_and_every_problem_is_listed_at_once(db):
    problems = refusal(lambda: org.save_org_settings(db, CCO, org.OrgSettings(
        name="", currency_symbol="$", logo=b"GIF89a"), expected_version=0))
    assert [p.column for p in problems] == ["name", "currency_code", "logo"]
    assert "needs its currency code" in problems[1].reason


def test_the_codes_are_iso_4217():
    assert {"EUR", "USD", "GBP", "CHF", "JPY", "SEK", "INR", "BRL", "ZAR"} <= org.CURRENCY_CODES
    assert not {"XXX", "XTS", "XAU", "EURO"} & org.CURRENCY_CODES
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in org.CURRENCY_CODES)


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (20, 20)).save(out, "GIF")
    return out.getvalue()


def truncated_png() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((400, 400), 64).convert("RGB").save(out, "PNG")
    return out.getvalue()[:-3000]


@pytest.mark.parametrize("data, words", [
    (b"", "logo file is empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a PNG or JPEG picture"),
    (b"%PDF-1.4 not a picture", "not a PNG or JPEG picture"),
    (gif(), "not a PNG or JPEG picture"),
    (truncated_png(), "logo file is damaged"),
    (picture(size=(4001, 10)), "4001 × 10 pixels; at most 4000"),
    (b"\x89PNG\r\n\x1a\n" + bytes(org.MAX_LOGO_BYTES), "at most 1 MB"),
])
def test_only_a_sound_png_or_jpeg_of_limited_size_is_a_logo(db, data, words):
    problems = refusal(lambda: org.save_org_settings(db, CCO, org.OrgSettings(logo=data), expected_version=0))
    assert [p.column for p in problems] == ["logo"] and words in problems[0].reason
    assert stored_row_count(db) == 0


@pytest.mark.parametrize("who", [Actor("rita@example.com", "unit_head", frozenset({1})),
                                 Actor("board@example.com", "steering")])
def test_only_the_cco_office_saves_them(db, who):
    before = store.table_counts(db)
    with pytest.raises(AccessDenied, match="only the CCO office edits"):
        org.save_org_settings(db, who, org.OrgSettings(name="Mine"), expected_version=0)
    assert store.table_counts(db) == {**before, "audit_log": before["audit_log"] + 1}  # the refusal, logged
    assert stored_row_count(db) == 0
    assert org.org_settings(db).name == "Our organisation"  # every role reads them


def test_a_stale_save_is_refused_and_overwrites_nothing(db):
    opened = org.org_settings(db)  # two editors open the settings at version 0
    org.save_org_settings(db, CCO, dataclasses.replace(opened, name="Northwind"), expected_version=opened.version)
    with pytest.raises(store.StaleEdit, match="someone else just saved") as stale:
        org.save_org_settings(db, Actor("ben@example.com", "editor"), dataclasses.replace(opened, name="Southwind"),
                              expected_version=opened.version)
    assert "ana@example.com" in str(stale.value)  # who saved in between
    assert (org.org_settings(db).name, org.org_settings(db).version) == ("Northwind", 1)
    assert len(audit.list_audit(db, CCO, audit.AuditFilter(entities=("org_settings",)))) == 1

    current = org.org_settings(db)  # reloaded: the change goes through
    assert org.save_org_settings(db, CCO, dataclasses.replace(current, name="Southwind"),
                                 expected_version=current.version).name == "Southwind"
    # a script that means to overwrite skips the check
    assert org.save_org_settings(db, COMMAND_LINE, dataclasses.replace(current, name="Eastwind"),
                                 expected_version=None).version == 3


def test_a_save_racing_another_uncommitted_one_waits_for_it_and_is_refused_as_stale(db):
    org.save_org_settings(db, CCO, org.OrgSettings(name="Northwind"), expected_version=0)
    other_ready = threading.Event()

    def other_session():
        # Another editor's save, in the middle of its write when ours starts: ours waits its turn.
        with db.write(Actor("ben@example.com", "editor"), "change the organisation settings") as w:
            w.execute("UPDATE org_settings SET name = 'Westwind', version = 2 WHERE settings_id = 1")
            w.audit("update", "org_settings", 1)
            other_ready.set()
            time.sleep(0.5)

    thread = threading.Thread(target=other_session)
    thread.start()
    assert other_ready.wait(10)
    try:
        with pytest.raises(store.StaleEdit, match="someone else just saved"):
            org.save_org_settings(db, CCO, org.OrgSettings(name="Southwind"), expected_version=1)
    finally:
        thread.join()
    assert (org.org_settings(db).name, org.org_settings(db).version) == ("Westwind", 2)


# ---------------------------------------------------------------- money

EUR = org.OrgSettings(currency_code="EUR", currency_symbol="€")


@pytest.mark.parametrize("settings, value, kwargs, shown", [
    (EUR, 1_234_567, {}, "€1.2M"),
    (EUR, -1_234_567, {}, "-€1.2M"),
    (EUR, 45_600, {"signed": True}, "+€45.6k"),
    (EUR, 999_960, {}, "€1.0M"),
    (EUR, 2.5e9, {}, "€2.5bn"),
    (EUR, 980.4, {}, "€980"),
    (EUR, 1_234_567.4, {"short": False}, "€1,234,567"),
    (EUR, -0.2, {"signed": True}, "€0"),
    (EUR, None, {}, "—"),
    (EUR, float("nan"), {}, "—"),
    (EUR, pd.NA, {}, "—"),
    (org.OrgSettings(currency_code="CHF", currency_symbol="CHF"), 45_600, {}, "CHF 45.6k"),
    (org.OrgSettings(currency_code="USD", currency_symbol="US$"), 45_600, {}, "US$45.6k"),
    (org.OrgSettings(currency_code="GBP"), 45_600, {}, "GBP 45.6k"),
    (org.OrgSettings(), 45_600, {}, "45.6k"),
    (None, 45_600, {}, "45.6k"),
])
def test_money_in_the_organisations_currency(settings, value, kwargs, shown):
    assert org.format_money(value, settings, **kwargs) == shown
    if settings is not None:
        assert settings.money(value, **kwargs) == shown


def test_chart_labels_write_money_as_the_text_does():
    values = [1_234_567.0, -45_600.0, 12.4, 980.4, 999.6, 999_960.0, 2.5e9]
    for settings in (EUR, org.OrgSettings(currency_code="CHF", currency_symbol="CHF"), org.OrgSettings()):
        chart = alt.Chart(pd.DataFrame({"row": range(len(values)), "value": values})).mark_text().transform_calculate(
            label=org.money_label_expr(settings)).encode(y="row:O", text="label:N")
        svg = vlc.vegalite_to_svg(chart.to_dict())
        for value in values:
            assert f">{org.format_money(value, settings)}<" in svg
