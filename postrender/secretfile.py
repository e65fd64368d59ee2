"""The pull Secret manifest `setup --secret-out` writes, read back for its robot credentials.

setup (to reuse and embed them) and verify (to log in to Harbor) read the same file; one
reader keeps what counts as a usable file the same for both.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from postrender.errors import ConfigError, keep_secret


def read_credentials(path: Path, harbor_host: str) -> tuple[str, str]:
    """The username and password the Secret at `path` holds for `harbor_host`."""
    where = f"--secret-file {path}"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except (ValueError, RecursionError):  # RecursionError: `[[[[…` nested
        raise ConfigError(f"{where}: not the JSON Secret manifest setup writes") from None
    try:
        encoded = manifest["data"][".dockerconfigjson"]
        auths = json.loads(base64.b64decode(encoded, validate=True))["auths"]
    except (KeyError, TypeError, ValueError, binascii.Error, RecursionError):
        raise ConfigError(f"{where}: no .dockerconfigjson with auths in it") from None
    entry = auths.get(harbor_host) if isinstance(auths, dict) else None
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: holds no credentials for {harbor_host}")
    username, password = entry.get("username"), entry.get("password")
    if not (isinstance(username, str) and isinstance(password, str)) and "auth" in entry:
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
        except (TypeError, ValueError):  # binascii.Error and UnicodeDecodeError are ValueErrors
            decoded = ""
        username, _, password = decoded.partition(":")
    if not (isinstance(username, str) and isinstance(password, str) and username):
        raise ConfigError(f"{where}: the entry for {harbor_host} has no username and password")
    return username, keep_secret(password, username=username)
