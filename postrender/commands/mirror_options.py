"""Post-renderer options that other commands take too, resolved exactly as the post-renderer's.

They go through `settings.resolve_given` (option > HARBOR_MIRROR_* > config file > default), so
every command points at the same Harbor project as `--post-renderer harbor-mirror`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from postrender import settings

F = TypeVar("F", bound=Callable[..., Any])


class SettingsOptions:
    """A chosen subset of `settings.OPTIONS` as click options, and their resolution."""

    def __init__(self, *flags: str):
        self.options = [option for option in settings.OPTIONS if option.flag in flags]

    def __call__(self, command: F) -> F:
        """Add the options to a click command (values arrive as keyword arguments)."""
        for option in reversed(self.options):
            env = f" [env {option.env}]" if option.env else ""
            if option.metavar is None:
                add = click.option(option.flag, is_flag=True, help=option.help)
            else:
                add = click.option(option.flag, metavar=option.metavar, help=option.help + env)
            command = add(command)
        return command

    def resolve(self, given: dict[str, Any]) -> settings.Settings:
        """The settings from the options given (taken out of `given`), environment, config."""
        values = {
            option.flag: given.pop(option.flag.lstrip("-").replace("-", "_"), None)
            for option in self.options
        }
        return settings.resolve_given(values, os.environ)


# What verify and chart-url need: where the mirror is.
mirror_options = SettingsOptions("--harbor-host", "--project", "--upstream", "--config")
resolve = mirror_options.resolve
