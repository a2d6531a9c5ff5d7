"""Comments on a pilot: anyone who can see a pilot may read and add them (a unit head only on their
own units' pilots, since those are the only ones they see). Comments are never edited or deleted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .access import Actor
from .db import Database
from .model import Problem, ValidationError
from .store import get_pilot, record_audit

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
    get_pilot(db, actor, pilot_id)
    body = (body or "").strip()
    if not body:
        raise ValidationError([Problem("a comment needs some text", column="comment")])
    if len(body) > MAX_LENGTH:
        raise ValidationError([Problem(f"a comment is at most {MAX_LENGTH} characters; this one has {len(body)}",
                                       column="comment")])
    with db.transaction() as cur:
        row = cur.execute("INSERT INTO comments (pilot_id, author, body) VALUES (?, ?, ?) "
                          "RETURNING comment_id, pilot_id, author, body, created_at",
                          [pilot_id, actor.email, body]).fetchone()
        comment = Comment(*row)
        record_audit(cur, actor, "add", "comment", comment.comment_id, after={"pilot_id": pilot_id, "body": body})
    return comment
