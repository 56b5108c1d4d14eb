"""The layering of the apps, as import-linter contracts (pyproject.toml): they hold, and a wrong
import breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["sendfaxmail", "audit", "accounts", "developers", "fax_numbers", "faxes"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("accounts/views.py", "from fax_numbers import selectors", "Apps import only the apps"),
        ("developers/selectors.py", "from faxes import models", "Apps import only the apps"),
        ("sendfaxmail/lib/phone.py", "from accounts import models", "sendfaxmail.lib and the"),
        ("audit/selectors.py", "from accounts import models", "Apps import only the apps"),
        ("faxes/api.py", "import requests", "In faxes, only carrier.py speaks HTTP"),
    ],
)
def test_a_wrong_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / module).open("a") as source:
        source.write(f"\n{line}\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert [row for row in broken if row.startswith(contract)], result.stdout
