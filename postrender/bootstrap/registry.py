"""Step 2: the registry endpoint Harbor pulls from, with the upstream username and token."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, TextIO

from postrender.bootstrap.created import create_once, found_again
from postrender.bootstrap.outcome import Outcome, report, warn
from postrender.bootstrap.plan import Plan
from postrender.errors import ConfigError, HarborAPIError, HarborConflict
from postrender.harbor import HarborClient, Registry

REGISTRY_TYPE = "docker-registry"
_DESCRIPTION = "SUSE Application Collection, managed by helm-harbor-mirror"
_FINGERPRINT = re.compile(r"token fingerprint ([0-9a-f]{16})")
_SHOWN = {"url": "url", "access_key": "username", "access_secret": "token"}
_UNHEALTHY_NOW = (
    "Harbor last found registry endpoint {subject!r} unhealthy, so proxied pulls fail until it "
    "recovers; if the upstream token expired, re-run setup with a new HARBOR_MIRROR_UPSTREAM_TOKEN"
)


def token_fingerprint(username: str, token: str) -> str:
    """Harbor never returns the stored token; this keyed digest tells whether a supplied one is new.

    16 hex digits of HMAC-SHA256 keyed by the username: it cannot be turned back into the token
    and differs between accounts, yet a re-run with the same token changes nothing.
    """
    key = f"helm-harbor-mirror:{username}".encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:16]


def _description(username: str, token: str) -> str:
    return f"{_DESCRIPTION} (token fingerprint {token_fingerprint(username, token)})"


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def _unhealthy_hint(plan: Plan) -> str:
    return (
        f"Harbor could not sign in to {plan.upstream_url}/v2/ with the upstream username and "
        "token, or does not trust its TLS certificate: check --upstream-username and "
        "HARBOR_MIRROR_UPSTREAM_TOKEN, that Harbor can reach that URL, and, behind a "
        "TLS-inspecting proxy, the endpoint's certificate settings in Harbor"
    )


def _changes(existing: Registry, plan: Plan) -> dict[str, Any]:
    """The flat RegistryUpdate fields that differ from what is wanted (the secret only when
    new, or with a new URL). `insecure` is the admin's: turning certificate checks off is how
    Harbor reaches an upstream through a TLS-inspecting proxy, and turning them back on fails
    Harbor's health check (`controller/registry/controller.go:validate`)."""
    if existing.type != REGISTRY_TYPE:
        raise HarborConflict(
            f"registry endpoint {existing.name!r} exists with type {existing.type!r}, and "
            f"Harbor cannot change an endpoint's type: choose another --registry-name, or "
            f"delete that endpoint in Harbor first"
        )
    changes: dict[str, Any] = {}
    if not _same_url(existing.url, plan.upstream_url):
        if plan.upstream_token is None:
            raise ConfigError(
                f"moving registry endpoint {existing.name!r} to {plan.upstream_url} needs the "
                "upstream access token again (HARBOR_MIRROR_UPSTREAM_TOKEN, or run in a terminal "
                "to be asked): Harbor clears the stored token when the URL changes without one"
            )
        changes["url"] = plan.upstream_url
    username = plan.upstream_username or existing.access_key
    if username != existing.access_key:
        changes["access_key"] = username
    if plan.upstream_token is not None:
        stored = _FINGERPRINT.search(existing.description)
        wanted = token_fingerprint(username, plan.upstream_token)
        # Harbor's `main` (handler/registry.go:UpdateRegistry) drops the stored secret when
        # the URL changes and none is sent, so a new URL always goes with the token.
        if "url" in changes or stored is None or stored.group(1) != wanted:
            changes.update(credential_type="basic", access_secret=plan.upstream_token)
            changes["description"] = _description(username, plan.upstream_token)
    return changes


def _create_body(plan: Plan) -> dict[str, Any]:
    if plan.upstream_username is None or plan.upstream_token is None:
        raise ConfigError(
            f"creating registry endpoint {plan.registry_name!r} needs --upstream-username and "
            "the upstream access token (HARBOR_MIRROR_UPSTREAM_TOKEN, or run in a terminal "
            "to be asked)"
        )
    return {
        "name": plan.registry_name,
        "type": REGISTRY_TYPE,
        "url": plan.upstream_url,
        "description": _description(plan.upstream_username, plan.upstream_token),
        "credential": {
            "type": "basic",
            "access_key": plan.upstream_username,
            "access_secret": plan.upstream_token,
        },
        "insecure": False,
    }


def ensure_registry(
    client: HarborClient, plan: Plan, *, dry_run: bool, out: TextIO
) -> Registry | None:
    """Create or update the endpoint; None only in a dry run that would create it."""
    subject = plan.registry_name
    existing = client.find_registry(plan.registry_name)
    if existing is None:
        body = _create_body(plan)
        if dry_run:
            report(out, "registry", subject, Outcome.WOULD_CREATE, plan.upstream_url)
            return None
        try:
            created = create_once(lambda: client.create_registry(body)) is not None
        except HarborAPIError as error:
            raise _explained(error, plan) from None
        existing = _reread(client, plan)
        if created:
            report(out, "registry", subject, Outcome.CREATED, f"{plan.upstream_url}, tested")
            return existing
    changes = _changes(existing, plan)
    if not changes:
        kept = ", remote certificate not verified (as set in Harbor)" if existing.insecure else ""
        report(out, "registry", subject, Outcome.UNCHANGED, existing.url + kept)
        if existing.status == "unhealthy":
            warn(out, _UNHEALTHY_NOW.format(subject=subject))
        return existing
    what = ", ".join(sorted(_SHOWN[key] for key in changes if key in _SHOWN))
    if dry_run:
        report(out, "registry", subject, Outcome.WOULD_UPDATE, what)
        return existing
    try:
        client.update_registry(existing.id, changes)
    except HarborAPIError as error:
        raise _explained(error, plan) from None
    report(out, "registry", subject, Outcome.UPDATED, f"{what}, tested")
    return _reread(client, plan)


def _explained(error: HarborAPIError, plan: Plan) -> HarborAPIError:
    if error.status == 400 and "unhealthy" in error.detail:
        return error.with_hint(_unhealthy_hint(plan))
    return error


def _reread(client: HarborClient, plan: Plan) -> Registry:
    name = plan.registry_name
    return found_again(client.find_registry(name), f"registry endpoint {name!r}")
