"""Who is acting, and what each role may do. Every read and write in the domain takes an Actor,
so a role is enforced here whatever the entry point (page, command line, direct call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["editor", "unit_head", "steering"]
ROLES: tuple[Role, ...] = get_args(Role)


class AccessDenied(PermissionError):
    """The acting user's role does not allow this."""


@dataclass(frozen=True)
class Actor:
    email: str
    role: Role
    unit_ids: frozenset[int] = frozenset()

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role '{self.role}'; expected one of {', '.join(ROLES)}")

    @property
    def is_editor(self) -> bool:
        return self.role == "editor"

    def sees_all_units(self) -> bool:
        return self.role in ("editor", "steering")

    def can_see_unit(self, unit_id: int) -> bool:
        return self.sees_all_units() or unit_id in self.unit_ids


# The command line and the demo loader act as the CCO office.
COMMAND_LINE = Actor("command-line", "editor")


def require_editor(actor: Actor, doing: str) -> None:
    if not actor.is_editor:
        raise AccessDenied(f"{actor.email} ({actor.role}) may not {doing}: only the CCO office edits")


def require_unit(actor: Actor, unit_id: int, doing: str) -> None:
    if not actor.can_see_unit(unit_id):
        raise AccessDenied(f"{actor.email} may not {doing}: the unit is not theirs")
