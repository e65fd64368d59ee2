"""Harbor's registry API (`/v2/`): verify that rewritten references resolve, and warm the cache.

Loaded only by `verify`, `chart-url` and the post-renderer's `--verify`: it imports httpx.
"""

from __future__ import annotations

from postrender.registry._access import (
    CA_FILE_ENV,
    PASSWORD_ENV,
    SECRET_FILE_ENV,
    USERNAME_ENV,
    Access,
    access,
    credentials,
)
from postrender.registry._check import MISSING, OK, UNAUTHORIZED, UPSTREAM_ERROR, Check
from postrender.registry._references import Target, chart_target, chart_url, find
from postrender.registry._verify import require_resolved, verify

__all__ = [
    "CA_FILE_ENV",
    "MISSING",
    "OK",
    "PASSWORD_ENV",
    "SECRET_FILE_ENV",
    "UNAUTHORIZED",
    "UPSTREAM_ERROR",
    "USERNAME_ENV",
    "Access",
    "Check",
    "Target",
    "access",
    "chart_target",
    "chart_url",
    "credentials",
    "find",
    "require_resolved",
    "verify",
]
