"""Commands that take helm's own arguments: `-h` is help only standing alone.

click reads an unknown short-flag cluster letter by letter, so with `-h` among its options a
helm flag such as `-fhooks.yaml` or `-nharbor` stops at its `h` and prints help instead of
running anything. These commands know only `--help`, and an argument that is just `-h` is
taken for it (as helm takes `-h` anywhere).
"""

from __future__ import annotations

import click

CONTEXT = {"ignore_unknown_options": True, "help_option_names": ["--help"]}


class HelmArgsCommand(click.Command):
    """A click command whose arguments after its own options are helm's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, ["--help" if arg == "-h" else arg for arg in args])
