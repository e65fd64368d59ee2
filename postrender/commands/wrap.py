"""`harbor-mirror install|upgrade|template|pull`: helm's own commands, with the chart, the login
and the post-renderer going through Harbor (`postrender.helm.wrap` says exactly how)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from postrender import settings
from postrender.commands.helm_args import CONTEXT as HELM_ARGS_CONTEXT
from postrender.commands.helm_args import HelmArgsCommand

if TYPE_CHECKING:
    from postrender.helm.args import Chart

_HELP = """Run `helm {name} ARGS` through Harbor; ARGS are helm's own, unchanged.

An oci://dp.apps.rancher.io/... chart is fetched from Harbor's mirror of it, signed in as the
robot whose Secret setup wrote and trusting the CA setup was given (both remembered in the
config file); Helm's own registry config is not used. {extra}Settings come from
HARBOR_MIRROR_* and the config file, as for the post-renderer."""
_RENDERING = """The post-renderer is attached in the form the running Helm takes (the plugin on
Helm 4, this executable on Helm 3; a --post-renderer of yours is refused, your
--post-renderer-args go to it). On Helm 3, which never post-renders hooks, a chart with
global.imageRegistry gets it set to Harbor (and global.imagePullSecrets to the Harbor pull
secret). --verify (ours, not Helm's provenance check) checks every rendered reference
through Harbor and fails before anything is installed (Helm 3: hooks too, for install and
template, by rendering first). With --verify, --signatures (and --attestations; --key FILE,
repeatable, else Application Collection's key) also checks each one's cosign signature
through Harbor, as verify --signatures does, and an oci:// chart's before helm runs. """


def _command(name: str) -> click.Command:
    extra = _RENDERING if name != "pull" else ""

    @click.command(
        name,
        cls=HelmArgsCommand,
        helm_subcommand=name,
        help=_HELP.format(name=name, extra=extra),
        short_help=f"helm {name} through Harbor.",
        context_settings={**HELM_ARGS_CONTEXT, "allow_interspersed_args": False},
        options_metavar="",
    )
    @click.option("--lock", "lock_file", metavar="FILE",
                  help="The lock file verify --write-lock wrote: the chart is fetched by its "
                  "locked digest and, but for pull, every Harbor image reference by tag is pinned "
                  "to its locked digest [env HARBOR_MIRROR_LOCK].")
    @click.argument("helm_args", nargs=-1, type=click.UNPROCESSED, metavar="[HELM ARGS]...")
    def cli(lock_file: str | None, helm_args: tuple[str, ...]) -> int:
        from postrender.helm.wrap import run

        config = settings.resolve(["--lock", lock_file] if lock_file else [], os.environ,
                                  host_option=False)
        return run(name, helm_args, config, check=_verify)

    return cli


def _verify(text: str, options: Sequence[str], chart: Chart | None) -> None:
    """--verify in the wrapper: every Harbor reference of a stream (on Helm 3, hooks included)
    and the chart, checked as the post-renderer given `options` would check the stream."""
    from postrender.registry import chart_target
    from postrender.registry.gate import verify_or_fail
    from postrender.rewrite.rules import Rules

    config = settings.resolve(options, os.environ)
    rule = Rules.from_settings(config).mirror
    target = chart_target(chart.url, chart.version, rule) if chart else None
    verify_or_fail(text, rule, config, charts=[target] if target else [])


install = _command("install")
upgrade = _command("upgrade")
template = _command("template")
pull = _command("pull")
