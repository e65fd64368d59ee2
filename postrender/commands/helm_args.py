"""Commands that take helm's own arguments beside a few options of their own.

click reads an unknown short-flag cluster letter by letter, so a helm flag such as
`-fhooks.yaml` or `-nharbor` would stop at an `h` (help) or an `o` (`verify -o`) and run
something else than asked. These commands hand click only their own options, by name, and put
every other argument after `--`, where click takes it as it is. The split is Helm's own reading
of the command line (`postrender.helm.args`): an argument that is a helm flag's value stays
helm's (`--kubeconfig -h`), and `-h` standing as a flag means `--help` (helm takes `-h`
anywhere).
"""

from __future__ import annotations

import os
from typing import Any

import click

CONTEXT = {"help_option_names": ["--help"]}


def _helm_major() -> int:
    from postrender.helm.render import helm_major

    return helm_major(os.environ)


class HelmArgsCommand(click.Command):
    """A click command whose arguments, apart from its own options, are those of
    `helm HELM_SUBCOMMAND`."""

    def __init__(self, *args: Any, helm_subcommand: str = "template", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helm_subcommand = helm_subcommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from postrender.helm.args import split_own

        takes_value: dict[str, bool] = {}
        for param in self.get_params(click.Context(self)):
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    takes_value[name] = not (param.is_flag or param.count)
        own, helm = split_own(self.helm_subcommand, args, _helm_major, takes_value)
        return super().parse_args(ctx, [*own, "--", *helm])
