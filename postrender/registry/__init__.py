"""Harbor's registry API (`/v2/`): verify that rewritten references resolve, and warm the cache.

Loaded only by `verify`, `chart-url` and the post-renderer's `--verify`: it imports httpx.
"""

from __future__ import annotations

from postrender.registry._access import Access, access
from postrender.registry._check import Check
from postrender.registry._references import Target, chart_target, chart_url, find
from postrender.registry._verify import require_resolved, verify

__all__ = [
    "Access",
    "Check",
    "Target",
    "access",
    "chart_target",
    "chart_url",
    "find",
    "require_resolved",
    "verify",
]
