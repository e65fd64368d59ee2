"""What a Harbor project already holds under given tags, by digest: what a planned replication
still has to copy, and whose signature tags it can name."""

from __future__ import annotations

from collections.abc import Sequence

from postrender.endpoint import Endpoint
from postrender.errors import HarborError
from postrender.registry._access import registry_client
from postrender.registry._check import classify, json_object
from postrender.registry._client import INDEX_TYPES, RegistryClient, TokenRefused

Artifact = tuple[str, str]  # (repository with the project, tag)


def held(endpoint: Endpoint, artifacts: Sequence[Artifact]) -> dict[Artifact, list[str]]:
    """Each artifact's digests in Harbor, the tag's own first and then an index's platform
    manifests; [] where Harbor answers 404. Any other answer is an error: the plan would be
    read wrong."""
    client = registry_client(endpoint)
    try:
        return {artifact: _digests(client, *artifact) for artifact in artifacts}
    except TokenRefused as refused:
        raise HarborError(f"Harbor's registry refused setup's credentials: {refused}") from None
    finally:
        client.close()


def _digests(client: RegistryClient, repository: str, tag: str) -> list[str]:
    response = client.head_manifest(repository, tag)
    if response.status_code == 404:
        return []
    digest = response.headers.get("docker-content-digest", "")
    if response.status_code != 200 or not digest:
        _, detail = classify(response, anonymous=client.anonymous)
        raise HarborError(f"cannot tell whether Harbor holds {repository}:{tag}: {detail}")
    if response.headers.get("content-type") not in INDEX_TYPES:
        return [digest]
    index = json_object(client.get_manifest(repository, digest).content) or {}
    children = index.get("manifests")
    listed = children if isinstance(children, list) else []
    return [digest, *(str(m["digest"]) for m in listed if isinstance(m, dict) and "digest" in m)]
