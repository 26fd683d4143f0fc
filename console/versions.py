"""Which app version wrote what the console reads, and a warning when it is not the console's."""

from __future__ import annotations

from collections.abc import Iterable

from shared import __version__

UNRECORDED = "before 0.2.0"  # apps before 0.2.0 did not record their version


def mismatch(app_versions: Iterable[str | None]) -> str | None:
    """A one-line warning when the deployed app (as its ledger records show) runs another version
    than this console, else None."""
    others = sorted({version or UNRECORDED for version in app_versions} - {__version__})
    if not others:
        return None
    return (
        f"warning: the deployed app recorded version {', '.join(others)}; this console is "
        f"{__version__}. Deploy the app of this version, or install the console of the app's "
        "(CHANGELOG.md)."
    )
