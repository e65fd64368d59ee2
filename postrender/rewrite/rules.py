"""The rewrite rules as string functions: upstream host → Harbor prefix, secret name → Harbor's."""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

from postrender.rewrite import imageref
from postrender.settings import Settings

DOCKERCONFIG_TYPE = "kubernetes.io/dockerconfigjson"
_CSV_SEPARATOR = re.compile(r"(\s*,\s*)")


class MirrorRule(NamedTuple):
    """`U/path[:tag][@digest]` → `HARBOR_HOST/PROJECT/path[:tag][@digest]`."""

    upstream: str
    harbor_host: str
    project: str

    @property
    def target_prefix(self) -> str:
        return f"{self.harbor_host}/{self.project}"

    def rewrite(self, text: str) -> str:
        """Every reference to the upstream inside `text`, wherever it is embedded."""
        return imageref.replace_host(text, self.upstream, self.target_prefix)

    def registry_alone(self, value: str) -> str | None:
        """`U` (any case, `:443`, a trailing `/` kept) as a whole value → `HARBOR_HOST/PROJECT`;
        None for any other value."""
        if len(value) > len(self.upstream) + 5 or not imageref.alone_pattern(
            self.upstream
        ).fullmatch(value):
            return None
        return self.target_prefix + ("/" if value.endswith("/") else "")

    def chart_url(self, url: str) -> str | None:
        """`oci://UPSTREAM/path` → `oci://HARBOR_HOST/PROJECT/path`; None for any other URL."""
        found = imageref.find_host(url, self.upstream)
        if not url.startswith("oci://") or len(found) != 1 or found[0][0] != len("oci://"):
            return None
        return self.rewrite(url)

    def overlong(self, text: str) -> bool:
        """Would a reference in `text` (already rewritten) have a path over the grammar's limit?"""
        if len(text) <= imageref.NAME_MAX:
            return False  # no path in it can be longer than the whole text
        return any(
            len(imageref.path_after(text, end + 1)) > imageref.NAME_MAX
            for _, end in imageref.find_host(text, self.harbor_host)
        )

    @property
    def overlong_problem(self) -> str:
        return (
            f"the rewritten reference's path under {self.target_prefix} would be longer than "
            f"the {imageref.NAME_MAX} characters an image reference may have"
        )

    def mentions(self, text: str) -> bool:
        """Would --strict complain: the upstream host still stands in `text` as a host name."""
        return imageref.mention_pattern(self.upstream).search(text) is not None

    def auths_key(self, key: str) -> bool:
        """A dockerconfigjson `auths` key naming the upstream (`U`, `https://U`, `U/v2/`…)."""
        bare = re.sub(r"^https?://", "", key, flags=re.IGNORECASE).rstrip("/").lower()
        upstream = self.upstream.lower()
        return bare == upstream or bare.startswith(upstream + "/")


class SecretRule(NamedTuple):
    """Pull-secret name `old` → `new`; duplicates the rename creates are dropped."""

    old: str
    new: str

    def rename_list(self, value: str) -> str:
        """A comma-separated list of secret names (an env value), separators kept."""
        body = value.strip()
        if not body:
            return value
        start = value.index(body)
        lead, trail = value[:start], value[start + len(body) :]
        parts = _CSV_SEPARATOR.split(body)
        names, separators = parts[0::2], parts[1::2]
        if self.old not in names:
            return value
        out: list[str] = []
        seen_new = False
        for index, name in enumerate(names):
            renamed = self.new if name == self.old else name
            if renamed == self.new:
                if seen_new:
                    continue
                seen_new = True
            if out:
                out.append(separators[index - 1])
            out.append(renamed)
        return lead + "".join(out) + trail


class Rules(NamedTuple):
    """Everything one rewrite applies, built once from the settings."""

    mirror: MirrorRule
    secret: SecretRule | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        secret = None
        if settings.pull_secret and settings.pull_secret != settings.upstream_pull_secret:
            secret = SecretRule(settings.upstream_pull_secret, settings.pull_secret)
        upstream = settings.upstream.lower()  # matched in any case, as DNS does
        return cls(MirrorRule(upstream, settings.harbor_host, settings.project), secret)

    @property
    def needles(self) -> tuple[str, ...]:
        """Substrings without which a document has nothing to rewrite."""
        needles = (self.mirror.upstream, DOCKERCONFIG_TYPE)
        return needles if self.secret is None else (*needles, self.secret.old)

    def move_auths(self, config_json: str) -> str:
        """Rename the upstream's `auths` key of a dockerconfigjson to the Harbor host."""
        import json

        try:
            config = json.loads(config_json)
        except (ValueError, RecursionError):  # RecursionError: `[[[[…` nested
            return config_json
        auths = config.get("auths") if isinstance(config, dict) else None
        if not isinstance(auths, dict):
            return config_json
        moved = config_json
        for key in auths:
            if self.mirror.auths_key(key):
                # Rename the key in the text itself, so the JSON keeps its own layout.
                pattern = re.escape(json.dumps(key)) + r"(?=\s*:)"
                moved = re.sub(pattern, lambda _: json.dumps(self.mirror.harbor_host), moved)
        return moved

    def move_auths_base64(self, encoded: str) -> str:
        try:
            decoded = base64.b64decode("".join(encoded.split()), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return encoded
        moved = self.move_auths(decoded)
        if moved == decoded:
            return encoded
        return base64.b64encode(moved.encode("utf-8")).decode("ascii")
