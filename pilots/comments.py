"""Comments on a pilot: anyone who can see a pilot may read and add them (a unit head only on their
own units' pilots, since those are the only ones they see). Comments are never edited or deleted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .access import Actor
from .db import Database
from .model import Problem, ValidationError
from .store import get_pilot
from .text import checked_text

MAX_LENGTH = 4000


@dataclass(frozen=True)
class Comment:
    comment_id: int
    pilot_id: int
    author: str
    body: str
    created_at: dt.datetime


def list_comments(db: Database, actor: Actor, pilot_id: int) -> list[Comment]:
    """The comments on one pilot the actor may see, oldest first."""
    get_pilot(db, actor, pilot_id)
    with db.cursor() as cur:
        rows = cur.execute("SELECT comment_id, pilot_id, author, body, created_at FROM comments "
                           "WHERE pilot_id = ? ORDER BY created_at, comment_id", [pilot_id]).fetchall()
    return [Comment(*row) for row in rows]


def add_comment(db: Database, actor: Actor, pilot_id: int, body: str) -> Comment:
    """Add a comment to a pilot the actor may see; AccessDenied otherwise."""
    with db.write(actor, "comment on a pilot", permitted=None) as w:
        get_pilot(db, actor, pilot_id)
        problems: list[Problem] = []
        body = checked_text(problems, body, "comment", "comment", limit=MAX_LENGTH, required=True, multiline=True)
        if problems:
            raise ValidationError(problems)
        row = w.execute("INSERT INTO comments (pilot_id, author, body) VALUES (?, ?, ?) "
                        "RETURNING comment_id, pilot_id, author, body, created_at",
                        [pilot_id, actor.email, body]).fetchone()
        comment = Comment(*row)
        w.audit("add", "comment", comment.comment_id, after={"pilot_id": pilot_id, "body": body})
    return comment
