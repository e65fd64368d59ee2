"""Step 1: is this Harbor, are the credentials really valid, may they run setup.

Who may: a system administrator, whether by Harbor's own flag or by signing in through an LDAP
admin group or the auth proxy (`admin_role_in_auth`), and a system robot account. Harbor's
403 for a robot names the robot where a system permission is missing and nothing at all on a
project (`handler/base.go:RequireProjectAccess`), so setup adds the permissions it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple, TextIO

from postrender.bootstrap.outcome import report
from postrender.errors import HarborAPIError, HarborError
from postrender.harbor import OIDC_AUTH, HarborClient

_VERSION = re.compile(r"v?(\d+)\.(\d+)")
# `handler/user.go:GetCurrentUserInfo` has no user to show for a robot's security context.
_ROBOT_CALLER = 412
_ROBOT_PERMISSIONS = (
    "system: registry list/read/create/update, project create, replication-policy "
    "list/read/create/update, replication list/read/create; on the project (or all projects): "
    "project read/update, robot list/read/create/update, repository pull"
)
_WAYS_IN = (
    "use Harbor's local admin account (Harbor checks it against its own database whatever "
    "the sign-in mode) or a system robot account (--username 'robot$NAME')"
)


class Checked(NamedTuple):
    version: str  # "" if Harbor keeps it to itself
    robot: bool  # signed in as a robot account


def check_harbor(client: HarborClient, harbor_url: str, out: TextIO) -> Checked:
    """Sign in and say who that is; raise with advice when unusable."""
    try:
        user = client.current_user()
    except HarborAPIError as error:
        if error.status == 401:
            raise error.with_hint(_refused_hint(client)) from None
        if error.status == 404:
            raise error.with_hint("is --harbor-url the address of a Harbor v2 server?") from None
        if error.status != _ROBOT_CALLER:
            raise
        user = None
    if user is not None and not user.is_admin:
        raise HarborError(
            f"user {user.username!r} is not a Harbor system administrator; setup manages "
            "registry endpoints and proxy-cache projects, which Harbor allows only to system "
            "administrators and system robot accounts: sign in as one of them (--username)"
        )
    version = client.system_info().harbor_version
    shown = f"Harbor {version}" if version else "Harbor (version not reported)"
    if user is None:
        who = f"signed in as a robot account, which needs {_ROBOT_PERMISSIONS}"
    else:
        who = f"signed in as {user.username}, system admin"
        if not user.sysadmin_flag:
            who += " (by its sign-in group or auth proxy)"
    report(out, "harbor", harbor_url, "ok", f"{shown}, {who}")
    return Checked(version, robot=user is None)


@contextmanager
def robot_refusals_explained(robot: bool) -> Iterator[None]:
    """Add to a robot's 403 the permissions setup needs, which Harbor does not name."""
    try:
        yield
    except HarborAPIError as error:
        if not robot or error.status != 403 or error.hint:
            raise
        raise error.with_hint(
            f"a robot account needs these permissions for setup: {_ROBOT_PERMISSIONS}"
        ) from None


def _refused_hint(client: HarborClient) -> str:
    """Why Harbor took the credentials as anonymous; in OIDC mode a user's CLI secret is
    accepted only on `/v2`, the token service and a few API paths
    (`server/middleware/security/oidc_cli.go:valid`), none of which setup can do without."""
    try:
        auth_mode = client.system_info().auth_mode  # anonymous callers get it too
    except HarborError:
        auth_mode = ""
    if auth_mode == OIDC_AUTH:
        return (
            "Harbor did not accept these credentials: a wrong password, or an OIDC user's CLI "
            "secret, which this Harbor (it signs users in with OIDC) takes on none of the API "
            "paths setup uses: " + _WAYS_IN
        )
    return (
        "Harbor did not accept the username and password (it treats wrong credentials "
        "as anonymous): check --username and the password"
    )


def version_at_least(version: str, major: int, minor: int) -> bool:
    """Compare `v2.15.2-abc`-style versions; an unknown version is given the benefit of doubt."""
    found = _VERSION.match(version)
    if found is None:
        return True
    return (int(found.group(1)), int(found.group(2))) >= (major, minor)
