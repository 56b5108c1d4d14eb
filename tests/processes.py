"""Running code in an interpreter of its own, as `make run`'s processes do: a script under the
test settings (a SQLite database, another working directory…), which prints its findings as
JSON on its last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_script(
    script: str, *, cwd: Path = ROOT, timeout: float = 300, env: dict[str, str | None]
) -> Any:
    """Run `script` with `env` over this process's environment (None removes a variable) and
    return its last line, parsed as JSON; fail the test with its error output if it fails."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
    }
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
