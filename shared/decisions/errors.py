"""The product's own failure types, decided at the adapter edge.

Adapters turn SDK exceptions into one of these; nothing above the adapters looks at HTTP codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)


class AutoattachError(Exception):
    """Base of the product's failures; ``reason`` is short and stable, the message explains."""

    reason = "Failed"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason:
            self.reason = reason


class TransientError(AutoattachError):
    """Worth trying again later: throttling, 5xx, timeouts, an identity still replicating."""

    reason = "Transient"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class ClusterBusy(TransientError):
    """Another handler (thread or instance) holds this cluster's lease: look again shortly."""

    reason = "ClusterBusy"

    def __init__(self, message: str, *, retry_after: float = 5.0) -> None:
        super().__init__(message, reason="ClusterBusy", retry_after=retry_after)


class LeaseLost(TransientError):
    """This handler no longer holds the cluster's lease (taken over, broken, or not renewed in
    time): it makes no further write, and its message is re-checked."""

    reason = "LeaseLost"

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="LeaseLost")


class StillRunning(TransientError):
    """Azure accepted the write and is still carrying it out (a namespace being made or being
    deleted): the rest of the plan goes ahead, then the cluster is looked at again no sooner
    than ``retry_after``. ``operation`` is the write's status URL (``Azure-AsyncOperation``)
    when Azure gave one: the re-check polls it instead of reading the cluster again."""

    reason = "StillRunning"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        retry_after: float | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason, retry_after=retry_after)
        self.operation = operation


class FailedForNow(TransientError):
    """Azure says this failed and owners should hear it, but asking again may well work (a
    managed namespace whose last write ended Failed, written again): reported to the owners like
    a permanent problem, then re-checked with backoff instead of dead-lettered."""

    reason = "FailedForNow"


class PermanentError(AutoattachError):
    """Will fail the same way every time until a person changes something."""

    reason = "Permanent"


# A kubeconfig that reaches another cluster than the one reconciled, or cannot be shown to reach
# it (shared.adapters.kube_namespaces): a problem of each attachment, told to the owners.
WRONG_CLUSTER_REASONS = frozenset({"KubeconfigWrongCluster", "KubeconfigClusterUnverified"})

TRANSIENT_STATUS = frozenset({408, 423, 429, 500, 502, 503, 504})
TRANSIENT_CODES = frozenset({"PrincipalNotFound", "Conflict", "AnotherOperationInProgress"})


def classify(error: HttpResponseError, action: str) -> AutoattachError:
    """Map an SDK HTTP error to transient or permanent, naming what was being done."""
    status = error.status_code or 0
    code = _error_code(error)
    detail = f"{action}: HTTP {status}{f' {code}' if code else ''}: {_first_line(error)}"
    if status in TRANSIENT_STATUS or code in TRANSIENT_CODES or status == 0:
        retry_after = _retry_after(error)
        return TransientError(detail, reason=code or f"HTTP{status}", retry_after=retry_after)
    return PermanentError(detail, reason=code or f"HTTP{status}")


@contextmanager
def azure_call(action: str) -> Iterator[None]:
    """Run one SDK call, re-raising its failure as the product's own typed error."""
    try:
        yield
    except AutoattachError:
        raise
    except ClientAuthenticationError as error:
        raise PermanentError(
            f"{action}: not authorized: {_first_line(error)}", reason="AuthorizationFailed"
        ) from error
    except HttpResponseError as error:
        raise classify(error, action) from error
    except (ServiceRequestError, ServiceResponseError, TimeoutError, ConnectionError) as error:
        raise TransientError(
            f"{action}: {error.__class__.__name__}: {_first_line(error)}", reason="Unreachable"
        ) from error


def _error_code(error: HttpResponseError) -> str:
    if error.error is not None and error.error.code:
        return str(error.error.code)
    return ""


def _retry_after(error: HttpResponseError) -> float | None:
    response = error.response
    if response is None:
        return None
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else error.__class__.__name__
