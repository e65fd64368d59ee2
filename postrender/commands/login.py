"""`harbor-mirror login|logout`: Helm's own registry login to Harbor, as setup's robot."""

from __future__ import annotations

import os

import click

from postrender import settings

_CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.command("login", context_settings=_CONTEXT)
def login() -> int:
    """`helm registry login HARBOR` as the robot whose Secret setup wrote (password on stdin,
    CA from setup), so plain `helm install oci://HARBOR/PROJECT/charts/NAME` works too."""
    from postrender.helm.login import login as run

    return run(settings.resolve([], os.environ, host_option=False))


@click.command("logout", context_settings=_CONTEXT)
def logout() -> int:
    """`helm registry logout HARBOR`: forget the login `login` stored."""
    from postrender.helm.login import logout as run

    return run(settings.resolve([], os.environ, host_option=False))
