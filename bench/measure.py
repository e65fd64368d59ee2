"""Run processes and measure them: wall time, CPU time and peak RSS.

Peak RSS comes from GNU time (`/usr/bin/time -f %M`) where it is installed. Linux carries a
process's high-water RSS across fork and exec, so `wait4` on a child forked from this Python
process would report at least the bench's own memory; GNU time forks from a small C program.
Without it the figure is that `wait4` one, and `ACCURATE_RSS` says so. CPU time (user + system,
reaped children included) is printed beside wall time because it moves less when other work
shares the machine.
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


class Command(NamedTuple):
    argv: Sequence[str]
    stdin: Path | None = None
    env: dict[str, str] | None = None


class Sample(NamedTuple):
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    returncode: int
    stderr: str


class Figures(NamedTuple):
    """Medians over several runs and the largest peak RSS; `error` set when the command failed."""

    median_seconds: float | None = None
    median_cpu_seconds: float | None = None
    peak_rss_bytes: int | None = None
    error: str | None = None


def run_once(command: Command) -> Sample:
    """One run with stdout discarded, as a pipe reader that drains it would."""
    with tempfile.NamedTemporaryFile("r") as rss, open(command.stdin or os.devnull, "rb") as src:
        argv = list(command.argv)
        wrapped = [GNU_TIME, "-q", "-f", "%M", "-o", rss.name, *argv] if GNU_TIME else argv
        start = time.perf_counter()
        process = subprocess.Popen(
            wrapped, stdin=src, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=command.env
        )
        assert process.stderr is not None
        stderr = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.stderr.close()
        process.returncode = os.waitstatus_to_exitcode(status)
        # Both report KiB on Linux.
        kib = int(rss.read().strip().splitlines()[-1]) if GNU_TIME else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(seconds, cpu, kib * 1024, process.returncode, stderr.decode(errors="replace"))


def check(command: Command) -> str | None:
    """Run once (a warm-up: page cache, .pyc files); the error message if it failed."""
    sample = run_once(command)
    if sample.returncode == 0:
        return None
    return _first_line(sample.stderr) or f"exit {sample.returncode}"


def measure(commands: Sequence[Command], runs: int) -> list[Figures]:
    """`runs` rounds, each running every command once, so a burst of load elsewhere on the
    machine hits all of them alike; call `check` first for the warm-up."""
    samples: list[list[Sample]] = [[] for _ in commands]
    for _ in range(runs):
        for command, taken in zip(commands, samples, strict=True):
            taken.append(run_once(command))
    return [_figures(taken) for taken in samples]


def _figures(samples: list[Sample]) -> Figures:
    failed = next((s for s in samples if s.returncode != 0), None)
    if failed is not None:
        return Figures(error=_first_line(failed.stderr) or f"exit {failed.returncode}")
    return Figures(
        statistics.median(s.seconds for s in samples),
        statistics.median(s.cpu_seconds for s in samples),
        max(s.peak_rss_bytes for s in samples),
    )


def _first_line(text: str) -> str:
    """The message of the first non-empty stderr line, without a klog `E1127 12:00:00 …` prefix."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    quoted = re.search(r'err="(.*)"$', line)
    return quoted.group(1) if quoted else line
