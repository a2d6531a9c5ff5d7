"""Sign-in end to end: the real app server configured with `[auth]` against a local OpenID Connect
provider (oidc-provider-mock) that the test starts, driven in headless Chromium. A unit head signs
in and sees only their unit, cannot reach an editor page by its URL, and signs out; an unmapped
person gets the "ask the CCO office" page; an editor reaches the audit log. An account showing the
CCO office's address gets no role when the provider has not verified that address, nor when it is
not the account the CCO office signed in with first. Without `[auth]`, the local demo's banner and
role switcher."""

import datetime as dt
import re

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import expect

from browser import app_server, browser_page, free_port
from pilots import store, users
from pilots.access import COMMAND_LINE
from pilots.db import Database
from pilots.model import PilotDraft

# The provider's accounts: the subject typed on its sign-in form, and the claims it vouches for.
ACCOUNTS = [User(sub=email, claims={"email": email, "email_verified": True})
            for email in ("rita@example.com", "CCO@example.com", "stranger@example.com")] + [
    User(sub="unverified-cco", claims={"email": "cco@example.com", "email_verified": False}),
    User(sub="second-cco-account", claims={"email": "cco@example.com", "email_verified": True}),
]


@pytest.fixture(scope="module")
def signed_in_app(tmp_path_factory):
    """A small organisation with three mapped users, served with sign-in against a local provider."""
    folder = tmp_path_factory.mktemp("signin")
    db = Database(folder / "pilots.duckdb")
    for name in ("Retail", "Online"):
        store.add_unit(db, COMMAND_LINE, name)
    for name, unit in (("Callback instead of hold queue", "Retail"), ("Chat bot for returns", "Online")):
        store.add_pilot(db, COMMAND_LINE, PilotDraft(
            name=name, unit=unit, primary_metric="nps", baseline_start=dt.date(2025, 1, 6),
            baseline_end=dt.date(2025, 3, 30), pilot_start=dt.date(2025, 3, 31), pilot_end=dt.date(2025, 6, 29)))
    users.set_user(db, COMMAND_LINE, "rita@example.com", "unit_head", ["Retail"])
    users.set_user(db, COMMAND_LINE, "cco@example.com", "editor")
    db.close()
    with run_server_in_thread(user_claims=ACCOUNTS) as provider:
        port = free_port()
        secrets = folder / "secrets.toml"
        secrets.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-test-only-cookie-secret-of-some-length"
client_id = "cx-pilot-tracker"
client_secret = "test-only"
server_metadata_url = "http://localhost:{provider.server_port}/.well-known/openid-configuration"
""", encoding="utf-8")
        with app_server(folder / "pilots.duckdb", port=port, args=("--secrets.files", str(secrets))) as url:
            yield url


def shown(email: str) -> re.Pattern:
    """An e-mail address as the app shows it: with an invisible word joiner after the "@" that keeps
    Markdown from making it a link."""
    return re.compile(re.escape(email).replace("@", "@\u2060?"))


def sign_in(page, url: str, subject: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="CX Pilot Tracker")).to_be_visible(timeout=120_000)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/oauth2/authorize"))
    page.locator("input[name='sub']").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/"))


def test_a_unit_head_signs_in_sees_only_their_unit_and_signs_out(signed_in_app):
    with browser_page() as page:
        sign_in(page, signed_in_app, "rita@example.com")
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text(shown("rita@example.com"))).to_be_visible(timeout=60_000)
        expect(sidebar.get_by_text("head of Retail")).to_be_visible()
        assert page.get_by_text("Local demo mode").count() == 0
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Portfolio" in nav and "Audit log" not in nav and "Data" not in nav

        page.goto(f"{signed_in_app}/pilots")
        expect(page.get_by_role("heading", name="Pilots", exact=True)).to_be_visible()
        table = page.locator("[data-testid='stDataFrame']").first
        expect(table).to_contain_text("Callback instead of hold queue")
        expect(table).not_to_contain_text("Chat bot for returns")

        page.goto(f"{signed_in_app}/audit")
        page.wait_for_selector("h1")
        expect(page.get_by_role("heading", name="Portfolio")).to_be_visible()
        assert page.get_by_role("heading", name="Audit log").count() == 0

        page.goto(signed_in_app)  # leave the "page not found" notice the /audit URL brought up
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="End session").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)


def test_a_signed_in_person_without_a_role_is_asked_to_contact_the_cco_office(signed_in_app):
    with browser_page() as page:
        sign_in(page, signed_in_app, "stranger@example.com")
        expect(page.get_by_role("heading", name="Ask the CCO office for access")).to_be_visible(timeout=60_000)
        expect(page.get_by_text(shown("stranger@example.com"))).to_be_visible()
        page.goto(f"{signed_in_app}/pilots")
        expect(page.get_by_role("heading", name="Ask the CCO office for access")).to_be_visible()
        assert page.get_by_text("Callback instead of hold queue").count() == 0


def test_an_editor_signs_in_and_reads_the_audit_log(signed_in_app):
    with browser_page() as page:
        sign_in(page, signed_in_app, "CCO@example.com")
        expect(page.locator("[data-testid='stSidebar']").get_by_text(shown("cco@example.com"))).to_be_visible(
            timeout=60_000)
        page.goto(f"{signed_in_app}/audit")
        expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
        expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
        assert page.locator("[data-testid='stException']").count() == 0


def expect_no_role(page, url: str) -> None:
    expect(page.get_by_role("heading", name="Ask the CCO office for access")).to_be_visible(timeout=60_000)
    page.goto(f"{url}/audit")
    expect(page.get_by_role("heading", name="Ask the CCO office for access")).to_be_visible()
    assert page.get_by_role("heading", name="Audit log").count() == 0


def test_an_address_the_provider_has_not_verified_gets_no_role(signed_in_app):
    with browser_page() as page:
        sign_in(page, signed_in_app, "unverified-cco")
        expect_no_role(page, signed_in_app)


def test_another_account_showing_the_cco_offices_address_gets_no_role(signed_in_app):
    with browser_page() as page:
        sign_in(page, signed_in_app, "CCO@example.com")  # the CCO office's own account signs in first
        expect(page.locator("[data-testid='stSidebar']").get_by_text(shown("cco@example.com"))).to_be_visible(
            timeout=60_000)
    with browser_page() as page:
        sign_in(page, signed_in_app, "second-cco-account")
        expect_no_role(page, signed_in_app)


def test_without_sign_in_the_local_demo_shows_its_banner_and_switches_roles(tmp_path):
    db = Database(tmp_path / "pilots.duckdb")
    for name in ("Retail", "Online"):
        store.add_unit(db, COMMAND_LINE, name)
    db.close()
    with app_server(tmp_path / "pilots.duckdb") as url, browser_page() as page:
        page.goto(url)
        expect(page.get_by_text("Local demo mode")).to_be_visible(timeout=120_000)
        nav = page.locator("[data-testid='stSidebarNav']")
        expect(nav).to_contain_text("Audit log")
        page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").click()
        page.get_by_role("option", name="head of Online").click()
        expect(nav).not_to_contain_text("Audit log")
        expect(nav).to_contain_text("Portfolio")
        assert page.locator("[data-testid='stException']").count() == 0
