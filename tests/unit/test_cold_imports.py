"""What the Functions host's `import function_app` loads (cold start, issue 22 goal 4): none of
the libraries the app uses only after a new cluster's first write; they are imported at their
first use. The path up to that write is tests/e2e/test_cold_start.py's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# aiohttp: never used (every client is synchronous); azure-ai-ml: the attach and the detach;
# azure-eventgrid: publishing notices; azure-mgmt-authorization: reading and granting roles.
LATER = ("aiohttp", "azure.ai.ml", "azure.eventgrid", "azure.mgmt.authorization")


def test_importing_the_function_app_leaves_what_only_later_steps_use_for_their_first_use():
    probe = (
        "import json, sys; import function_app; "
        f"print(json.dumps(sorted(m for m in {LATER!r} if m in sys.modules)))"
    )
    # as outside the Functions host: there the import also builds the app, from its settings
    env = {k: v for k, v in os.environ.items() if k != "FUNCTIONS_WORKER_RUNTIME"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
