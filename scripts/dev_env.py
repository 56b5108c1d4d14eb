"""Write the development `.env` that `make run` needs, once: DEBUG on and fresh secrets.

An existing file is left exactly as it is. With it in place every `manage.py` command, in any
shell, runs with the same development settings and keys as the server (settings.py reads it).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sendfaxmail.lib.crypto import generate_key  # noqa: E402

TEMPLATE = """\
# Written by `make run` on its first run: development settings with secrets made for this
# checkout only. Never use these in production. See .env.example for every variable.
DEBUG=true
SECRET_KEY={secret_key}
API_KEY_PEPPER={pepper}
DOCUMENT_ENCRYPTION_KEYS={document_key}
"""


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / ".env"
    if path.exists():
        return 0
    text = TEMPLATE.format(
        secret_key=secrets.token_urlsafe(50),
        pepper=secrets.token_urlsafe(32),
        document_key=generate_key(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as env_file:
        env_file.write(text)
    print(f"Wrote {path} (DEBUG=true, development secrets).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
