"""Progress of a long command (plan, status, doctor read Azure for seconds), on stderr and only
when stderr is a terminal: one line, rewritten in place and cleared at the end, so scripts and
pipes see nothing of it and the output on stdout is never interleaved."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Step = Callable[[str], None]


def silent(_: str) -> None:
    """The progress of a command whose stderr is not a terminal: nothing."""


@contextmanager
def progress(command: str) -> Iterator[Step]:
    """``step("reading ...")`` shows what the command is doing now; the line is cleared when the
    block ends (and before anything is printed after it)."""
    stream = sys.stderr
    if not stream.isatty():
        yield silent
        return
    shown = False

    def step(text: str) -> None:
        nonlocal shown
        width = 78 - len(command)
        line = text if len(text) <= width else text[: width - 3] + "..."
        stream.write(f"\r\033[K{command}: {line}")
        stream.flush()
        shown = True

    try:
        yield step
    finally:
        if shown:
            stream.write("\r\033[K")
            stream.flush()
