"""azd preprovision hook: the deployment's lists, derived from the attach policy (not typed twice).

Reads the policy from AUTOATTACH_POLICY_FILE (or AUTOATTACH_POLICY_BASE64) and sets, with
`azd env set`:

- AUTOATTACH_POLICY_BASE64: the policy, base64-encoded (azd substitutes parameters as text);
- AUTOATTACH_WORKSPACE_IDS: every `workspaces[].workspace` (where computes may be written);
- AUTOATTACH_COMPUTE_IDENTITY_IDS: every user-assigned `computes[].identity.resource_id` (the only
  identities autoattach may assign);
- AUTOATTACH_KUBECONFIG_SECRET_NAMES: the secret names of every `clusters[].kubeconfig_secret`
  in the vault AUTOATTACH_KUBECONFIG_VAULT_ID names, or empty (Secrets User on the whole vault)
  when a URI holds a placeholder such as `{cluster}` or points at another vault.

Standard library only; the Functions app validates the policy fully when it starts. Exit 2 names
the file or key at fault.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any
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
        for compute in computes if isinstance(computes, list) else []:
            identity = compute.get("identity") if isinstance(compute, dict) else None
            if isinstance(identity, dict) and identity.get("type") == "user_assigned":
                resource_id = identity.get("resource_id")
                if isinstance(resource_id, str):
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


def run(env: Mapping[str, str], set_value: Callable[[str, str], None]) -> int:
    try:
        text = policy_text(env)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyInputError(f"the attach policy is not JSON: {error.msg}") from None
        values = derive(document, env.get("AUTOATTACH_KUBECONFIG_VAULT_ID", ""))
    except PolicyInputError as error:
        print(f"preprovision: {error}", file=sys.stderr)
        return 2
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
