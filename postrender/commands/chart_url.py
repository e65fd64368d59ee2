"""`harbor-mirror chart-url`: the Harbor address of an Application Collection chart."""

from __future__ import annotations

from typing import Any

import click

from postrender.commands.mirror_options import mirror_options, resolve
from postrender.errors import ConfigError


@click.command("chart-url", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("url", metavar="oci://UPSTREAM/charts/NAME")
@mirror_options
def cli(url: str, **given: Any) -> int:
    """Print the Harbor URL of an upstream chart, for `helm pull`/`helm install`.

    oci://dp.apps.rancher.io/charts/etcd becomes oci://HARBOR_HOST/PROJECT/charts/etcd, with
    the Harbor host and project of the post-renderer (options, HARBOR_MIRROR_*, config file).
    """
    from postrender.rewrite.rules import Rules

    config = resolve(given)
    mapped = Rules.from_settings(config).mirror.chart_url(url)
    if mapped is None:
        raise ConfigError(f"{url!r} is not an oci:// chart URL of {config.upstream}")
    click.echo(mapped)
    return 0
