"""What a pull-replication run does against the upstream: list, filter, flatten, copy.

Talks to the upstream registry for real (catalog only for wildcard names, tag lists, manifest
HEADs), so a missing repository or a broken manifest upstream fails the run like it would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from .registries import Endpoint

_WILDCARD = re.compile(r"[*?\[\]^\\]")
_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


class UpstreamError(Exception):
    """Listing the source failed: the whole execution fails with this as its status text."""


@dataclass(frozen=True)
class Copy:
    """One artifact to copy, and how it went."""

    src_resource: str
    dst_resource: str
    ok: bool
    log: str


def glob_regex(pattern: str) -> str:
    """Doublestar as Harbor uses it: `**` crosses `/`, `*` and `?` do not, `{a,b}` alternates."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            out.append(
                "(?:" + "|".join(glob_regex(a) for a in pattern[i + 1 : end].split(",")) + ")"
            )
            i = end + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(glob_regex(pattern), value) is not None


def expand_braces(pattern: str) -> list[str]:
    """`containers/{etcd,redis}` → both names: a specific path, so no `_catalog` is needed."""
    start = pattern.find("{")
    if start < 0 or "}" not in pattern[start:]:
        return [pattern]
    end = pattern.index("}", start)
    head, tail = pattern[:start], pattern[end + 1 :]
    return [
        name
        for alt in pattern[start + 1 : end].split(",")
        for name in expand_braces(head + alt + tail)
    ]


def replace_namespace(repo: str, namespace: str, count: int) -> str:
    """`dest_namespace_replace_count`: -1 keeps the last component, N drops the first N."""
    if not namespace:
        return repo
    parts = repo.split("/")
    if count == -1:
        return f"{namespace}/{parts[-1]}"
    if count >= len(parts):
        raise ValueError(
            f"the source repository {repo!r} has {len(parts)} components, "
            f"cannot replace {count} of them"
        )
    return "/".join([namespace, *parts[count:]])


def _listing(client: httpx.Client, url: str, what: str) -> httpx.Response:
    """GET a listing; a network error or any status but 200 fails the whole run."""
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"failed to reach the source registry: {exc}") from exc
    if response.status_code != 200:
        raise UpstreamError(
            f"failed to list {what}: "
            f"http status code: {response.status_code}, body: {response.text.strip()}"
        )
    return response


def _repositories(client: httpx.Client, name_filter: str) -> list[str]:
    if not _WILDCARD.search(name_filter):
        return expand_braces(name_filter)
    names: list[str] = []
    url: str | None = "/v2/_catalog?n=100"
    while url:
        response = _listing(client, url, "the repositories of the source registry")
        names.extend(response.json().get("repositories") or [])
        link = response.headers.get("link", "")
        found = re.match(r"<([^>]+)>", link)
        url = found.group(1) if found else None
    return [name for name in names if matches(name_filter, name)]


def _tags(client: httpx.Client, repo: str, tag_filter: str, excludes: bool) -> list[str]:
    response = _listing(client, f"/v2/{repo}/tags/list", f"the tags of repository {repo}")
    tags = response.json().get("tags") or []
    return [tag for tag in tags if matches(tag_filter, tag) != excludes]


def plan(endpoint: Endpoint, filters: list[dict[str, object]]) -> list[tuple[str, str]]:
    """The (repository, tag) pairs the filters select upstream."""
    name_filter, tag_filter, excludes = "**", "**", False
    for item in filters:
        if item.get("type") == "name":
            name_filter = str(item.get("value") or "**")
        elif item.get("type") == "tag":
            tag_filter = str(item.get("value") or "**")
            excludes = item.get("decoration") == "excludes"
    with endpoint.client() as client:
        return [
            (repo, tag)
            for repo in _repositories(client, name_filter)
            for tag in _tags(client, repo, tag_filter, excludes)
        ]


def copy(
    endpoint: Endpoint, repo: str, tag: str, dst_repo: str, timestamp: str, *, injected: bool
) -> Copy:
    """Fetch the manifest upstream; anything but 200 (or an injected failure) fails the task."""
    src, dst = f"{repo}:[{tag}]", f"{dst_repo}:[{tag}]"
    lines = [
        f"{timestamp} [INFO] [/controller/replication/transfer/image/transfer.go:90]: "
        f"client for source registry [type: docker-registry, URL: {endpoint.url}, "
        f"insecure: {str(endpoint.insecure).lower()}] created",
        f"{timestamp} [INFO] [/controller/replication/transfer/image/transfer.go:176]: "
        f"copying {src}(source registry) to {dst}(destination registry)...",
    ]
    try:
        with endpoint.client() as client:
            url = f"/v2/{repo}/manifests/{tag}"
            status = client.head(url, headers={"Accept": _MANIFEST_TYPES}).status_code
    except httpx.HTTPError as exc:
        status, detail = 0, str(exc)
    else:
        detail = f"http status code: {status}"
    if injected:
        status, detail = 0, "failure injected by the test (HarborEmulator.fail_copies)"
    if status == 200:
        lines.append(
            f"{timestamp} [INFO] [/controller/replication/transfer/image/transfer.go:402]: "
            f"copy {src}(source registry) to {dst}(destination registry) completed"
        )
        return Copy(src, dst, True, "\n".join(lines) + "\n")
    lines.append(
        f"{timestamp} [ERROR] [/controller/replication/transfer/image/transfer.go:420]: "
        f"failed to pull the manifest of artifact {repo}:{tag}: {detail}"
    )
    return Copy(src, dst, False, "\n".join(lines) + "\n")
