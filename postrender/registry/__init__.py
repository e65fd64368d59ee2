"""Harbor's registry API (`/v2/`): verify that rewritten references resolve, and warm the cache.

Imports `endpoint`, `harbor` (cookie policy), `trust` (signatures, loaded only when they are
checked), `rewrite`, `files`, `helmhome`, `settings` (the post-renderer's `--verify` gate) and
`errors`; it loads httpx, so only `verify`, the wrappers and the post-renderer's `--verify`
import it.
"""

from __future__ import annotations

from postrender.registry._access import registry_client
from postrender.registry._check import Check
from postrender.registry._held import held
from postrender.registry._lock import lock_of
from postrender.registry._references import Target, chart_target, find
from postrender.registry._trust import Signing
from postrender.registry._verify import (
    check_tags,
    pinned_chart,
    require_resolved,
    require_signed,
    verify,
)

__all__ = [
    "Check",
    "Signing",
    "Target",
    "chart_target",
    "check_tags",
    "find",
    "held",
    "lock_of",
    "pinned_chart",
    "registry_client",
    "require_resolved",
    "require_signed",
    "verify",
]
