"""The Harbor target options `verify` and `chart-url` share with the post-renderer.

They resolve exactly as the post-renderer's do (option > HARBOR_MIRROR_* > config file >
default), through `settings.resolve`, so every command points at the same Harbor project.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from postrender import settings

F = TypeVar("F", bound=Callable[..., Any])
_SHARED = ("--harbor-host", "--project", "--upstream", "--config")
_OPTIONS = [option for option in settings.OPTIONS if option.flag in _SHARED]


def mirror_options(command: F) -> F:
    """Add the shared options to a click command (values arrive as keyword arguments)."""
    for option in reversed(_OPTIONS):
        command = click.option(option.flag, metavar=option.metavar, help=option.help)(command)
    return command


def resolve(given: dict[str, Any]) -> settings.Settings:
    """The post-renderer settings from the options given (and the environment, config file)."""
    argv = []
    for option in _OPTIONS:
        value = given.pop(option.flag.lstrip("-").replace("-", "_"), None)
        if value is not None:
            argv.append(f"{option.flag}={value}")
    return settings.resolve(argv, os.environ)
