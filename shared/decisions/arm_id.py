"""ARM resource ids: parsed once, compared case-insensitively, printed as given."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Characters ARM never has in an id segment, and that an HTTP client or proxy may reinterpret:
# percent-encodings (an encoded '/' or '..'), backslashes, query and fragment marks, whitespace
# and control characters, and the characters ARM forbids in resource names.
_FORBIDDEN = re.compile(r"[%\\?#<>*&:\s\x00-\x1f\x7f]")


class InvalidResourceId(ValueError):
    """Text that is not an ARM resource id of the expected shape."""


@dataclass(frozen=True)
class ResourceId:
    """An ARM resource id. Equality and hashing ignore case, as ARM does."""

    raw: str = field(compare=False)
    key: str = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> ResourceId:
        if not isinstance(text, str):
            raise InvalidResourceId(f"resource id must be a string, got {type(text).__name__}")
        stripped = text.strip()
        if not stripped.startswith("/"):
            raise InvalidResourceId(
                f"not an ARM resource id (must start with /subscriptions/): {text!r}"
            )
        raw = stripped[:-1] if stripped.endswith("/") and len(stripped) > 1 else stripped
        parts = raw.split("/")[1:]
        if len(parts) < 2 or parts[0].lower() != "subscriptions" or not parts[1]:
            raise InvalidResourceId(f"not an ARM resource id: {text!r}")
        for part in parts:
            if not part:
                raise InvalidResourceId(f"ARM resource id has an empty segment: {text!r}")
            if part.strip(".") == "":
                raise InvalidResourceId(f"ARM resource id has a '{part}' segment: {text!r}")
            if _FORBIDDEN.search(part):
                raise InvalidResourceId(
                    f"ARM resource id has a character ARM ids never hold in {part!r}: {text!r}"
                )
        return cls(raw=raw, key=raw.lower())

    def __str__(self) -> str:
        return self.raw

    @property
    def parts(self) -> list[str]:
        return self.raw.split("/")[1:]

    def _value_after(self, name: str) -> str | None:
        parts = self.parts
        for index in range(0, len(parts) - 1):
            if parts[index].lower() == name:
                return parts[index + 1]
        return None

    @property
    def subscription(self) -> str:
        return self.parts[1]

    @property
    def resource_group(self) -> str:
        group = self._value_after("resourcegroups")
        if group is None:
            raise InvalidResourceId(f"no resource group in {self.raw!r}")
        return group

    @property
    def provider(self) -> str:
        parts = self.parts
        for index in range(len(parts) - 2, -1, -1):
            if parts[index].lower() == "providers":
                return parts[index + 1]
        raise InvalidResourceId(f"no provider in {self.raw!r}")

    @property
    def resource_type(self) -> str:
        """``Namespace/type[/child]`` of the innermost provider, lower-cased."""
        parts = self.parts
        for index in range(len(parts) - 2, -1, -1):
            if parts[index].lower() == "providers":
                tail = parts[index + 1 :]
                types = [tail[0]] + [tail[i] for i in range(1, len(tail), 2)]
                return "/".join(types).lower()
        raise InvalidResourceId(f"no provider in {self.raw!r}")

    @property
    def name(self) -> str:
        return self.parts[-1]

    def is_within(self, scope: ResourceId) -> bool:
        """True when this id equals ``scope`` or lies below it, segment by segment."""
        mine, theirs = self.key.split("/"), scope.key.split("/")
        return len(mine) >= len(theirs) and mine[: len(theirs)] == theirs

    def child(self, *segments: str) -> ResourceId:
        return ResourceId.parse(self.raw + "/" + "/".join(segments))


MANAGED_CLUSTER = "microsoft.containerservice/managedclusters"
CONNECTED_CLUSTER = "microsoft.kubernetes/connectedclusters"
WORKSPACE = "microsoft.machinelearningservices/workspaces"
USER_ASSIGNED_IDENTITY = "microsoft.managedidentity/userassignedidentities"
EXTENSION_SUFFIX = "microsoft.kubernetesconfiguration/extensions"
