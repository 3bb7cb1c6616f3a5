"""Review pass over the foundation layer: digests, credentials, TLS, errors, concurrency, references."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import os
import ssl
import stat
import threading
import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, cast

import pytest
from imagegen import layer_tar, make_image, random_bytes
from registry_rig import LocalCA, RegistryInfo, RepoNamer, TokenServer, free_port
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    LayoutError,
    OkdReleaseError,
    RegistryError,
    UnauthorizedError,
)
from okdrelease.oci.digest import VerifyingReader, sha256_digest
from okdrelease.oci.layerread import read_entries
from okdrelease.oci.layerstack import read_stack
from okdrelease.oci.model import parse_manifest
from okdrelease.reference import ImageReference, parse_location
from okdrelease.transport.auth import Credentials, CredentialStore, TokenCache, run_credential_helper
from okdrelease.transport.base import PRESENT, REFUSED, TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.copy import copy_image
from okdrelease.transport.layout import LayoutRepository

# --------------------------------------------------------------------------------------------
# Digests


def test_verifying_reader_keeps_failing_after_a_mismatch() -> None:
    data = b"payload" * 100
    wrong = sha256_digest(b"other")
    reader = VerifyingReader(io.BytesIO(data), wrong, "blob X")
    with pytest.raises(DigestMismatchError, match=f"blob X does not match its digest {wrong}"):
        reader.read()
    # A consumer that swallowed the first error never sees a clean EOF afterwards.
    with pytest.raises(DigestMismatchError, match=f"blob X does not match its digest {wrong}"):
        reader.read(10)


def _verifying(blob: bytes, digest: str) -> IO[bytes]:
    return cast(IO[bytes], VerifyingReader(io.BytesIO(blob), digest, "layer"))


def test_reading_a_layer_verifies_the_digest_after_its_last_entry() -> None:
    # Bytes after the tar's end-of-archive blocks are never needed by the tar reader; they are still
    # part of the blob, so a layer scan and a stack read must read them and check the digest.
    tail = random_bytes(256 * 1024, "tail")
    blob = gzip.compress(layer_tar({"manifests/a.yaml": b"a: 1\n"}) + tail, mtime=0)
    good = sha256_digest(blob)
    assert [e.path for e in read_entries(_verifying(blob, good), "manifests/")] == ["a.yaml"]
    assert list(read_stack([_verifying(blob, good)], "manifests/")) == ["a.yaml"]
    wrong = sha256_digest(b"not this layer")
    with pytest.raises(DigestMismatchError, match=f"does not match its digest {wrong}"):
        read_entries(_verifying(blob, wrong), "manifests/")
    seen: list[str] = []
    with pytest.raises(DigestMismatchError, match=f"does not match its digest {wrong}"):
        read_stack(
            [_verifying(blob, wrong)], "manifests/", on_entry=lambda entry, _name: seen.append(entry.path)
        )
    assert seen == ["a.yaml"]


# --------------------------------------------------------------------------------------------
# Credentials


def test_transport_options_repr_hides_passwords() -> None:
    options = TransportOptions(credentials={"127.0.0.1:5000": ("alice", "hunter2-secret")})
    assert "hunter2-secret" not in repr(options)
    assert "hunter2-secret" not in str(options)


def _helper(tmp_path: Path, body: str, *, executable: bool = True) -> None:
    path = tmp_path / "docker-credential-review"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755 if executable else 0o644)


def test_credential_helper_failures_are_clean_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    _helper(tmp_path, "echo '[\"s3cret-in-list\"]'\n")
    with pytest.raises(OkdReleaseError) as err:
        run_credential_helper("review", "reg.example")
    assert (
        str(err.value) == "credential helper docker-credential-review returned invalid JSON for reg.example"
    )
    assert "s3cret" not in str(err.value)
    _helper(tmp_path, "echo hi\n", executable=False)
    assert not os.stat(tmp_path / "docker-credential-review").st_mode & stat.S_IXUSR
    with pytest.raises(OkdReleaseError) as err:
        run_credential_helper("review", "reg.example")
    assert str(err.value) == (
        "cannot run credential helper docker-credential-review for reg.example: Permission denied"
    )


def test_credential_helper_runs_once_for_a_concurrent_burst(tmp_path: Path) -> None:
    authfile = tmp_path / "auth.json"
    authfile.write_text('{"credHelpers": {"reg.example": "slow"}}')
    calls: list[str] = []

    def helper(name: str, server: str) -> Credentials | None:
        calls.append(name)
        time.sleep(0.2)
        return Credentials("alice", "pw")

    store = CredentialStore(str(authfile), helper=helper)
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _i: store.lookup("reg.example", "ns/repo"), range(8)))
    assert calls == ["slow"]
    assert {c.username for c in found if c is not None} == {"alice"} and None not in found


def test_token_fetched_once_for_a_concurrent_burst(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer
) -> None:
    options = options_for(registry_token)
    with RegistryClient(options) as client:
        name = unique_repo()
        image = make_image(repo_at(client, registry_token.host, name), "v1", seed="burst")
    token_server.reset_log()
    with RegistryClient(options) as client:
        repo = repo_at(client, registry_token.host, name)
        with ThreadPoolExecutor(8) as pool:
            digests = list(pool.map(lambda _i: repo.get_manifest("v1").digest, range(16)))
    assert digests == [image.digest] * 16
    assert [r.scopes for r in token_server.requests] == [(f"repository:{name}:pull",)]


# --------------------------------------------------------------------------------------------
# Errors that reach a user


def test_connection_refused_names_repository_and_reference(capsys: pytest.CaptureFixture[str]) -> None:
    host = f"127.0.0.1:{free_port()}"
    with RegistryClient(TransportOptions(retries=0)) as client, pytest.raises(RegistryError) as err:
        repo_at(client, host, "ns/app").get_manifest("v1")
    assert str(err.value) == (
        f"reading manifest {host}/ns/app:v1: registry {host}: cannot connect (Connection refused)"
    )
    assert (err.value.registry, err.value.repository, err.value.reference) == (host, "ns/app", "v1")
    capsys.readouterr()
    code = main(["copy", "--retry-times", "0", f"docker://{host}/ns/app:v1", "oci:/nonexistent-dir/x"])
    _out, stderr = capsys.readouterr()
    assert code == 1
    assert stderr == (
        f"error: reading manifest {host}/ns/app:v1: registry {host}: cannot connect (Connection refused)\n"
    )


@pytest.fixture
def plain_http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_tls_against_plain_http_gives_the_openssl_reason(plain_http_server: str) -> None:
    host = plain_http_server
    with RegistryClient(TransportOptions(retries=0)) as client, pytest.raises(RegistryError) as err:
        repo_at(client, host, "ns/app").has_blob(sha256_digest(b"x"))
    message = str(err.value)
    assert message.startswith(
        f"checking blob {host}/ns/app@{sha256_digest(b'x')}: registry {host}: TLS verification failed"
        " (wrong version number); "
    )
    assert "HTTPSConnectionPool" not in message and "Max retries" not in message


def test_bad_client_certificate_is_a_clean_error(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    (tmp_path / host).mkdir()
    (tmp_path / host / "client.cert").write_text("not a certificate")
    (tmp_path / host / "client.key").write_text("not a key")
    options = TransportOptions(certs_dirs=(str(tmp_path),), retries=0)
    with RegistryClient(options) as client, pytest.raises(OkdReleaseError) as err:
        repo_at(client, host, "ns/app").get_manifest("v1")
    assert str(err.value).startswith(
        f"reading manifest {host}/ns/app:v1: cannot load client certificate {tmp_path / host / 'client.cert'}"
        f" for registry {host}: "
    )


# --------------------------------------------------------------------------------------------
# References (distribution/reference rules)


@pytest.mark.parametrize(
    ("text", "registry", "repository", "api_host", "path"),
    [
        ("Foo/bar", "Foo", "bar", "Foo", "bar"),
        ("index.docker.io/ubuntu", "index.docker.io", "ubuntu", "registry-1.docker.io", "library/ubuntu"),
        ("[::1]:5000/a/b:t", "[::1]:5000", "a/b", "[::1]:5000", "a/b"),
    ],
)
def test_reference_domains(text: str, registry: str, repository: str, api_host: str, path: str) -> None:
    ref = ImageReference.parse(text)
    assert (ref.registry, ref.repository, ref.api_host, ref.path) == (registry, repository, api_host, path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo:tag\u00e9", "invalid image reference 'foo:tag\u00e9': invalid tag 'tag\u00e9'"),
        ("foo:\u0660", "invalid image reference 'foo:\u0660': invalid tag '\u0660'"),
        (
            "a" * 64,
            f"invalid image reference '{'a' * 64}': cannot specify 64-byte hexadecimal strings",
        ),
        (
            "x" * 246,  # docker.io/library/ + 246 = 264 characters
            f"invalid image reference '{'x' * 246}': repository name must not be more than 255 characters",
        ),
    ],
)
def test_reference_rejections(text: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError) as err:
        ImageReference.parse(text)
    assert str(err.value) == message


def test_reference_length_limit_is_on_the_normalised_name() -> None:
    name = "x" * (255 - len("docker.io/library/"))
    assert ImageReference.parse(name).path == "library/" + name
    with pytest.raises(InvalidReferenceError):
        ImageReference.parse(name + "x")


def test_with_tag_validates_and_empty_docker_location_is_quoted() -> None:
    ref = ImageReference.parse("quay.io/ns/app:1")
    assert str(ref.with_tag("2.0")) == "quay.io/ns/app:2.0"
    with pytest.raises(InvalidReferenceError, match=r"^invalid tag 'bad tag' for quay.io/ns/app$"):
        ref.with_tag("bad tag")
    with pytest.raises(
        InvalidReferenceError, match=r"^invalid image location 'docker://': no image reference$"
    ):
        parse_location("docker://")


# --------------------------------------------------------------------------------------------
# TLS trust for a token server on another host


def _tls_server(
    ca: LocalCA, name: str, handler: type[http.server.BaseHTTPRequestHandler]
) -> Generator[str, None, None]:
    cert, key = ca.issue_server_cert(name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def test_token_server_on_another_host_trusts_certs_d(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ca")
    manifest = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    token_requests: list[str] = []

    class Tokens(_Quiet):
        def do_GET(self) -> None:  # noqa: N802
            token_requests.append(self.path)
            self.reply(200, b'{"token": "tok-123", "expires_in": 300}', {"Content-Type": "application/json"})

    realm: list[str] = []

    class Registry(_Quiet):
        def do_GET(self) -> None:  # noqa: N802
            if self.headers.get("Authorization") != "Bearer tok-123":
                challenge = f'Bearer realm="https://{realm[0]}/token",service="reg"'
                self.reply(401, b"{}", {"WWW-Authenticate": challenge})
                return
            media_type = "application/vnd.oci.image.index.v1+json"
            self.reply(200, manifest, {"Content-Type": media_type})

    tokens = _tls_server(ca, "tokens", Tokens)
    registry = _tls_server(ca, "registry", Registry)
    realm.append(next(tokens))
    host = next(registry)
    certs_d = tmp_path / "certs.d"
    for name in (host, realm[0]):
        (certs_d / name).mkdir(parents=True)
        (certs_d / name / "ca.crt").write_bytes(Path(ca.ca_file).read_bytes())
    options = TransportOptions(certs_dirs=(str(certs_d),), retries=0)
    with RegistryClient(options) as client:
        assert repo_at(client, host, "ns/app").get_manifest("v1").digest == sha256_digest(manifest)
    assert token_requests == ["/token?service=reg&scope=repository%3Ans%2Fapp%3Apull"]
    for generator in (tokens, registry):
        generator.close()


# --------------------------------------------------------------------------------------------
# Tags


def test_registry_refuses_an_invalid_tag_before_any_request() -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens: the tag is refused before connecting
    with RegistryClient(TransportOptions(retries=0)) as client:
        repo = repo_at(client, host, "ns/app")
        with pytest.raises(InvalidReferenceError) as err:
            repo.put_manifest(b"{}", "application/vnd.oci.image.manifest.v1+json", "quay.io/ns/app:v1")
    assert str(err.value) == (
        f"cannot push manifest {sha256_digest(b'{}')} to {host}/ns/app: invalid tag 'quay.io/ns/app:v1'"
    )


def test_cli_whole_layout_to_registry_refuses_ref_names_that_are_not_tags(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = LayoutRepository(tmp_path / "src", create=True)
    good = make_image(layout, "good", seed="tags-good")
    make_image(layout, "quay.io/ns/app:v1", seed="tags-bad")
    name = unique_repo()
    dst = f"docker://{registry_http.host}/{name}"
    capsys.readouterr()
    code = main(["copy", "-q", "--insecure-registry", registry_http.host, f"oci:{tmp_path / 'src'}", dst])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert (
        err
        == f"error: oci:{tmp_path / 'src'} has ref name 'quay.io/ns/app:v1', which cannot be a tag in {dst[9:]}\n"
    )
    with RegistryClient(options_for(registry_http)) as client:
        repo = repo_at(client, registry_http.host, name)
        assert not any(repo.has_blob(blob.digest) for blob in (good.config, *good.layers))


# --------------------------------------------------------------------------------------------
# Token server retries


def _plain_server(handler: type[http.server.BaseHTTPRequestHandler]) -> tuple[str, http.server.HTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return f"127.0.0.1:{server.server_address[1]}", server


@pytest.mark.parametrize("failures", [1, 5])
def test_token_server_transient_errors_are_retried_with_retry_after(failures: int) -> None:
    manifest = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    answers = [503] * failures + [200]
    served: list[int] = []

    class Tokens(_Quiet):
        def do_GET(self) -> None:  # noqa: N802
            status = answers[min(len(served), len(answers) - 1)]
            served.append(status)
            if status != 200:
                self.reply(status, b"busy", {"Retry-After": "2"})
                return
            self.reply(200, b'{"token": "tok-9"}', {"Content-Type": "application/json"})

    token_host, token_server = _plain_server(Tokens)

    class Registry(_Quiet):
        def do_GET(self) -> None:  # noqa: N802
            if self.headers.get("Authorization") != "Bearer tok-9":
                self.reply(401, b"{}", {"WWW-Authenticate": f'Bearer realm="http://{token_host}/token"'})
                return
            self.reply(200, manifest, {"Content-Type": "application/vnd.oci.image.index.v1+json"})

    host, registry_server = _plain_server(Registry)
    sleeps: list[float] = []
    options = TransportOptions(insecure_registries=frozenset({host, token_host}), retries=3)
    try:
        with RegistryClient(options, sleep=sleeps.append) as client:
            repo = repo_at(client, host, "ns/app")
            if failures <= 3:
                assert repo.get_manifest("v1").digest == sha256_digest(manifest)
                assert (served, sleeps) == ([503, 200], [2.0])
            else:
                with pytest.raises(UnauthorizedError) as err:
                    repo.get_manifest("v1")
                assert str(err.value) == (
                    f"token server http://{token_host}/token for registry {host}"
                    " (scope repository:ns/app:pull) answered HTTP 503"
                )
                assert (served, sleeps) == ([503] * 4, [2.0, 2.0, 2.0])
    finally:
        for server in (token_server, registry_server):
            server.shutdown()
            server.server_close()


# --------------------------------------------------------------------------------------------
# Layout hard-link mounts


def test_a_layout_copy_verifies_the_source_blob(tmp_path: Path) -> None:
    """A layout mounts nothing (its blobs are its own, not another layout's hard links): a copy reads the
    source's blobs, verified, and stores none that does not match its digest."""
    source = LayoutRepository(tmp_path / "src", create=True)
    image = make_image(source, "v1", seed="mount")
    layer = image.layers[0].digest
    Path(source.blob_path(layer)).write_bytes(b"corrupted")
    dest = LayoutRepository(tmp_path / "dst", create=True)
    assert dest.mount_blob(layer, source) == REFUSED
    with pytest.raises(DigestMismatchError, match=f"blob {layer} in oci:{tmp_path / 'src'} does not match"):
        copy_image(source, "v1", dest, "v1")
    assert not dest.has_blob(layer) and dest.list_tags() == []
    # A sound blob is copied, not linked.
    config = image.config.digest
    if not dest.has_blob(config):  # (the failed copy may have stored it before it stopped)
        dest.put_blob(source.read_blob(config), config)
    assert dest.mount_blob(config, source) == PRESENT
    assert os.stat(dest.blob_path(config)).st_ino != os.stat(source.blob_path(config)).st_ino


@pytest.mark.parametrize(
    ("given", "host", "insecure"),
    [
        ("reg.example:5000", "reg.example:5000", True),
        ("https://Reg.Example:5000/", "reg.example:5000", True),
        ("reg.example:5000", "reg.example:5001", False),
        ("reg.example", "reg.example:5000", False),
        ("docker.io", "registry-1.docker.io", True),
    ],
)
def test_insecure_registry_names(given: str, host: str, insecure: bool) -> None:
    assert TransportOptions(insecure_registries=frozenset({given})).is_insecure(host) is insecure
    assert TransportOptions().is_insecure(host) is False


# --------------------------------------------------------------------------------------------
# Descriptors from untrusted manifests


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        ({"mediaType": "x", "digest": "sha256:../../etc/passwd", "size": 1}, "invalid digest"),
        ({"mediaType": "x", "digest": sha256_digest(b"a"), "size": -1}, "negative size -1"),
        (
            {"mediaType": "x", "digest": sha256_digest(b"a"), "size": 1, "platform": "linux"},
            "platform is a string, not an object",
        ),
        (
            {"mediaType": "x", "digest": sha256_digest(b"a"), "size": 1, "annotations": []},
            "annotations is an array, not an object",
        ),
    ],
)
def test_descriptors_are_validated(layer: dict[str, object], reason: str) -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "x", "digest": sha256_digest(b"c"), "size": 1},
            "layers": [layer],
        }
    ).encode()
    with pytest.raises(OkdReleaseError, match=f"^invalid descriptor layers\\[0\\]: {reason}"):
        parse_manifest(raw)


# --------------------------------------------------------------------------------------------
# Bodies that are too long or cut short


def test_verifying_reader_stops_at_the_declared_size() -> None:
    data = b"x" * (1 << 20)
    reader = VerifyingReader(io.BytesIO(data), sha256_digest(data), "blob Y", size=5)
    with pytest.raises(DigestMismatchError) as err:
        reader.read(1 << 16)
    assert (
        str(err.value) == f"content of blob Y is longer than the 5 bytes expected for {sha256_digest(data)}"
    )
    assert reader.bytes_read == 1 << 16  # one block, not the whole stream


def test_oversized_manifest_and_cut_blob_are_registry_errors() -> None:
    big = b'{"schemaVersion":2,"manifests":[],"pad":"' + b"x" * (5 << 20) + b'"}'
    blob_digest = sha256_digest(b"y" * 1000)

    class Registry(_Quiet):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/v2/":
                self.reply(200, b"{}", {})
            elif "/manifests/" in self.path:
                self.reply(200, big, {"Content-Type": "application/vnd.oci.image.index.v1+json"})
            else:  # promise 1000 bytes, send 10, hang up
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"y" * 10)
                self.wfile.flush()
                self.close_connection = True

    host, server = _plain_server(Registry)
    try:
        options = TransportOptions(insecure_registries=frozenset({host}), retries=0)
        with RegistryClient(options) as client:
            repo = repo_at(client, host, "ns/app")
            with pytest.raises(RegistryError) as err:
                repo.get_manifest("v1")
            assert str(err.value) == f"manifest {host}/ns/app:v1 is larger than 4194304 bytes"
            assert (err.value.repository, err.value.reference) == ("ns/app", "v1")
            with pytest.raises(RegistryError) as err:
                repo.read_blob(blob_digest, 1000)
            assert str(err.value) == (
                f"reading blob {host}/ns/app@{blob_digest}: connection broken (10 bytes read, 990 more expected)"
            )
    finally:
        server.shutdown()
        server.server_close()


def test_token_failure_is_shared_by_a_concurrent_burst() -> None:
    cache = TokenCache()
    calls: list[int] = []
    started = threading.Event()

    def failing() -> dict[str, str]:
        calls.append(1)
        started.set()
        time.sleep(2.0)  # long enough for the other 7 calls to join the in-flight fetch on a loaded machine
        raise UnauthorizedError("token server refused", registry="reg.example", status=401)

    def get(_i: int) -> str:
        try:
            return cache.get("reg.example", ["repository:a:pull"], failing)
        except UnauthorizedError as err:
            return f"{err} ({err.status})"

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(get, 0)
        started.wait(5)
        rest = list(pool.map(get, range(7)))
    assert [first.result(), *rest] == ["token server refused (401)"] * 8
    assert len(calls) == 1
    # A later, separate request asks the token server again.
    assert cache.get("reg.example", ["repository:a:pull"], lambda: {"token": "t"}) == "t"


def test_layout_write_failures_are_layout_errors(tmp_path: Path) -> None:
    repo = LayoutRepository(tmp_path / "dst", create=True)
    blobs = tmp_path / "dst" / "blobs" / "sha256"
    blobs.rmdir()
    blobs.write_text("in the way")
    data = b"layer bytes"
    digest = sha256_digest(data)
    for source in (data, io.BytesIO(data)):
        with pytest.raises(LayoutError) as err:
            repo.put_blob(source, digest)
        assert str(err.value) == f"cannot write blob {digest} for oci:{tmp_path / 'dst'}: File exists"


def test_unreachable_registry_is_not_retried_for_every_image() -> None:
    """A registry that refused the first connection fails fast for the rest of the run, same message."""
    import socket

    from okdrelease.errors import RegistryError as _RegistryError
    from okdrelease.reference import ImageReference as _Ref
    from okdrelease.transport.base import TransportOptions as _Options
    from okdrelease.transport.client import RegistryClient as _Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = _Client(_Options(insecure=True, retries=2, retry_max_sleep=0.1))
    pings: list[str] = []
    real_ping = client._ping

    def counting_ping(host: str):  # type: ignore[no-untyped-def]
        pings.append(host)
        return real_ping(host)

    client._ping = counting_ping  # type: ignore[method-assign]
    with pytest.raises(_RegistryError) as first:
        client.repository(_Ref.parse(f"127.0.0.1:{port}/ns/app")).get_manifest("v1")
    assert f"127.0.0.1:{port}/ns/app:v1" in str(first.value)
    for _ in range(20):
        with pytest.raises(_RegistryError) as again:
            client.repository(_Ref.parse(f"127.0.0.1:{port}/ns/other")).get_manifest("v2")
    assert pings == [f"127.0.0.1:{port}"]
    assert f"127.0.0.1:{port}/ns/other:v2" in str(again.value)
    assert "cannot connect" in str(again.value)
