"""`python -m bench`: harbor-mirror vs a kustomize `images:` transformer over the shared corpus.

For each corpus file: median wall time and peak RSS of the real `harbor-mirror postrender`
process, and, where `kubectl` is on PATH, of `kubectl kustomize` on a directory whose
kustomization lists every upstream image under `images:` (newName = the Harbor path); rows for
generated inputs the corpus lacks (bench/generated.py: flow style, anchors, an alias bomb);
then the start-up figures. Nothing is asserted: the targets are printed next to the figures.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from bench import generated, startup
from bench.measure import ACCURATE_RSS, Command, Figures, check, measure

REPO = Path(__file__).resolve().parent.parent
# Where harbor-mirror moves the images (its default project), so kustomize does the same work.
HARBOR_PREFIX = f"{startup.HARBOR_HOST}/application-collection"
_UPSTREAM_NAME = re.compile(
    r"(?<![A-Za-z0-9._/-])dp\.apps\.rancher\.io/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
TARGETS = (
    "targets: ratio harbor-mirror/kustomize < 1.0 (aim 0.5); < 100 ms for inputs under 50 KB;"
    " peak RSS < 3 x input + 60 MB"
)


class Row(NamedTuple):
    name: str
    size: int
    harbor: Figures
    kustomize: Figures | None
    note: str


def kustomization(text: str) -> str:
    """An `images:` entry for every upstream repository named anywhere in the stream."""
    names = sorted(set(_UPSTREAM_NAME.findall(text)))
    entries = "".join(
        f"- name: {name}\n  newName: {HARBOR_PREFIX}/{name.split('/', 1)[1]}\n" for name in names
    )
    return f"resources:\n- input.yaml\nimages:\n{entries}"


def with_object_pull_secrets(text: str) -> str:
    """Bare-string `imagePullSecrets` entries as `{name: …}`: kustomize rejects the bare form
    (kube-prometheus-stack renders it), so this copy is what kustomize can be timed on."""
    out: list[str] = []
    key_indent: int | None = None
    for line in text.splitlines(keepends=True):
        key = re.match(r"^(\s*)imagePullSecrets:\s*$", line)
        item = re.match(r"^(\s*)- ([A-Za-z0-9][A-Za-z0-9.-]*)\s*$", line)
        if key:
            key_indent = len(key.group(1))
        elif item and key_indent is not None and len(item.group(1)) >= key_indent:
            line = f"{item.group(1)}- name: {item.group(2)}\n"
        elif not re.match(r"^\s*- ", line):
            key_indent = None
        out.append(line)
    return "".join(out)


def kustomize_command(kubectl: str, source: Path, work: Path) -> tuple[Command | None, str]:
    """kustomize on the file; if it refuses, on a copy with the bare pull-secret entries fixed,
    and the note says so. (None: it fails either way.)"""
    text = source.read_text(encoding="utf-8")
    (work / "kustomization.yaml").write_text(kustomization(text), encoding="utf-8")
    (work / "input.yaml").write_text(text, encoding="utf-8")
    command = Command([kubectl, "kustomize", str(work)])
    error = check(command)
    if error is None:
        return command, ""
    failure = f"kustomize fails on the file as rendered: {error[:200]}"
    fixed = with_object_pull_secrets(text)
    if fixed == text:
        return None, failure
    (work / "input.yaml").write_text(fixed, encoding="utf-8")
    error = check(command)
    if error is not None:
        return None, f"{failure}; the copy with {{name: ...}} entries fails too: {error[:200]}"
    fixed_note = "timed on a copy with bare imagePullSecrets entries as {name: ...}"
    return command, f"{failure}; {fixed_note}"


def bench_file(path: Path, runs: int, kubectl: str | None, cli: str) -> Row:
    """harbor-mirror and kustomize runs interleaved, after a warm-up of each."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        harbor = Command([cli, *startup.POSTRENDER_ARGS], path, startup.isolated_env(work))
        error = check(harbor)
        if error is not None:
            return Row(path.name, path.stat().st_size, Figures(error=error), None, "")
        kustomize, note = kustomize_command(kubectl, path, work) if kubectl else (None, "")
        if kustomize is None:
            (figures,) = measure([harbor], runs)
            return Row(path.name, path.stat().st_size, figures, Figures(error=note), note)
        hm, kz = measure([harbor, kustomize], runs)
    return Row(path.name, path.stat().st_size, hm, kz, note)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _mb(figures: Figures | None) -> str:
    if figures is None or figures.peak_rss_bytes is None:
        return "-"
    return f"{figures.peak_rss_bytes / 2**20:.0f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}" if ours and theirs else "-"


def print_table(rows: list[Row]) -> None:
    print(TARGETS)
    print("hm = harbor-mirror postrender, kz = kubectl kustomize; ms = median wall, cpu = median")
    print("user+system ms, MB = peak RSS; ratio = hm/kz on wall time (cpu time in brackets)")
    header = (
        f"{'file':<45} {'KB':>5} {'hm ms':>6} {'cpu':>5} {'MB':>4} {'kz ms':>6} {'cpu':>5}"
        f" {'MB':>4} {'ratio':>12} {'<100ms':>6} {'mem':>4}"
    )
    print(header)
    print("-" * len(header))
    notes: list[str] = []
    for row in rows:
        hm, kz = row.harbor, row.kustomize or Figures()
        ratio = _ratio(hm.median_seconds, kz.median_seconds)
        if ratio != "-":
            ratio += f" ({_ratio(hm.median_cpu_seconds, kz.median_cpu_seconds)})"
        fast = "n/a"
        if row.size < 50_000 and hm.median_seconds is not None:
            fast = "ok" if hm.median_seconds < 0.1 else "MISS"
        mem = "-"
        if hm.peak_rss_bytes is not None:
            mem = "ok" if hm.peak_rss_bytes < 3 * row.size + 60 * 2**20 else "MISS"
        mark = ""
        if row.note:
            notes.append(row.note)
            mark = f"[{len(notes)}]"
        kz_ms = "failed" if kz.error else _ms(kz.median_seconds)
        print(
            f"{row.name:<45} {row.size / 1024:>5.0f} {_ms(hm.median_seconds):>6}"
            f" {_ms(hm.median_cpu_seconds):>5} {_mb(hm):>4} {kz_ms:>6}"
            f" {_ms(kz.median_cpu_seconds):>5} {_mb(row.kustomize):>4} {ratio:>12}"
            f" {fast:>6} {mem:>4} {mark}"
        )
        if hm.error:
            print(f"    harbor-mirror failed: {hm.error}")
    for number, note in enumerate(notes, start=1):
        print(f"[{number}] {note}")


def default_kubectl() -> str | None:
    """The pinned, checksum-verified kubectl the tests use, so figures compare across machines;
    whatever is on PATH when it cannot be had (offline)."""
    try:
        from tests.support import helmbin

        return str(helmbin.kubectl_binary())
    except Exception as exc:  # any failure to fetch just means: use PATH
        print(f"pinned kubectl unavailable ({exc}); using PATH", file=sys.stderr)
        return shutil.which("kubectl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per file (median)")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument(
        "--kubectl", help="default: the tests' pinned kubectl 1.35.2, else the one on PATH"
    )
    parser.add_argument("--only", default="", help="substring of the corpus file names to run")
    parser.add_argument(
        "--harbor-mirror",
        default=str(Path(sys.executable).with_name("harbor-mirror")),
        help="the executable to time; default: this venv's (an editable install), e.g. "
        "the plugin's own .venv/bin/harbor-mirror to time what Helm runs",
    )
    args = parser.parse_args(argv)
    args.kubectl = args.kubectl or default_kubectl()
    chosen = [path for path in args.corpus.glob("*.yaml") if args.only in path.name]
    files = sorted(chosen, key=lambda path: path.stat().st_size)
    if not files and not any(args.only in name for name in generated.INPUTS):
        print(f"no corpus files under {args.corpus}", file=sys.stderr)
        return 1
    if args.kubectl:
        version = subprocess.run(
            [args.kubectl, "version", "--client"], capture_output=True, text=True, check=False
        )
        print(f"kustomize: {args.kubectl} ({' / '.join(version.stdout.split(chr(10))[:2])})")
    else:
        print("kustomize: kubectl not on PATH, harbor-mirror figures only")
    print(f"harbor-mirror: {args.harbor_mirror}; {args.runs} timed runs each after a warm-up")
    if not ACCURATE_RSS:
        print("no GNU time: peak RSS figures include this bench's own memory at fork")
    rows = [bench_file(path, args.runs, args.kubectl, args.harbor_mirror) for path in files]
    with tempfile.TemporaryDirectory() as scratch:
        # harbor-mirror only: the point of these rows is the engine's own paths.
        rows += [
            bench_file(path, args.runs, None, args.harbor_mirror)
            for path in generated.write_inputs(Path(scratch), args.only)
        ]
    print_table(rows)
    startup.report(max(args.runs, 15), args.harbor_mirror)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
