"""A YAML file we read (the config file, a lock), or one line saying what is wrong with it.

Stdlib and ruamel.yaml only: both readers are on the post-renderer's start-up path.
"""

from __future__ import annotations

from pathlib import Path

from postrender.errors import ConfigError


def read_yaml(path: str | Path, what: str, *, missing: str = "") -> object:
    """The one document in `path` (None when empty); `what` names the file in every message,
    and `missing`, when given, says what to do about a file that does not exist."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if missing:
            raise ConfigError(f"{what} {path} does not exist: {missing}") from None
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return YAML(typ="safe", pure=True).load(text)  # YAML 1.2, as Helm reads values
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{what} {path}{line}: not valid YAML") from None
    except RecursionError:  # `[[[[…` or `{a: {a: …` thousands deep: no file we write
        raise ConfigError(f"{what} {path}: nested too deeply to read") from None
