"""`harbor-mirror verify`: does every rewritten reference resolve through Harbor? `--warm` fills
the cache with every blob behind them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from postrender import lock as lockfile
from postrender.commands.helm_args import CONTEXT as HELM_ARGS_CONTEXT
from postrender.commands.helm_args import HelmArgsCommand
from postrender.commands.mirror_options import mirror_options, resolve
from postrender.commands.signature_options import signature_options, signing
from postrender.endpoint import Endpoint
from postrender.errors import ConfigError, VerifyFailed, redact, stream_from
from postrender.helm.args import CommandLine, oci_chart
from postrender.helm.harbor import Harbor

if TYPE_CHECKING:
    from postrender.registry import Check

_FILE = click.Path(dir_okay=False, path_type=Path)
_COLUMNS = ("REFERENCE", "RESULT", "DIGEST", "MEDIA TYPE", "PLATFORMS")


@click.command("verify", cls=HelmArgsCommand, context_settings=HELM_ARGS_CONTEXT)
@click.argument("inputs", nargs=-1, type=click.UNPROCESSED,
                metavar="[FILE | - | HELM TEMPLATE ARGS]...")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Table for people, JSON for pipelines (on stdout).")
@click.option("--warm", is_flag=True,
              help="Also GET every manifest by digest and pull every blob through Harbor, so "
              "a proxy cache stores them.")
@click.option("--platform", "platforms", multiple=True, metavar="OS/ARCH[/VARIANT]",
              help="With --warm: only these platforms of a multi-platform image (repeatable); "
              "a single-platform image is pulled as it is. With --signatures/--attestations: "
              "only these platforms' signatures are checked, the others are 'not checked'. "
              "With --write-lock, one platform pins a multi-platform image to its manifest.")
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="With --warm: blobs pulled at once; with --signatures: references checked "
              "at once.")
@click.option("--strict", is_flag=True,
              help="Also fail on images on other registries (not mirrored), which the cluster "
              "pulls from there instead of through Harbor.")
@click.option("--secret-file", type=_FILE, metavar="FILE",
              help="The robot's Secret manifest written by setup --secret-out "
              "[env HARBOR_MIRROR_SECRET_FILE; default: the one setup wrote]. Else "
              "$HARBOR_MIRROR_USERNAME with $HARBOR_MIRROR_HARBOR_PASSWORD; else anonymous. "
              "helm template signs in with the same.")
@click.option("--ca-file", type=_FILE, metavar="FILE",
              help="CA certificate(s) Harbor's TLS certificate is checked against "
              "[env HARBOR_MIRROR_CA_FILE]; also passed to helm template. Default: setup's.")
@click.option("--insecure-skip-tls-verify", is_flag=True,
              help="Do not check Harbor's certificate (tests only); also passed to helm.")
@click.option("--plain-http", is_flag=True, help="Harbor speaks HTTP; also passed to helm.")
@click.option("--write-lock", type=_FILE, metavar="FILE",
              help="Once every reference resolves, record the digest of each image (by tag) and "
              "chart in FILE, merged into what it holds; with one --platform, an image's pin is "
              "that platform's manifest.")
@click.option("--update-lock", is_flag=True,
              help="With --write-lock: replace entries whose tag now names other content "
              "(without it, such a change fails and FILE is left alone).")
@click.option("--lock", "lock_file", type=_FILE, metavar="FILE",
              help="Check the references pinned by the digests in FILE (asked by digest), and "
              "whether each tag still names them (asked by tag): stale when not.")
@signature_options
@mirror_options
def cli(
    inputs: tuple[str, ...], output: str, warm: bool, platforms: tuple[str, ...],
    concurrency: int, strict: bool, secret_file: Path | None, ca_file: Path | None,
    insecure_skip_tls_verify: bool, plain_http: bool, write_lock: Path | None,
    update_lock: bool, lock_file: Path | None, signatures: bool, attestations: bool,
    keys: tuple[Path, ...], **given: Any,
) -> int:
    """Check that every rewritten image and chart reference resolves through Harbor.

    Input: a rendered manifest FILE, `-` (or a pipe) for stdin, or the arguments of
    `helm template` (NAME CHART --version ... -f ...), rendered with the helm in $HELM_BIN or
    on PATH. The stream goes through the post-renderer's rewrite, then every distinct Harbor
    reference (and an oci:// chart given to helm template) is asked for with
    HEAD /v2/<project>/<path>/manifests/<tag or digest>, and an index is fetched with GET to
    list its platforms. Through a proxy cache a HEAD only makes Harbor ask the upstream and
    stores nothing; a GET stores the manifest (an index once its platforms are stored); --warm
    GETs every manifest and blob, so Harbor keeps serving them when the upstream is down.
    Images on other registries are listed as not mirrored. Exits 1 when any reference is
    missing, unauthorized, blocked by the project's policy or hit an upstream error (with
    --strict, also when one is not mirrored), with --signatures/--attestations when any
    reference Harbor serves is not verified, or with --lock when a tag is stale.
    """
    from postrender import registry
    from postrender.registry._signatures import record_file
    from postrender.rewrite.pin import pin
    from postrender.rewrite.rules import Rules
    from postrender.rewrite.stream import rewrite_stream

    if update_lock and write_lock is None:
        raise ConfigError("--update-lock goes with --write-lock: it says which entries the "
                          "written lock may replace")
    checking = signing(signatures, attestations, keys, platforms=frozenset(platforms), warm=warm)
    config = resolve(given)
    rules = Rules.from_settings(config)
    config = config._replace(  # an option given here beats HARBOR_MIRROR_* and the config file
        secret_file=str(secret_file) if secret_file else config.secret_file,
        ca_file=str(ca_file) if ca_file else config.ca_file,
    )
    endpoint = Endpoint.from_settings(  # the /v2/ checks and helm template sign in alike
        config, os.environ, insecure_skip_tls_verify=insecure_skip_tls_verify,
        plain_http=plain_http,
    )
    harbor = Harbor(rules.mirror, endpoint)
    locked = lockfile.read(lock_file) if lock_file else None
    text, line, source = _read(inputs, harbor, os.environ)
    chart = oci_chart(line) if line else None
    chart_target = registry.chart_target(chart.url, chart.version, rules.mirror) if chart else None
    with stream_from(source):
        rewritten = rewrite_stream(text, rules).text
    if locked is not None:
        rewritten = pin(rewritten, rules.mirror, locked.pins(), where=str(lock_file)).text
        if chart_target is not None:
            chart_target = registry.pinned_chart(chart_target, locked, where=str(lock_file))
    checks = registry.verify(
        rewritten, rules.mirror, endpoint,
        charts=[chart_target] if chart_target else [],
        warm_cache=warm, platforms=frozenset(platforms), concurrency=concurrency,
        signing=checking, record=record_file() if checking else None, lock=locked,
    )
    if locked is not None:
        asked = registry.check_tags(endpoint, checks, locked)
        click.echo(f"harbor-mirror: {asked} tags asked for by tag to see whether the lock is "
                   "stale (through a proxy cache, one upstream request each); all else by "
                   "digest", err=True)
    if not checks:
        click.echo(f"harbor-mirror: no reference to {rules.mirror.target_prefix} found", err=True)
    # digests, media types and details are the server's words: no secret we hold goes out
    click.echo(redact(_json(checks) if output == "json" else _table(checks, warm)))
    registry.require_resolved(checks, strict=strict)
    registry.require_signed(checks)
    if write_lock is not None:
        _write_lock(write_lock, checks, frozenset(platforms), update=update_lock,
                    signatures=checking is not None)
    return 0


def _write_lock(
    path: Path, checks: Sequence[Check], platforms: frozenset[str], *, update: bool,
    signatures: bool,
) -> None:
    """Merge what resolved into the lock at `path`; a changed entry only with --update-lock.
    With `signatures`, each image also keeps the digests of its signatures (attestations)
    that `--warm --signatures` recorded; the upstream indexes it recorded tell an index's
    upstream digest when Harbor serves its own list."""
    from postrender import registry
    from postrender.registry._signatures import SignatureRecord, record_file

    previous = lockfile.read(path) if path.exists() else lockfile.Lock()
    record = SignatureRecord(record_file())
    found = registry.lock_of(checks, platforms, previous,
                             record.artifact if signatures else None, record.index)
    merged, changed = previous.merged(found, update=update)
    if changed and not update:
        raise VerifyFailed(
            f"{len(changed)} references in {path} name other content now, first "
            f"{changed[0]}: pass --update-lock to take the new digests; {path} is unchanged"
        )
    merged.write(path)
    click.echo(f"harbor-mirror: {path}: {len(found.images)} images and {len(found.charts)} "
               f"charts locked ({len(merged.images)} images in the file)", err=True)


_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def _read(
    inputs: Sequence[str], harbor: Harbor, environ: Mapping[str, str]
) -> tuple[str, CommandLine | None, str]:
    """(stream, the helm template command line or None, what errors call the stream) from a
    file, stdin or a render."""
    from postrender.rewrite.stream import decode

    if not inputs or list(inputs) == ["-"]:
        if sys.stdin.isatty() and not inputs:
            raise ConfigError("give a rendered manifest FILE, - for stdin, or helm template args")
        return decode(sys.stdin.buffer.read()), None, "stdin"
    first = inputs[0]
    if len(inputs) == 1 and os.path.isfile(first) and not first.endswith(".tgz"):
        try:
            data = Path(first).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {first}: {exc.strerror}") from None
        with stream_from(first):
            return decode(data), None, first
    if len(inputs) == 1 and first.endswith(_MANIFEST_SUFFIXES) and not os.path.exists(first):
        # a chart is a directory, an archive or a URL: this names a rendered manifest
        raise ConfigError(f"cannot read {first}: no such file")
    from postrender.helm.render import HELM_OUTPUT, helm_major, render

    line = CommandLine.parse("template", inputs, lambda: helm_major(environ))
    return render(line, environ, harbor), line, HELM_OUTPUT


def _json(checks: Sequence[Check]) -> str:
    return json.dumps([c.as_dict() for c in checks], indent=2)


def _table(checks: Sequence[Check], warm: bool) -> str:
    from postrender.commands import signature_options as trust

    columns = (*_COLUMNS, *trust.columns(checks), *(("WARMED",) if warm else ()))
    rows = [columns]
    for c in checks:
        row = (
            c.target.reference, c.result, c.digest[:19] or "-",
            c.media_type.removeprefix("application/vnd.") or "-", ",".join(c.platforms) or "-",
            *trust.cells(c, checks),
        )
        rows.append((*row, f"{c.warmed} pulled, {c.cached} cached") if warm else row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines += [f"{c.target.reference}: {c.detail}" for c in checks if c.noted]
    return "\n".join(lines + trust.notes(checks))
