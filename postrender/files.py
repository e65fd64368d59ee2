"""Replace files in one step, so readers see the old content or the new, never half."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from postrender.errors import ConfigError


def atomic_write(path: Path, data: bytes, *, mode: int, option: str) -> None:
    """Write `data` to `path` with permission `mode`; `option` names the flag in errors."""
    atomic_write_all({path: data}, mode=mode, option=option)


def atomic_write_all(files: Mapping[Path, bytes], *, mode: int, option: str) -> None:
    """Write files that belong together (one names another) all or none, their directories
    made; `option` names the flag in errors, with the file that could not be written."""
    for path in files:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(option, path, exc) from None
    try:
        replace_all(files, mode=mode)
    except OSError as exc:  # replace_all names the target in `filename`
        raise _cannot_write(option, exc.filename, exc) from None


def check_writable(path: Path, *, option: str) -> None:
    """Fail now, as atomic_write would later, when `path` cannot be written: for content that
    exists only once it is made (a robot's secret, which Harbor shows only then)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        os.unlink(temp)
    except OSError as exc:
        raise _cannot_write(option, path, exc) from None


def _cannot_write(option: str, path: object, exc: OSError) -> ConfigError:
    return ConfigError(f"{option} {path}: cannot write there ({exc.strerror})")


def replace_all(files: Mapping[Path, bytes], *, mode: int) -> None:
    """Give every path its data, or none of them: each is written and synced beside its target
    first, and only when all are on disk do they replace the targets (a rename needs no space).

    An OSError names the target (`filename`) that could not be written; no target has changed
    then and no temporary file is left, also when a signal's exception unwinds through here.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            try:
                if path.is_dir():  # os.replace would fail there, after the others replaced
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
                staged.append((_write_beside(path, data, mode), path))
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
        for temp, path in staged:
            os.replace(temp, path)
    finally:
        for temp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


def _write_beside(path: Path, data: bytes, mode: int) -> str:
    """A new file in `path`'s directory holding `data`, flushed to disk; removed on failure."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp
