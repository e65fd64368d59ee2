"""`harbor-mirror dependency build|update CHART_DIR`: subcharts on the upstream come from Harbor."""

from __future__ import annotations

import os
from pathlib import Path

import click

from postrender import settings
from postrender.errors import ConfigError


@click.command(
    "dependency",
    context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]},
)
@click.argument("action", type=click.Choice(["build", "update"]))
@click.argument(
    "helm_args", nargs=-1, type=click.UNPROCESSED, metavar="[CHART_DIR] [HELM FLAGS]..."
)
def cli(action: str, helm_args: tuple[str, ...]) -> int:
    """`helm dependency build|update [CHART_DIR]` with upstream subcharts fetched from Harbor.

    As with helm, CHART_DIR defaults to the current directory and the flags may stand before
    or after it.

    Dependencies whose repository is oci://dp.apps.rancher.io/... are fetched from Harbor's
    mirror, signed in as setup's robot and trusting setup's CA; Chart.yaml is not edited (Helm
    runs on a temporary copy) and charts/ receives the archives. Chart.lock: build with a lock
    fetches exactly the locked versions and leaves it alone; update (or build without a lock)
    writes it with the upstream URLs, as plain Helm would where the upstream is reachable.
    """
    from postrender.helm.args import CommandLine
    from postrender.helm.dependency import dependency
    from postrender.helm.harbor import Harbor
    from postrender.helm.render import helm_major

    line = CommandLine.parse(f"dependency {action}", helm_args, lambda: helm_major(os.environ))
    positional = line.positional_indexes()
    if len(positional) > 1:
        given = ", ".join(helm_args[index] for index in positional)
        raise ConfigError(f"dependency {action}: one CHART_DIR, not {len(positional)} ({given})")
    chart_dir = Path(helm_args[positional[0]]) if positional else Path(".")
    flags = line.without(set(positional))
    harbor = Harbor.from_settings(settings.resolve([], os.environ, host_option=False))
    return dependency(action, chart_dir, flags, harbor)
