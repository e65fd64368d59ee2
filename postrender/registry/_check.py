"""Ask Harbor whether one reference resolves, and say so in the words a person acts on.

ok: Harbor serves the manifest. missing: Harbor has no such manifest and got none from its
upstream (through a proxy cache that is also what an unreachable upstream or an expired upstream
token looks like: Harbor then answers from its cache alone). unauthorized: Harbor refused our
credentials or has no such project, or (on a blob) the upstream refused the endpoint's.
blocked by policy: the project's own rules refuse the pull (412). upstream error: anything
else (rate limits after retries, 5xx, a 200 that is no manifest, an error answer from the object
store Harbor redirected a blob to).
skipped: an oci:// repository prefix with no version, not a chart. not mirrored: an image on
another registry, which Harbor is never asked for. A reference on Harbor outside the mirror's
project is checked like any other, with a hint, since it is most often a typo.

What Harbor does for each request (goharbor/harbor `src/`): a manifest HEAD through a proxy
project only HEADs the upstream and stores nothing (`controller/proxy/controller.go:
HeadManifest`), but puts the tag on that digest once it is stored (`EnsureTag`, following an
index's trimmed digest); a GET stores the manifest (`ProxyManifest`). An index is fetched by the
digest its HEAD named, as a container runtime does: by tag Harbor answers with an empty
`Docker-Content-Digest` (`server/middleware/repoproxy/proxy.go:proxyManifestGet`), stores the
index under no tag, and keeps its trimmed digest where no `EnsureTag` looks
(`manifestcache.go:ManifestListCache.push`, `cacheTrimmedDigest`), so after `--warm
--platform` the tag would stop resolving when the upstream is down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from postrender.harbor import error_detail, redirect_target
from postrender.registry._client import INDEX_TYPES, RegistryClient, TokenRefused
from postrender.registry._references import Target
from postrender.registry._trust import Trust

OK = "ok"
MISSING = "missing"
UNAUTHORIZED = "unauthorized"
UPSTREAM_ERROR = "upstream error"
SKIPPED = "skipped"
BLOCKED = "blocked by policy"
NOT_MIRRORED = "not mirrored"

UPSTREAM_HINT = (
    "if the project is a proxy cache, Harbor may also have failed to reach or sign in to the "
    "upstream (an outage or an expired upstream token): check the registry endpoint's health "
    "in Harbor (Administration > Registries), or run setup again with a new "
    "HARBOR_MIRROR_UPSTREAM_TOKEN"
)


@dataclass
class Check:
    """The outcome for one target; `warmed`/`cached` count blobs once `--warm` ran."""

    target: Target
    result: str
    digest: str = ""
    media_type: str = ""
    platforms: list[str] = field(default_factory=list)
    detail: str = ""
    warmed_bytes: int = 0
    warmed: int = 0
    cached: int = 0
    index: bytes = b""  # an index as Harbor served it: what its platforms' signatures follow
    trust: dict[str, Trust] = field(default_factory=dict)  # "signature"/"attestation" results

    @property
    def failed(self) -> bool:
        """Harbor will not serve it; a reference that is not Harbor's is only noted."""
        return self.result not in (OK, SKIPPED, NOT_MIRRORED)

    @property
    def noted(self) -> bool:
        """Its detail is worth a line of its own: a failure, an image Harbor does not serve, or
        a reference outside the mirror's project."""
        return self.result not in (OK, SKIPPED) or self.target.outside

    def fail(self, result: str, detail: str) -> None:
        self.result, self.detail = result, detail

    def as_dict(self) -> dict[str, object]:
        return {
            "reference": self.target.reference,
            "repository": self.target.repository,
            "result": self.result,
            "digest": self.digest or None,
            "mediaType": self.media_type or None,
            "platforms": self.platforms,
            "detail": self.detail or None,
            "warm": {"pulled": self.warmed, "cached": self.cached, "bytes": self.warmed_bytes},
            **{kind: trust.as_dict() for kind, trust in self.trust.items()},
        }


def classify(response: httpx.Response, *, anonymous: bool) -> tuple[str, str]:
    """(result, detail) for an error answer; a HEAD has no body, so its status speaks."""
    status = response.status_code
    body = error_detail(response) if response.request.method != "HEAD" else ""
    detail = f"{status} {body}".strip()
    harbor = response.history[0].request.url if response.history else None
    store = redirect_target(response.request.url, harbor) if harbor is not None else None
    if store is not None:  # Harbor on object storage (`storage.redirect`): the store answered
        return UPSTREAM_ERROR, (f"{detail} from {store}: the store refused or failed the "
                                "pre-signed URL (an expired one, clocks apart); check it and "
                                "Harbor's storage settings")
    if status == 404:
        return MISSING, f"{detail}: not in Harbor's project nor its upstream; {UPSTREAM_HINT}"
    if status in (401, 403):
        return UNAUTHORIZED, f"{detail}: {_refused_by(response, anonymous)}"
    if status == 412:  # PROJECTPOLICYVIOLATION: server/middleware/vulnerable, contenttrust
        return BLOCKED, (f"{detail}: the project's policy in Harbor refuses this pull (prevent "
                         "vulnerable images, or signed images only): see the project's "
                         "Configuration in Harbor")
    return UPSTREAM_ERROR, detail


def _refused_by(response: httpx.Response, anonymous: bool) -> str:
    """Who refused. Harbor refuses with a challenge (`Basic realm="harbor"` once a token was
    sent: `server/middleware/v2auth/auth.go:getChallenge`), and an upstream refusal of a
    manifest or tag list never reaches us (Harbor falls back to its cache, `repoproxy/proxy.go:
    handleManifest`); only a blob's is passed on as it is, with no challenge
    (`controller/proxy/controller.go:ProxyBlob`). A project Harbor cannot find is refused with
    an empty challenge (`reqChecker.check`: `projectID` fails before any permission check)."""
    if response.headers.get("www-authenticate") == "":
        project = response.request.url.path.removeprefix("/v2/").partition("/")[0]
        return (f"Harbor has no project {project!r}: check --project (or HARBOR_MIRROR_PROJECT, "
                "or the config file setup wrote)")
    if "/blobs/" in response.request.url.path and "www-authenticate" not in response.headers:
        return ("the upstream refused Harbor's endpoint credentials: give setup a new "
                "HARBOR_MIRROR_UPSTREAM_TOKEN")
    if anonymous:
        return ("Harbor refused an anonymous pull (a private project): give the robot's Secret "
                "with --secret-file or HARBOR_MIRROR_SECRET_FILE")
    return ("Harbor refused these credentials, or they may not pull from the project (a wrong "
            "or rotated robot secret, or an account without pull on it)")


def check(client: RegistryClient, target: Target) -> Check:
    """HEAD the manifest through Harbor; GET an index (by digest) to list its platforms."""
    reference = target.manifest
    try:
        if reference is None:
            return _check_versions(client, target)
        response = client.head_manifest(target.repository, reference)
        digest = response.headers.get("docker-content-digest", "")
        if response.status_code == 200 and response.headers.get("content-type") in INDEX_TYPES:
            response = client.get_manifest(target.repository, digest or reference)
            digest = response.headers.get("docker-content-digest") or digest
    except TokenRefused as refused:
        return Check(target, UNAUTHORIZED, detail=str(refused))
    if response.status_code != 200:
        return _failed(client, target, response)
    media_type = response.headers.get("content-type", "")
    if not digest:  # every registry names the manifest it serves; a web page does not
        detail = f"200 {media_type or 'without Content-Type'}, not a manifest: is the host Harbor?"
        return Check(target, UPSTREAM_ERROR, detail=detail)
    result = Check(target, OK, digest, media_type)
    if media_type in INDEX_TYPES:
        listed = platforms(response.content)
        if listed is None:
            return Check(target, UPSTREAM_ERROR, digest, media_type,
                         detail=f"200 {media_type}, but {digest} is no JSON index")
        result.platforms, result.index = listed, response.content
    return result


def _failed(client: RegistryClient, target: Target, response: httpx.Response) -> Check:
    result, detail = classify(response, anonymous=client.anonymous)
    return Check(target, result, detail=detail)


def _check_versions(client: RegistryClient, target: Target) -> Check:
    """A chart URL without a version: a chart lists its versions.

    A proxy project lists local and upstream tags and answers 200 with none for a repository
    the upstream lacks (`server/middleware/repoproxy/tag.go:TagsListMiddleware`); a plain
    project answers 404. Either way no versions means a repository prefix (`target.prefix`,
    as a Flux HelmRepository names one: skipped) or no chart there (missing).
    """
    response = client.tags(target.repository)
    if response.status_code not in (200, 404):
        return _failed(client, target, response)
    tags: list[Any] = []
    if response.status_code == 200:
        body = json_object(response.content)
        listed = body.get("tags") if body is not None else None
        if body is None or not isinstance(listed, list | None):
            return Check(target, UPSTREAM_ERROR,
                         detail="200, but the tag list is not a JSON object with a tags list")
        tags = listed or []
    if tags:
        return Check(target, OK, detail=f"{len(tags)} versions listed")
    if target.prefix:
        return Check(target, SKIPPED, detail="no versions listed: a chart repository prefix")
    return Check(target, MISSING, detail=f"no versions listed: no chart here; {UPSTREAM_HINT}")


def outside_project(result: Check, project: str) -> Check:
    """A reference on Harbor outside the mirror's project: checked all the same (another
    project may serve it), and said so, as a one-letter typo in a chart's registry value
    looks exactly like this."""
    theirs = result.target.repository.partition("/")[0]
    hint = (f"{theirs!r} is not the mirror's project ({project!r}): check the chart's registry "
            "value (global.imageRegistry) and --project")
    result.detail = f"{hint}; {result.detail}" if result.detail else hint
    return result


def not_mirrored(target: Target) -> Check:
    """An image on a registry that is neither Harbor nor the upstream: nobody asks Harbor."""
    registry = target.repository.partition("/")[0]
    return Check(target, NOT_MIRRORED, detail=(
        f"{registry} is neither Harbor nor the upstream: the cluster pulls it from there, "
        "not through Harbor (--strict fails on it)"
    ))


def json_object(content: bytes) -> dict[str, Any] | None:
    """`content` as a JSON object, or None when it is not one (a proxy's page, a cut body)."""
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: `[[[[…` nested
        return None
    return value if isinstance(value, dict) else None


def platforms(index: bytes) -> list[str] | None:
    """`os/arch[/variant]` of every manifest an index lists; None when it is not an index."""
    body = json_object(index)
    entries = body.get("manifests") if body is not None else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    return [platform_of(entry) for entry in entries]


def platform_of(entry: dict[str, Any]) -> str:
    """`os/arch[/variant]` of one entry of an index."""
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return ""
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(part for part in parts if isinstance(part, str) and part)
