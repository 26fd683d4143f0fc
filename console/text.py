"""Text from a message or from Azure, made safe to print on a terminal.

A message body, a dead-letter reason or description, an Azure error message may hold escape
sequences; printed as they are, a terminal acts on them (moves the cursor, erases lines, sets the
window title, writes over what was printed). ``printable`` shows every such character visibly
instead, as Python writes it in a string literal (ESC as ``\\x1b``); JSON output needs nothing more,
``json.dumps`` escapes them already.
"""

from __future__ import annotations

import unicodedata

# Shown as escapes besides the control characters (Cc): the line and paragraph separators, and
# the bidirectional-text controls that reorder what follows them on screen.
_INVISIBLE = frozenset("\u2028\u2029\u061c\u200e\u200f") | frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with each control character shown as its escape (``\\x1b``, ``\\n``, ``\\u202e``);
    other text, accented and non-Latin letters among it, as it is. ``keep_newlines``: line breaks
    stay line breaks, for a report of several lines whose own fields were made printable."""
    text = str(text)
    if text.isprintable() and not _INVISIBLE.intersection(text):
        return text
    return "".join(_shown(c, keep_newlines) for c in text)


def _shown(c: str, keep_newlines: bool) -> str:
    if c == "\n" and keep_newlines:
        return c
    if c in _NAMED:
        return _NAMED[c]
    if c in _INVISIBLE or unicodedata.category(c) == "Cc":
        return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
    return c


def printable_lines(lines: list[str]) -> str:
    """A report for people, one entry a line: each made printable (a line break inside one, from
    a message or from Azure, is shown as ``\\n``, so it cannot forge a line of its own)."""
    return "\n".join(printable(line) for line in lines)
