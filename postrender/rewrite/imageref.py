"""Image-reference grammar (distribution/reference), kept free of YAML: parse, format, find a host.

`find_host` is what the rewrite uses: it finds `HOST/` where HOST stands alone as the domain of
a reference, so `notdp.apps.rancher.io/x` and `dp.apps.rancher.io.evil/x` never match.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
_DOMAIN_ONLY = re.compile(_DOMAIN)
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_SUPPORTED_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NAME_MAX = 255

# What may stand right before a reference's domain: anything that cannot continue a host name
# or a path, or a registry URL scheme.
_LEFT_BOUNDARY = r"(?:^|(?<=[^A-Za-z0-9._/-])|(?<=oci://)|(?<=docker://))"
# RFC 3986 userinfo: the credentials a URL may carry before its host; with an `oci://` URL's
# host they go (they are the upstream's), and any URL's are hidden where we show a value.
_USERINFO_CHARACTERS = r"[A-Za-z0-9._~%!$&'()*+,;=:-]+@"
_USERINFO = f"(?:(?<=oci://){_USERINFO_CHARACTERS})?"
# Also after `:\/\/`, as JSON may escape the slashes of a URL in a text value.
_CREDENTIALS = re.compile(r"(?:(?<=://)|(?<=:\\/\\/))" + _USERINFO_CHARACTERS)
_HAS_PORT = re.compile(r":[0-9]+\Z")


class Reference(NamedTuple):
    """A parsed reference; `str()` gives back exactly what was parsed."""

    domain: str | None
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.name}{tag}{digest}"


def reads_as_registry_host(first: str) -> bool:
    """Whether a reference's first component is its registry host (distribution's
    `splitDockerDomain`): with a `.` or `:`, as `localhost`, or with upper case; otherwise the
    reference means Docker Hub."""
    return "." in first or ":" in first or first == "localhost" or first != first.lower()


def is_domain(text: str) -> bool:
    """Whether `text` is a reference's domain as the grammar writes it: `HOST[:PORT]`."""
    return _DOMAIN_ONLY.fullmatch(text) is not None


def is_path(text: str) -> bool:
    """Whether `text` is a reference path (`component[/component…]`, lower case)."""
    return _PATH.fullmatch(text) is not None


def _split_domain(name: str) -> tuple[str | None, str]:
    """The first component is a domain only with a `.` or `:`, as `localhost`, or in uppercase."""
    first, slash, rest = name.partition("/")
    if slash and reads_as_registry_host(first) and _DOMAIN_ONLY.fullmatch(first):
        return first, rest
    return None, name


def parse(text: str) -> Reference:
    """Parse a reference the way distribution's `reference.Parse` does; ValueError says why not."""
    if not text:
        raise ValueError("repository name must have at least one component")
    match = _REFERENCE.fullmatch(text)
    if match is None:
        if text.lower() != text and _REFERENCE.fullmatch(text.lower()):
            raise ValueError("repository name must be lowercase")
        raise ValueError("invalid reference format")
    domain, path = _split_domain(match["name"])
    if domain is None and path != path.lower():
        raise ValueError("repository name must be lowercase")
    if len(path) > NAME_MAX:
        raise ValueError(f"repository name must not be more than {NAME_MAX} characters")
    digest = match["digest"]
    if digest is not None and not _SUPPORTED_DIGEST.fullmatch(digest):
        if digest.startswith("sha256:"):
            raise ValueError("invalid checksum digest length")
        raise ValueError("unsupported digest algorithm")
    return Reference(domain, path, match["tag"], digest)


@lru_cache(maxsize=16)
def host_pattern(host: str) -> re.Pattern[str]:
    """`host` in any ASCII letter case (DNS folds no other letters), as the domain of a
    reference (then `/` and a path): a long s or a dotless i makes another host. Other
    spellings of the same registry match with it: `:443` (the port HTTPS has when none is
    given) and, after `oci://`, the credentials of a URL (`user:pass@`)."""
    default_port = "" if _HAS_PORT.search(host) else "(?::443)?"
    return re.compile(
        _LEFT_BOUNDARY + _USERINFO + f"(?ai:{re.escape(host)}){default_port}" + r"(?=/[a-z0-9])"
    )


@lru_cache(maxsize=16)
def alone_pattern(host: str) -> re.Pattern[str]:
    """`host` as a whole value (a registry setting of its own): any ASCII letter case, `:443`
    and a trailing `/` allowed, nothing else around it."""
    default_port = "" if _HAS_PORT.search(host) else "(?::443)?"
    return re.compile(f"(?ai:{re.escape(host)}){default_port}/?")


@lru_cache(maxsize=16)
def mention_pattern(host: str) -> re.Pattern[str]:
    """`host` standing alone as a host name anywhere (also with a port or bare): for --strict."""
    return re.compile(_LEFT_BOUNDARY + f"(?ai:{re.escape(host)})" + r"(?![A-Za-z0-9.-])")


def path_after(text: str, start: int) -> str:
    """The reference path that starts at `text[start]` (empty if none)."""
    match = _PATH.match(text, start)
    return match[0] if match else ""


def find_host(text: str, host: str) -> list[tuple[int, int]]:
    """`(start, end)` of the domain of every reference in `text` on `host` (however spelled)."""
    return [match.span() for match in host_pattern(host).finditer(text)]


def replace_host(text: str, host: str, prefix: str) -> str:
    """Replace the domain `host` of every reference in `text` with `prefix`, credentials and a
    default port with it; all else kept."""
    return host_pattern(host).sub(lambda _: prefix, text)


def hide_credentials(text: str) -> str:
    """`text` with the credentials of every `scheme://user:pass@host` URL shown as `***`."""
    if "@" not in text:
        return text
    return _CREDENTIALS.sub("***@", text)
