"""Who may use the tracker and in which role: the mapping of signed-in e-mail addresses to a role
(`editor`, `unit_head` of one or more units, `steering`), managed by editors, and the resolution
of a signed-in person to the Actor every domain call takes.

A sign-in is trusted only when the identity provider says it has verified the e-mail address (the
claim `email_verified`, or the claim named by `[auth] verified_claim` in .streamlit/secrets.toml or
by the environment variable PILOTS_VERIFIED_CLAIM), and a mapped address is then tied to the
provider account that first signed in with it (issuer and subject, which a provider never gives
to anyone else): another account showing the same address is refused. Removing a user forgets
the account; adding them again ties the next sign-in."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from .access import ROLES, Actor, Role, require_editor
from .db import Database
from .model import Problem, ValidationError
from .store import list_units, unit_lookup, unknown_unit_problem

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")

DEFAULT_VERIFIED_CLAIM = "email_verified"
VERIFIED_CLAIM_VARIABLE = "PILOTS_VERIFIED_CLAIM"


@dataclass(frozen=True)
class UserAccess:
    email: str
    role: Role
    unit_ids: tuple[int, ...] = ()
    unit_names: tuple[str, ...] = ()

    def actor(self) -> Actor:
        return Actor(self.email, self.role, frozenset(self.unit_ids))


def normalise_email(email: str) -> str:
    """E-mail addresses compare case-insensitively: identity providers differ in the case they send."""
    return (email or "").strip().lower()


def _rows_to_access(db: Database, actor: Actor, rows: list[tuple]) -> list[UserAccess]:
    names = {u.unit_id: u.name for u in list_units(db, actor)}
    return [UserAccess(email, role, tuple(sorted(ids, key=lambda i: names.get(i, ""))),
                       tuple(sorted(names.get(i, f"unit {i}") for i in ids)))
            for email, role, ids in rows]


def actor_for(db: Database, email: str | None) -> Actor | None:
    """The Actor of a mapped e-mail address, or None when the CCO office has not mapped it. For the
    command line's `--as`, whose user already holds the database file; a sign-in goes through
    `actor_for_identity`."""
    email = normalise_email(email or "")
    if not email:
        return None
    with db.cursor() as cur:
        row = cur.execute("SELECT role, unit_ids FROM users WHERE email = ?", [email]).fetchone()
    return None if row is None else Actor(email, row[0], frozenset(row[1]))


def verified_claim_name(configured: str | None = None) -> str:
    """The claim that must be true for a sign-in's e-mail address to count: the one configured in
    `[auth] verified_claim` (which the app passes), else $PILOTS_VERIFIED_CLAIM, else email_verified."""
    return (configured or os.environ.get(VERIFIED_CLAIM_VARIABLE) or DEFAULT_VERIFIED_CLAIM).strip()


def _claim_text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _is_true(value: Any) -> bool:
    # JSON's true; a few providers send the text "true" instead.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def actor_for_identity(db: Database, claims: Mapping[str, Any], verified_claim: str | None = None) -> Actor | None:
    """The Actor of a person signed in with the OpenID claims given (Streamlit's `st.user`), or None:
    when the provider has not verified the e-mail address (see `verified_claim_name`), when a claim
    (`email`, `iss`, `sub`) is missing, when the CCO office has not mapped the address, or when the
    address is tied to another provider account. The first trusted sign-in of a mapped address ties
    it to its account (an audited write)."""
    email = normalise_email(_claim_text(claims, "email"))
    account = (_claim_text(claims, "iss"), _claim_text(claims, "sub"))
    if not (email and all(account)) or not _is_true(claims.get(verified_claim_name(verified_claim))):
        return None
    found = _mapped(db, email)
    if found is not None and found[1] is None:
        _remember_account(db, found[0], account)
        found = _mapped(db, email)
    return found[0] if found is not None and found[1] == account else None


def _mapped(db: Database, email: str) -> tuple[Actor, tuple[str, str] | None] | None:
    """A mapped address's Actor and the provider account it is tied to (None before its first sign-in)."""
    with db.cursor() as cur:
        row = cur.execute("SELECT role, unit_ids, signin_issuer, signin_subject FROM users WHERE email = ?",
                          [email]).fetchone()
    if row is None:
        return None
    role, unit_ids, issuer, subject = row
    return Actor(email, role, frozenset(unit_ids)), None if subject is None else (issuer, subject)


class _AlreadyTied(Exception):
    """Between the caller's lookup and this write, another sign-in tied the address (or the CCO office
    removed it)."""


def _remember_account(db: Database, actor: Actor, account: tuple[str, str]) -> None:
    """Tie a mapped address to the provider account of its first trusted sign-in. Two first sign-ins
    at once take turns: the later one changes nothing and the caller reads what the first tied."""
    issuer, subject = account
    with suppress(_AlreadyTied), db.write(actor, "sign in for the first time", permitted=None) as w:
        tied = w.execute("UPDATE users SET signin_issuer = ?, signin_subject = ? "
                         "WHERE email = ? AND signin_subject IS NULL RETURNING email",
                         [issuer, subject, actor.email]).fetchone()
        if tied is None:
            raise _AlreadyTied
        w.audit("first_sign_in", "user", actor.email, after={"issuer": issuer, "subject": subject})


def list_users(db: Database, actor: Actor) -> list[UserAccess]:
    """Every mapped user, by e-mail. Editors only: the list says who can see what."""
    require_editor(actor, "list who has access")
    with db.cursor() as cur:
        rows = cur.execute("SELECT email, role, unit_ids FROM users ORDER BY email").fetchall()
    return _rows_to_access(db, actor, rows)


def _checked_unit_ids(db: Database, actor: Actor, email: str, role: str, units: list[str]) -> list[int]:
    """The ids of a new mapping's units; refused whole, naming every problem, if the address, role or
    a unit is wrong."""
    known = unit_lookup(list_units(db, actor))
    problems = []
    if not _EMAIL.fullmatch(email):
        problems.append(Problem("is not an e-mail address", column="email", value=email))
    if role not in ROLES:
        problems.append(Problem(f"must be one of {', '.join(ROLES)}", column="role", value=role))
    elif role == "unit_head" and not units:
        problems.append(Problem("a unit head needs at least one unit (--unit NAME)", column="unit"))
    elif role != "unit_head" and units:
        problems.append(Problem(f"only a unit head has units; {role.replace('_', ' ')} sees "
                                f"{'and edits ' if role == 'editor' else ''}every unit", column="unit",
                                value=", ".join(units)))
    problems += [unknown_unit_problem(name, known.values(), column="unit") for name in units
                 if name.strip().casefold() not in known]
    if problems:
        raise ValidationError(problems)
    return sorted({known[name.strip().casefold()].unit_id for name in units})


def set_user(db: Database, actor: Actor, email: str, role: str, units: Iterable[str] = ()) -> UserAccess:
    """Give an e-mail address a role (a unit head with the units named), replacing what it had, and
    keeping the provider account it is tied to. Refused whole, naming every problem, if the address,
    role or a unit is wrong."""
    email = normalise_email(email)
    units = [u for u in units if u.strip()]
    with db.write(actor, "give someone access") as w:
        unit_ids = _checked_unit_ids(db, actor, email, role, units)
        before = w.execute("SELECT role, unit_ids FROM users WHERE email = ?", [email]).fetchone()
        if before is None:
            w.execute("INSERT INTO users (email, role, unit_ids, added_by) VALUES (?, ?, ?, ?)",
                      [email, role, unit_ids, actor.email])
        else:
            w.execute("UPDATE users SET role = ?, unit_ids = ? WHERE email = ?", [role, unit_ids, email])
        w.audit("add" if before is None else "update", "user", email,
                before=None if before is None else {"role": before[0], "unit_ids": sorted(before[1])},
                after={"role": role, "unit_ids": unit_ids})
    return _rows_to_access(db, actor, [(email, role, unit_ids)])[0]


def remove_user(db: Database, actor: Actor, email: str) -> None:
    """Take away someone's access (and forget the provider account they signed in with); they then
    see the "ask the CCO office" page."""
    email = normalise_email(email)
    with db.write(actor, "remove someone's access") as w:
        before = w.execute("SELECT role, unit_ids FROM users WHERE email = ?", [email]).fetchone()
        if before is None:
            raise ValidationError([Problem("no one with this e-mail address has access", column="email",
                                           value=email)])
        w.execute("DELETE FROM users WHERE email = ?", [email])
        w.audit("remove", "user", email, before={"role": before[0], "unit_ids": sorted(before[1])})
