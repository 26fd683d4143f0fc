"""One output convention for every command that prints, as the Azure CLI has: ``--output/-o
json|jsonc|table|tsv|yaml|none`` and ``--query JMESPATH`` (applied to the JSON document the
command builds, before it is printed in any format).

``table`` is the command's own layout for people; with ``--query`` it is a plain table of what the
query selected (as ``az`` does). ``tsv`` is tab-separated values without headers, one line per
list item, for shell scripts. ``jsonc`` is JSON coloured for a terminal. ``none`` prints nothing
(the exit status still tells).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from console.text import printable

FORMATS = ("json", "jsonc", "table", "tsv", "yaml", "none")


def query_type(text: str) -> Any:
    """argparse ``type`` of --query: the compiled JMESPath expression, or a usage error."""
    try:
        return jmespath.compile(text)
    except JMESPathError as error:
        first = str(error).strip().splitlines()[0]
        raise argparse.ArgumentTypeError(f"not a JMESPath query ({first})") from None


def add_output(
    parser: argparse.ArgumentParser,
    *,
    document: str,
    default: str | None = "table",
    aliases: tuple[str, ...] = (),
) -> None:
    """--output/-o and --query; ``document`` says what the JSON holds (for --help); ``aliases``:
    older names a command keeps accepting (doctor's ``text`` is ``table``)."""
    parser.add_argument(
        "--output",
        "-o",
        choices=FORMATS + aliases,
        default=default,
        metavar="FORMAT",
        help=f"json, jsonc, table, tsv, yaml or none (default: {default or 'see below'}); "
        f"the JSON is {document}",
    )
    parser.add_argument(
        "--query",
        type=query_type,
        metavar="JMESPATH",
        help="JMESPath query on the JSON (https://jmespath.org), printed in the --output format, "
        "as in az",
    )


def render(
    data: Any,
    output: str,
    query: Any = None,
    table: Callable[[Any], str] | None = None,
) -> str | None:
    """The text to print (None: nothing). ``table`` lays out the whole document for people; it
    is not used for what a query selected."""
    if query is not None:
        data = query.search(data)
    if output == "none":
        return None
    if output == "json":
        return json.dumps(data, indent=2)
    if output == "jsonc":
        return colour(json.dumps(data, indent=2))
    if output == "yaml":
        import yaml

        text = str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        if printable(text, keep_newlines=True) != text:
            # YAML writes bidirectional-text controls as they are: escape all but ASCII instead
            text = str(yaml.safe_dump(data, sort_keys=False, allow_unicode=False))
        return text.rstrip("\n").removesuffix("\n...")  # a lone scalar's end-of-document mark
    if output == "tsv":
        return tsv(data)
    if table is not None and query is None:
        return table(data)
    return plain_table(data)


def tsv(data: Any) -> str:
    """As ``az -o tsv``: a list gives one line per item; an object gives its scalar values on one
    line, in order; nested objects and lists inside a line are left out."""
    rows = data if isinstance(data, list) else [data]
    return "\n".join(_tsv_row(row) for row in rows)


def _tsv_row(value: Any) -> str:
    if isinstance(value, dict):
        return "\t".join(_scalar(v) for v in value.values() if not isinstance(v, dict | list))
    if isinstance(value, list):
        return "\t".join(_scalar(v) for v in value if not isinstance(v, dict | list))
    return _scalar(value)


def _scalar(value: Any) -> str:
    """A value in a table or tsv cell: control characters shown as escapes (console/text.py), so
    a value from a message or from Azure cannot act on the terminal or forge a row."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return printable(value)


def plain_table(data: Any) -> str:
    """A table of what a query selected: a list of objects gets a column per key (scalars only),
    an object a two-column key/value table, scalars one per line."""
    rows = data if isinstance(data, list) else [data]
    objects = [r for r in rows if isinstance(r, dict)]
    if not objects:
        return "\n".join(_scalar(r) if not isinstance(r, list) else tsv(r) for r in rows)
    if not isinstance(data, list):
        pairs = [(str(k), _scalar(v)) for k, v in data.items() if not isinstance(v, dict | list)]
        return _columns([("Key", "Value"), *pairs])
    keys = list(dict.fromkeys(k for r in objects for k, v in r.items() if not _nested(v)))
    header = tuple(_title(k) for k in keys)
    return _columns([header, *(tuple(_scalar(r.get(k)) for k in keys) for r in objects)])


def _nested(value: Any) -> bool:
    return isinstance(value, dict | list)


def _title(key: str) -> str:
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", key).replace("_", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or key


def _columns(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


_TOKEN = re.compile(r'("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?)')
_KEY, _STRING, _LITERAL, _NUMBER, _RESET = "\033[94m", "\033[32m", "\033[36m", "\033[33m", "\033[0m"


def colour(text: str) -> str:
    """JSON with ANSI colours: keys blue, strings green, numbers yellow, true/false/null cyan."""

    def paint(match: re.Match[str]) -> str:
        string, colon, literal, number = match.groups()
        if string is not None:
            return f"{_KEY if colon else _STRING}{string}{_RESET}{colon or ''}"
        if literal is not None:
            return f"{_LITERAL}{literal}{_RESET}"
        return f"{_NUMBER}{number}{_RESET}"

    return _TOKEN.sub(paint, text)
