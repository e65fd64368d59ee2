"""The post-renderer's `--verify`: fail the install before the cluster meets a missing image.

Credentials and trust come from the environment only (the post-renderer takes no secrets on
its command line): HARBOR_MIRROR_SECRET_FILE, or HARBOR_MIRROR_USERNAME with
HARBOR_MIRROR_HARBOR_PASSWORD; HARBOR_MIRROR_CA_FILE for a private CA.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from postrender.registry._access import access
from postrender.registry._verify import require_resolved, verify
from postrender.rewrite.rules import MirrorRule


def verify_or_fail(text: str, rule: MirrorRule, environ: Mapping[str, str] = os.environ) -> None:
    """Raise VerifyFailed (nothing reaches stdout) when a rewritten reference does not resolve."""
    require_resolved(verify(text, rule, access(rule.harbor_host, environ)))
