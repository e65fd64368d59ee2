"""`helm harbor-mirror dependency build|update CHART_DIR`: subcharts on `oci://UPSTREAM/…` come
from Harbor, and the user's Chart.yaml stays as it is.

Helm runs on a temporary copy of the chart whose Chart.yaml names Harbor instead of the
upstream (`MirrorRule.chart_url`), and `file://` dependencies by their absolute path (Helm reads a
relative one from the chart's directory, which the copy is not); the archives it fetched are
then copied into `CHART_DIR/charts/` (replacing the ones it replaced): with Chart.lock, all
of them or, when one cannot be written (a full disk), none. `Chart.lock`:

- `build` with a Chart.lock fetches exactly the locked versions and leaves Chart.lock alone, as
  `helm dependency build` does (and, as it does, refuses a lock out of sync with Chart.yaml);
- `update` (and `build` without a lock) writes Chart.lock as plain Helm would have on a machine
  that reaches the upstream: the upstream repository URLs, the versions resolved through
  Harbor, and Helm's digest of them. Should that digest not be reproducible for this Chart.yaml,
  Chart.lock is left as it was and a warning says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from postrender.errors import ConfigError, HarborMirrorError
from postrender.files import replace_all
from postrender.helm import chartfile, chartlock
from postrender.helm.harbor import Harbor
from postrender.helm.render import failure, run_helm

ACTIONS = ("build", "update")


def _write_yaml(path: Path, document: Any, source: Path) -> None:
    """JSON is YAML, and the copy is never read by a person. A `!!set` is the mapping to nulls
    Helm reads; what JSON cannot hold (NaN, a key that is a list) Helm refuses as well."""
    import json

    def as_helm_reads(value: object) -> object:
        if isinstance(value, (set, frozenset)):
            return dict.fromkeys(sorted(map(str, value)))
        raise TypeError(type(value).__name__)

    try:
        text = json.dumps(document, indent=2, allow_nan=False, default=as_helm_reads)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: a value Helm cannot read ({exc})") from None
    path.write_text(text + "\n", encoding="utf-8")


def dependency(
    action: str,
    chart_dir: Path,
    helm_args: Sequence[str],
    harbor: Harbor,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Run `helm dependency ACTION` for `chart_dir` with its upstream subcharts from Harbor."""
    if action not in ACTIONS:
        raise ConfigError(f"dependency {action!r}: use build or update")
    chart_yaml = chart_dir / "Chart.yaml"
    if not chart_yaml.is_file():
        raise ConfigError(f"{chart_dir}: no Chart.yaml (give the chart's directory)")
    chart = chartfile.load(chart_yaml)
    if not isinstance(chart, dict):
        raise ConfigError(f"{chart_yaml}: not a mapping of chart fields")
    wanted = chartfile.dependencies(chart, chart_yaml)
    lock_path = chart_dir / "Chart.lock"
    locked = None
    if lock_path.is_file():
        lock = chartfile.load(lock_path)
        locked = chartfile.dependencies(lock, lock_path)
        digest = lock.get("digest") if isinstance(lock, dict) else None
        if action == "build" and chartlock.digest(wanted, locked) != digest:
            raise ConfigError(  # what `helm dependency build` refuses, too
                f"{lock_path} is out of sync with {chart_yaml}: run `helm harbor-mirror "
                "dependency update`"
            )
    with tempfile.TemporaryDirectory(prefix="harbor-mirror-dependency-") as scratch:
        copy = Path(scratch) / chart_dir.resolve().name
        _copy_chart(chart_dir, copy)
        mapped, charts = _for_the_copy(wanted, harbor, chart_dir)
        if action == "build" and locked is not None:
            _pin(mapped, locked, harbor, chart_dir)  # `update` of the locked versions = build
        (copy / "Chart.lock").unlink(missing_ok=True)
        # No dependencies (none listed, or an empty `dependencies:`): Helm writes nothing.
        as_copied = {**chart, "dependencies": mapped} if wanted else chart
        _write_yaml(copy / "Chart.yaml", as_copied, chart_yaml)
        command = ["dependency", "update", str(copy), *harbor.tls_flags(), *helm_args]
        with harbor.helm_environ(environ) as env:
            done = run_helm(command, env)
        if done.returncode != 0:
            raise HarborMirrorError(
                failure(f"helm dependency {action}", done.returncode, done.stderr, charts)
            )
        lock_text = None
        if not (action == "build" and locked is not None):
            lock_text = _lock_text(copy / "Chart.lock", lock_path, wanted, mapped)
        _replace_in_chart(f"dependency {action}", copy / "charts", chart_dir, lock_text)
    sys.stdout.buffer.write(done.stdout or b"")
    sys.stdout.flush()
    return 0


def _repository(entry: dict[str, Any], harbor: Harbor, chart_dir: Path) -> object:
    """The repository the copy's Chart.yaml names for `entry`: Harbor's URL of an upstream
    one, the absolute path of a relative `file://` one, else the user's as it is."""
    repository = entry.get("repository")
    url = harbor.rule.chart_url(str(repository or ""))
    if url is not None:
        return url
    if isinstance(repository, str) and repository.startswith("file://"):
        return "file://" + str((chart_dir / repository.removeprefix("file://")).resolve())
    return repository


def _for_the_copy(
    wanted: list[dict[str, Any]], harbor: Harbor, chart_dir: Path
) -> tuple[list[dict[str, Any]], list[str]]:
    """The dependencies as the copy names them (`_repository`), and the Harbor chart URLs."""
    mapped, charts = [], []
    for entry in wanted:
        repository = _repository(entry, harbor, chart_dir)
        if harbor.rule.chart_url(str(entry.get("repository") or "")) is not None:
            charts.append(f"{repository}/{entry.get('name')}")
        mapped.append({**entry, "repository": repository})
    return mapped, charts


def _pin(
    mapped: list[dict[str, Any]], locked: list[dict[str, Any]], harbor: Harbor, chart_dir: Path
) -> None:
    """Each dependency's version range replaced by the version Chart.lock holds for it."""
    versions = {(e.get("name"), _repository(e, harbor, chart_dir)): e.get("version")
                for e in locked}  # fmt: skip
    for entry in mapped:
        version = versions.get((entry.get("name"), entry.get("repository")))
        if version is None:
            raise ConfigError(
                f"Chart.lock has no entry for {entry.get('name')}: it is out of sync with "
                "Chart.yaml; run `helm harbor-mirror dependency update`"
            )
        entry["version"] = version


def _copy_chart(chart_dir: Path, copy: Path) -> None:
    """The chart for Helm to work on: symlinks as they are, but charts/ a directory of its own
    (Helm writes through a symlinked charts/; the copy's link may lead nowhere)."""
    try:
        shutil.copytree(chart_dir, copy, symlinks=True)
        charts = copy / "charts"
        if charts.is_symlink():
            charts.unlink()
            if (chart_dir / "charts").is_dir():
                shutil.copytree(chart_dir / "charts", charts, symlinks=True)
    except OSError as exc:  # shutil.Error too: (source, copy, why) for each file that failed
        why = exc.strerror or str(exc.args[0][0][2])
        raise HarborMirrorError(f"cannot copy {chart_dir} for helm to work on: {why}") from None


def _replace_in_chart(
    command: str, fetched: Path, chart_dir: Path, lock_text: str | None
) -> None:
    """The archives Helm fetched replace those in the user's charts/ (through a symlink, as
    Helm writes), and Chart.lock its new text: all of them or, on a full disk, none."""
    dest = chart_dir / "charts"
    archives = {path.name: path for path in fetched.glob("*.tgz")}
    created = not dest.is_dir()
    try:
        files = {dest / name: path.read_bytes() for name, path in sorted(archives.items())}
        if lock_text is not None:
            files[chart_dir / "Chart.lock"] = lock_text.encode("utf-8")
        if archives:
            dest.mkdir(exist_ok=True)
        replace_all(files, mode=0o644)
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                dest.rmdir()
        where = exc.filename or dest
        raise HarborMirrorError(
            f"{command}: cannot write {where} ({exc.strerror}); {chart_dir} is as it was"
        ) from None
    for old in dest.glob("*.tgz") if fetched.is_dir() else ():
        if old.name not in archives:
            old.unlink()


def _lock_text(
    helm_lock: Path,
    lock_path: Path,
    wanted: list[dict[str, Any]],
    mapped: list[dict[str, Any]],
) -> str | None:
    """Chart.lock with the user's repository URLs and Helm's digest for them (module docstring);
    None to leave it as it is."""
    if not helm_lock.is_file():
        return None
    written = chartfile.load(helm_lock)
    if not isinstance(written, dict):
        return None
    locked = chartfile.dependencies(written, helm_lock)
    if chartlock.digest(mapped, locked) != written.get("digest"):
        sys.stderr.write(
            f"harbor-mirror: warning: {lock_path} not written: its digest cannot be reproduced "
            "for this Chart.yaml (the charts were fetched)\n"
        )
        return None
    upstream = {str(m.get("repository")): str(w.get("repository"))
                for m, w in zip(mapped, wanted, strict=True)}  # fmt: skip
    for entry in locked:
        entry["repository"] = upstream.get(str(entry.get("repository")), entry.get("repository"))
    text = helm_lock.read_text(encoding="utf-8")
    for harbor_url, original in upstream.items():
        if harbor_url != original:
            text = text.replace(f"repository: {harbor_url}\n", f"repository: {original}\n")
    return text.replace(str(written.get("digest")), chartlock.digest(wanted, locked))
