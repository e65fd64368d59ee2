"""The values of a rendered stream that name an image to pull: what `not mirrored` reads.

An image-valued place is a key or env variable whose name ends in image (`image`,
`sidecarImage`, `PROXY_IMAGE`, `imageRef`) or a `--…image=` argument, also inside a text value
that is itself JSON or YAML (a sidecar injector's ConfigMap). Only a key named `image` is read
as Kubernetes reads it, a short name meaning Docker Hub (`busybox:1.36`); elsewhere a value
counts when it has a registry or a path (`/`), so `IMAGE_TAG: 1.2` or `imagePullPolicy: Always`
never do. Prose, scripts and annotations are not image-valued: a reference there may be
anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from postrender.errors import ManifestError
from postrender.rewrite.compose import Mapping, Node, Scalar, Sequence, compose, embedded
from postrender.rewrite.places import own_value
from postrender.rewrite.stream import split_documents

# An argument such as `--sidecar-image=quay.io/x:1` (Go's flag package also takes one dash).
_IMAGE_ARGUMENT = re.compile(r"--?(?P<flag>[A-Za-z0-9._-]*image)=(?P<value>\S+)", re.IGNORECASE)
_EMBEDDED_DEPTH = 2  # JSON in a ConfigMap value, and YAML inside that


class ImageValue:
    """One image-valued place's text, and whether a short name there means Docker Hub."""

    __slots__ = ("short_names", "value")

    def __init__(self, value: str, short_names: bool):
        self.value = value
        self.short_names = short_names


# A name that says image at its end (`image`, `sidecarImage`, `PROXY_IMAGE`, `--init-image`),
# maybe with a word for a reference after it (`imageRef`, `IMAGE_NAME`); `imageFile`,
# `imagePullPolicy` or `IMAGE_TAG` name something else.
_IMAGE_NAME = re.compile(r"image(?:[-_.]?(?:ref|reference|name|uri))?\Z", re.IGNORECASE)


def _named_image(name: str) -> bool:
    return _IMAGE_NAME.search(name) is not None


def _place(name: str, value: str) -> ImageValue:
    return ImageValue(value.strip(), name == "image")


def image_values(text: str) -> Iterator[ImageValue]:
    """Every image-valued place of every document of `text`, in order of appearance; a
    document no YAML parser reads is skipped (Helm refuses it before any pull)."""
    for number, (start, end) in enumerate(split_documents(text), start=1):
        try:
            root = compose(text[start:end], number, 1)
        except ManifestError:
            continue
        if root is not None:
            yield from _walk(root, _EMBEDDED_DEPTH)


def _walk(root: Node, depth: int) -> Iterator[ImageValue]:
    seen: set[int] = set()
    stack: list[tuple[Node, str | None]] = [(root, None)]
    while stack:
        node, key = stack.pop()
        if isinstance(node, Scalar):
            yield from _scalar(node.value, key, depth)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Sequence):
            stack.extend((item, None) for item in reversed(node.items))
            continue
        yield from _env(node)
        stack.extend(
            (value, name.value if isinstance(name, Scalar) else None)
            for name, value in reversed(node.pairs)
        )


def _scalar(value: str, key: str | None, depth: int) -> Iterator[ImageValue]:
    if key is not None and _named_image(key):
        yield _place(key, value)
    elif key is None and (argument := _IMAGE_ARGUMENT.fullmatch(value.strip())):
        yield _place(argument["flag"].lower(), argument["value"])
    elif depth:
        for start, end in split_documents(value):  # text may hold several documents
            if (document := embedded(value[start:end])) is not None:
                yield from _walk(document, depth - 1)


def _env(mapping: Mapping) -> Iterator[ImageValue]:
    """`{name: SIDECAR_IMAGE, value: …}`: an env variable whose name says image."""
    name, value = own_value(mapping, "name"), own_value(mapping, "value")
    if name is not None and value is not None and _named_image(name):
        yield ImageValue(value.strip(), False)
