"""`harbor-mirror dependency build|update CHART_DIR`: subcharts on the upstream come from Harbor."""

from __future__ import annotations

import os
from pathlib import Path

import click

from postrender import settings


@click.command(
    "dependency",
    context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]},
)
@click.argument("action", type=click.Choice(["build", "update"]))
@click.argument("chart_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("helm_args", nargs=-1, type=click.UNPROCESSED, metavar="[HELM FLAGS]...")
def cli(action: str, chart_dir: Path, helm_args: tuple[str, ...]) -> int:
    """`helm dependency build|update CHART_DIR` with upstream subcharts fetched from Harbor.

    Dependencies whose repository is oci://dp.apps.rancher.io/... are fetched from Harbor's
    mirror, signed in as setup's robot and trusting setup's CA; Chart.yaml is not edited (Helm
    runs on a temporary copy) and charts/ receives the archives. Chart.lock: build with a lock
    fetches exactly the locked versions and leaves it alone; update (or build without a lock)
    writes it with the upstream URLs, as plain Helm would where the upstream is reachable.
    """
    from postrender.helm.dependency import dependency
    from postrender.helm.harbor import Harbor

    harbor = Harbor.from_settings(settings.resolve([], os.environ))
    return dependency(action, chart_dir, helm_args, harbor)
