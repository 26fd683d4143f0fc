"""The Function App's settings: every name the code reads, validated once at start.

The names below are the single source of truth for app settings; ``infra/`` sets exactly these
(``tests/infra`` holds the two together).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from shared.adapters import development_storage

# Identity-based Service Bus connection: the Functions host reads
# SERVICEBUS_CONNECTION__fullyQualifiedNamespace (and __clientId / __credential) for this prefix.
SERVICEBUS_CONNECTION = "SERVICEBUS_CONNECTION"
SERVICEBUS_NAMESPACE = f"{SERVICEBUS_CONNECTION}__fullyQualifiedNamespace"
CLUSTER_EVENTS_QUEUE = "CLUSTER_EVENTS_QUEUE"
EXTENSION_EVENTS_QUEUE = "EXTENSION_EVENTS_QUEUE"
ATTACH_POLICY = "ATTACH_POLICY"
ATTACH_POLICY_FILE = "ATTACH_POLICY_FILE"
ATTACH_TAG_KEY = "ATTACH_TAG_KEY"
NOTIFICATION_TOPIC_ENDPOINT = "NOTIFICATION_TOPIC_ENDPOINT"
ARM_ENDPOINT = "ARM_ENDPOINT"
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"
RECHECK_DELAY_SECONDS = "RECHECK_DELAY_SECONDS"
INSTALL_POLL_FIRST_SECONDS = "INSTALL_POLL_FIRST_SECONDS"
INSTALL_POLL_PERCENT_OF_WAIT = "INSTALL_POLL_PERCENT_OF_WAIT"
SWEEP_SUBSCRIPTIONS = "SWEEP_SUBSCRIPTIONS"
SWEEP_SCHEDULE = "SWEEP_SCHEDULE"
# The host's own storage, identity-based (AzureWebJobsStorage__*): the cluster ledger lives there.
# blobServiceUri wins; accountName alone means the public cloud's endpoint, as for the host.
HOST_STORAGE = "AzureWebJobsStorage"
HOST_STORAGE_BLOB_URI = f"{HOST_STORAGE}__blobServiceUri"
HOST_STORAGE_ACCOUNT = f"{HOST_STORAGE}__accountName"
# On a developer's machine only, AzureWebJobsStorage itself may be the host's connection string
# for Azurite, Microsoft's storage emulator (docs/operations.md): the one connection string the
# app takes. Refused where the platform says the app runs in Azure: the Functions host's own
# markers of App Service (WEBSITE_INSTANCE_ID) and of Linux Consumption and Flex Consumption
# (CONTAINER_NAME). Core Tools (`func start`) sets neither.
DEVELOPMENT_STORAGE = development_storage.CONNECTION_STRING
AZURE_MARKERS = ("WEBSITE_INSTANCE_ID", "CONTAINER_NAME")

DEFAULT_CLUSTER_EVENTS_QUEUE = "cluster-events"
DEFAULT_EXTENSION_EVENTS_QUEUE = "extension-events"
DEFAULT_TAG_KEY = "azureml-attach"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_RECHECK_DELAY_SECONDS = 60
# an install someone else started is looked at 15 s after a chain began waiting on it, then every
# 15 s plus 5% of the time waited (shared/engine/handling.py, docs/decisions.md)
DEFAULT_INSTALL_POLL_FIRST_SECONDS = 15
DEFAULT_INSTALL_POLL_PERCENT_OF_WAIT = 5
DEFAULT_SWEEP_SCHEDULE = "0 */15 * * * *"
PUBLIC_BLOB_SUFFIX = "blob.core.windows.net"

# Every app setting the product reads; the infrastructure must set each required one.
REQUIRED_APP_SETTINGS = (
    SERVICEBUS_NAMESPACE,
    CLUSTER_EVENTS_QUEUE,
    EXTENSION_EVENTS_QUEUE,
    NOTIFICATION_TOPIC_ENDPOINT,
    SWEEP_SCHEDULE,  # read by the Functions host for the timer trigger
)
OPTIONAL_APP_SETTINGS = (
    ATTACH_POLICY,
    ATTACH_POLICY_FILE,
    ATTACH_TAG_KEY,
    ARM_ENDPOINT,
    AZURE_CLIENT_ID,
    RECHECK_DELAY_SECONDS,
    INSTALL_POLL_FIRST_SECONDS,
    INSTALL_POLL_PERCENT_OF_WAIT,
    SWEEP_SUBSCRIPTIONS,
)
# Read by the code too, but set with the host settings (infra/modules/functionapp.bicep): one of
# them is required (or, on a developer's machine, AzureWebJobsStorage=UseDevelopmentStorage=true).
HOST_STORAGE_SETTINGS = (HOST_STORAGE_BLOB_URI, HOST_STORAGE_ACCOUNT, HOST_STORAGE)


class SettingsError(ValueError):
    """An app setting is missing or malformed; the message names the setting and the fix."""


@dataclass(frozen=True)
class Settings:
    servicebus_namespace: str
    cluster_events_queue: str
    extension_events_queue: str
    notification_topic_endpoint: str
    attach_policy_json: str | None
    attach_policy_file: str | None
    tag_key: str
    arm_endpoint: str
    client_id: str | None
    recheck_delay_seconds: int
    install_poll_first_seconds: int
    install_poll_percent_of_wait: int
    sweep_subscriptions: tuple[str, ...]
    ledger_blob_endpoint: str

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in REQUIRED_APP_SETTINGS if not env.get(name, "").strip()]
        if missing:
            raise SettingsError(f"missing app settings: {', '.join(missing)}")
        policy_json = env.get(ATTACH_POLICY, "").strip() or None
        policy_file = env.get(ATTACH_POLICY_FILE, "").strip() or None
        if (policy_json is None) == (policy_file is None):
            raise SettingsError(
                f"set exactly one of {ATTACH_POLICY} (the policy as JSON) or "
                f"{ATTACH_POLICY_FILE} (a path to it)"
            )
        recheck_delay = _positive_int(
            RECHECK_DELAY_SECONDS,
            env.get(RECHECK_DELAY_SECONDS) or str(DEFAULT_RECHECK_DELAY_SECONDS),
        )
        first_poll = _positive_int(
            INSTALL_POLL_FIRST_SECONDS,
            env.get(INSTALL_POLL_FIRST_SECONDS) or str(DEFAULT_INSTALL_POLL_FIRST_SECONDS),
        )
        if first_poll > recheck_delay:
            raise SettingsError(
                f"{INSTALL_POLL_FIRST_SECONDS} must be at most {RECHECK_DELAY_SECONDS} "
                f"({recheck_delay}): an install is never looked at less often than that, "
                f"got {first_poll}"
            )
        return cls(
            servicebus_namespace=env[SERVICEBUS_NAMESPACE].strip(),
            cluster_events_queue=env[CLUSTER_EVENTS_QUEUE].strip(),
            extension_events_queue=env[EXTENSION_EVENTS_QUEUE].strip(),
            notification_topic_endpoint=_https_url(
                NOTIFICATION_TOPIC_ENDPOINT, env[NOTIFICATION_TOPIC_ENDPOINT]
            ),
            attach_policy_json=policy_json,
            attach_policy_file=policy_file,
            tag_key=env.get(ATTACH_TAG_KEY, "").strip() or DEFAULT_TAG_KEY,
            arm_endpoint=_https_url(ARM_ENDPOINT, env.get(ARM_ENDPOINT) or DEFAULT_ARM_ENDPOINT),
            client_id=env.get(AZURE_CLIENT_ID, "").strip() or None,
            recheck_delay_seconds=recheck_delay,
            install_poll_first_seconds=first_poll,
            install_poll_percent_of_wait=_percent(
                INSTALL_POLL_PERCENT_OF_WAIT,
                env.get(INSTALL_POLL_PERCENT_OF_WAIT) or str(DEFAULT_INSTALL_POLL_PERCENT_OF_WAIT),
            ),
            sweep_subscriptions=tuple(
                s.strip() for s in env.get(SWEEP_SUBSCRIPTIONS, "").split(",") if s.strip()
            ),
            ledger_blob_endpoint=_blob_endpoint(env),
        )

    def policy_source(self) -> str:
        """Where the attach policy comes from, as its errors name it."""
        if self.attach_policy_file is not None:
            return f"{ATTACH_POLICY_FILE}={self.attach_policy_file}"
        return f"app setting {ATTACH_POLICY}"

    def policy_text(self) -> str:
        """The attach policy document, from the app setting or the file it names."""
        if self.attach_policy_json is not None:
            return self.attach_policy_json
        assert self.attach_policy_file is not None
        try:
            with open(self.attach_policy_file, encoding="utf-8") as handle:
                return handle.read()
        except OSError as error:
            raise SettingsError(
                f"{ATTACH_POLICY_FILE}={self.attach_policy_file}: cannot read it ({error.strerror})"
            ) from error


def _https_url(name: str, value: str) -> str:
    value = value.strip().rstrip("/")
    parsed = urlparse(value)
    if parsed.scheme != "https" or not parsed.netloc:
        raise SettingsError(f"{name} must be an https:// URL, got {value!r}")
    return value


def _blob_endpoint(env: Mapping[str, str]) -> str:
    """The blob endpoint of the app's own storage account, where the cluster ledger is kept."""
    if env.get(HOST_STORAGE, "").strip():
        return _development_storage(env)
    uri = env.get(HOST_STORAGE_BLOB_URI, "").strip()
    if uri:
        return _https_url(HOST_STORAGE_BLOB_URI, uri)
    account = env.get(HOST_STORAGE_ACCOUNT, "").strip()
    if not account:
        raise SettingsError(
            f"missing app settings: {HOST_STORAGE_BLOB_URI} (or {HOST_STORAGE_ACCOUNT} in the "
            "public cloud): the app's storage account, which also keeps the cluster ledger"
        )
    if not re.fullmatch(r"[a-z0-9]{3,24}", account):
        raise SettingsError(
            f"{HOST_STORAGE_ACCOUNT} must be a storage account name (3-24 lowercase letters "
            f"and digits), got {account!r}"
        )
    return f"https://{account}.{PUBLIC_BLOB_SUFFIX}"


def _development_storage(env: Mapping[str, str]) -> str:
    """Azurite's blob endpoint, for ``AzureWebJobsStorage=UseDevelopmentStorage=true`` on a
    developer's machine. Any other value is refused without being repeated: a connection string
    may hold an account key."""
    pairs = [p.strip() for p in env[HOST_STORAGE].split(";") if p.strip()]
    keys = [pair.split("=", 1)[0].strip().lower() for pair in pairs]
    if "usedevelopmentstorage" not in keys:
        raise SettingsError(
            f"{HOST_STORAGE} holds a connection string: autoattach reaches its storage account "
            f"with its identity ({HOST_STORAGE_BLOB_URI}, or {HOST_STORAGE_ACCOUNT} in the public "
            f"cloud), and takes no key. Leave {HOST_STORAGE} empty (on your machine it may be "
            f"{DEVELOPMENT_STORAGE}, for Azurite)"
        )
    if [p.replace(" ", "").lower() for p in pairs] != [DEVELOPMENT_STORAGE.lower()]:
        raise SettingsError(
            f"{HOST_STORAGE}: only {DEVELOPMENT_STORAGE} itself is supported (Azurite's default "
            "endpoints on this machine), not DevelopmentStorageProxyUri or other options"
        )
    deployed = [name for name in AZURE_MARKERS if env.get(name, "").strip()]
    if deployed:
        raise SettingsError(
            f"{HOST_STORAGE}={DEVELOPMENT_STORAGE} is for Azurite, only on your machine, and "
            f"this app runs in Azure ({deployed[0]} is set): remove it and set "
            f"{HOST_STORAGE_BLOB_URI} to the app's storage account (reached with the managed "
            "identity)"
        )
    also = [n for n in (HOST_STORAGE_BLOB_URI, HOST_STORAGE_ACCOUNT) if env.get(n, "").strip()]
    if also:
        raise SettingsError(
            f"set either {HOST_STORAGE}={DEVELOPMENT_STORAGE} (Azurite) or {also[0]} (an Azure "
            "storage account), not both"
        )
    return development_storage.BLOB_ENDPOINT


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of seconds, got {value!r}") from None
    if number <= 0:
        raise SettingsError(f"{name} must be positive, got {number}")
    return number


def _percent(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of percent, got {value!r}") from None
    if not 0 <= number <= 100:
        raise SettingsError(f"{name} must be between 0 and 100, got {number}")
    return number
