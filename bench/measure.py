"""Run one process and measure it: wall time and peak RSS.

Peak RSS comes from GNU time (`/usr/bin/time -f %M`) where it is installed. Linux carries a
process's high-water RSS across fork and exec, so `wait4` on a child forked from this Python
process would report at least the bench's own memory; GNU time forks from a small C program.
Without it the figure is that `wait4` one, and `ACCURATE_RSS` says so.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

GNU_TIME = shutil.which("time", path="/usr/bin:/bin")
ACCURATE_RSS = GNU_TIME is not None


class Sample(NamedTuple):
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stderr: str


class Figures(NamedTuple):
    """Median wall time and the largest peak RSS over several runs (None: the command failed)."""

    median_seconds: float | None
    peak_rss_bytes: int | None
    error: str | None


def run_once(
    argv: Sequence[str],
    stdin: Path | None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Sample:
    """One run with stdout discarded, as a pipe reader that drains it would."""
    with tempfile.NamedTemporaryFile("r") as rss, open(stdin or os.devnull, "rb") as source:
        wrapped = [GNU_TIME, "-q", "-f", "%M", "-o", rss.name, *argv] if GNU_TIME else list(argv)
        start = time.perf_counter()
        process = subprocess.Popen(
            wrapped, stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd,
            env=env,
        )
        assert process.stderr is not None
        stderr = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.stderr.close()
        process.returncode = os.waitstatus_to_exitcode(status)
        # Both report KiB on Linux.
        kib = int(rss.read().strip().splitlines()[-1]) if GNU_TIME else usage.ru_maxrss
    return Sample(seconds, kib * 1024, process.returncode, stderr.decode(errors="replace"))


def measure(
    argv: Sequence[str],
    stdin: Path | None,
    runs: int,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Figures:
    """`runs` timed runs after one warm-up run (which fills the page cache and .pyc files)."""
    warm = run_once(argv, stdin, cwd, env)
    if warm.returncode != 0:
        return Figures(None, None, _first_line(warm.stderr) or f"exit {warm.returncode}")
    samples = [run_once(argv, stdin, cwd, env) for _ in range(runs)]
    failed = next((s for s in samples if s.returncode != 0), None)
    if failed is not None:
        return Figures(None, None, _first_line(failed.stderr) or f"exit {failed.returncode}")
    return Figures(
        statistics.median(s.seconds for s in samples), max(s.peak_rss_bytes for s in samples), None
    )


def _first_line(text: str) -> str:
    """The message of the first non-empty stderr line, without a klog `E1127 12:00:00 …` prefix."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    quoted = re.search(r'err="(.*)"$', line)
    return quoted.group(1) if quoted else line
