"""The lock file: written sorted and byte-stable, read back field by field, merged entry by
entry; anything else is one line naming the file and the field."""

from __future__ import annotations

import pytest

from postrender import lock
from postrender.errors import ConfigError

A, B, C, D = ("sha256:" + letter * 64 for letter in "abcd")
ETCD = "harbor.example.com/appco/containers/etcd:3.5"
BUSYBOX = "harbor.example.com/appco/containers/busybox:15.6"
CHART = "oci://harbor.example.com/appco/charts/etcd:1.0.0"
INDEX = lock.ImageLock(A, platforms={"linux/amd64": B, "linux/arm64": C})
CHART_SIG = "sha256-" + "a" * 64 + ".sig"


def sample() -> lock.Lock:
    return lock.Lock({ETCD: lock.with_platform(INDEX, frozenset({"linux/amd64"})),
                      BUSYBOX: lock.ImageLock(D)}, {CHART: lock.ChartLock(A, {CHART_SIG: C})})


def test_a_written_lock_reads_back_as_it_was(tmp_path):
    path = tmp_path / "lock.yaml"
    sample().write(path)
    assert lock.read(path) == sample()
    assert path.read_bytes() == sample().dump()
    text = path.read_text()
    assert text.index(f'"{BUSYBOX}"') < text.index(f'"{ETCD}"')  # sorted
    assert "\nversion: 1\n" in text and text.startswith("# helm-harbor-mirror lock file")
    assert f'"{CHART}":\n    digest: {A}\n    signatures:\n      {CHART_SIG}: {C}\n' in text


def test_a_chart_entry_without_signatures_reads_as_version_1_wrote_it(tmp_path):
    path = tmp_path / "lock.yaml"
    path.write_text(f'version: 1\ncharts:\n  "{CHART}":\n    digest: {A}\n')
    assert lock.read(path) == lock.Lock(charts={CHART: lock.ChartLock(A)})
    assert f'"{CHART}":\n    digest: {A}\nimages: {{}}\n' in lock.read(path).dump().decode()


def test_pins_follow_the_platform_chosen_else_the_tag_digest():
    pins = sample().pins()
    assert pins[ETCD].digest == B
    assert pins[ETCD].known == {A, B, C}
    assert pins[BUSYBOX].digest == D
    assert lock.with_platform(INDEX, frozenset({"linux/amd64", "linux/arm64"})).pin == A
    assert lock.with_platform(INDEX, frozenset({"linux/s390x"})).pin == A


def test_merge_keeps_other_entries_and_changed_ones_unless_asked():
    newer = lock.Lock({BUSYBOX: lock.ImageLock(C), "h.example/appco/x:1": lock.ImageLock(A)},
                      {CHART: lock.ChartLock(B)})
    kept, changed = sample().merged(newer, update=False)
    assert changed == [BUSYBOX, CHART]
    assert kept.images[BUSYBOX].upstream == D and kept.charts[CHART].digest == A
    assert kept.images["h.example/appco/x:1"].upstream == A and ETCD in kept.images
    updated, _ = sample().merged(newer, update=True)
    assert updated.images[BUSYBOX].upstream == C and updated.charts[CHART].digest == B


@pytest.mark.parametrize(("text", "problem"), [
    ("version: 2\n", "not a version 1 harbor-mirror lock"),
    ("[1, 2\n", "line 2: not valid YAML"),
    (f'version: 1\nimages:\n  "{ETCD}":\n    upstream: sha256:abc\n',
     f"image {ETCD} upstream: 'sha256:abc' is not a sha256 digest"),
    (f'version: 1\nimages:\n  "{ETCD}":\n    upstream: {A}\n    platform: linux/amd64\n',
     "platform linux/amd64 is not among its platforms"),
    (f"version: 1\ncharts: [{A}]\n", "charts: not a mapping"),
    (f'version: 1\ncharts:\n  "{CHART}":\n    digest: {A}\n    signatures:\n      x.sig: {B}\n',
     f"chart {CHART}: signatures: 'x.sig' is not a cosign"),
    (f'version: 1\ncharts:\n  "{CHART}":\n    digest: {A}\n    signatures:\n'
     f"      {CHART_SIG}: sha256:b\n", f"chart {CHART} signature {CHART_SIG}: 'sha256:b' is not"),
    (f'version: 1\ncharts:\n  "{CHART}": {A}\n', f"chart {CHART}: not a mapping"),
    (f'version: 1\nimages:\n  "{ETCD}":\n    upstream: {A}\n    platforms: {{"linux/amd64": {B}}}\n'
     "    platform: [linux/amd64]\n",
     f"lock file {{path}}: image {ETCD}: platform ['linux/amd64'] is not a platform name"),
    (f'version: 1\nimages:\n  "{ETCD}":\n    upstream: {A}\n    platforms: {{"linux/amd64": {B}}}\n'
     f"    platform: linux/amd64\n    pin: {A}\n",
     f"lock file {{path}}: image {ETCD}: pin {A} is not the digest of platform linux/amd64"),
    ("version: 1\nimages: " + "[" * 5000 + "\n", "nested too deeply"),
])
def test_anything_but_a_lock_is_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "lock.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        lock.read(path)
    message = str(raised.value)
    assert problem.replace("{path}", str(path)) in message
    assert str(path) in message and "\n" not in message


def test_a_missing_lock_says_how_to_write_one(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist: re-run `helm harbor-mirror verify "
                                          r"--write-lock`"):
        lock.read(tmp_path / "absent.yaml")


def test_a_rerun_without_platform_or_signatures_keeps_the_entry_as_it_was():
    earlier = lock.Lock({ETCD: lock.with_platform(INDEX, frozenset({"linux/amd64"}))._replace(
        harbor=D, signatures={CHART_SIG: C})}, {CHART: lock.ChartLock(A, {CHART_SIG: C})})
    rerun = lock.Lock({ETCD: INDEX}, {CHART: lock.ChartLock(A)})  # no --platform, no --signatures
    merged, changed = earlier.merged(rerun, update=False)
    assert changed == []
    assert merged == earlier
    assert merged.pins()[ETCD].digest == B  # still the platform's manifest
    other = lock.with_platform(INDEX, frozenset({"linux/arm64"}))
    chosen, _ = earlier.merged(lock.Lock({ETCD: other}), update=False)
    assert chosen.pins()[ETCD].digest == C  # a re-run that names a platform takes it


def test_update_lock_keeps_the_platform_choice_of_a_moved_tag_but_not_its_old_digests():
    earlier = lock.Lock({ETCD: lock.with_platform(INDEX, frozenset({"linux/amd64"}))._replace(
        harbor=D, signatures={CHART_SIG: C})})
    rebuilt = lock.ImageLock(D, platforms={"linux/amd64": C, "linux/arm64": B})
    updated, changed = earlier.merged(lock.Lock({ETCD: rebuilt}), update=True)  # no --platform
    assert changed == [ETCD]
    assert updated.images[ETCD] == rebuilt._replace(platform="linux/amd64")
    assert updated.pins()[ETCD].digest == C  # the new build's amd64 manifest, still local
    gone = lock.ImageLock(B, platforms={"linux/arm64": C})  # the platform is no longer built
    assert earlier.merged(lock.Lock({ETCD: gone}), update=True)[0].pins()[ETCD].digest == B
