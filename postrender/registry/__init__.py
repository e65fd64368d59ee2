"""Harbor's registry API (`/v2/`): verify that rewritten references resolve, and warm the cache.

Imports `harbor` (connections), `rewrite`, `secretfile` and `errors`; it loads httpx, so only
`verify`, `chart-url`, the wrappers and the post-renderer's `--verify` import it.
"""

from __future__ import annotations

from postrender.registry._access import Access, access
from postrender.registry._check import Check
from postrender.registry._held import held
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
    "held",
    "require_resolved",
    "verify",
]
