"""Helm's config and cache homes, resolved the way Helm resolves them (helmpath/lazypath)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def _home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("HOME") or Path.home())


def config_home(environ: Mapping[str, str] = os.environ) -> Path:
    """$HELM_CONFIG_HOME, else Helm's per-platform default."""
    if environ.get("HELM_CONFIG_HOME"):
        return Path(environ["HELM_CONFIG_HOME"])
    if sys.platform == "darwin":
        return _home(environ) / "Library" / "Preferences" / "helm"
    if sys.platform == "win32":
        return Path(environ.get("APPDATA", _home(environ))) / "helm"
    base = environ.get("XDG_CONFIG_HOME") or str(_home(environ) / ".config")
    return Path(base) / "helm"


def cache_home(environ: Mapping[str, str] = os.environ) -> Path:
    """$HELM_CACHE_HOME, else Helm's per-platform default."""
    if environ.get("HELM_CACHE_HOME"):
        return Path(environ["HELM_CACHE_HOME"])
    if sys.platform == "darwin":
        return _home(environ) / "Library" / "Caches" / "helm"
    if sys.platform == "win32":
        return Path(environ.get("TEMP", _home(environ))) / "helm"
    base = environ.get("XDG_CACHE_HOME") or str(_home(environ) / ".cache")
    return Path(base) / "helm"


def default_config_file(environ: Mapping[str, str] = os.environ) -> Path:
    """Where `setup` writes, and the post-renderer reads, the config file."""
    return config_home(environ) / "harbor-mirror" / "config.yaml"


def last_error_file(environ: Mapping[str, str] = os.environ) -> Path:
    """Helm 4 drops a post-renderer's stderr, so failures are also kept here."""
    return cache_home(environ) / "harbor-mirror" / "last-error"
