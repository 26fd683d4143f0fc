"""Name templates: ``{placeholder}`` filled in with a value, and nothing else.

The attach policy names computes, namespaces and kubeconfig secrets with templates such as
``{cluster}-train``. They are *not* Python format strings: ``str.format`` would also evaluate
``{cluster.__class__.__name__}``, ``{cluster[0]}`` and ``{cluster:>3000000}``. Here a placeholder
is a name between braces, one of the names the caller allows; any other brace is refused.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class TemplateError(ValueError):
    """A template uses a placeholder that is not allowed, or a brace outside one."""


def placeholders(template: str, allowed: Collection[str]) -> tuple[str, ...]:
    """The placeholders ``template`` uses, in order (repeats included); TemplateError when one
    is not in ``allowed`` or a brace stands outside a placeholder."""
    names = tuple(_PLACEHOLDER.findall(template))
    unknown = sorted({n for n in names if n not in allowed})
    if unknown:
        shown = ", ".join("{" + n + "}" for n in unknown)
        known = " and ".join("{" + n + "}" for n in sorted(allowed)) or "none"
        raise TemplateError(
            f"unknown placeholder {shown}; only {known} can be used, as they are (no "
            "attributes, indexes or format specs)"
        )
    if "{" in literal(template) or "}" in literal(template):
        raise TemplateError("a '{' or '}' outside a placeholder such as {cluster}")
    return names


def literal(template: str) -> str:
    """The text the author typed: the template without its placeholders."""
    return _PLACEHOLDER.sub("", template)


def substitute(template: str, values: Mapping[str, str]) -> str:
    """Fill each ``{name}`` with ``values[name]``; the values are inserted as they are (make them
    valid for the target first). TemplateError for any other placeholder or brace."""
    placeholders(template, values.keys())
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
