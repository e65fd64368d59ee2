"""The post-renderer's `--verify`: fail the install before the cluster meets a missing image.

Trust and credentials are the settings' `Endpoint` (the CA and robot Secret file setup
remembered, or HARBOR_MIRROR_CA_FILE / HARBOR_MIRROR_SECRET_FILE, else HARBOR_MIRROR_USERNAME
with HARBOR_MIRROR_HARBOR_PASSWORD): the post-renderer takes no secrets on its command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from postrender import lock as lockfile
from postrender.endpoint import Endpoint
from postrender.registry._references import Target
from postrender.registry._verify import pinned_chart, require_resolved, require_signed, verify
from postrender.rewrite.rules import MirrorRule
from postrender.settings import Settings


def verify_or_fail(
    text: str, rule: MirrorRule, settings: Settings, environ: Mapping[str, str] = os.environ,
    *, charts: Sequence[Target] = (),
) -> None:
    """Raise VerifyFailed (nothing reaches stdout) when a rewritten reference or one of `charts`
    does not resolve, or (`--signatures`, `--attestations`) one Harbor serves is not verified.
    With `--lock`, the charts are asked for by their locked digests and the signatures by the
    digests the lock records, as `verify --lock` asks: Harbor answers those without the
    upstream."""
    signing, record = None, None
    if settings.signatures or settings.attestations:  # cryptography loads only then
        from postrender.registry._signatures import record_file, signing_for

        keys = [Path(p) for p in (settings.keys or "").split(os.pathsep) if p]
        signing = signing_for(settings.signatures, settings.attestations, keys)
        record = record_file(environ)
    locked = lockfile.read(Path(settings.lock)) if settings.lock is not None else None
    if locked is not None:
        charts = [pinned_chart(chart, locked, where=str(settings.lock)) for chart in charts]
    checks = verify(text, rule, Endpoint.from_settings(settings, environ), charts=charts,
                    signing=signing, record=record, lock=locked)
    require_resolved(checks)
    require_signed(checks)
