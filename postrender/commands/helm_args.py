"""Commands that take helm's own arguments beside a few options of their own.

click reads an unknown short-flag cluster letter by letter, so a helm flag such as
`-fhooks.yaml` or `-nharbor` would stop at an `h` (help) or an `o` (`verify -o`) and run
something else than asked. These commands hand click only their own options, by name, and put
every other argument after `--`, where click takes it as it is; an argument that is just `-h`
means `--help` (helm takes `-h` anywhere).
"""

from __future__ import annotations

import click

CONTEXT = {"help_option_names": ["--help"]}


class HelmArgsCommand(click.Command):
    """A click command whose arguments, apart from its own options, are helm's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        own, helm = self._split(["--help" if arg == "-h" else arg for arg in args])
        return super().parse_args(ctx, [*own, "--", *helm])

    def _split(self, args: list[str]) -> tuple[list[str], list[str]]:
        """(this command's options with their values, everything else in its order)."""
        takes_value: dict[str, bool] = {"--help": False}
        for param in self.get_params(click.Context(self)):
            if isinstance(param, click.Option):
                for name in (*param.opts, *param.secondary_opts):
                    takes_value[name] = not (param.is_flag or param.count)
        own: list[str] = []
        helm: list[str] = []
        pending = False  # the next argument is the value of an option of ours
        for index, arg in enumerate(args):
            if pending:
                own.append(arg)
                pending = False
            elif arg == "--":
                return own, helm + args[index:]
            elif arg.partition("=")[0] in takes_value:
                own.append(arg)
                pending = "=" not in arg and takes_value[arg]
            else:
                helm.append(arg)
        return own, helm
