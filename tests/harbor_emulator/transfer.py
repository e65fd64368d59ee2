"""What a pull-replication run does against the upstream: list, filter, flatten, copy.

Talks to the upstream registry for real (the catalog unless the name filter is specific, as
`pattern.py` judges it; tag lists), and really copies: every selected tag's manifest (an index
with its child manifests), and every blob they name, into the destination project's content
in `store.py`, where `/v2/` serves it
(`controller/replication/transfer/image/transfer.go:transfer.copy`, `copyArtifact`,
`copyContent`). A missing repository fails the run; a broken manifest or blob fails its task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from .pattern import specific_path
from .remote import Endpoint, UpstreamFailure, fetch, manifest_of
from .store import Content, Manifest

_LOG = "/controller/replication/transfer/image/transfer.go"


class UpstreamError(Exception):
    """Listing the source failed: the whole execution fails with this as its status text."""


@dataclass(frozen=True)
class Copy:
    """One repository's copy (a task), and how it went."""

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


def replace_namespace(repo: str, namespace: str, count: int) -> str:
    """`flow/stage.go:replaceNamespace`: -1 keeps the last component, N drops the first N."""
    if not namespace:
        return repo
    parts = repo.split("/")
    if count < 0:
        return f"{namespace}/{parts[-1]}"
    if count > len(parts) - 1:
        shown = "[" + " ".join(parts[:-1]) + "]"
        raise ValueError(
            f'the source repository "{repo}" contains only {len(parts) - 1} path components '
            f"{shown} excepting the last one, but the destination namespace flattening level "
            f"is {count}"
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
    """`native/adapter.go:listRepositories`: the names a specific filter gives, else the whole
    catalog; either way filtered by the pattern (`filter.DoFilterRepositories`)."""
    names = specific_path(name_filter)
    if names is not None:
        return [name for name in names if matches(name_filter, name)]
    names = []
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


def plan(endpoint: Endpoint, filters: list[dict[str, object]]) -> list[tuple[str, list[str]]]:
    """The repositories the filters select upstream, each with its selected tags."""
    name_filter, tag_filter, excludes = "**", "**", False
    for item in filters:
        if item.get("type") == "name":
            name_filter = str(item.get("value") or "**")
        elif item.get("type") == "tag":
            tag_filter = str(item.get("value") or "**")
            excludes = item.get("decoration") == "excludes"
    with endpoint.client() as client:
        selected = [
            (repo, _tags(client, repo, tag_filter, excludes))
            for repo in _repositories(client, name_filter)
        ]
    return [(repo, tags) for repo, tags in selected if tags]


def resource_name(repo: str, tags: list[str]) -> str:
    """`flow/stage.go:getResourceName`: how a task names what it copies."""
    return f"{repo} [{len(tags)} item(s) in total]"


class _Copier:
    """One task's copy from the upstream into a project's content, with Harbor's log lines."""

    def __init__(self, endpoint: Endpoint, content: Content, timestamp: str) -> None:
        self.endpoint = endpoint
        self.content = content
        self.timestamp = timestamp
        self.lines: list[str] = []

    def log(self, level: str, line: int, text: str) -> None:
        self.lines.append(f"{self.timestamp} [{level}] [{_LOG}:{line}]: {text}")

    def artifact(self, repo: str, reference: str, dst_repo: str) -> None:
        """`copyArtifact`: the manifest, what it references (children, blobs), then its push."""
        self.log("INFO", 211, f"copying {repo}:{reference}(source registry) to "
                 f"{dst_repo}:{reference}(destination registry)...")  # fmt: skip
        self.log("INFO", 465, f"pulling the manifest of artifact {repo}:{reference} ...")
        try:
            manifest = manifest_of(fetch(self.endpoint, "GET", f"/v2/{repo}/manifests/{reference}"))
        except UpstreamFailure as failure:
            raise _Failed(
                468, f"failed to pull the manifest of artifact {repo}:{reference}: "
                f"{_detail(failure)}",
            ) from None  # fmt: skip
        self.log("INFO", 471, f"the manifest of artifact {repo}:{reference} pulled")
        for child in manifest.children():
            self.artifact(repo, str(child["digest"]), dst_repo)
        for digest in manifest.blobs():
            self.blob(repo, digest)
        self.push(dst_repo, reference, manifest)

    def blob(self, repo: str, digest: str) -> None:
        if digest in self.content.blobs:
            self.log(
                "INFO", 340, f"the blob {digest} already exists on the destination registry, skip"
            )
            return
        self.log("INFO", 290, f"copying the blob {digest}(the 1th running)...")
        try:
            body = fetch(self.endpoint, "GET", f"/v2/{repo}/blobs/{digest}").content
        except UpstreamFailure as failure:
            raise _Failed(380, f"failed to pulling the blob {digest}: {_detail(failure)}") from None
        self.content.blobs[digest] = body
        self.log("INFO", 292, f"copy the blob {digest} completed")

    def push(self, dst_repo: str, reference: str, manifest: Manifest) -> None:
        self.log("INFO", 494, f"pushing the manifest of artifact {dst_repo}:{reference} ...")
        tag = None if reference.startswith("sha256:") else reference
        self.content.put_manifest(dst_repo, manifest, tag)
        self.log("INFO", 506, f"the manifest of artifact {dst_repo}:{reference} pushed")


class _Failed(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _detail(failure: UpstreamFailure) -> str:
    if failure.status is None:
        return "failed to reach the source registry"
    return f"http status code: {failure.status}, body: {failure.body.strip()}"


def copy(
    endpoint: Endpoint,
    repo: str,
    tags: list[str],
    dst: str,
    content: Content,
    timestamp: str,
    *,
    failing: frozenset[str] = frozenset(),
) -> Copy:
    """`transfer.copy`: every tag of one repository; any failed tag fails the task.

    `dst` is `<project>/<repository>`; `content` is that project's. Tags in `failing` fail as
    the test injected (`HarborEmulator.fail_copies`), whatever the upstream says.
    """
    copier = _Copier(endpoint, content, timestamp)
    dst_repo = dst.partition("/")[2]
    shown = ",".join(tags)
    copier.log("INFO", 140, f"client for source registry [type: docker-registry, URL: "
               f"{endpoint.url}, insecure: {str(endpoint.insecure).lower()}] created")  # fmt: skip
    copier.log("INFO", 150, "client for destination registry [type: harbor, URL: "
               "http://core:8080, insecure: true] created")  # fmt: skip
    copier.log("INFO", 183, f"copying {repo}:[{shown}](source registry) to "
               f"{dst}:[{shown}](destination registry)...")  # fmt: skip
    failed = False
    for tag in tags:
        try:
            if tag in failing:
                raise _Failed(195, f"failure injected by the test (HarborEmulator.fail_copies) "
                              f"for {repo}:{tag}")  # fmt: skip
            copier.artifact(repo, tag, dst_repo)
            copier.log("INFO", 254, f"copy {repo}:{tag}(source registry) to "
                       f"{dst}:{tag}(destination registry) completed")  # fmt: skip
        except _Failed as error:
            copier.log("ERROR", error.line, error.message)
            failed = True
    if failed:
        copier.log("ERROR", 200, "got error during the whole transfer period, mark the job failure")
    else:
        copier.log("INFO", 205, f"copy {repo}:[{shown}](source registry) to "
                   f"{dst}:[{shown}](destination registry) completed")  # fmt: skip
    return Copy(
        resource_name(repo, tags), resource_name(dst, tags), not failed,
        "\n".join(copier.lines) + "\n",
    )  # fmt: skip
