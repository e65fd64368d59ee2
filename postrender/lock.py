"""The lock file: the digest each Harbor image reference and chart of a release is pulled by.

`verify --write-lock` writes it; the post-renderer (`--lock`) reads it to turn
`HARBOR/PROJECT/path:TAG` into `HARBOR/PROJECT/path:TAG@sha256:…`. A pull by the digest of
content Harbor stores answers from Harbor alone (`controller/proxy/controller.go:
UseLocalManifest`), while a pull by tag asks the upstream every time. Harbor stores a proxied
index only as a list it rebuilds under a digest of its own (`manifestcache.go:
ManifestListCache.push`), so the pin of a multi-arch image is the platform manifest `--platform`
chose (stored as it is, signed on its own), else the upstream index digest (one upstream request
per pull, and none while it is down), never Harbor's unsigned rebuilt list.

Plain YAML, keys sorted, strings double-quoted: the same lock always gives the same bytes. It
holds references and digests only, never a credential. Read on the post-renderer's start-up
path, so it loads only the YAML reader the rewrite loads anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from postrender.errors import ConfigError
from postrender.rewrite.pin import RERUN, Pin

FORMAT = 1
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_COSIGN_TAG = re.compile(r"^sha256-[0-9a-f]{64}\.(?:sig|att)$")
_PLAIN = re.compile(r"^[a-z][a-z0-9._/-]*(?::[0-9a-f]{64})?$")  # field names, platforms, digests
_NOT_PLAIN = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_NONE: Mapping[str, str] = MappingProxyType({})
HEADER = (
    "# helm-harbor-mirror lock file: the digest each Harbor reference is pulled by.\n"
    "# Written by `helm harbor-mirror verify --write-lock`; read by --lock. Re-run verify\n"
    "# --write-lock to add images, with --update-lock to take digests that changed.\n"
)


class ImageLock(NamedTuple):
    """What one `HARBOR/PROJECT/path:TAG` resolved to when the lock was written.

    `upstream`: the digest the tag named (an index or a manifest); `harbor`: the digest Harbor
    serves it under where that differs (its rebuilt list); `platforms`: an index's manifest
    digest per `os/arch[/variant]`; `platform`: the one `--platform` chose; `signatures`: the
    digest of each cosign signature or attestation, by its tag (`sha256-<hex>.sig`, `.att`).
    """

    upstream: str
    harbor: str = ""
    platforms: Mapping[str, str] = _NONE
    platform: str = ""
    signatures: Mapping[str, str] = _NONE

    @property
    def pin(self) -> str:
        """The digest a pull is pinned to: the chosen platform's manifest, else the upstream's."""
        return self.platforms[self.platform] if self.platform else self.upstream

    @property
    def known(self) -> set[str]:
        """Every digest that stands for this locked content: the tag's, Harbor's, a platform's."""
        return {self.upstream, *self.platforms.values()} | ({self.harbor} if self.harbor else set())

    def same_content(self, other: ImageLock) -> bool:
        """The same upstream digest: only a moved tag makes two entries differ."""
        return self.upstream == other.upstream

    def keeping(self, earlier: ImageLock) -> ImageLock:
        """This entry of the same content with what its re-run did not ask for kept from the
        earlier one: the `--platform` choice, the signature digests, Harbor's own digest. A
        run that adds another chart's images must not move this image's pin."""
        return self.keeping_platform(earlier)._replace(
            harbor=self.harbor or earlier.harbor,
            signatures=self.signatures or earlier.signatures)

    def keeping_platform(self, earlier: ImageLock) -> ImageLock:
        """This entry with the earlier one's `--platform` choice when the re-run made none and
        still lists it: the platform is the cluster's, so a moved tag taken with --update-lock
        stays pinned to a manifest Harbor stores, not to the upstream index."""
        platform = self.platform or (earlier.platform if earlier.platform in self.platforms
                                     else "")
        return self._replace(platform=platform)

    def as_dict(self) -> dict[str, object]:
        written: dict[str, object] = {"upstream": self.upstream}
        if self.harbor and self.harbor != self.upstream:
            written["harbor"] = self.harbor
        if self.platforms:
            written["platforms"] = dict(self.platforms)
        if self.platform:
            written["platform"] = self.platform
            written["pin"] = self.pin
        if self.signatures:
            written["signatures"] = dict(self.signatures)
        return written


class ChartLock(NamedTuple):
    """What one `oci://HARBOR/PROJECT/path:VERSION` resolved to: Harbor stores a chart with its
    own bytes, so one digest; `signatures`: its cosign signature's digest by tag, as an image's."""

    digest: str
    signatures: Mapping[str, str] = _NONE

    @property
    def known(self) -> set[str]:
        """The one digest that stands for this chart, as `ImageLock.known` for an image."""
        return {self.digest}

    def as_dict(self) -> dict[str, object]:
        written: dict[str, object] = {"digest": self.digest}
        if self.signatures:
            written["signatures"] = dict(self.signatures)
        return written


class Lock(NamedTuple):
    """Images by Harbor reference (as rewritten, with its tag) and charts by `oci://` URL:TAG.
    (NamedTuples, not dataclasses: those import `inspect` on the post-renderer's path.)"""

    images: Mapping[str, ImageLock] = MappingProxyType({})
    charts: Mapping[str, ChartLock] = MappingProxyType({})

    def pins(self) -> dict[str, Pin]:
        """Reference → the digest its pull is pinned to, and the digests naming its content."""
        return {reference: Pin(image.pin, frozenset(image.known))
                for reference, image in self.images.items()}

    def chart_pin(self, url: str, version: str | None, *, where: str) -> str:
        """The Harbor chart `url` as `oci://…/NAME@sha256:…`, locked at `version` under Helm's
        tag for it (`+` as `_`; a tag in the URL stands for itself, and is dropped: beside a
        digest Helm would ask for the tag too); `where` names the lock in errors."""
        repository, _, name = url.rpartition("/")
        if version is None and ":" not in name:
            raise ConfigError(f"--lock pins the chart {url} by its version: give --version")
        tag = url if version is None else f"{url}:{version.replace('+', '_')}"
        chart = self.charts.get(tag)
        if chart is None:
            raise ConfigError(f"the chart {tag} is not in the lock file {where}; {RERUN}")
        return f"{repository}/{name.partition(':')[0]}@{chart.digest}"

    def merged(self, newer: Lock, *, update: bool) -> tuple[Lock, list[str]]:
        """This lock with `newer`'s entries added (other charts' entries kept), and the
        references whose locked content changed: replaced only with `update`, else kept."""
        images = dict(self.images)
        changed = []
        for reference, image in newer.images.items():
            old = images.get(reference)
            if old is not None and not old.same_content(image):
                changed.append(reference)
                if not update:
                    continue
                image = image.keeping_platform(old)
            elif old is not None:
                image = image.keeping(old)
            images[reference] = image
        charts = dict(self.charts)
        for url, chart in newer.charts.items():
            old_chart = charts.get(url)
            if old_chart is not None and old_chart.digest != chart.digest:
                changed.append(url)
                if not update:
                    continue
            elif old_chart is not None:
                chart = chart._replace(signatures=chart.signatures or old_chart.signatures)
            charts[url] = chart
        return Lock(images, charts), changed

    def dump(self) -> bytes:
        lines = [HEADER.rstrip("\n"), f"version: {FORMAT}"]
        lines += _block("charts", {url: chart.as_dict() for url, chart in self.charts.items()})
        lines += _block("images", {ref: image.as_dict() for ref, image in self.images.items()})
        return ("\n".join(lines) + "\n").encode("utf-8")

    def write(self, path: Path) -> None:
        from postrender.files import atomic_write

        atomic_write(path, self.dump(), mode=0o644, option="--write-lock")


def _block(key: str, mapping: Mapping[str, object], indent: str = "") -> list[str]:
    """`mapping` as block YAML under `key`, sorted; a string that is not a plain word or digest
    (a reference, with its `:`) in JSON's double quotes, which YAML reads alike."""
    if not mapping:
        return [f"{indent}{key}: {{}}"]
    lines = [f"{indent}{key}:"]
    for name in sorted(mapping):
        value = mapping[name]
        if isinstance(value, Mapping):
            lines += _block(_scalar(name), value, indent + "  ")
        else:
            lines.append(f"{indent}  {_scalar(name)}: {_scalar(str(value))}")
    return lines


def _scalar(text: str) -> str:
    plain = _PLAIN.match(text) is not None and text not in _NOT_PLAIN
    return text if plain else json.dumps(text)


def read(path: Path) -> Lock:
    """The lock at `path`; anything but a lock this version wrote is one line naming it."""
    from postrender.yamlfile import read_yaml

    document = read_yaml(path, "lock file", missing=RERUN)
    return parse(document, str(path))


def parse(document: object, where: str) -> Lock:
    """A loaded lock document, checked field by field."""
    if not isinstance(document, dict) or document.get("version") != FORMAT:
        raise ConfigError(f"lock file {where}: not a version {FORMAT} harbor-mirror lock "
                          f"(no `version: {FORMAT}`)")
    charts = {
        url: _chart(entry, f"{where}: chart {url}")
        for url, entry in _mapping(document.get("charts"), f"{where}: charts").items()
    }
    images = {
        reference: _image(entry, f"{where}: image {reference}")
        for reference, entry in _mapping(document.get("images"), f"{where}: images").items()
    }
    return Lock(images, charts)


def _chart(entry: object, where: str) -> ChartLock:
    fields = _mapping(entry, where)
    return ChartLock(_digest(fields.get("digest"), f"{where} digest"), _signatures(fields, where))


def _image(entry: object, where: str) -> ImageLock:
    fields = _mapping(entry, where)
    platforms = {name: _digest(value, f"{where} platform {name}")
                 for name, value in _mapping(fields.get("platforms"), where).items()}
    platform = fields.get("platform") or ""
    if not isinstance(platform, str):
        raise ConfigError(f"lock file {where}: platform {platform!r} is not a platform name")
    if platform and platform not in platforms:
        raise ConfigError(f"lock file {where}: platform {platform} is not among its platforms")
    image = ImageLock(_digest(fields.get("upstream"), f"{where} upstream"),
                      _digest(fields["harbor"], f"{where} harbor") if "harbor" in fields else "",
                      platforms, platform, _signatures(fields, where))
    if "pin" in fields and fields["pin"] != image.pin:
        raise ConfigError(f"lock file {where}: pin {fields['pin']} is not the digest of "
                          f"platform {platform}")
    return image


def _signatures(fields: Mapping[str, object], where: str) -> dict[str, str]:
    """An entry's `signatures:`: each cosign tag with the digest of its manifest."""
    return {_cosign_tag(tag, where): _digest(value, f"{where} signature {tag}")
            for tag, value in _mapping(fields.get("signatures"), where).items()}


def _mapping(value: object, where: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise ConfigError(f"lock file {where}: not a mapping")
    return value


def _cosign_tag(tag: str, where: str) -> str:
    if not _COSIGN_TAG.match(tag):
        raise ConfigError(f"lock file {where}: signatures: {tag!r} is not a cosign "
                          "sha256-<hex>.sig or .att tag")
    return tag


def _digest(value: object, where: str) -> str:
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise ConfigError(f"lock file {where}: {value!r} is not a sha256 digest")
    return value


def with_platform(image: ImageLock, platforms: frozenset[str]) -> ImageLock:
    """`image` with its pinned platform: the one platform `--platform` names, when it lists it."""
    if len(platforms) != 1 or not image.platforms:
        return image
    (platform,) = platforms
    return image._replace(platform=platform) if platform in image.platforms else image
