"""``autoattach policy validate``: check an attach policy file as the Functions app will."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from console.output import add_output, render
from shared.decisions.policy import SCHEMA_FILE, AttachPolicy, PolicyError

POLICY_HELP = """\
Work with attach policy files (see docs/policy.md)."""

VALIDATE_HELP = f"""\
Check attach policy files exactly as the Functions app checks its policy at start: first
against the published JSON Schema (draft 2020-12, shared/{SCHEMA_FILE}),
which refuses unknown keys such as a misspelt "storage_acess", then the semantic checks
(workspace and scope ids; compute name and namespace templates: only {{cluster}} and {{workspace}},
names Azure ML accepts, one name per compute, no system namespace; kubeconfig secrets; the
extension's settings). Prints "FILE: ok", or every problem with the file and its JSON path, e.g.
"policy.json: workspaces[0].storage_acess: unknown key". Nothing is read from Azure.

A FILE is a bare policy, or a sandbox world file, whose "policy" is checked ({{sandbox_vault}} in
its kubeconfig secrets is taken as a vault URL). See docs/policy.md.

Exit status: 0 when every file is valid, 2 when any is invalid or cannot be read."""

# World files write the sandbox vault's address as this (sandbox/runner.py fills it in); any
# https:// vault URL stands for it here.
SANDBOX_VAULT_PLACEHOLDER = "{sandbox_vault}"
SANDBOX_VAULT_STAND_IN = "https://sandbox.vault.azure.net"


def register(commands: argparse._SubParsersAction) -> None:
    policy = commands.add_parser(
        "policy",
        help="check attach policy files",
        description=POLICY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = policy.add_subparsers(dest="action", required=True, metavar="ACTION")
    validate = actions.add_parser(
        "validate",
        help="check policy files against the schema and the app's own checks",
        description=VALIDATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="a policy file or a world file"
    )
    add_output(validate, document="[{file, valid, problems: [text]}]")


def run(args: argparse.Namespace) -> int:
    results = [(path, validate_file(path)) for path in args.files]
    valid = all(not problems for _, problems in results)
    if args.output == "table" and args.query is None:
        for path, problems in results:
            for problem in problems:
                print(problem, file=sys.stderr)
            if not problems:
                print(f"{path}: ok")
        return 0 if valid else 2
    document = [
        {"file": str(path), "valid": not problems, "problems": problems}
        for path, problems in results
    ]
    text = render(document, args.output, args.query)
    if text is not None:
        print(text)
    return 0 if valid else 2


def validate_file(path: Path) -> list[str]:
    """Each problem of the policy in ``path``, named with the file and the JSON path."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        return [f"{path}: cannot read it ({reason})"]
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"{path}: not JSON: {error.msg} at line {error.lineno} column {error.colno}"]
    source = str(path)
    if _is_world_file(document):
        document, source = document["policy"], f"{path} (its 'policy')"
        filled = json.dumps(document).replace(SANDBOX_VAULT_PLACEHOLDER, SANDBOX_VAULT_STAND_IN)
        document = json.loads(filled)
    try:
        AttachPolicy.from_dict(document, source)
    except PolicyError as error:
        return str(error).splitlines()
    return []


def _is_world_file(document: Any) -> bool:
    """A sandbox world file: Azure state plus a ``policy`` object (sandbox/scenario.py)."""
    return isinstance(document, dict) and isinstance(document.get("policy"), dict)
