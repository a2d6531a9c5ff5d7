"""AppTest of the Settings page's Organisation section: the CCO office sets the name, currency and
"prepared by" (refused with the field's message when wrong, and refused when someone saved since),
sees the logo; other roles see the settings read-only."""

import dataclasses
import io

import pytest
from PIL import Image

from apptests import open_page, read
from pilots import org
from pilots.access import COMMAND_LINE


@pytest.fixture
def app_db(small_org, monkeypatch):
    db, _ = small_org
    monkeypatch.setenv("PILOTS_DB", str(db.path))
    return db


def widget(at, kind: str, label: str):
    return next(w for w in getattr(at, kind) if w.label == label)


def save(at) -> None:
    next(b for b in at.button if b.label == "Save organisation settings").click().run()
    assert not at.exception, [e.value for e in at.exception]


def reasons(at) -> str:
    return " ".join(" ".join(map(str, d.value["reason"])) for d in at.dataframe if "reason" in d.value.columns)


def logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 100), "navy").save(out, "PNG")
    return out.getvalue()


def test_the_cco_office_sets_name_currency_and_prepared_by(app_db):
    at = open_page("settings", view_as="editor", timeout=30)
    assert "Organisation" in [s.value for s in at.subheader]
    assert widget(at, "text_input", "Organisation name").value == "Our organisation"
    widget(at, "text_input", "Organisation name").input("Northwind Insurance")
    widget(at, "text_input", "Prepared by (default)").input("CCO office")
    widget(at, "text_input", "Currency code (ISO 4217)").input("eur")
    widget(at, "text_input", "Currency symbol").input("€")
    save(at)
    assert "Saved the organisation settings." in [read(s.value) for s in at.success]
    stored = org.org_settings(app_db)
    assert (stored.name, stored.prepared_by, stored.currency_code, stored.currency_symbol, stored.version) == (
        "Northwind Insurance", "CCO office", "EUR", "€", 1)
    assert widget(at, "text_input", "Organisation name").value == "Northwind Insurance"  # the form shows what is stored
    assert any("€1.2M" in read(c.value) for c in at.caption)

    widget(at, "text_input", "Currency code (ISO 4217)").input("EURO")
    save(at)
    assert "nothing was saved" in at.error[0].value and "currency code is not an ISO 4217 code" in reasons(at)
    assert org.org_settings(app_db).currency_code == "EUR"
    assert widget(at, "text_input", "Currency code (ISO 4217)").value == "EURO"  # what was typed is kept


def test_a_save_over_someone_elses_is_refused_then_goes_through_from_the_stored_settings(app_db):
    at = open_page("settings", view_as="editor", timeout=30)
    opened = org.org_settings(app_db)
    org.save_org_settings(app_db, COMMAND_LINE, dataclasses.replace(opened, name="Saved elsewhere"),
                          expected_version=opened.version)  # another session, after this one opened the page
    widget(at, "text_input", "Organisation name").input("Mine")
    save(at)
    assert "someone else just saved" in reasons(at)
    assert org.org_settings(app_db).name == "Saved elsewhere"  # nothing overwritten

    at.run()  # the form now starts from the stored settings
    assert widget(at, "text_input", "Organisation name").value == "Saved elsewhere"
    widget(at, "text_input", "Organisation name").input("Mine")
    save(at)
    assert "Saved the organisation settings." in [read(s.value) for s in at.success]
    assert org.org_settings(app_db).name == "Mine"


def test_the_logo_is_shown_and_can_be_removed(app_db):
    org.save_org_settings(app_db, COMMAND_LINE, org.OrgSettings(name="Northwind", logo=logo()), expected_version=0)
    at = open_page("settings", view_as="editor", timeout=30)
    assert len(at.get("image")) == 1
    widget(at, "checkbox", "Remove the logo").check()
    save(at)
    assert org.org_settings(app_db).logo is None and org.org_settings(app_db).name == "Northwind"
    assert len(at.get("image")) == 0


@pytest.mark.parametrize("view_as", ["steering", "unit:1"])
def test_other_roles_see_the_settings_read_only(app_db, view_as):
    org.save_org_settings(app_db, COMMAND_LINE, org.OrgSettings(
        name="Northwind", currency_code="EUR", currency_symbol="€", logo=logo()), expected_version=0)
    at = open_page("settings", view_as=view_as, timeout=30)
    name = widget(at, "text_input", "Organisation name")
    assert name.value == "Northwind" and name.disabled
    assert widget(at, "text_input", "Currency code").value == "EUR"
    assert all(w.disabled for w in at.text_input if w.label in (
        "Organisation name", "Prepared by", "Currency code", "Currency symbol"))
    assert "Save organisation settings" not in [b.label for b in at.button]
    assert len(at.get("image")) == 1


def test_the_cco_office_opens_unit_figures_to_unit_heads(app_db):
    at = open_page("settings", view_as="editor", timeout=30)
    widget(at, "checkbox", "Unit heads see every unit's customers and revenue per customer").check()
    save(at)
    assert org.org_settings(app_db).unit_figures_for_unit_heads is True


def test_the_cco_office_makes_a_backup_and_sees_it_listed(app_db):
    at = open_page("settings", view_as="editor", timeout=30)
    assert "Backups" in [s.value for s in at.subheader] and "No backup yet." in [i.value for i in at.info]
    next(b for b in at.button if b.label == "Make a backup now").click().run()
    assert not at.exception and any("Backup made" in s.value for s in at.success)
    listed = next(d.value for d in at.dataframe if "backup" in d.value.columns)
    assert len(listed) == 1 and listed["why"].tolist() == ["on demand"]


def test_other_roles_see_no_backups(app_db):
    at = open_page("settings", view_as="steering", timeout=30)
    assert "Backups" not in [s.value for s in at.subheader]
