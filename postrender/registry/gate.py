"""The post-renderer's `--verify`: fail the install before the cluster meets a missing image.

Trust and credentials are the settings' `Endpoint` (the CA and robot Secret file setup
remembered, or HARBOR_MIRROR_CA_FILE / HARBOR_MIRROR_SECRET_FILE, else HARBOR_MIRROR_USERNAME
with HARBOR_MIRROR_HARBOR_PASSWORD): the post-renderer takes no secrets on its command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from postrender.endpoint import Endpoint
from postrender.registry._verify import require_resolved, verify
from postrender.rewrite.rules import MirrorRule
from postrender.settings import Settings


def verify_or_fail(
    text: str, rule: MirrorRule, settings: Settings, environ: Mapping[str, str] = os.environ
) -> None:
    """Raise VerifyFailed (nothing reaches stdout) when a rewritten reference does not resolve."""
    require_resolved(verify(text, rule, Endpoint.from_settings(settings, environ)))
