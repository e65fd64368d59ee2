"""Step 1: is this Harbor, are the credentials really valid, is the user a system admin."""

from __future__ import annotations

import re
from typing import TextIO

from postrender.bootstrap.outcome import report
from postrender.errors import HarborAPIError, HarborError
from postrender.harbor import HarborClient

_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def check_harbor(client: HarborClient, harbor_url: str, out: TextIO) -> str:
    """Sign in and return Harbor's version ("" if unknown); raise with advice when unusable."""
    try:
        user = client.current_user()
    except HarborAPIError as error:
        if error.status == 401:
            raise error.with_hint(
                "Harbor did not accept the username and password (it treats wrong credentials "
                "as anonymous): check --username and the password"
            ) from None
        if error.status == 404:
            raise error.with_hint("is --harbor-url the address of a Harbor v2 server?") from None
        raise
    if not user.is_admin:
        raise HarborError(
            f"user {user.username!r} is not a Harbor system administrator; setup manages "
            "registry endpoints and proxy-cache projects, which Harbor allows only to system "
            "administrators: sign in with an admin account (--username)"
        )
    version = client.system_info().harbor_version
    shown = f"Harbor {version}" if version else "Harbor (version not reported)"
    report(out, "harbor", harbor_url, "ok", f"{shown}, signed in as {user.username}, system admin")
    return version


def version_at_least(version: str, major: int, minor: int) -> bool:
    """Compare `v2.15.2-abc`-style versions; an unknown version is given the benefit of doubt."""
    found = _VERSION.match(version)
    if found is None:
        return True
    return (int(found.group(1)), int(found.group(2))) >= (major, minor)
