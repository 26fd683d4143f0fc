"""azd preprovision hook: the deployment's lists, derived from the attach policy (not typed twice),
and a preflight that every Azure resource the policy depends on exists and can be read.

Reads the policy from AUTOATTACH_POLICY_FILE (or AUTOATTACH_POLICY_BASE64) and sets, with
`azd env set`:

- AUTOATTACH_POLICY_BASE64: the policy, base64-encoded (azd substitutes parameters as text);
- AUTOATTACH_WORKSPACE_IDS: every `workspaces[].workspace` (where computes may be written);
- AUTOATTACH_COMPUTE_IDENTITY_IDS: every user-assigned `computes[].identity.resource_id` (the only
  identities autoattach may assign);
- AUTOATTACH_KUBECONFIG_SECRET_NAMES: the secret names of every `clusters[].kubeconfig_secret`
  in the vault AUTOATTACH_KUBECONFIG_VAULT_ID names, or empty (Secrets User on the whole vault)
  when a URI holds a placeholder such as `{cluster}`, points at another vault, or names a secret
  that does not exist yet (a role assignment on a secret needs the secret: docs/deploy.md);

and, from what ARM shows of the allowed workspaces (the preflight):

- AUTOATTACH_WORKSPACE_PRINCIPAL_IDS: the principal ids of the user-assigned identities the
  workspaces run under, each the `workspace_identity` the policy names for it (a workspace that
  runs under another identity stops the preflight): the only principals the role delegator's
  condition lets autoattach grant cluster roles to;
- AUTOATTACH_WORKSPACE_REGISTRY_IDS, AUTOATTACH_WORKSPACE_STORAGE_IDS: the workspaces' container
  registries and storage accounts: where the data roles are delegated.

The preflight reads, through ARM, every workspace, identity (the workspaces' and the computes'),
registry, storage account and vault (and named secret) involved, and each watched subscription's
Event Grid system topics: ARM allows one of type Microsoft.Resources.Subscriptions per
subscription, so one that exists must be named in AUTOATTACH_EXISTING_SYSTEM_TOPIC_IDS for the
deployment to reuse it. It lists everything missing or unreadable and exits 1 before azd
provisions anything. It signs in with azure-identity's DefaultAzureCredential (azd's or az's
sign-in) and needs azure-identity and azure-mgmt-resource (requirements-dev.txt); ARM is
AUTOATTACH_ARM_ENDPOINT (default: the public cloud's).

First of all the hook checks the policy exactly as the Functions app will at start (the app's own
shared/decisions/policy.py, imported from this checkout: it needs jsonschema, as in
requirements.txt) and refuses it with every problem and its JSON path, so a policy the app would
refuse is never deployed. Where that module cannot be imported (a Python without the app's
requirements) the hook says so and checks, with the standard library, the shapes it reads itself.

Exit 2 names the file or key at fault in the policy; exit 1 lists what the preflight found.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse


class PolicyInputError(ValueError):
    pass


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.strip().lower() for v in values if v and v.strip()))


def derive(document: Any, vault_id: str = "") -> dict[str, str]:
    """The azd environment values the policy implies (pure)."""
    if not isinstance(document, dict) or not isinstance(document.get("workspaces"), list):
        raise PolicyInputError("the attach policy must be an object with a 'workspaces' list")
    workspaces: list[str] = []
    identities: list[str] = []
    for index, rule in enumerate(document["workspaces"]):
        if not isinstance(rule, dict) or not isinstance(rule.get("workspace"), str):
            raise PolicyInputError(f"workspaces[{index}].workspace must be a workspace resource id")
        workspaces.append(rule["workspace"])
        computes = rule.get("computes", [])
        for number, compute in enumerate(computes if isinstance(computes, list) else []):
            identity = compute.get("identity") if isinstance(compute, dict) else None
            resource_id = _user_assigned(identity, f"workspaces[{index}].computes[{number}]")
            if resource_id is not None:
                identities.append(resource_id)
    vault_name = vault_id.rstrip("/").rsplit("/", 1)[-1].lower() if vault_id.strip() else ""
    secrets: list[str] = []
    named = True
    access = document.get("clusters", [])
    for entry in access if isinstance(access, list) else []:
        uri = entry.get("kubeconfig_secret") if isinstance(entry, dict) else None
        if not isinstance(uri, str):
            continue
        parsed = urlparse(uri)
        parts = [p for p in parsed.path.split("/") if p]
        host_vault = (parsed.hostname or "").split(".", 1)[0].lower()
        if "{" in uri or len(parts) < 2 or parts[0] != "secrets" or host_vault != vault_name:
            named = False
            continue
        secrets.append(parts[1])
    return {
        "AUTOATTACH_WORKSPACE_IDS": ",".join(_unique(workspaces)),
        "AUTOATTACH_COMPUTE_IDENTITY_IDS": ",".join(_unique(identities)),
        "AUTOATTACH_KUBECONFIG_SECRET_NAMES": ",".join(dict.fromkeys(secrets)) if named else "",
    }


def _user_assigned(identity: Any, where: str) -> str | None:
    """The user-assigned identity a compute names, None for system-assigned (the default)."""
    if identity is None or identity == "system_assigned":
        return None
    shape = '"system_assigned" or {"type": "user_assigned", "resource_id": "<identity id>"}'
    if not isinstance(identity, dict):
        raise PolicyInputError(f"{where}.identity must be {shape}, got {json.dumps(identity)}")
    if identity.get("type") == "system_assigned":
        return None
    if identity.get("type") != "user_assigned":
        raise PolicyInputError(
            f"{where}.identity.type must be 'system_assigned' or 'user_assigned'"
        )
    resource_id = identity.get("resource_id")
    if not isinstance(resource_id, str) or not resource_id.strip():
        raise PolicyInputError(f"{where}.identity.resource_id must be the identity's resource id")
    return resource_id


def app_problems(text: str) -> list[str] | None:
    """Every problem the Functions app would find in the policy at start ([] when none), or None
    when this Python cannot import the app's check."""
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        from shared.decisions.policy import AttachPolicy, PolicyError
    except ImportError:
        return None
    try:
        AttachPolicy.from_json(text)
    except PolicyError as error:
        return list(error.problems)
    return []


# api-versions the preflight reads with (each published for its type).
API_VERSIONS = {
    "microsoft.machinelearningservices/workspaces": "2024-10-01",
    "microsoft.managedidentity/userassignedidentities": "2023-01-31",
    "microsoft.storage/storageaccounts": "2023-05-01",
    "microsoft.containerregistry/registries": "2023-07-01",
    "microsoft.keyvault/vaults": "2023-07-01",
    "microsoft.keyvault/vaults/secrets": "2023-07-01",
    "microsoft.eventgrid/systemtopics": "2025-02-15",
}
SYSTEM_TOPIC_TYPE = "Microsoft.EventGrid/systemTopics"
ARM_TOPIC_TYPE = "Microsoft.Resources.Subscriptions"


class Unreadable(Exception):
    """ARM answered a read with an error: 404 (missing) or 403 (no right to read), or other."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ArmReader(Protocol):
    def get(self, resource_id: str, api_version: str) -> dict[str, Any]: ...

    def list_of_type(self, subscription_id: str, resource_type: str) -> list[str]: ...


def _type_of(resource_id: str) -> str:
    """``microsoft.x/type[/child]`` of an ARM id, lower-cased."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    at = len(lowered) - 1 - lowered[::-1].index("providers")
    tail = parts[at + 1 :]
    return "/".join([tail[0], *tail[1::2]]).lower() if tail else ""


@dataclass
class Preflight:
    """What the preflight found: values to set, and what is wrong (each line one finding)."""

    values: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read(
    reader: ArmReader, resource_id: str, what: str, found: Preflight
) -> dict[str, Any] | None:
    try:
        return reader.get(resource_id, API_VERSIONS[_type_of(resource_id)])
    except Unreadable as error:
        reason = {404: "does not exist", 403: "cannot be read by you"}.get(
            error.status, f"cannot be read ({error.status}: {error})"
        )
        found.problems.append(f"{what} {resource_id} {reason}")
        return None


def _workspace_identity(workspace: dict[str, Any]) -> tuple[str, str]:
    """The workspace's user-assigned identity (primary, else first) and the principal id the
    workspace's answer gives it, or ("", "") when it runs under a system-assigned identity."""
    identity = workspace.get("identity") or {}
    kind = str(identity.get("type") or "").lower().replace("_", "").replace(" ", "")
    if "userassigned" not in kind or "systemassigned" in kind:
        return "", ""
    users = {k.lower(): v for k, v in (identity.get("userAssignedIdentities") or {}).items()}
    primary = str((workspace.get("properties") or {}).get("primaryUserAssignedIdentity") or "")
    chosen = primary.lower() or next(iter(users), "")
    details = users.get(chosen) or {}
    return chosen, str(details.get("principalId") or "")


def named_workspace_identities(document: Any) -> dict[str, str]:
    """workspace id -> the ``workspace_identity`` the policy names for it (lower-cased)."""
    named = {}
    for rule in document.get("workspaces", []) if isinstance(document, dict) else []:
        if isinstance(rule, dict) and isinstance(rule.get("workspace_identity"), str):
            named[str(rule.get("workspace", "")).lower()] = rule["workspace_identity"].lower()
    return named


def preflight(
    values: Mapping[str, str],
    reader: ArmReader,
    *,
    vault_id: str = "",
    watched_subscriptions: Iterable[str] = (),
    existing_topics: Iterable[str] = (),
    named_identities: Mapping[str, str] | None = None,
) -> Preflight:
    """Read everything the deployment will depend on; ``values`` are derive()'s.
    ``named_identities``: the ``workspace_identity`` the policy names per workspace (lower-cased
    ids): cluster roles are delegated to that identity only, and a workspace that runs under
    another one stops the preflight (someone may have switched it)."""
    named_identities = named_identities or {}
    found = Preflight()
    principals: list[str] = []
    registries: list[str] = []
    accounts: list[str] = []
    identities = [i for i in values.get("AUTOATTACH_COMPUTE_IDENTITY_IDS", "").split(",") if i]
    for workspace_id in [w for w in values.get("AUTOATTACH_WORKSPACE_IDS", "").split(",") if w]:
        workspace = _read(reader, workspace_id, "workspace", found)
        if workspace is None:
            continue
        properties = workspace.get("properties") or {}
        for key, kept, what in (
            ("containerRegistry", registries, "container registry"),
            ("storageAccount", accounts, "storage account"),
        ):
            target = str(properties.get(key) or "").lower()
            if not target:
                found.problems.append(f"workspace {workspace_id} names no {what}")
            elif _read(reader, target, f"{what} of workspace {workspace_id}:", found) is not None:
                kept.append(target)
        identity_id, principal = _workspace_identity(workspace)
        named = named_identities.get(workspace_id.lower(), "")
        if named and identity_id and identity_id.lower() != named:
            found.problems.append(
                f"workspace {workspace_id} runs under identity {identity_id}, but the policy names "
                f"{named} (workspace_identity): autoattach grants cluster rights to the named one "
                "only; set the workspace's primary identity back, or change the policy"
            )
            continue
        if identity_id:
            read = _read(reader, identity_id, f"identity of workspace {workspace_id}:", found)
            if read is not None:
                principal = str((read.get("properties") or {}).get("principalId") or principal)
                principals.append(principal.lower())
    for identity_id in identities:
        _read(reader, identity_id, "compute identity", found)
    secrets = [n for n in values.get("AUTOATTACH_KUBECONFIG_SECRET_NAMES", "").split(",") if n]
    if vault_id.strip():
        vault = vault_id.strip().rstrip("/")
        if _read(reader, vault, "kubeconfig vault", found) is not None:
            absent = []
            for name in secrets:
                try:
                    reader.get(
                        f"{vault}/secrets/{name}", API_VERSIONS["microsoft.keyvault/vaults/secrets"]
                    )
                except Unreadable:
                    absent.append(name)
            if absent:
                found.notes.append(
                    f"kubeconfig secrets {', '.join(absent)} do not exist yet: Key Vault Secrets "
                    "User goes on the whole vault this time; run `azd provision` again once they "
                    "exist to narrow it to the secrets"
                )
                secrets = []
    found.problems += _topic_problems(reader, watched_subscriptions, existing_topics)
    found.values = {
        "AUTOATTACH_WORKSPACE_PRINCIPAL_IDS": ",".join(dict.fromkeys(p for p in principals if p)),
        "AUTOATTACH_WORKSPACE_REGISTRY_IDS": ",".join(dict.fromkeys(registries)),
        "AUTOATTACH_WORKSPACE_STORAGE_IDS": ",".join(dict.fromkeys(accounts)),
        "AUTOATTACH_KUBECONFIG_SECRET_NAMES": ",".join(secrets),
    }
    return found


def _topic_problems(
    reader: ArmReader, subscriptions: Iterable[str], existing: Iterable[str]
) -> list[str]:
    """An ARM system topic that already exists in a watched subscription and is not named for
    reuse: the deployment would try to create a second one, which ARM refuses."""
    named = {t.strip().lower() for t in existing if t.strip()}
    problems = []
    for subscription in dict.fromkeys(s.strip().lower() for s in subscriptions if s.strip()):
        try:
            topics = reader.list_of_type(subscription, SYSTEM_TOPIC_TYPE)
        except Unreadable as error:
            problems.append(
                f"cannot list the system topics of subscription {subscription}: {error}"
            )
            continue
        for topic_id in topics:
            try:
                topic = reader.get(topic_id, API_VERSIONS["microsoft.eventgrid/systemtopics"])
            except Unreadable:
                continue
            properties = topic.get("properties") or {}
            if str(properties.get("topicType") or "").lower() != ARM_TOPIC_TYPE.lower():
                continue
            identity = str((topic.get("identity") or {}).get("type") or "").lower()
            if topic_id.lower() not in named:
                problems.append(
                    f"subscription {subscription} already has the ARM system topic {topic_id} "
                    "(one per subscription): reuse it with "
                    f"`azd env set AUTOATTACH_EXISTING_SYSTEM_TOPIC_IDS {topic_id}` "
                    "(parameter existingSystemTopicIds; comma-separate one per subscription)"
                )
            elif "systemassigned" not in identity:
                problems.append(
                    f"the system topic {topic_id} has no system-assigned identity: autoattach "
                    "delivers events with it (enable it on the topic)"
                )
    return problems


class SdkArmReader:
    """ArmReader over azure-mgmt-resource (generic resources by id, list by type)."""

    def __init__(self, credential: Any, endpoint: str, **client_kwargs: Any) -> None:
        self._credential = credential
        self._endpoint = endpoint.rstrip("/")
        self._kwargs = client_kwargs
        self._clients: dict[str, Any] = {}

    def _client(self, subscription_id: str) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        if subscription_id not in self._clients:
            self._clients[subscription_id] = ResourceManagementClient(
                self._credential,
                subscription_id,
                base_url=self._endpoint,
                credential_scopes=[f"{self._endpoint}/.default"],
                **self._kwargs,
            )
        return self._clients[subscription_id]

    def get(self, resource_id: str, api_version: str) -> dict[str, Any]:
        from azure.core.exceptions import HttpResponseError

        subscription = resource_id.strip("/").split("/")[1]
        try:
            resource = self._client(subscription).resources.get_by_id(
                resource_id, api_version=api_version
            )
        except HttpResponseError as error:
            raise Unreadable(error.status_code or 0, error.message) from None
        return dict(resource.as_dict())

    def list_of_type(self, subscription_id: str, resource_type: str) -> list[str]:
        from azure.core.exceptions import HttpResponseError

        try:
            return [
                str(r.id)
                for r in self._client(subscription_id).resources.list(
                    filter=f"resourceType eq '{resource_type}'"
                )
            ]
        except HttpResponseError as error:
            raise Unreadable(error.status_code or 0, error.message) from None


def _sdk_reader(env: Mapping[str, str]) -> ArmReader:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise PolicyInputError(
            "the preflight needs azure-identity and azure-mgmt-resource: run azd from the "
            "repository's virtual environment (make venv; . .venv/bin/activate)"
        ) from None
    endpoint = env.get("AUTOATTACH_ARM_ENDPOINT", "").strip() or "https://management.azure.com"
    return SdkArmReader(DefaultAzureCredential(), endpoint)


def policy_text(env: Mapping[str, str]) -> str:
    path = env.get("AUTOATTACH_POLICY_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as error:
            raise PolicyInputError(f"AUTOATTACH_POLICY_FILE={path}: {error.strerror}") from None
    encoded = env.get("AUTOATTACH_POLICY_BASE64", "").strip()
    if not encoded:
        raise PolicyInputError("set AUTOATTACH_POLICY_FILE (or AUTOATTACH_POLICY_BASE64)")
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except ValueError:
        raise PolicyInputError("AUTOATTACH_POLICY_BASE64 is not base64 of UTF-8 text") from None


def run(
    env: Mapping[str, str],
    set_value: Callable[[str, str], None],
    reader: ArmReader | None = None,
) -> int:
    try:
        text = policy_text(env)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyInputError(f"the attach policy is not JSON: {error.msg}") from None
        problems = app_problems(text)
        if problems:
            for problem in problems:
                print(f"preprovision: the attach policy: {problem}", file=sys.stderr)
            return 2
        if problems is None:
            print(
                "preprovision: the app's full check of the policy is not importable here "
                "(pip install -r requirements.txt); checked its shape only -- run "
                "`autoattach policy validate` before deploying",
                file=sys.stderr,
            )
        vault_id = env.get("AUTOATTACH_KUBECONFIG_VAULT_ID", "")
        values = derive(document, vault_id)
        arm = reader if reader is not None else _sdk_reader(env)
    except PolicyInputError as error:
        print(f"preprovision: {error}", file=sys.stderr)
        return 2
    watched = env.get("AUTOATTACH_WATCHED_SUBSCRIPTIONS", "").split(",")
    if not any(w.strip() for w in watched):
        watched = [env.get("AZURE_SUBSCRIPTION_ID", "")]
    found = preflight(
        values,
        arm,
        named_identities=named_workspace_identities(document),
        vault_id=vault_id,
        watched_subscriptions=watched,
        existing_topics=env.get("AUTOATTACH_EXISTING_SYSTEM_TOPIC_IDS", "").split(","),
    )
    for note in found.notes:
        print(f"preprovision: note: {note}", file=sys.stderr)
    if found.problems:
        print("preprovision: preflight found problems; nothing was provisioned:", file=sys.stderr)
        for problem in found.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    values.update(found.values)
    values["AUTOATTACH_POLICY_BASE64"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    for key, value in values.items():
        set_value(key, value)
        shown = value if key != "AUTOATTACH_POLICY_BASE64" else f"<{len(text)} bytes of policy>"
        print(f"preprovision: {key}={shown}")
    return 0


def _azd_env_set(key: str, value: str) -> None:
    subprocess.run(["azd", "env", "set", key, value], check=True)


if __name__ == "__main__":
    sys.exit(run(os.environ, _azd_env_set))
