"""What a user's text may be, in one place: the check every entry door applies to names and free
texts (forms, command line, imports, query parameters), and the defence every renderer applies
before a text reaches a chart, slide, PDF or picture.

Text is data, never markup or control: a control character, a non-character or a direction
override is refused at entry with a message naming the field, and lengths are bounded (a name at
most 120 characters, a free text at most 5,000), so no later reader can be crashed or fooled."""

from __future__ import annotations

import unicodedata

from .model import Problem

MAX_NAME = 120
MAX_TEXT = 5_000

# Characters that reorder how the rest of a line is displayed: "Stop" could be made to read "potS"
# or a file name to end in a harmless extension. Never needed in a name or a comment.
_DIRECTION_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Line and paragraph separators end a line where a renderer does not expect it.
_SEPARATORS = frozenset("\u2028\u2029")


def _is_noncharacter(ch: str) -> bool:
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _refused(ch: str, multiline: bool) -> bool:
    if multiline and ch in "\n\t":
        return False
    if ch == "\r" and multiline:
        return False
    category = unicodedata.category(ch)
    return (category in ("Cc", "Cs") or ch in _DIRECTION_CONTROLS or ch in _SEPARATORS
            or _is_noncharacter(ch))


def refused_characters(text: str, multiline: bool = False) -> list[str]:
    """The characters of `text` that no name or text may hold, as 'U+000B', each once, in order
    of appearance. A multi-line text may hold new lines and tabs; a name may not."""
    return list(dict.fromkeys(f"U+{ord(ch):04X}" for ch in text if _refused(ch, multiline)))


def text_problems(value: str | None, column: str, words: str, *, limit: int = MAX_NAME,
                  required: bool = False, multiline: bool = False, row: int | None = None) -> list[Problem]:
    """What is wrong with one field's text (already trimmed by the caller or not), each problem
    naming the field (`column`) and, for a file, the row."""
    text = (value or "").strip()
    problems = []
    if required and not text:
        problems.append(Problem(f"the {words} must not be empty", row=row, column=column))
    if len(text) > limit:
        problems.append(Problem(f"the {words} is {len(text):,} characters long; at most {limit:,} are allowed",
                                row=row, column=column, value=printable(text, 40)))
    found = refused_characters(text, multiline)
    if found:
        plural = "s" if len(found) > 1 else ""
        how = "without them" if multiline else "on one line without them"
        problems.append(Problem(
            f"the {words} contains control or invisible character{plural} ({', '.join(found[:5])}"
            f"{', …' if len(found) > 5 else ''}): type it {how}", row=row, column=column))
    return problems


def checked_text(problems: list[Problem], value: str | None, column: str, words: str, *,
                 limit: int = MAX_NAME, required: bool = False, multiline: bool = False,
                 row: int | None = None) -> str:
    """The field's text trimmed; a problem appended to `problems` for each way it is wrong."""
    problems += text_problems(value, column, words, limit=limit, required=required, multiline=multiline, row=row)
    return (value or "").strip()


def printable(value: object, limit: int = MAX_NAME) -> str:
    """`value` as a renderer may safely draw it: refused characters replaced by a space (new
    lines kept), at most `limit` characters (cut with "…"). Renderers call this whatever the
    stored text, so a row written before these checks existed cannot take a renderer down."""
    text = "" if value is None else str(value)
    if len(text) > limit * 4:
        text = text[: limit * 4]
    cleaned = "".join(" " if _refused(ch, multiline=True) or ch in "\t\r" else ch for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: max(limit - 1, 0)].rstrip() + "…"
