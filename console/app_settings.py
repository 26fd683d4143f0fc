"""Where the console reads a deployed app's settings: a file (--settings FILE), or the app
itself through ARM (--app ID), else the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
