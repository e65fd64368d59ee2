"""The post-renderer's rewrites as a kustomize overlay, for engines that only run kustomize.

Fleet, Flux and Argo CD's kustomize cannot run a program after Helm, but they all run
kustomize's `images:` and `patches:` over the rendered chart. The engine computes the rewrites;
this module only sorts them: a rewrite kustomize's images transformer makes by itself becomes an
`images:` entry (keyed by repository, so it survives tag bumps), every other one an exact
JSON6902 patch whose `test` op makes a stale patch fail loudly instead of pinning old values.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from postrender.errors import ManifestError
from postrender.gitops.expanded import every_place
from postrender.rewrite.imageref import hide_credentials
from postrender.rewrite.pin import Pin, pin, pin_rewrites
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import Rewrite, rewrite_stream, split_documents
from postrender.rewrite.yamlpath import from_pointer

KUSTOMIZATION_API = "kustomize.config.k8s.io/v1beta1"

# kustomize's image value grammar (api/internal/image): a tag of these characters, then a digest.
_TAG_DIGEST = re.compile(r"(:[a-zA-Z0-9_.{}-]*)?(@[a-zA-Z][a-zA-Z0-9]*:[a-zA-Z0-9_.{}-]*)?")
# What Go's regexp reads as syntax in a selector name (kustomize anchors and compiles it).
_REGEX_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")
# Where kustomize's images transformer looks besides any `containers`/`initContainers` list.
_VOLUME_IMAGE_PARENTS = (("spec", "volumes"), ("spec", "template", "spec", "volumes"))
# kustomize's name-reference transformer walks `imagePullSecrets[].name` in these kinds and
# fails on a bare-string entry ("expected sequence or mapping node").
_PULL_SECRET_PATHS: dict[str, tuple[str, ...]] = {
    "ServiceAccount": ("imagePullSecrets",),
    "Pod": ("spec", "imagePullSecrets"),
    "PodTemplate": ("template", "spec", "imagePullSecrets"),
    **{
        kind: ("spec", "template", "spec", "imagePullSecrets")
        for kind in ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job")
    },
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec", "imagePullSecrets"),
}


class Overlay(NamedTuple):
    """What a kustomization needs to turn the rendered chart into the post-renderer's output."""

    images: list[dict[str, str]]
    patches: list[dict[str, Any]]
    not_pinned: tuple[str, ...] = ()  # with a lock: the values that cannot carry a digest

    def transformers(self) -> dict[str, Any]:
        """`images:` and `patches:`, the part Flux's postRenderers[].kustomize takes as is."""
        body: dict[str, Any] = {}
        if self.images:
            body["images"] = self.images
        if self.patches:
            body["patches"] = self.patches
        return body

    def kustomization(self) -> dict[str, Any]:
        """A kustomization with no `resources:`: the engine supplies the rendered chart."""
        return {"apiVersion": KUSTOMIZATION_API, "kind": "Kustomization", **self.transformers()}


def build(
    text: str, rules: Rules, *, strict: bool = False, pins: Mapping[str, Pin] | None = None,
    lock: str = "",
) -> Overlay:
    """The overlay equivalent to `harbor-mirror postrender` on the rendered stream `text`
    (with `pins`, read from the lock file `lock`, to `postrender --lock`)."""
    result = rewrite_stream(text, rules, strict=strict)  # its errors come first
    rewrites, after = result.rewrites, result.text
    not_pinned: list[str] = []
    if pins is not None:
        rewrites, not_pinned = pin_rewrites(rewrites, rules.mirror, pins, where=lock)
        after = pin(after, rules.mirror, pins, where=lock).text
    documents = _Documents(text)
    documents.refuse_bare_pull_secrets()
    images: dict[str, str] = {}
    by_document: dict[int, list[Rewrite]] = {}
    for rewrite in _at_every_place(rewrites, documents, _Documents(after)):
        _refuse_secret_data(rewrite)
        entry = _image_entry(rewrite, rules)
        if entry is not None:
            images[entry[0]] = entry[1]
        else:
            by_document.setdefault(rewrite.document, []).append(rewrite)
    patches = [
        {"target": _target(changes[0]), "patch": _ops_text(_ops(changes, documents))}
        for changes in by_document.values()
    ]
    return Overlay([{"name": name, "newName": images[name]} for name in sorted(images)], patches,
                   tuple(not_pinned))


def _at_every_place(
    rewrites: list[Rewrite], before: _Documents, after: _Documents
) -> Iterator[Rewrite]:
    """The engine's rewrites, and in a document with anchors also each place an alias or a
    `<<` merge repeats a changed value: kustomize patches the document expanded."""
    by_document: dict[int, list[Rewrite]] = {}
    for rewrite in rewrites:
        by_document.setdefault(rewrite.document, []).append(rewrite)
    for number, changes in by_document.items():
        if "&" not in before.text_of(number):  # no anchor, so no alias: one place each
            yield from changes
        else:
            yield from every_place(changes, before.load(number), after.load(number))


def _refuse_secret_data(rewrite: Rewrite) -> None:
    """A patch carries old and new values, so one on a Secret's data would put the Secret's
    content (registry credentials, for a pull secret) into a file meant for Git."""
    if rewrite.kind == "Secret" and rewrite.pointer.startswith(("/data/", "/stringData/")):
        raise ManifestError(
            f"Secret/{rewrite.name} {rewrite.path} would need a patch holding the Secret's "
            "content, and the overlay is a file for Git; render the chart without that Secret "
            "and create the Harbor pull secret outside it (setup --secret-out writes one)",
            document=rewrite.document,
        )


def _images_field(kind: str | None, parts: tuple[str, ...]) -> bool:
    """Does kustomize's images transformer visit this field (it never touches a CRD)?"""
    if kind == "CustomResourceDefinition" or len(parts) < 3:
        return False
    if parts[-1] == "image" and parts[-2].isdigit():
        return parts[-3] in ("containers", "initContainers")
    return (
        parts[-2:] == ("image", "reference")
        and parts[-3].isdigit()
        and parts[:-3] in _VOLUME_IMAGE_PARENTS
    )


def _image_entry(rewrite: Rewrite, rules: Rules) -> tuple[str, str] | None:
    """`(name, newName)` when an `images:` entry makes exactly this rewrite, else None."""
    if rewrite.after is None or not _images_field(rewrite.kind, from_pointer(rewrite.pointer)):
        return None
    name, tag, digest = _kustomize_split(rewrite.before)
    mirror = rules.mirror
    if not name.startswith(mirror.upstream + "/"):
        return None
    if _TAG_DIGEST.fullmatch(rewrite.before[len(name):]) is None:
        return None
    new_name = mirror.target_prefix + name[len(mirror.upstream):]
    made = new_name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return (name, new_name) if made == rewrite.after else None


def _kustomize_split(value: str) -> tuple[str, str, str]:
    """Name, tag and digest the way kustomize splits an image value (after the first `/`)."""
    slash = max(value.find("/"), 0)
    at, colon = value.find("@", slash), value.find(":", slash)
    if at < 0 and colon < 0:
        return value, "", ""
    if at >= 0 and (colon < 0 or at < colon):
        return value[:at], "", value[at + 1 :]
    if at >= 0:
        return value[:colon], value[colon + 1 : at], value[at + 1 :]
    return value[:colon], value[colon + 1 :], ""


def _target(rewrite: Rewrite) -> dict[str, str]:
    """Select the one document by group/version/kind/name (and namespace when it has one)."""
    if not rewrite.kind or not rewrite.name or not rewrite.api_version:
        raise ManifestError(
            "no apiVersion, kind or metadata.name, so no kustomize patch can target it",
            document=rewrite.document,
        )
    group, _, version = rewrite.api_version.rpartition("/")
    target = {"group": group, "version": version, "kind": rewrite.kind}
    # kustomize reads selector names as anchored regular expressions: a name that does not match
    # itself (`a+b`) would leave its patch silently unapplied.
    target["name"] = _REGEX_SPECIAL.sub(r"\\\g<0>", rewrite.name)
    if rewrite.namespace:
        target["namespace"] = rewrite.namespace
    return {key: value for key, value in target.items() if value}


def _ops(changes: list[Rewrite], documents: _Documents) -> Iterator[dict[str, Any]]:
    """Replacements in document order, then removals from the back so indexes stay valid."""
    for change in changes:
        if change.after is not None:
            if hide_credentials(change.before) == change.before:  # a password stays out of Git
                yield {"op": "test", "path": change.pointer, "value": change.before}
            yield {"op": "replace", "path": change.pointer, "value": change.after}
    removals = [change for change in changes if change.after is None]
    removals.sort(key=lambda change: from_pointer(change.pointer)[-1].zfill(12), reverse=True)
    for change in removals:
        entry = documents.value_at(change.document, from_pointer(change.pointer))
        yield {"op": "test", "path": change.pointer, "value": entry}
        yield {"op": "remove", "path": change.pointer}


def _ops_text(ops: Iterator[dict[str, Any]]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 1 << 16  # one op value per line, never folded
    out = io.StringIO()
    yaml.dump(list(ops), out)
    return out.getvalue()


class _Documents:
    """The rendered stream's documents, parsed as data only where the overlay needs a look."""

    def __init__(self, text: str):
        self.text = text
        self.spans = split_documents(text)
        self.loaded: dict[int, Any] = {}

    def text_of(self, number: int) -> str:
        start, end = self.spans[number - 1]
        return self.text[start:end]

    def load(self, number: int) -> Any:
        if number not in self.loaded:
            from ruamel.yaml import YAML
            from ruamel.yaml.error import YAMLError

            start, end = self.spans[number - 1]
            try:
                self.loaded[number] = YAML(typ="safe").load(self.text[start:end])
            except YAMLError as exc:  # composed by the engine, but not data (a duplicate key)
                mark = getattr(exc, "problem_mark", None)
                line = self.text.count("\n", 0, start) + 1 + mark.line if mark else None
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise ManifestError(
                    f"kustomize cannot load it either: {problem}", document=number, line=line
                ) from None
        return self.loaded[number]

    def value_at(self, number: int, parts: tuple[str, ...]) -> Any:
        node = self.load(number)
        for part in parts:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def refuse_bare_pull_secrets(self) -> None:
        """kustomize refuses `imagePullSecrets: [name]` in built-in kinds: say so up front."""
        for number, (start, end) in enumerate(self.spans, start=1):
            if "imagePullSecrets" not in self.text[start:end]:
                continue
            document = self.load(number)
            if not isinstance(document, dict):
                continue
            path = _PULL_SECRET_PATHS.get(str(document.get("kind")))
            entries = _get(document, path) if path else None
            if not isinstance(entries, list):
                continue
            for index, entry in enumerate(entries):
                if isinstance(entry, str):
                    name = (document.get("metadata") or {}).get("name")
                    raise ManifestError(
                        f"{document['kind']}/{name} {'.'.join(path or ())}[{index}] is a bare "
                        "string; kustomize (Fleet, Flux, Argo CD) refuses it, so render the chart "
                        "with {name: ...} pull-secret entries",
                        document=number,
                    )


def _get(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = document
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
