"""What the local double guesses about Azure, and how an observation is held against it.

Each ``Guess`` names one unknown the product depends on (sandbox/README.md lists them), the world
setting that holds the double's choice when there is one (sandbox/world_format.py,
docs/world-format.md), and otherwise what the double does, fixed. ``assumed(guess, world)`` reads
the double's choice from a ``World`` (the one the sandbox runs, or the defaults against Azure);
``observe`` makes the record the report prints. Settings that other work adds later are read
when the ``World`` has them (``getattr``), so a guess moves from fixed to a setting by naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A duration agrees when it is within this share of the double's figure, or within one poll.
DURATION_TOLERANCE = 0.5


@dataclass(frozen=True)
class Guess:
    name: str
    question: str  # what Azure is asked, in words
    fixed: Any  # what the double does when no world setting holds it
    setting: str | None = None  # the world setting holding the double's choice
    seconds: bool = False  # a duration: compared with a tolerance, not exactly
    # where the double's fixed behaviour can be read from its code (None: ``fixed`` says it)
    derive: Callable[[], Any] | None = None

    @property
    def table_id(self) -> str | None:
        """Its row in sandbox/README.md's guess table (*Guesses*), when it has one."""
        return TABLE_IDS.get(self.name)


@dataclass
class Observation:
    """One guess as the report gives it."""

    name: str
    question: str
    setting: str | None
    double_assumes: Any
    observed: Any
    agrees: bool | None  # None: this run could not observe it (the evidence says why)
    evidence: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "guess_table": TABLE_IDS.get(self.name),
            "question": self.question,
            "setting": self.setting,
            "double_assumes": self.double_assumes,
            "observed": self.observed,
            "agrees": self.agrees,
            "evidence": self.evidence,
        }


def _g(
    name: str,
    question: str,
    fixed: Any,
    setting: str | None = None,
    seconds: bool = False,
    derive: Callable[[], Any] | None = None,
) -> Guess:
    return Guess(name, question, fixed, setting, seconds, derive)


PROBE_NAME_LENGTH = 17


def _double_on_long_names() -> str:
    """Whether the double refuses a 17-character compute name: its ``arm_ml.COMPUTE_NAME`` rule
    when it has one (Azure ML's "2-16 for other compute types"), else it accepts any name."""
    from sandbox import arm_ml

    rule = getattr(arm_ml, "COMPUTE_NAME", None)
    if rule is None:
        return "accepted"
    return "accepted" if rule.match("a" * PROBE_NAME_LENGTH) else "refused"


GUESSES: dict[str, Guess] = {
    g.name: g
    for g in [
        _g(
            "compute_principal_on_put",
            "the attach's answer names a system-assigned compute's principal",
            True,
            "compute_principal_on_put",
        ),
        _g(
            "compute_tags",
            "tags sent with an attach are kept on the compute",
            "kept",
            "compute_tags",
        ),
        _g(
            "compute_name_17_characters",
            "a 17-character compute name is refused",
            "accepted",
            derive=_double_on_long_names,
        ),
        _g("compute_reput", "a second PUT of an attached compute, same cluster", "accepted"),
        _g(
            "attach_failures",
            "how an attach to a cluster without the Azure ML extension fails",
            "refusal",
            "attach_failures",
        ),
        _g(
            "compute_attach_seconds",
            "seconds an attach stays Creating",
            60.0,
            "compute_attach_seconds",
            seconds=True,
        ),
        _g(
            "compute_detach_seconds",
            "seconds a detach stays Deleting",
            30.0,
            "compute_detach_seconds",
            seconds=True,
        ),
        _g(
            "lro_retry_after_seconds",
            "the Retry-After on a pending attach's first answer",
            10.0,
            "lro_retry_after_seconds",
        ),
        _g(
            "operation_status_url",
            "where an attach's Azure-AsyncOperation points",
            "location-based (.../locations/{region}/computeOperationsStatus/{id})",
        ),
        _g(
            "detach_missing_compute",
            "the answer to detaching a compute that does not exist",
            204,
        ),
        _g(
            "extension_install_seconds",
            "seconds an Azure ML extension install stays Creating",
            120.0,
            "extension_install_seconds",
            seconds=True,
        ),
        _g(
            "extension_install_outcome",
            "how an Azure ML extension install ends",
            "Succeeded",
            "extension_install_outcome",
        ),
        _g(
            "namespace_create_seconds",
            "seconds a managed namespace PUT stays Creating",
            20.0,
            "namespace_create_seconds",
            seconds=True,
        ),
        _g(
            "namespace_adoption_never",
            "a managed namespace PUT with adoptionPolicy Never over an existing namespace",
            "operation failed: NamespaceAlreadyExists",
        ),
        _g(
            "namespace_system",
            "a managed namespace PUT for kube-system",
            "refused: 400 InvalidParameter",
        ),
        _g(
            "role_assignment_duplicate",
            "a role assignment PUT repeating scope, role and principal under another name",
            "refused: 409 RoleAssignmentExists",
        ),
        _g(
            "role_assignment_new_principal",
            "a role assignment for a principal made seconds ago, with principalType",
            "accepted",
        ),
        _g(
            "role_assignment_listed_at_once",
            "a new role assignment is listed at its scope right after the PUT",
            "listed",
        ),
        _g(
            "role_propagation_seconds",
            "seconds until a new role assignment is among your permissions at its scope",
            600.0,
            "role_propagation_seconds",
            seconds=True,
        ),
        _g(
            "role_assignment_missing",
            "reading a role assignment that does not exist",
            "404 RoleAssignmentNotFound",
        ),
        _g(
            "resource_group_missing",
            "reading a resource group that does not exist",
            "404 ResourceGroupNotFound",
        ),
        _g("get_compression", "a successful GET's answer is gzip-compressed", "gzip"),
        _g("write_compression", "a write's answer is compressed", "plain"),
        _g(
            "ratelimit_headers",
            "a read's answer carries the subscription and the global remaining-reads headers",
            "both",
        ),
    ]
}

# Rows of sandbox/README.md's guess table (*Guesses*) that a probe answers.
TABLE_IDS: dict[str, str] = {
    "compute_principal_on_put": "G4",
    "compute_tags": "G9",
    "compute_name_17_characters": "G8",
    "compute_reput": "G7",
    "attach_failures": "G1",
    "compute_attach_seconds": "G19",
    "compute_detach_seconds": "G19",
    "lro_retry_after_seconds": "G19",
    "operation_status_url": "G20",
    "extension_install_seconds": "G19",
    "namespace_create_seconds": "G19",
    "namespace_adoption_never": "G27",
    "namespace_system": "G28",
    "role_assignment_new_principal": "G13",
    "role_assignment_listed_at_once": "G12",
    "role_propagation_seconds": "G11",
    "resource_group_missing": "G24",
    "get_compression": "G32",
    "write_compression": "G32",
}

# Guesses this command does not probe, and why (the report lists them too).
NOT_PROBED: dict[str, str] = {
    "status_read_scope": "(G16) whether ARM authorizes a status read under the app's identity at "
    "the resource group: needs the app's own token; `autoattach doctor` checks the role it holds",
    "arm_throttling": "(G31) the order of ARM's throttling buckets and which one a 429 names: only "
    "emptying a bucket tells, which is not a safe request",
    "arm_region": "(G30) which region's buckets a request is charged to: not visible in one answer",
    "trusted_access": "(G10) whether Trusted Access makes a user-assigned workspace identity need "
    "Contributor on the cluster: needs such a workspace and a trustedAccessRoleBinding, more than "
    "a small request",
    "arm_authorization": "a switch of the double, not a guess: Azure authorizes every request; "
    "the run's own requests show the rights you hold",
}


def assumed(guess: Guess, world: Any) -> Any:
    """The double's choice: the world's setting when it has one, else what the double does."""
    if guess.setting is not None and world is not None and hasattr(world, guess.setting):
        return getattr(world, guess.setting)
    if guess.derive is not None:
        return guess.derive()
    return guess.fixed


def agrees(guess: Guess, expected: Any, observed: Any, *, poll: float) -> bool | None:
    if observed is None:
        return None
    if guess.seconds:
        try:
            want, got = float(expected), float(observed)
        except (TypeError, ValueError):
            return False
        return abs(got - want) <= max(poll, DURATION_TOLERANCE * want)
    if isinstance(expected, float) and isinstance(observed, int | float):
        return float(observed) == expected
    return bool(expected == observed)


def observe(
    name: str, world: Any, observed: Any, evidence: str, *, poll: float = 10.0
) -> Observation:
    guess = GUESSES[name]
    expected = assumed(guess, world)
    return Observation(
        name=guess.name,
        question=guess.question,
        setting=guess.setting,
        double_assumes=expected,
        observed=observed,
        agrees=agrees(guess, expected, observed, poll=poll),
        evidence=evidence,
    )


def world_settings(observations: list[Observation], known: set[str]) -> dict[str, Any]:
    """The world settings that make the double behave as observed: each observed guess whose
    setting the double knows (``known``: sandbox.world_format.OPTIONS)."""
    found: dict[str, Any] = {}
    for o in observations:
        if o.setting is None or o.observed is None or o.setting not in known:
            continue
        value = o.observed
        if GUESSES[o.name].seconds or o.setting == "lro_retry_after_seconds":
            value = round(float(value))
        found[o.setting] = value
    return found
