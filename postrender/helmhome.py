"""Helm's config and cache homes, resolved the way Helm resolves them (helmpath/lazypath).

Paths are plain strings: this module is on the post-renderer's start-up path, where importing
pathlib costs more than the whole rewrite of a small chart.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def config_home(environ: Mapping[str, str] = os.environ) -> str:
    """$HELM_CONFIG_HOME, else Helm's per-platform default."""
    if environ.get("HELM_CONFIG_HOME"):
        return environ["HELM_CONFIG_HOME"]
    if sys.platform == "darwin":
        return os.path.join(_home(environ), "Library", "Preferences", "helm")
    if sys.platform == "win32":
        return os.path.join(environ.get("APPDATA", _home(environ)), "helm")
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(_home(environ), ".config")
    return os.path.join(base, "helm")


def cache_home(environ: Mapping[str, str] = os.environ) -> str:
    """$HELM_CACHE_HOME, else Helm's per-platform default."""
    if environ.get("HELM_CACHE_HOME"):
        return environ["HELM_CACHE_HOME"]
    if sys.platform == "darwin":
        return os.path.join(_home(environ), "Library", "Caches", "helm")
    if sys.platform == "win32":
        return os.path.join(environ.get("TEMP", _home(environ)), "helm")
    base = environ.get("XDG_CACHE_HOME") or os.path.join(_home(environ), ".cache")
    return os.path.join(base, "helm")


def default_config_file(environ: Mapping[str, str] = os.environ) -> str:
    """Where `setup` writes, and the post-renderer reads, the config file."""
    return os.path.join(config_home(environ), "harbor-mirror", "config.yaml")


def last_error_file(environ: Mapping[str, str] = os.environ) -> str:
    """Helm 4 drops a post-renderer's stderr, so failures are also kept here."""
    return os.path.join(cache_home(environ), "harbor-mirror", "last-error")
