"""A small typed Harbor v2.0 REST client: the only code that talks to Harbor's `/api/v2.0`.

Imports only `endpoint` (whom to reach) and `errors` (and httpx); never on the post-renderer path,
`setup` loads it on demand.
"""

from __future__ import annotations

from postrender.harbor._client import HarborClient
from postrender.harbor._connect import connect
from postrender.harbor._errors import error_detail, redirect_target, unreachable
from postrender.harbor._http import HarborHTTP, cookie_jar_that_keeps_nothing
from postrender.harbor._models import (
    NEVER_EXPIRES,
    OIDC_AUTH,
    Execution,
    Policy,
    Project,
    Registry,
    Robot,
    RobotPermission,
    SystemInfo,
    Task,
    User,
)
from postrender.harbor._retry import RetryPolicy, may_retry_status

__all__ = [
    "NEVER_EXPIRES",
    "OIDC_AUTH",
    "Execution",
    "HarborClient",
    "HarborHTTP",
    "Policy",
    "Project",
    "Registry",
    "RetryPolicy",
    "Robot",
    "RobotPermission",
    "SystemInfo",
    "Task",
    "User",
    "connect",
    "cookie_jar_that_keeps_nothing",
    "error_detail",
    "may_retry_status",
    "redirect_target",
    "unreachable",
]
