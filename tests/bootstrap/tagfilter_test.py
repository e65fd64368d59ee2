"""A replication tag filter that drops cosign's signature tags is warned about, with the filter
that keeps them (Harbor's doublestar patterns, `pkg/reg/util/pattern.go`)."""

from __future__ import annotations

import re

import pytest

from postrender.bootstrap.tagfilter import _regex, keeping_signatures, keeps_signatures, warning
from tests.support.setup_runs import run_cli


@pytest.mark.parametrize("pattern", [None, "", "*", "**", "sha256-*", "{3.5.*,sha256-*}",
                                     "{3.5.*,sha256-*.{sig,att}}", "[0-9s]*"])
def test_filters_that_keep_signatures(pattern):
    assert keeps_signatures(pattern)
    assert warning(pattern) is None


@pytest.mark.parametrize("pattern", ["3.5.*", "{3.5.*,3.6.*}", "v*", "*.sig", "[0-9]*", "latest"])
def test_filters_that_drop_them_get_one_that_keeps_them(pattern):
    assert not keeps_signatures(pattern)
    fixed = keeping_signatures(pattern)
    assert keeps_signatures(fixed)
    message = warning(pattern)
    assert message is not None and repr(fixed) in message


def test_the_suggested_filter_still_selects_what_the_original_did():
    """The matcher on ordinary tags, as doublestar matches them."""
    assert keeping_signatures("3.5.*") == "{3.5.*,sha256-*}"
    assert keeping_signatures("{3.5.*,3.6.*}") == "{3.5.*,3.6.*,sha256-*}"
    for pattern, tag, matches in [("{3.5.*,sha256-*}", "3.5.17", True),
                                  ("{3.5.*,sha256-*}", "3.6.0", False),
                                  ("3.5.?", "3.5.1", True), ("v[!0]*", "v1", True),
                                  ("v[!0]*", "v0", False), ("a\\*", "a*", True),
                                  ("a\\*", "ab", False)]:
        assert bool(re.match(_regex(pattern) + r"\Z", tag)) is matches, (pattern, tag)


def test_setup_warns_when_the_replication_tag_filter_drops_signatures(
    harbor, upstream_registry, tmp_path
):
    result = run_cli(harbor.url, upstream_registry, tmp_path, "--mode", "replication",
                     "--filter-name", "containers/etcd", "--filter-tag", "3.5.*", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert ("warning: --filter-tag '3.5.*' does not match cosign's sha256-<digest>.sig/.att "
            "tags") in result.stdout
    assert "use --filter-tag '{3.5.*,sha256-*}' to keep them" in result.stdout
