"""The human-facing `harbor-mirror` commands; each loads only when run, so `--help` stays cheap."""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Sequence
from types import FrameType

import click

from postrender import __version__, settings
from postrender.helmhome import last_error_file

# name → (module:attribute of a click command, one-line help). The post-renderer is listed for
# help only: cli.main runs it without click.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "postrender": ("", "Rewrite a rendered manifest stream (what Helm runs as post-renderer)."),
    "setup": ("postrender.commands.setup:cli", "Bootstrap Harbor as the mirror (idempotent)."),
    "verify": (
        "postrender.commands.verify:cli",
        "Check every rewritten reference resolves through Harbor; --warm fills its cache.",
    ),
    "chart-url": ("postrender.commands.chart_url:cli", "Print the Harbor URL of a chart."),
    "overlay": (
        "postrender.commands.overlay:cli",
        "Write the rewrite as a kustomize overlay for Fleet, Flux or Argo CD.",
    ),
    "install": ("postrender.commands.wrap:install", "helm install, chart and images via Harbor."),
    "upgrade": ("postrender.commands.wrap:upgrade", "helm upgrade, chart and images via Harbor."),
    "template": (
        "postrender.commands.wrap:template", "helm template, chart and images via Harbor."
    ),
    "pull": ("postrender.commands.wrap:pull", "helm pull of an upstream chart from Harbor."),
    "dependency": (
        "postrender.commands.dependency:cli",
        "helm dependency build|update with upstream subcharts from Harbor.",
    ),
    "login": ("postrender.commands.login:login", "helm registry login to Harbor as the robot."),
    "logout": ("postrender.commands.login:logout", "helm registry logout from Harbor."),
}


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        target, short_help = SUBCOMMANDS[cmd_name]
        if not target:
            return click.Command(cmd_name, short_help=short_help, help=settings.help_text())
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        last_error = last_error_file()
        if os.path.isfile(last_error):
            with open(last_error, encoding="utf-8", errors="replace") as file:
                text = file.read().strip()
            with formatter.section("Last post-renderer error"):
                formatter.write_text(text)
                formatter.write_text(f"(from {last_error})")


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=False,
)
@click.version_option(__version__, prog_name="harbor-mirror")
def group() -> None:
    """Run Helm charts from SUSE Application Collection through a Harbor mirror.

    Bootstrap Harbor once with `setup`, then run `helm harbor-mirror install ...` with your
    usual helm arguments: chart, login and images all go through Harbor.
    """


# Signals that end a command, besides Ctrl-C: a CI job's timeout or `kill` (SIGTERM), a closed
# terminal or ssh session (SIGHUP), Ctrl-\ (SIGQUIT).
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _unwind(signum: int, frame: FrameType | None) -> None:
    """End as Ctrl-C does, by an exception: every `finally` runs, so temporary files with
    credentials are removed and helm is killed (`run_helm`); Python's default for these
    signals ends the process on the spot. A second signal does not cut that clean-up short."""
    for ending in ENDING_SIGNALS:
        signal.signal(ending, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def run(argv: Sequence[str]) -> int:
    """Run the group in standalone mode; click handles usage errors (exit 2) and --help."""
    for ending in ENDING_SIGNALS:
        signal.signal(ending, _unwind)
    try:
        result = group.main(
            args=list(argv) or ["--help"], prog_name="harbor-mirror", standalone_mode=False
        )
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code or 0)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):
            raise abort.__cause__ from None  # Ctrl-C: cli.main's exit 130, as a shell's
        click.echo("Aborted.", err=True)
        return 1
    return result if isinstance(result, int) else 0
