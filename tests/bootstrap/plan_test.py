"""The plan setup works to: what it makes of --harbor-url and what it refuses before a request."""

from __future__ import annotations

import re

import pytest

from postrender.bootstrap.plan import Plan
from postrender.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://core.harbor.domain/", "core.harbor.domain"),
        ("https://Core.Harbor.Domain:443", "core.harbor.domain"),
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("https://[::1]", "[::1]"),
        ("https://[::1]:8443", "[::1]:8443"),
    ],
)
def test_plan_harbor_host_is_what_image_references_use(url: str, host: str):
    assert Plan(harbor_url=url).harbor_host == host


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://harbor", "is not an http(s) URL"),
        ("https://harbor/api/v2.0", "must be just scheme://host[:port]"),
        ("https://user@harbor", "must be just scheme://host[:port]"),
        ("https://harbor:99999", "has an invalid port"),
        ("https://[::1", "is not an http(s) URL"),
    ],
)
def test_plan_refuses_harbor_urls_it_cannot_use(url: str, needle: str):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        Plan(harbor_url=url)
