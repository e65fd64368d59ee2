"""`harbor-mirror overlay`: the post-renderer's rewrite as a kustomize overlay for GitOps."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from postrender import lock, settings
from postrender.commands.helm_args import CONTEXT as HELM_ARGS_CONTEXT
from postrender.commands.helm_args import HelmArgsCommand
from postrender.commands.mirror_options import SettingsOptions
from postrender.errors import ConfigError, StaleOverlayError, stream_from
from postrender.gitops import layouts
from postrender.gitops.chart import HarborChart
from postrender.gitops.overlay import build
from postrender.helm import chartfile
from postrender.helm.args import CommandLine, Release, release_of
from postrender.helm.harbor import Harbor
from postrender.helm.render import HELM_OUTPUT, helm_major, render
from postrender.rewrite.pin import say_not_pinned
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import decode

# The post-renderer options that shape the rewrite; its run-time extras (--report, --verify…)
# have no meaning for a file that an engine applies later.
_rule_options = SettingsOptions(
    "--harbor-host", "--project", "--upstream", "--upstream-pull-secret", "--pull-secret",
    "--config", "--strict", "--ca-file", "--secret-file", "--lock",
)


def overlay(
    text: str,
    config: settings.Settings,
    *,
    layout: str,
    release: Release | None,
    out_dir: Path,
    check: bool,
) -> str:
    """Write (or with `check`, compare) the layout's files; returns the lines to show the user."""
    locked = lock.read(Path(config.lock)) if config.lock else None
    built = build(text, Rules.from_settings(config), strict=config.strict,
                  pins=locked.pins() if locked else None, lock=config.lock or "")
    say_not_pinned(built.not_pinned, strict=config.strict)  # before any file is written
    chart = harbor_chart(release, config)
    if chart is not None and release is not None and locked is not None and layout != "overlay":
        url, _, digest = locked.chart_pin(chart.url, release.version,
                                          where=str(config.lock)).partition("@")
        chart = chart._replace(url=url, digest=digest)
    vendored = _vendored(release, config) if chart is None else None
    generated = layouts.files(layout, built, release, out_dir, chart, vendored)
    if check:
        differing = layouts.stale(out_dir, generated)
        if differing:
            raise StaleOverlayError(
                f"{out_dir / differing[0]} is stale: a fresh render gives a different overlay; "
                "rerun the same command without --check and commit the result"
            )
        return f"{out_dir}: up to date ({len(built.images)} images, {len(built.patches)} patches)"
    layouts.write(out_dir, generated)
    wrote = (
        f"wrote {', '.join(str(out_dir / name) for name in generated)}: "
        f"{len(built.images)} images, {len(built.patches)} patches"
    )
    return "\n".join([wrote, *layouts.instructions(layout, chart, vendored)])


def _vendored(release: Release | None, config: settings.Settings) -> str | None:
    """The release's local chart, when it lists dependencies on the upstream: the engine must
    take those from its charts/, never fetch them."""
    chart = release.chart if release is not None else None
    mirror = Rules.from_settings(config).mirror
    return chart if chart and chartfile.names_upstream_dependency(chart, mirror) else None


def harbor_chart(release: Release | None, config: settings.Settings) -> HarborChart | None:
    """Harbor's copy of the release's chart: the upstream's `oci://` URL mapped, or a chart
    already on Harbor; None for a local chart or another repository."""
    if release is None or not release.chart:
        return None
    url = Rules.from_settings(config).mirror.chart_url(release.chart)
    if url is None and release.chart.startswith(f"oci://{config.harbor_host}/"):
        url = release.chart
    if url is None:
        return None
    return HarborChart(
        url=url,
        harbor_host=config.harbor_host,
        pull_secret=config.pull_secret or config.upstream_pull_secret,
        secret_file=config.secret_file,
        ca_file=config.ca_file,
    )


@click.command("overlay", cls=HelmArgsCommand, context_settings=HELM_ARGS_CONTEXT)
@click.option(
    "--out", "out_dir", required=True, metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the overlay (or bundle) into; created if missing.",
)
@click.option(
    "--layout", type=click.Choice(layouts.LAYOUTS), default="overlay", show_default=True,
    help="overlay: kustomization.yaml only; fleet: fleet.yaml (Harbor's chart URL) + "
    f"harbor-mirror/ overlay; flux: {layouts.FLUX_FILE}, a HelmRelease patch with "
    "spec.postRenderers (and chartRef to Harbor's chart in ocirepository.yaml).",
)
@click.option(
    "--check", is_flag=True, help="Exit 1 when the files in --out are stale; write nothing."
)
@click.option(
    "--from-stdin", is_flag=True,
    help="Read an already rendered stream on stdin instead of running helm template.",
)
@_rule_options
@click.argument("helm_args", nargs=-1, type=click.UNPROCESSED, metavar="[HELM TEMPLATE ARGS]...")
def cli(
    out_dir: Path, layout: str, check: bool, from_stdin: bool, helm_args: tuple[str, ...],
    **given: Any,
) -> int:
    """Write the Harbor rewrite as a kustomize overlay for Fleet, Flux or Argo CD.

    Takes the arguments of `helm template` (NAME CHART, -n, -f, --set, --version...), renders
    the chart with the helm in $HELM_BIN or on PATH (no post-renderer), and writes
    kustomization.yaml: an `images:` entry per upstream repository and exact JSON6902 patches
    for every other rewrite. Applied to the rendered chart it gives what `--post-renderer
    harbor-mirror` gives. Harbor options as for the post-renderer (config file, HARBOR_MIRROR_*).

    A chart given as oci://UPSTREAM/charts/NAME is rendered from Harbor (signed in with the
    robot's Secret file, trusting the CA setup remembered), and the fleet and flux layouts name
    Harbor's chart URL, so the engine pulls it from Harbor too.
    """
    environ = os.environ
    config = _rule_options.resolve(given)
    source = "stdin" if from_stdin else HELM_OUTPUT
    if from_stdin:
        if helm_args:
            raise ConfigError("--from-stdin reads a rendered stream: give no helm template args")
        text, release = decode(sys.stdin.buffer.read()), None
    else:
        if not helm_args:
            raise ConfigError("give the helm template arguments (NAME CHART ...) or --from-stdin")
        line = CommandLine.parse("template", helm_args, lambda: helm_major(environ))
        release = release_of(line, environ)
        text = render(line, environ, Harbor.from_settings(config, environ))
    with stream_from(source):
        done = overlay(text, config, layout=layout, release=release, out_dir=out_dir, check=check)
    click.echo(done)
    return 0
