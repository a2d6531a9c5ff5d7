"""Who may use the tracker and in which role: the mapping of signed-in e-mail addresses to a role
(`editor`, `unit_head` of one or more units, `steering`), managed by editors, and the resolution
of a signed-in e-mail to the Actor every domain call takes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .access import ROLES, Actor, require_editor
from .db import Database
from .model import Problem, ValidationError
from .store import list_units, record_audit, unit_lookup, unknown_unit_problem

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True)
class UserAccess:
    email: str
    role: str
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
    """The Actor of a signed-in e-mail address, or None when the CCO office has not mapped it."""
    email = normalise_email(email or "")
    if not email:
        return None
    with db.cursor() as cur:
        row = cur.execute("SELECT role, unit_ids FROM users WHERE email = ?", [email]).fetchone()
    return None if row is None else Actor(email, row[0], frozenset(row[1]))


def list_users(db: Database, actor: Actor) -> list[UserAccess]:
    """Every mapped user, by e-mail. Editors only: the list says who can see what."""
    require_editor(actor, "list who has access")
    with db.cursor() as cur:
        rows = cur.execute("SELECT email, role, unit_ids FROM users ORDER BY email").fetchall()
    return _rows_to_access(db, actor, rows)


def set_user(db: Database, actor: Actor, email: str, role: str, units: Iterable[str] = ()) -> UserAccess:
    """Give an e-mail address a role (a unit head with the units named), replacing what it had.
    Refused whole, naming every problem, if the address, role or a unit is wrong."""
    require_editor(actor, "give someone access")
    email = normalise_email(email)
    units = [u for u in units if u.strip()]
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
    unit_ids = sorted({known[name.strip().casefold()].unit_id for name in units})
    with db.transaction() as cur:
        before = cur.execute("SELECT role, unit_ids FROM users WHERE email = ?", [email]).fetchone()
        if before is None:
            cur.execute("INSERT INTO users (email, role, unit_ids, added_by) VALUES (?, ?, ?, ?)",
                        [email, role, unit_ids, actor.email])
        else:
            cur.execute("UPDATE users SET role = ?, unit_ids = ? WHERE email = ?", [role, unit_ids, email])
        record_audit(cur, actor, "add" if before is None else "update", "user", email,
                     before=None if before is None else {"role": before[0], "unit_ids": sorted(before[1])},
                     after={"role": role, "unit_ids": unit_ids})
    return _rows_to_access(db, actor, [(email, role, unit_ids)])[0]


def remove_user(db: Database, actor: Actor, email: str) -> None:
    """Take away someone's access; they then see the "ask the CCO office" page."""
    require_editor(actor, "remove someone's access")
    email = normalise_email(email)
    with db.transaction() as cur:
        before = cur.execute("SELECT role, unit_ids FROM users WHERE email = ?", [email]).fetchone()
        if before is None:
            raise ValidationError([Problem("no one with this e-mail address has access", column="email",
                                           value=email)])
        cur.execute("DELETE FROM users WHERE email = ?", [email])
        record_audit(cur, actor, "remove", "user", email, before={"role": before[0], "unit_ids": sorted(before[1])})
