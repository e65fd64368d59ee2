"""`helm harbor-mirror install|upgrade|template|pull ARGS`: the user's helm command, through Harbor.

The arguments are helm's own and go to `$HELM_BIN` (else helm on PATH) unchanged, except:

- an `oci://UPSTREAM/…` chart argument becomes Harbor's URL of it (`Harbor.map_charts`), and
  helm runs signed in as the robot, trusting setup's CA (`Harbor.helm_environ`, `tls_flags`);
- install/upgrade/template get the post-renderer in the form the running Helm takes: the
  plugin `harbor-mirror` on Helm 4, this program's own executable on Helm 3 (so no PATH link
  is needed); `--post-renderer-args` of the user's go to it (`--strict`, `--report FILE`);
- on Helm 3, which never post-renders hooks, a chart whose values have `global.imageRegistry`
  (the Application Collection convention) also gets `--set global.imageRegistry=HARBOR/PROJECT`
  and, with a Harbor pull secret configured, `global.imagePullSecrets[0]`; these come before the
  user's own `--set`s, which therefore still win;
- `--verify` is taken out and becomes the post-renderer's `--verify`: every reference it
  rewrites is checked through Harbor before Helm creates anything. On Helm 3, whose
  post-renderer never sees hooks, install and template are first rendered with `helm template`
  and the whole stream checked (`check`); upgrade keeps the post-renderer's check only.
  `--signatures`, `--attestations` and `--key FILE` (repeatable) are taken out too and go with
  it: the check then also verifies cosign signatures through Harbor (`verify --signatures`),
  and, before helm runs at all, those of an `oci://` chart (the post-renderer never sees it).
- a failure is one line; when Helm 4 reports only that the post-renderer failed (it drops the
  post-renderer's stderr), the reason is the line the post-renderer kept in its last-error file.

Refused (exit 2): `--post-renderer` (this command attaches its own; use plain helm to run
another), `--registry-config` (helm would read the login from there instead of the robot's).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

from postrender.errors import ConfigError, HarborMirrorError, VerifyFailed
from postrender.helm.args import Chart, CommandLine, Major, oci_chart, split_own
from postrender.helm.harbor import Harbor
from postrender.helm.render import failure, helm_major, run_helm, through_harbor
from postrender.helmhome import last_error_file
from postrender.rewrite.pin import NOT_PINNED_DIR_PREFIX, NOT_PINNED_FILE_ENV, NOT_PINNED_FILE_NAME
from postrender.settings import Settings

WRAPPED = ("install", "upgrade", "template", "pull")
_POST_RENDERED = ("install", "upgrade", "template")
_HOOKS_RENDERED = ("install", "template")  # `helm template` takes every install flag
POST_RENDERER_PLUGIN = "harbor-mirror"  # postrender/plugin.yaml's name
_REFUSED = {
    "--post-renderer": "this command attaches the harbor-mirror post-renderer itself; run plain "
    "helm to use another one",
    "--registry-config": "Helm signs in to Harbor with the robot from setup's Secret file; run "
    "`helm harbor-mirror login` and plain helm to use your own registry config",
}


class Command(NamedTuple):
    """The helm command line to run, and the Harbor chart URLs in it (for messages)."""

    args: list[str]
    charts: list[str]


def own_executable() -> str:
    """This program as Helm 3 can run it: the console script beside the running Python (the
    plugin's environment), else `harbor-mirror` on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "harbor-mirror")
    found = beside if os.access(beside, os.X_OK) else shutil.which("harbor-mirror")
    if not found:
        raise ConfigError(f"cannot find the harbor-mirror executable (looked at {beside})")
    return found


def _post_renderer(major: int) -> list[str]:
    if major >= 4:
        return ["--post-renderer", POST_RENDERER_PLUGIN]
    return ["--post-renderer", own_executable(), "--post-renderer-args", "postrender"]


# The wrapper's own options that go with --verify (name → takes a value).
_SIGNATURE_OPTIONS = {"--signatures": False, "--attestations": False, "--key": True}


def split_signatures(subcommand: str, args: Sequence[str], major: Major
                     ) -> tuple[list[str], list[str]]:
    """(helm's arguments, the post-renderer options asking for signature checks:
    `--signatures`, `--attestations`, `--key=FILE[:FILE...]` with absolute paths)."""
    own, helm = split_own(subcommand, args, major, _SIGNATURE_OPTIONS)
    switches: list[str] = []
    keys: list[str] = []
    taken = iter(own)
    for arg in taken:
        name, has_value, value = arg.partition("=")
        if name == "--help":
            helm.append(arg)  # not ours: helm's own help
        elif name != "--key":
            switches += [name] if name not in switches else []
        elif not has_value and (value := next(taken, "")) == "":
            raise ConfigError(f"{subcommand}: --key needs a FILE (a PEM public key)")
        elif os.pathsep in value:
            raise ConfigError(f"{subcommand}: --key {value!r}: a path with {os.pathsep!r} "
                              "cannot be passed on; rename the file")
        else:
            keys.append(os.path.abspath(value))
    return helm, switches + ([f"--key={os.pathsep.join(keys)}"] if keys else [])


def split_verify(line: CommandLine) -> tuple[list[str], bool]:
    """The arguments without `--verify` (ours here, not Helm's provenance check), and whether
    it was there; a `--verify` that is another flag's value stays hers."""
    ours = set(line.switch_indexes("--verify"))
    return line.without(ours), bool(ours)


def refuse(line: CommandLine) -> None:
    """Bad input before anything runs: a flag this command cannot honour."""
    for flag, _ in line.flags():
        if flag in _REFUSED:
            raise ConfigError(f"{line.subcommand}: {flag} is not allowed here: {_REFUSED[flag]}")


def build(
    line: CommandLine,
    harbor: Harbor,
    settings: Settings,
    *,
    major: int,
    verify: bool,
    environ: Mapping[str, str],
    signature_args: Sequence[str] = (),
) -> Command:
    """The helm command line for `helm harbor-mirror SUBCOMMAND ARGS`; `signature_args` go to
    the post-renderer's `--verify`."""
    subcommand = line.subcommand
    mapped, charts = harbor.map_charts(line)
    if settings.lock is not None:
        mapped, charts = locked_chart(line, mapped, charts, settings.lock)
    extra = harbor.tls_flags()  # before the user's args: a --ca-file of theirs wins
    if subcommand in _POST_RENDERED:
        extra += _post_renderer(major)
        if verify:
            for arg in ("--verify", *signature_args):
                extra += ["--post-renderer-args", arg]
        for arg in lock_option(settings):
            extra += ["--post-renderer-args", arg]
        if major == 3:
            hooks = hook_values(line, mapped, charts, harbor, settings, environ)
            if hooks and settings.lock is not None:
                _hooks_not_pinned(line)
            extra += hooks
    elif verify:
        raise ConfigError(f"{subcommand}: --verify checks rendered manifests; {subcommand} "
                          "renders none")
    return Command([subcommand, *extra, *mapped], charts)


def lock_option(settings: Settings) -> list[str]:
    """The post-renderer's `--lock` for the wrapper's lock, by a path that holds wherever it
    runs; nothing without one."""
    return [f"--lock={os.path.abspath(settings.lock)}"] if settings.lock is not None else []


def locked_chart(line: CommandLine, mapped: list[str], charts: Sequence[str], lock: str
                 ) -> tuple[list[str], list[str]]:  # fmt: skip
    """`mapped` and `charts` with the Harbor chart URL pinned to the digest the lock records
    for its version: `oci://H/P/charts/x@sha256:…` and no `--version`, which Helm pulls by the
    digest alone (with a version too it would ask Harbor for the tag, `ValidateReference`)."""
    from pathlib import Path

    from postrender.lock import read

    locked = read(Path(lock))
    mapped, pinned, dropped = list(mapped), [], set()
    for index in line.positional_indexes():
        if mapped[index] not in charts:
            continue
        try:
            mapped[index] = locked.chart_pin(mapped[index], line.last("--version"), where=lock)
        except ConfigError as error:
            raise ConfigError(f"{line.subcommand}: {error}") from None
        pinned.append(mapped[index])
        dropped |= line.flag_indexes("--version")
    return [arg for index, arg in enumerate(mapped) if index not in dropped], pinned


def _hooks_not_pinned(line: CommandLine) -> None:
    """Helm 3 never post-renders hooks: the registry `global.imageRegistry` gives them is a
    prefix, with no place for a digest. Said on stderr; refused with --strict."""
    problem = ("the images of the chart's hooks, if it has any: Helm 3 never post-renders "
               "hooks, and global.imageRegistry points them at Harbor by tag")
    given = line.values("--post-renderer-args")  # a list flag: commas separate its values
    if any("--strict" in value.split(",") for value in given):
        raise ConfigError(f"{line.subcommand}: --lock with --strict on Helm 3 cannot pin "
                          f"{problem}; use Helm 4, which post-renders hooks")
    sys.stderr.write(f"harbor-mirror: not pinned: {problem}\n")


def hook_values(
    line: CommandLine,
    mapped: Sequence[str],
    charts: Sequence[str],
    harbor: Harbor,
    settings: Settings,
    environ: Mapping[str, str],
) -> list[str]:
    """Helm 3 leaves hooks alone, so charts that take their registry from `global.imageRegistry`
    are pointed at Harbor through it; other charts get nothing (an unknown value could fail a
    strict values schema)."""
    values = show_values(line, mapped, charts, harbor, environ)
    global_values = values.get("global") if isinstance(values, dict) else None
    if not isinstance(global_values, dict) or "imageRegistry" not in global_values:
        return []
    sets = ["--set", f"global.imageRegistry={harbor.rule.target_prefix}"]
    if settings.pull_secret:
        names = global_values.get("imagePullSecrets")
        bare = isinstance(names, list) and bool(names) and isinstance(names[0], str)
        entry = "" if bare else ".name"  # the chart's own form: `- name` or `- {name: name}`
        sets += ["--set", f"global.imagePullSecrets[0]{entry}={settings.pull_secret}"]
    return sets


# The flags of the command line that say which chart `helm show values` should read.
_CHART_FLAGS = ("--version", "--devel", "--repo", "--ca-file", "--insecure-skip-tls-verify",
                "--plain-http", "--cert-file", "--key-file", "--keyring", "--pass-credentials")


def show_values(
    line: CommandLine,
    mapped: Sequence[str],
    charts: Sequence[str],
    harbor: Harbor,
    environ: Mapping[str, str],
) -> object:
    """The chart's default values, fetched as the command itself will fetch the chart (`mapped`:
    the command's arguments with the chart through Harbor), so a failure is the command's."""
    positionals = [mapped[index] for index in line.positional_indexes()]
    if not positionals:
        raise ConfigError("no chart given (helm install/upgrade/template NAME CHART ...)")
    chart = positionals[-1]
    by_digest = "@" in chart  # pinned by --lock: a --version would make Helm ask for the tag
    flags = [f"{flag}={value}" if value is not None else flag for flag, value in line.flags()
             if flag in _CHART_FLAGS and not (by_digest and flag == "--version")]
    command = ["show", "values", chart, *harbor.tls_flags(), *flags]
    with harbor.helm_environ(environ) as env:
        done = run_helm(command, env)
    if done.returncode != 0:
        raise HarborMirrorError(
            failure(f"helm {line.subcommand}", done.returncode, done.stderr, charts)
        )
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=False).load(done.stdout)
    except YAMLError:
        return None


Check = Callable[[str, Sequence[str], Chart | None], None]
"""Raises when a reference in the rendered stream, or the chart, does not resolve through
Harbor; the second argument is the post-renderer's options for the check (`--verify`,
`--signatures`, …)."""


def run(
    subcommand: str,
    args: Sequence[str],
    settings: Settings,
    environ: Mapping[str, str] = os.environ,
    *,
    check: Check | None = None,
) -> int:
    """Run the wrapped helm command; its stdout is the user's, its stderr becomes one line on
    failure (naming the Harbor chart URL) and passes through on success.

    `check` is how `--verify` sees what Helm 3 never post-renders: for install and template
    the stream is rendered first (hooks included) and checked before anything else runs. With
    `--signatures`/`--attestations` it checks the `oci://` chart first, before helm runs.
    """
    if subcommand not in WRAPPED:
        raise ConfigError(f"{subcommand!r} is not one of {', '.join(WRAPPED)}")
    asked = helm_major(environ) if subcommand in _POST_RENDERED else None
    major: Major = asked or (lambda: helm_major(environ))  # pull: only if a flag's reading needs it
    args, signature_args = split_signatures(subcommand, args, major)
    args, verify = split_verify(CommandLine.parse(subcommand, args, major))
    if signature_args and not verify:
        raise ConfigError(f"{subcommand}: --signatures, --attestations and --key go with "
                          "--verify")
    line = CommandLine.parse(subcommand, args, major)
    refuse(line)
    harbor = Harbor.from_settings(settings, environ)
    preflight = verify and asked == 3 and check is not None and subcommand in _HOOKS_RENDERED
    if preflight and "--output-dir" in dict(line.flags()):
        raise ConfigError(f"{subcommand}: --verify on Helm 3 checks the stream helm template "
                          "prints, and --output-dir writes it to files instead; drop one")
    command = build(line, harbor, settings, major=asked or 4, verify=verify and not preflight,
                    environ=environ, signature_args=signature_args)  # fmt: skip
    stdin = values_read_twice(subcommand, line) if preflight else None  # both runs read them
    chart = oci_chart(line) if signature_args and subcommand in _POST_RENDERED else None
    checking = ["--verify", *signature_args, *lock_option(settings)]  # as the post-renderer's
    if check is not None and chart is not None:  # its signature: no rendered stream names it
        _checked(check, "", checking, chart, command.charts)
    started = time.time()
    with harbor.helm_environ(environ) as env, _not_pinned_relayed(env, settings.lock):
        if preflight:
            assert check is not None
            # install's flags all fit
            done = run_helm(["template", *command.args[1:]], env, stdin=stdin)
            _raise_on_failure(subcommand, done, command.charts, started, environ)
            _checked(check, done.stdout.decode("utf-8", "replace"), checking, None,
                     command.charts)
            if subcommand == "template":  # already rendered: show it, do not render twice
                sys.stdout.buffer.write(done.stdout)
                sys.stdout.flush()
                _succeeded(done, env)
                return 0
        done = run_helm(command.args, env, stdout_to_user=True, stdin=stdin)
        _raise_on_failure(subcommand, done, command.charts, started, environ)
        _succeeded(done, env)
    return 0


@contextlib.contextmanager
def _not_pinned_relayed(env: dict[str, str], lock: str | None) -> Iterator[None]:
    """With --lock, `env` names a private file for the post-renderer's `not pinned` lines
    (Helm drops the stderr of a post-renderer that succeeds); removed afterwards. A file the
    user's environment names is not ours to read or have written: dropped."""
    env.pop(NOT_PINNED_FILE_ENV, None)
    if lock is None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix=NOT_PINNED_DIR_PREFIX) as private:
        env[NOT_PINNED_FILE_ENV] = os.path.join(private, NOT_PINNED_FILE_NAME)
        yield


def _succeeded(done: subprocess.CompletedProcess[bytes], env: Mapping[str, str]) -> None:
    """Helm's stderr, then the post-renderer's `not pinned` lines, once each (Helm 3's
    --verify runs it twice)."""
    sys.stderr.buffer.write(done.stderr or b"")
    relay = env.get(NOT_PINNED_FILE_ENV)
    if relay is not None and os.path.exists(relay):
        with open(relay, encoding="utf-8", errors="replace") as file:
            sys.stderr.write("".join(dict.fromkeys(file.readlines())))


# Helm reads a values file named `-` from stdin (pkg/cli/values/options.go `readFile`); the
# others are stdin by its file name, which Helm opens as any file.
_STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


def values_read_twice(subcommand: str, line: CommandLine) -> bytes | None:
    """For Helm 3's --verify, which renders first and then runs the command: what `-f -` (or
    `-f /dev/stdin`, `--set-file key=-`) reads, read once here for both, or None when nothing
    reads stdin. Any other pipe (`-f <(sops -d …)`) can be read once too, and the release would
    be installed without its values: refused."""
    files = [name.strip() for value in line.values("-f", "--values") for name in value.split(",")]
    files += [pair.partition("=")[2].strip() for value in line.values("--set-file")
              for pair in value.split(",")]  # fmt: skip
    for name in files:
        if name not in _STDIN_NAMES and _is_pipe(name):
            raise ConfigError(
                f"{subcommand} --verify: {name} is a pipe, which can be read once, and Helm 3 "
                f"reads it twice (to check, then to {subcommand}): give a file, or pipe it "
                "into -f -"
            )
    return sys.stdin.buffer.read() if any(name in _STDIN_NAMES for name in files) else None


def _is_pipe(name: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(name).st_mode)
    except (OSError, ValueError):  # no such file: Helm says so
        return False


def _checked(
    check: Check, text: str, options: Sequence[str], chart: Chart | None, charts: Sequence[str]
) -> None:
    """`check`, its failure one line naming the chart, as the post-renderer's is on Helm 4."""
    try:
        check(text, options, chart)
    except VerifyFailed as error:
        raise VerifyFailed(f"{error}{through_harbor(charts)}") from None


def _raise_on_failure(
    subcommand: str,
    done: subprocess.CompletedProcess[bytes],
    charts: Sequence[str],
    started: float,
    environ: Mapping[str, str],
) -> None:
    if done.returncode == 0:
        return
    stderr = done.stderr or b""
    said = _post_renderer_said(stderr, started, environ)
    if said:
        stderr += b"\nharbor-mirror: " + said.encode("utf-8")
    raise HarborMirrorError(failure(f"helm {subcommand}", done.returncode, stderr, charts))


def _post_renderer_said(
    stderr: bytes, started: float, environ: Mapping[str, str]
) -> str | None:
    """Why the post-renderer failed, when Helm 4 dropped its stderr: the line it kept in its
    last-error file, if this run wrote that file (an older one is another run's)."""
    if b"post-renderer plugin" not in stderr:
        return None
    path = last_error_file(environ)
    try:
        if os.stat(path).st_mtime < started - 0.05:  # file times are a clock tick coarse
            return None
        with open(path, encoding="utf-8", errors="replace") as file:
            recorded = file.read().strip()
    except OSError:
        return None
    return recorded.partition(" ")[2] or None  # without its time stamp
