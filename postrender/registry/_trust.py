"""What a signature (or attestation) check found for one reference, in the words a person acts on.

verified: signed by a trusted key over claims naming the digest. invalid: present but wrong
(another key, changed bytes, or claims naming another digest): treat it as tampering. missing:
no signature reachable through Harbor (a mirroring gap: the upstream has none, Harbor could not
fetch it, or a replication's tag filter dropped it). not checked: a reference Harbor does not
serve, or a platform `--platform` left out. Plain data: no cryptography loads for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postrender.trust.keys import TrustedKey

VERIFIED = "verified"
INVALID = "invalid"
MISSING = "missing"
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Signing:
    """What `--signatures`/`--attestations` check: `kinds` ("signature", "attestation"), with
    which keys (any one suffices), which platforms (`--platform`; none: all)."""

    kinds: tuple[str, ...]
    keys: Sequence[TrustedKey]
    platforms: frozenset[str] = frozenset()
    warm: bool = False  # also pull each artifact's config blob, so Harbor stores it whole


@dataclass(frozen=True)
class Finding:
    """One digest's own result; `platform` names it within a multi-arch image."""

    result: str
    detail: str = ""
    digest: str = ""
    platform: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"platform": self.platform or None, "digest": self.digest or None,
                "result": self.result, "detail": self.detail or None}


@dataclass(frozen=True)
class Trust:
    """One reference's result: its own digest's finding and, for an index, each platform's."""

    own: Finding
    platforms: list[Finding] = field(default_factory=list)

    @property
    def result(self) -> str:
        """Verified only when every checked part is; invalid wins over missing."""
        results = {self.own.result, *(p.result for p in self.platforms)} - {NOT_CHECKED}
        for result in (INVALID, MISSING, VERIFIED):
            if result in results:
                return result
        return NOT_CHECKED

    @property
    def detail(self) -> str:
        """The first finding that made the result what it is."""
        parts = [self.own, *self.platforms]
        first = next((p for p in parts if p.result == self.result), self.own)
        where = f"{first.platform} ({first.digest}): " if first.platform else ""
        return where + first.detail

    def as_dict(self) -> dict[str, object]:
        return {"result": self.result, "digest": self.own.digest or None,
                "detail": self.detail or None,
                "platforms": [p.as_dict() for p in self.platforms]}


def not_checked(detail: str) -> Trust:
    return Trust(Finding(NOT_CHECKED, detail))

