"""The reference grammar against distribution/reference's tricky cases."""

from __future__ import annotations

import pytest

from postrender.rewrite import imageref
from postrender.rewrite.imageref import Reference

DIGEST = "sha256:" + "f" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("test.com:5000", Reference(None, "test.com", "5000")),
        ("test.com:tag", Reference(None, "test.com", "tag")),
        ("foo_bar.com:8080", Reference(None, "foo_bar.com", "8080")),
        ("192.168.1.1:5000", Reference(None, "192.168.1.1", "5000")),
        ("test:5000/repo", Reference("test:5000", "repo")),
        ("test:5000/repo:tag", Reference("test:5000", "repo", "tag")),
        ("192.168.1.1:5000/repo:5050", Reference("192.168.1.1:5000", "repo", "5050")),
        (f"test:5000/repo:tag@{DIGEST}", Reference("test:5000", "repo", "tag", DIGEST)),
        ("localhost/debian", Reference("localhost", "debian")),
        ("localhost:5000/x", Reference("localhost:5000", "x")),
        ("LOCALDOMAIN/debian", Reference("LOCALDOMAIN", "debian")),
        ("lowercase:Uppercase", Reference(None, "lowercase", "Uppercase")),
        ("[2001:db8::1]/repo", Reference("[2001:db8::1]", "repo")),
        ("[::1]:5000/repo", Reference("[::1]:5000", "repo")),
        (
            f"[2001:db8::1]:5000/repo:tag@{DIGEST}",
            Reference("[2001:db8::1]:5000", "repo", "tag", DIGEST),
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com",
            Reference("b.gcr.io", "test.example.com/my-app", "test.example.com"),
        ),
        (
            f"xn--7o8h.com/myimage:xn--7o8h.com@{DIGEST}",
            Reference("xn--7o8h.com", "myimage", "xn--7o8h.com", DIGEST),
        ),
        ("gcr.io/library/busybox", Reference("gcr.io", "library/busybox")),
        ("foo/bar", Reference(None, "foo/bar")),
        ("example.com/" + "a" * 255, Reference("example.com", "a" * 255)),
        (
            f"dp.apps.rancher.io/containers/etcd:3.5.14-7.7@{DIGEST}",
            Reference("dp.apps.rancher.io", "containers/etcd", "3.5.14-7.7", DIGEST),
        ),
    ],
)
def test_parse_valid_reference_round_trips(text: str, expected: Reference) -> None:
    assert imageref.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "at least one component"),
        ("Uppercase:tag", "lowercase"),
        ("test:5000/Uppercase/lowercase:tag", "lowercase"),
        ("docker/Docker", "lowercase"),
        ("[2001:db8::1]", "invalid reference format"),
        ("[2001:db8::1]:5000", "invalid reference format"),
        ("[fc00::1]", "invalid reference format"),
        ("fc00::1:5000/debian", "invalid reference format"),
        ("[fe80::1%eth0]:5000/repo", "invalid reference format"),
        ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid reference format"),
        (":justtag", "invalid reference format"),
        (f"@{DIGEST}", "invalid reference format"),
        ("repo@sha256:" + "f" * 34, "digest length"),
        ("validname@invaliddigest:" + "f" * 64, "unsupported digest"),
        ("validname@sha512:" + "f" * 128, "unsupported digest"),
        ("domain/" + "a" * 256 + ":tag", "not be more than 255"),
        ("aa/asdf$$^/aa", "invalid reference format"),
        ("docker///docker", "invalid reference format"),
        ("-docker", "invalid reference format"),
        ("https://github.com/docker/docker", "invalid reference format"),
    ],
)
def test_parse_invalid_reference_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        imageref.parse(text)


UPSTREAM = "dp.apps.rancher.io"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dp.apps.rancher.io/containers/etcd:1", "H/P/containers/etcd:1"),
        (f"dp.apps.rancher.io/c/x:1@{DIGEST}", f"H/P/c/x:1@{DIGEST}"),
        (f"dp.apps.rancher.io/c/x@{DIGEST}", f"H/P/c/x@{DIGEST}"),
        ("--image=dp.apps.rancher.io/c/x:1", "--image=H/P/c/x:1"),
        ("a dp.apps.rancher.io/c/x,dp.apps.rancher.io/c/y", "a H/P/c/x,H/P/c/y"),
        ("oci://dp.apps.rancher.io/charts/etcd", "oci://H/P/charts/etcd"),
        ("docker://dp.apps.rancher.io/c/x:1", "docker://H/P/c/x:1"),
        ('{"image":"dp.apps.rancher.io/c/x"}', '{"image":"H/P/c/x"}'),
        # near misses stay exactly as they are
        ("notdp.apps.rancher.io/c/x", "notdp.apps.rancher.io/c/x"),
        ("dp.apps.rancher.io.evil/c/x", "dp.apps.rancher.io.evil/c/x"),
        ("dp.apps.rancher.io:4430/c/x", "dp.apps.rancher.io:4430/c/x"),
        ("mirror.example.com/dp.apps.rancher.io/c/x", "mirror.example.com/dp.apps.rancher.io/c/x"),
        ("https://dp.apps.rancher.io/v2/", "https://dp.apps.rancher.io/v2/"),
        ("dp.apps.rancher.io", "dp.apps.rancher.io"),
        ("dp.apps.rancher.io/", "dp.apps.rancher.io/"),
        ("x-dp.apps.rancher.io/c/x", "x-dp.apps.rancher.io/c/x"),
    ],
)
def test_replace_host_only_at_a_boundary(text: str, expected: str) -> None:
    assert imageref.replace_host(text, UPSTREAM, "H/P") == expected


def test_replace_host_keeps_tag_and_digest_exactly() -> None:
    text = f"dp.apps.rancher.io/containers/x:v3.14.0-distroless@{DIGEST}"
    rewritten = imageref.replace_host(text, UPSTREAM, "core.harbor.domain/application-collection")
    before, after = imageref.parse(text), imageref.parse(rewritten)
    assert (after.tag, after.digest) == (before.tag, before.digest)
    assert after.domain == "core.harbor.domain"
    assert after.path == "application-collection/containers/x"


def test_find_host_spans_cover_the_domain() -> None:
    text = "a=dp.apps.rancher.io/x b=notdp.apps.rancher.io/y c=dp.apps.rancher.io/z"
    assert [text[s:e] for s, e in imageref.find_host(text, UPSTREAM)] == [UPSTREAM, UPSTREAM]
    assert imageref.find_host(text, UPSTREAM)[0] == (2, 2 + len(UPSTREAM))
    spelled = "oci://u:p@dp.apps.rancher.io:443/charts/x"
    assert imageref.find_host(spelled, UPSTREAM) == [(6, spelled.index("/charts"))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # HTTPS's own port is the registry without one
        ("dp.apps.rancher.io:443/containers/etcd:3.5", "H/P/containers/etcd:3.5"),
        ("DP.Apps.Rancher.IO:443/containers/etcd", "H/P/containers/etcd"),
        ("oci://dp.apps.rancher.io:443/charts/etcd", "oci://H/P/charts/etcd"),
        # a URL's credentials are the upstream's, never Harbor's: they go with the host
        ("oci://user:pass@dp.apps.rancher.io/charts/etcd", "oci://H/P/charts/etcd"),
        ("oci://me:p%40ss!$@dp.apps.rancher.io:443/charts/etcd:1", "oci://H/P/charts/etcd:1"),
        ("url: 'oci://token@dp.apps.rancher.io/charts'", "url: 'oci://H/P/charts'"),
    ],
)
def test_every_spelling_of_the_upstream_maps_to_harbor(text: str, expected: str) -> None:
    assert imageref.replace_host(text, UPSTREAM, "H/P") == expected


def test_hide_credentials_keeps_the_rest_of_the_url() -> None:
    assert imageref.hide_credentials("a oci://u:p@x.example/c b oci://y.example/d e@f") == (
        "a oci://***@x.example/c b oci://y.example/d e@f"
    )
    assert imageref.hide_credentials(r'{"u": "https:\/\/me:pw@x.example\/v2"}') == (
        r'{"u": "https:\/\/***@x.example\/v2"}')
