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
_FLAGS = ("--harbor-host", "--project", "--upstream", "--config")
_BY_FLAG = {option.flag: option for option in settings.OPTIONS}


def mirror_options(command: F) -> F:
    """Add the shared options to a click command (values arrive as keyword arguments)."""
    for flag in reversed(_FLAGS):
        option = _BY_FLAG[flag]
        command = click.option(flag, metavar=option.metavar, help=option.help)(command)
    return command


def resolve(given: dict[str, Any]) -> settings.Settings:
    """The post-renderer settings from the options given (and the environment, config file)."""
    argv = []
    for flag in _FLAGS:
        value = given.pop(flag.lstrip("-").replace("-", "_"), None)
        if value is not None:
            argv.append(f"{flag}={value}")
    return settings.resolve(argv, os.environ)
