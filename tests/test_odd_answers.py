"""Odd registry answers (through the fault proxy in front of the real registry) and odd inputs
end in one clear ``error:`` line naming the registry, never an internal error: a Location that
is no URL (a redirect's, an upload session's) or not http(s), an upload session without a
Location, a token that cannot be a header value, a bad ``Content-Length``, manifest lists
nested deeper than a copy follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import GeneratedImage, build_image, push_image
from proxied_cli import ProxiedCli, cli
from registry_rig import RegistryInfo, RepoNamer
from test_faults import FAST, one_error_line, seed_layout, seed_registry
from test_registry import options_for, repo_at

from okdrelease.errors import NotFoundError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.copy import MAX_INDEX_DEPTH


@pytest.fixture(scope="module")
def pulled(registry_http: RegistryInfo) -> tuple[str, GeneratedImage]:
    """One small image pushed straight to the registry as NAME:v1."""
    name = RepoNamer("odd-answers")()
    image = build_image(seed="odd-answers", layers=1, layer_size=512)
    seed_registry(registry_http, name, image)
    return name, image


def _copy_down(proxied: ProxiedCli, name: str, tmp_path: Path) -> str:
    """The one error line of a copy of NAME:v1 through the proxy that fails (nothing written)."""
    code, out, err = proxied.copy(proxied.image(name), f"oci:{tmp_path}/o:v1", *FAST)
    assert (code, out) == (1, ""), err
    assert not (tmp_path / "o").exists()
    return one_error_line(err)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        (
            "http://127.0.0.1:99999/x",
            "http://127.0.0.1:99999/x is not a valid URL (Port out of range 0-65535)",
        ),
        (
            "http://u:SECRET@[::1/x?X-Amz-Signature=SIG",
            "http://[::1/x is not a valid URL (Invalid IPv6 URL)",
        ),
        ("file:///etc/passwd", "file:///etc/passwd is not an http(s) URL"),
    ],
)
def test_redirect_to_no_http_url_is_a_clear_error(
    proxy: FaultProxy,
    pulled: tuple[str, GeneratedImage],
    tmp_path: Path,
    proxied: ProxiedCli,
    location: str,
    reason: str,
) -> None:
    name, image = pulled
    layer = image.layers[0].digest
    proxy.add(
        Rule("GET", f"/blobs/{layer}$", "answer", times=None, status=307, headers=(("Location", location),))
    )
    line = _copy_down(proxied, name, tmp_path)
    assert line == (
        f"error: reading blob {proxy.host}/{name}@{layer}: registry {proxy.host}: the redirect target {reason}"
    )
    assert "SECRET" not in line and "SIG" not in line
    assert proxy.count("GET", f"/blobs/{layer}$") == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (
            (("Location", "http://[::1"),),
            "registry {host}: the upload Location target http://[::1 is not a valid URL (Invalid IPv6 URL)",
        ),
        (
            (("Location", "http://127.0.0.1:99999/up"),),
            "registry {host}: the upload Location target http://127.0.0.1:99999/up is not a valid URL"
            " (Port out of range 0-65535)",
        ),
        (
            (),
            "starting blob upload {host}/{name}@{layer}: registry {host} answered 202 without the upload's Location",
        ),
    ],
)
def test_upload_location_that_is_no_url_is_a_clear_error(
    proxy: FaultProxy,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    proxied: ProxiedCli,
    headers: tuple[tuple[str, str], ...],
    reason: str,
) -> None:
    image = build_image(seed=f"odd-upload-{len(headers)}-{reason[:20]}", layers=1, layer_size=512)
    source = seed_layout(tmp_path / "src", image)
    proxy.add(Rule("POST", "/blobs/uploads/$", "answer", times=None, status=202, headers=headers))
    name = unique_repo()
    code, out, err = proxied.copy(source, proxied.image(name), *FAST)
    assert (code, out) == (1, ""), err
    # (which blob's upload is refused first depends on the workers' order)
    expected = {f"error: {reason.format(host=proxy.host, name=name, layer=b.digest)}" for b in image.blobs}
    assert one_error_line(err) in expected
    with RegistryClient(options_for(registry_http)) as client, pytest.raises(NotFoundError):
        repo_at(client, registry_http.host, name).resolve("v1")


@pytest.mark.parametrize("length", ["-5", "abc", "3, 4"])
def test_bad_content_length_is_refused_at_once(
    proxy: FaultProxy,
    pulled: tuple[str, GeneratedImage],
    tmp_path: Path,
    proxied: ProxiedCli,
    length: str,
) -> None:
    name, image = pulled
    proxy.add(
        Rule(
            "GET",
            "/manifests/v1$",
            "answer",
            times=None,
            status=200,
            headers=(("Content-Type", image.media_type),),
            body=image.manifest,
            content_length=length,
        )
    )
    line = _copy_down(proxied, name, tmp_path)
    assert (
        line
        == f"error: reading manifest {proxy.host}/{name}:v1: registry {proxy.host}: bad Content-Length {length!r}"
    )
    assert proxy.count("GET", "/manifests/v1$") == 1


def test_token_that_is_no_header_value_is_a_clear_error(
    proxy: FaultProxy, pulled: tuple[str, GeneratedImage], tmp_path: Path, proxied: ProxiedCli
) -> None:
    name, _image = pulled
    realm = f"http://{proxy.host}/token"
    proxy.add(
        Rule(
            "GET",
            "/manifests/",
            "answer",
            times=None,
            status=401,
            headers=(("WWW-Authenticate", f'Bearer realm="{realm}",service="odd"'),),
        ),
        Rule("GET", "^/token", "answer", times=None, status=200, body=b'{"token": "\\u00e9\\u2603"}'),
    )
    line = _copy_down(proxied, name, tmp_path)
    assert (
        line
        == f"error: token server {realm} for registry {proxy.host} returned a token that is not printable ASCII"
    )


def _nest(repo: object, image: GeneratedImage, levels: int) -> list[str]:
    """Push ``levels`` manifest lists, each holding the one below it, over ``image``; return their
    digests, the top's first."""
    digests: list[str] = []
    media_type, digest, size = image.media_type, image.digest, len(image.manifest)
    for _ in range(levels):
        entry = {
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "platform": {"os": "linux", "architecture": "amd64"},
        }
        data = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry]}).encode()
        digest = repo.put_manifest(data, mt.OCI_INDEX, None)  # type: ignore[attr-defined]
        assert digest == sha256_digest(data)
        media_type, size = mt.OCI_INDEX, len(data)
        digests.insert(0, digest)
    return digests


@pytest.mark.parametrize("multi_arch", ["all", "system"])
def test_manifest_lists_nested_too_deep_are_refused(
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    multi_arch: str,
) -> None:
    name = unique_repo()
    image = build_image(seed="odd-nested", layers=1, layer_size=256)
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, name)
        push_image(repo, image)
        deepest = _nest(repo, image, MAX_INDEX_DEPTH)[0]
        too_deep = _nest(repo, image, MAX_INDEX_DEPTH + 1)
        hostile = _nest(repo, image, 1500)
    src = f"{registry_http.host}/{name}"
    flags = (*FAST, "--insecure-registry", registry_http.host, "--multi-arch", multi_arch)
    code, out, err = cli(capsys, "copy", *flags, f"{src}@{deepest}", f"oci:{tmp_path}/ok:v1")
    # system: the one image of this machine's platform at the bottom of the lists
    assert (code, out, err) == (0, f"{deepest if multi_arch == 'all' else image.digest}\n", "")
    for lists in (too_deep, hostile):
        code, out, err = cli(capsys, "copy", *flags, f"{src}@{lists[0]}", f"oci:{tmp_path}/o:v1")
        assert (code, out) == (1, "")
        assert one_error_line(err) == (
            f"error: manifest list {lists[MAX_INDEX_DEPTH]} in {src} is nested more than"
            f" {MAX_INDEX_DEPTH} manifest lists deep"
        )
        assert not (tmp_path / "o").exists()


def _answer_error_body(proxy: FaultProxy, body: dict[str, object]) -> None:
    """Every GET of manifest v1 answers 404 with ``body`` as its JSON error body."""
    proxy.add(
        Rule(
            "GET",
            "/manifests/v1$",
            "answer",
            times=None,
            status=404,
            headers=(("Content-Type", "application/json"),),
            body=json.dumps(body).encode(),
        )
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # control characters and a line break cannot colour the terminal or forge an error line
        (
            {
                "errors": [
                    {"code": "MANIFEST_UNKNOWN", "message": "\x1b[2J\x1b[31mpwned\r\nerror: fake\u2028é"}
                ]
            },
            "MANIFEST_UNKNOWN: \\x1b[2J\\x1b[31mpwned\\r\\nerror: fake\\u2028é",
        ),
        # a code or message that is no string shows as JSON (Go's clients quote the body then)
        ({"errors": [{"code": "X", "message": ["a"], "detail": None}]}, 'X: ["a"]'),
        ({"errors": [{"code": 5, "message": {"k": [1, None]}}]}, '5: {"k":[1,null]}'),
        ({"errors": [{"code": "\x07", "message": None}]}, "\\x07: "),
    ],
    ids=["controls", "list-message", "number-code", "bell-code"],
)
def test_registry_error_body_is_shown_escaped(
    proxy: FaultProxy,
    pulled: tuple[str, GeneratedImage],
    tmp_path: Path,
    proxied: ProxiedCli,
    body: dict[str, object],
    detail: str,
) -> None:
    name, _image = pulled
    _answer_error_body(proxy, body)
    line = _copy_down(proxied, name, tmp_path)
    assert line == f"error: reading manifest {proxy.host}/{name}:v1: HTTP 404 ({detail})"


def test_registry_error_text_body_is_shown_escaped(
    proxy: FaultProxy, pulled: tuple[str, GeneratedImage], tmp_path: Path, proxied: ProxiedCli
) -> None:
    name, _image = pulled
    proxy.add(
        Rule(
            "GET",
            "/manifests/v1$",
            "answer",
            times=None,
            status=503,
            body=b"down\r\nerror: fake \x1b]0;t\x07",
        )
    )
    line = _copy_down(proxied, name, tmp_path)
    assert line == (
        f"error: reading manifest {proxy.host}/{name}:v1: HTTP 503 (down\\r\\nerror: fake \\x1b]0;t\\x07)"
    )


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        # oc's wording (the entries as Go decodes them), escaped
        (
            {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "red\x1b[0m\nerror: fake", "detail": {}}]},
            "manifest unknown: red\\x1b[0m\\nerror: fake",
        ),
        # Go cannot decode a message that is no string (oc: "error parsing HTTP 404 response body"):
        # okdrelease's own wording, the message as JSON
        (
            {"errors": [{"code": "X", "message": ["a"]}]},
            'reading manifest {host}/{name}:v1: HTTP 404 (X: ["a"])',
        ),
    ],
    ids=["controls", "list-message"],
)
def test_registry_error_body_in_oc_wording_is_shown_escaped(
    proxy: FaultProxy,
    pulled: tuple[str, GeneratedImage],
    proxied: ProxiedCli,
    body: dict[str, object],
    shown: str,
) -> None:
    name, _image = pulled
    _answer_error_body(proxy, body)
    code, out, err = proxied.run("info", *FAST, proxied.image(name))
    assert (code, out) == (1, "")
    reason = shown.format(host=proxy.host, name=name)
    assert one_error_line(err) == f'error: image "{proxy.host}/{name}:v1" not found: {reason}'


def test_redirect_host_with_control_characters_is_shown_escaped(
    proxy: FaultProxy, pulled: tuple[str, GeneratedImage], tmp_path: Path, proxied: ProxiedCli
) -> None:
    name, image = pulled
    layer = image.layers[0].digest
    proxy.add(
        Rule(
            "GET",
            f"/blobs/{layer}$",
            "answer",
            times=None,
            status=307,
            headers=(("Location", "http://no\x1bhost\x07.invalid/x"),),
        )
    )
    line = _copy_down(proxied, name, tmp_path)
    assert line.startswith(
        f"error: reading blob {proxy.host}/{name}@{layer}: host no\\x1bhost\\x07.invalid"
        f" (named by registry {proxy.host}): cannot connect ("
    ), line
