"""Where the console reads a deployed app's settings: a file (--settings FILE), or the app
itself through ARM (--app ID), else the environment."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential

from shared import settings as names
from shared.adapters.arm import ArmConnection
from shared.decisions.arm_id import InvalidResourceId, ResourceId
from shared.decisions.errors import azure_call


def read_settings(path: Path) -> dict[str, str]:
    """App settings from `az functionapp config appsettings list -o json` ([{name, value}]) or
    a local.settings.json ({"Values": {...}})."""
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"--settings {path}: cannot read it as JSON ({error})") from None
    if isinstance(document, list):
        pairs = [(e.get("name"), e.get("value")) for e in document if isinstance(e, dict)]
        return {str(k): str(v) for k, v in pairs if k and v is not None}
    if isinstance(document, dict) and isinstance(document.get("Values"), dict):
        return {str(k): str(v) for k, v in document["Values"].items()}
    raise ValueError(
        f"--settings {path}: expected the JSON of `az functionapp config appsettings list` "
        "or a local.settings.json"
    )


# ---- the deployed app, read through ARM (--app ID) -------------------------------------------

SITE_TYPE = "Microsoft.Web/sites"
# Microsoft.Web/sites/config list (POST {site}/config/appsettings/list): the app's settings as a
# StringDictionary, {"properties": {NAME: value}} (the azure-rest-api-specs web spec, 2024-04-01).
APP_SETTINGS_API_VERSION = "2024-04-01"
# What `azd env get-values` prints for a deployment (infra/main.bicep outputs) that names the app.
AZD_APP_OUTPUTS = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME")


def site_id(text: str, option: str = "--app") -> ResourceId:
    """A Function App's resource id, or ValueError naming the option."""
    try:
        parsed = ResourceId.parse(text.strip())
        kind = parsed.resource_type
    except InvalidResourceId as error:
        reason = str(error).removesuffix(f": {text!r}")
        raise ValueError(f"{option} {text!r}: {reason}") from None
    if kind != SITE_TYPE.lower():
        raise ValueError(
            f"{option} {text}: not a Function App (expected a {SITE_TYPE} resource id, e.g. "
            "`az functionapp show -g RG -n NAME --query id -o tsv`)"
        )
    return parsed


def azd_site(env: Mapping[str, str]) -> ResourceId | None:
    """The app the azd environment names (after `eval "$(azd env get-values)"`), if it does."""
    subscription, group, name = (env.get(k, "").strip() for k in AZD_APP_OUTPUTS)
    if not (subscription and group and name):
        return None
    return ResourceId.parse(
        f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{SITE_TYPE}/{name}"
    )


def from_site(site: ResourceId, credential: TokenCredential, arm_endpoint: str) -> dict[str, str]:
    """The Function App's application settings, read through ARM (you need
    Microsoft.Web/sites/config/list/action on it: Website Contributor, or Contributor).
    ValueError when there is no such app; the product's typed errors when ARM fails."""
    from azure.core.rest import HttpRequest
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = ArmConnection(credential, arm_endpoint).client(
        ResourceManagementClient, site.subscription
    )
    url = f"{site.raw}/config/appsettings/list?api-version={APP_SETTINGS_API_VERSION}"
    with azure_call(f"read the app settings of {site.name}"):
        response = client.send_request(HttpRequest("POST", url))
        if response.status_code == 404:
            raise ValueError(f"--app {site.raw}: no such Function App")
        response.raise_for_status()
        properties = (response.json() or {}).get("properties") or {}
    return {str(k): str(v) for k, v in properties.items() if v is not None}


# ---- what the console needs of them -------------------------------------------------------------

# azd's output names for two of the app's settings (infra/main.bicep)
AZD_ALIASES = {
    "SERVICEBUS_NAMESPACE": names.SERVICEBUS_NAMESPACE,
    "WATCHED_SUBSCRIPTIONS": names.SWEEP_SUBSCRIPTIONS,
}
# Read-only commands neither send on Service Bus nor publish: these stand in when not given.
UNUSED_NAMESPACE = "not-used-by-this-command.servicebus.windows.net"
UNUSED_TOPIC = "https://not-used-by-this-command.invalid/api/events"


def console_environment(env: Mapping[str, str], *, sends: bool) -> dict[str, str]:
    """The app settings a console command reads, from ``env``: the queue names and the sweep
    schedule default to what infra/ deploys (the console never reads the schedule); azd's
    output names stand for the app's own; a command that does not ``send`` on Service Bus or
    publish needs neither the namespace nor the topic."""
    found = dict(env)
    for azd_name, name in AZD_ALIASES.items():
        if not found.get(name, "").strip() and found.get(azd_name, "").strip():
            found[name] = found[azd_name]
    defaults = {
        names.CLUSTER_EVENTS_QUEUE: names.DEFAULT_CLUSTER_EVENTS_QUEUE,
        names.EXTENSION_EVENTS_QUEUE: names.DEFAULT_EXTENSION_EVENTS_QUEUE,
        names.SWEEP_SCHEDULE: names.DEFAULT_SWEEP_SCHEDULE,
    }
    if not sends:
        defaults[names.SERVICEBUS_NAMESPACE] = UNUSED_NAMESPACE
        defaults[names.NOTIFICATION_TOPIC_ENDPOINT] = UNUSED_TOPIC
    for name, value in defaults.items():
        if not found.get(name, "").strip():
            found[name] = value
    return found


def has_app_settings(env: Mapping[str, str]) -> bool:
    """Whether ``env`` holds the app's own settings (its policy), not only azd's outputs."""
    return bool(env.get(names.ATTACH_POLICY, "").strip() or env.get(names.ATTACH_POLICY_FILE))


@dataclass
class Deployed:
    """A deployed app's settings as a command reads them, where they came from, and the
    operator's credential (signed in when the settings were read through ARM)."""

    env: dict[str, str]
    source: str
    credential: TokenCredential
    site: ResourceId | None = None


def deployed(
    settings_file: Path | None, app: str | None, *, sends: bool, as_deployed: bool = False
) -> Deployed:
    """The app's settings: --settings FILE; else --app ID (read through ARM); else the
    environment when it holds the app's own settings; else the app azd's environment names
    (AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME); else the environment.
    ``as_deployed``: exactly the settings found (doctor judges them), without the console's
    defaults. ValueError for an unusable file or id; NotSignedIn; AutoattachError when ARM
    fails."""
    from console.signin import azure_credential, require_sign_in, resource_scope

    env = dict(os.environ)
    credential = azure_credential(env.get(names.AZURE_CLIENT_ID) or None)
    endpoint = env.get(names.ARM_ENDPOINT) or names.DEFAULT_ARM_ENDPOINT
    site = None
    if settings_file is not None:
        env.update(read_settings(settings_file))
        source = f"--settings {settings_file}"
    else:
        if app is not None:
            site = site_id(app)
            source = f"--app {site.name}"
        elif not has_app_settings(env):
            site = azd_site(env)
            source = f"the app azd names, {site.name}" if site else "the environment"
        else:
            source = "the environment"
        if site is not None:
            require_sign_in(credential, resource_scope(endpoint))
            env.update(from_site(site, credential, endpoint))
    if not as_deployed:
        env = console_environment(env, sends=sends)
    return Deployed(env, source, credential, site)


POINT_AT_THE_APP = (
    "point at the deployed app with --app <function app resource id> or --settings FILE "
    "(docs/operations.md)"
)
