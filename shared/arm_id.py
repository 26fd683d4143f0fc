"""ARM resource ids: parsed once, compared case-insensitively, printed as given."""

from __future__ import annotations

from dataclasses import dataclass, field


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
        raw = "/" + text.strip().strip("/")
        parts = raw.split("/")[1:]
        if len(parts) < 2 or parts[0].lower() != "subscriptions" or not parts[1]:
            raise InvalidResourceId(f"not an ARM resource id: {text!r}")
        if any(not part for part in parts):
            raise InvalidResourceId(f"ARM resource id has an empty segment: {text!r}")
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
        """True when this id equals ``scope`` or lies below it."""
        return self.key == scope.key or self.key.startswith(scope.key + "/")

    def child(self, *segments: str) -> ResourceId:
        return ResourceId.parse(self.raw + "/" + "/".join(segments))


MANAGED_CLUSTER = "microsoft.containerservice/managedclusters"
CONNECTED_CLUSTER = "microsoft.kubernetes/connectedclusters"
WORKSPACE = "microsoft.machinelearningservices/workspaces"
USER_ASSIGNED_IDENTITY = "microsoft.managedidentity/userassignedidentities"
EXTENSION_SUFFIX = "microsoft.kubernetesconfiguration/extensions"
