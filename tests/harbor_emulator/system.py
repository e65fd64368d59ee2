"""Probing endpoints: ping, health, systeminfo (less data for anonymous) and `users/current`."""

from __future__ import annotations

from urllib.parse import urlsplit

from .state import STRONG_SECRET, Call, iso_now
from .wire import (
    JSON,
    Response,
    bad_request,
    body_object,
    conflict,
    created,
    json_response,
    precondition,
)

BUILDS = {"v2.15.2": "v2.15.2-080b0220", "main": "v2.16.0-c50c7ddd"}
"""What `/systeminfo` prints for a `State.version` (the VERSION file and the commit)."""


def ping(call: Call) -> Response:
    return Response(200, [("Content-Type", "text/plain")], b"Pong")


def health(call: Call) -> Response:
    components = ["core", "database", "jobservice", "portal", "redis", "registry", "registryctl"]
    return json_response(
        200,
        {"status": "healthy", "components": [{"name": c, "status": "healthy"} for c in components]},
    )


def systeminfo(call: Call) -> Response:
    """Anonymous callers get the auth mode only; the version needs valid credentials."""
    info: dict[str, JSON] = {
        "auth_mode": call.state.auth_mode,
        "primary_auth_mode": False,
        "self_registration": False,
        "banner_message": "",
        "current_time": iso_now(),
    }
    if call.user is not None:
        info.update(
            harbor_version=BUILDS.get(call.state.version, call.state.version),
            external_url=call.base_url,
            registry_url=urlsplit(call.base_url).netloc,
            read_only=False,
            project_creation_restriction="everyone",
            has_ca_root=False,
            notification_enable=True,
            registry_storage_provider_name="filesystem",
        )
    return json_response(200, info)


def current_user(call: Call) -> Response:
    """401 for anonymous: the only reliable way to tell that credentials were wrong; 412 for a
    robot, which has no user to show (`handler/user.go:GetCurrentUserInfo`). An admin by an
    LDAP group or the auth proxy shows `sysadmin_flag: false, admin_role_in_auth: true`
    (`handler/model/user.go:ToUserResp`)."""
    user = call.require_login()
    if user.robot is not None:
        raise precondition("get current user not available for security context: robot")
    return json_response(
        200,
        {
            "user_id": user.user_id,
            "username": user.username,
            "email": f"{user.username}@example.com",
            "realname": "system admin" if user.user_id == 1 else user.username,
            "comment": "admin user" if user.user_id == 1 else "",
            "sysadmin_flag": user.sysadmin_flag,
            "admin_role_in_auth": user.admin_role_in_auth,
            "creation_time": user.creation_time,
            "update_time": user.creation_time,
        },
    )


def create_user(call: Call) -> Response:
    """A local non-admin user, as a system admin creates one when self-registration is off
    (`handler/user.go:requireCreatable`)."""
    call.require_admin(("user", "create"))
    body = body_object(
        call.request,
        "userReq",
        {"username": str, "password": str, "email": str, "realname": str, "comment": str},
    )
    username = body.get("username") or ""
    if not username or len(username) > 255:
        raise bad_request("username is required and must be at most 255 characters")
    if not STRONG_SECRET.match(body.get("password") or ""):
        raise bad_request(
            "the password must be 8-128 characters long with at least 1 uppercase letter, "
            "1 lowercase letter and 1 number"
        )
    if username in call.state.users:
        raise conflict(f"username {username} is already used")
    user = call.state.add_user(username, body["password"], admin=False)
    return created(f"{call.request.path}/{user.user_id}")


ROUTES = [
    ("POST", "/users", create_user),
    ("GET", "/ping", ping),
    ("GET", "/health", health),
    ("GET", "/systeminfo", systeminfo),
    ("GET", "/users/current", current_user),
]
