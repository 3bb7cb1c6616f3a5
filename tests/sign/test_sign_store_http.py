"""Signature stores and lookasides over HTTP(S): URLs shown without secrets, the transport's words
for failures, the registries' trust (CA, insecure), and a store URL's query kept after the path.
Real servers on 127.0.0.1; TLS with a certificate from the session's test CA."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_rig import LocalCA
from sign_support import StoreHandler, run_cli
from test_registry import Loopback
from test_transport_tls_hosts import server_context

from okdrelease.errors import FetchError, SignatureError
from okdrelease.sign import store
from okdrelease.sign.api import sign_release, verify_release
from okdrelease.sign.lookaside import DockerName, load_registries_d, read_lookaside
from okdrelease.sign.openpgp import SecretKey, generate_key
from okdrelease.sign.policy import ImageSignatures
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.fetch import UrlReader

HEX = "7c" * 32
DIGEST = f"sha256:{HEX}"
IMAGE = f"quay.io/okd/scos-release@{DIGEST}"
SECRETS = ("store-secret-pw", "qs-secret", "frag-secret")


class _Server(Loopback):
    """A loopback server answering as ``StoreHandler`` does, with ``responses`` of its own."""

    def __init__(self, context: ssl.SSLContext | None) -> None:
        self.handler: type[StoreHandler] = type(
            "Handler", (StoreHandler,), {"responses": {}, "seen": [], "authorization": []}
        )
        super().__init__(self.handler, context)


@pytest.fixture
def plain_server() -> Iterator[_Server]:
    server = _Server(None)
    yield server
    server.stop()


@pytest.fixture
def tls_server(registry_ca: LocalCA) -> Iterator[_Server]:
    server = _Server(server_context(registry_ca, "sigstore-http"))
    yield server
    server.stop()


@pytest.fixture
def misnamed_tls_server(registry_ca: LocalCA) -> Iterator[_Server]:
    """A server whose certificate, from the test CA, names another host than 127.0.0.1."""
    cert, key = registry_ca.issue_server_cert("sigstore-misnamed", dns_names=("sigs.example",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _Server(context)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key() -> SecretKey:
    return generate_key("store http test <store@example.com>", bits=2048)


@pytest.fixture(scope="module")
def signature(key: SecretKey, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return sign_release(IMAGE, key, signature_dir=tmp_path_factory.mktemp("sigs")).signature


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_store_query_stays_after_the_path_and_userinfo_is_basic_auth_never_shown(
    plain_server: _Server,
) -> None:
    """Before: ``GET /sigs?tok=qs-secret/sha256=…/signature-1`` and errors showing
    ``user:store-secret-pw@`` and ``?tok=qs-secret``."""
    base = f"http://user:store-secret-pw@{plain_server.host}/sigs?tok=qs-secret#frag-secret"
    path = f"/sigs/sha256={HEX}"
    plain_server.handler.responses[f"{path}/signature-1?tok=qs-secret"] = (200, b"one")
    plain_server.handler.responses[f"{path}/signature-2?tok=qs-secret"] = (500, b"boom")
    result = store.read_signatures_from_url(base, DIGEST)
    assert result.signatures == (b"one",)
    assert result.errors == (f"http://{plain_server.host}{path}/signature-2: HTTP 500",)
    basic = "Basic dXNlcjpzdG9yZS1zZWNyZXQtcHc="  # user:store-secret-pw
    assert plain_server.handler.seen == [f"{path}/signature-{i}?tok=qs-secret" for i in (1, 2, 3)]
    assert plain_server.handler.authorization == [basic] * 3


def test_store_without_an_answer_is_worded_as_the_transport_words_it() -> None:
    """Before: ``…: HTTPConnectionPool(host='127.0.0.1', port=N): Max retries exceeded …``."""
    port = _closed_port()
    url = f"http://user:store-secret-pw@127.0.0.1:{port}/sigs?tok=qs-secret"
    result = store.read_signatures_from_url(url, DIGEST)
    assert result == store.StoreResult(
        (), (f"http://127.0.0.1:{port}/sigs/sha256={HEX}/signature-1: cannot connect (Connection refused)",)
    )


def test_verify_release_errors_name_no_secret(key: SecretKey) -> None:
    port = _closed_port()
    with pytest.raises(SignatureError) as caught:
        verify_release(
            DIGEST,
            {"k": key.keyring()},
            store_urls=[f"http://u:store-secret-pw@127.0.0.1:{port}/s?tok=qs-secret"],
        )
    assert str(caught.value) == (
        f"unable to verify {DIGEST} against keyrings: k"
        f"\n* store: http://127.0.0.1:{port}/s/sha256={HEX}/signature-1: cannot connect (Connection refused)"
        "\n* no signatures found"
    )


def test_https_store_trusts_the_given_ca_or_an_insecure_host(
    tls_server: _Server, registry_ca: LocalCA, key: SecretKey, signature: bytes
) -> None:
    """Before: --certificate-authority, --insecure and --insecure-registry were ignored for stores."""
    tls_server.handler.responses[f"/sigs/sha256={HEX}/signature-1"] = (200, signature)
    url = f"https://{tls_server.host}/sigs"
    untrusted = store.read_signatures_from_url(url, DIGEST)
    assert untrusted.errors == (
        f"{url}/sha256={HEX}/signature-1: TLS verification failed (certificate verify failed: unable to get"
        f" local issuer certificate); trust its CA with --certificate-authority or certs.d/{tls_server.host},"
        f" or mark it insecure (--insecure-registry {tls_server.host}) if it serves an untrusted certificate",
    )
    for options in (
        TransportOptions(ca_file=str(registry_ca.ca_file)),
        TransportOptions(insecure=True),
        TransportOptions(insecure_registries=frozenset({tls_server.host})),
    ):
        result = verify_release(DIGEST, {"k": key.keyring()}, store_urls=[url], options=options)
        assert [s.source for s in result.signatures] == [f"{url}/sha256={HEX}/signature-1"]


def test_lookaside_over_https_with_secrets_in_its_url(
    tls_server: _Server, registry_ca: LocalCA, signature: bytes
) -> None:
    name = DockerName.parse(IMAGE)
    path = f"/sigs/okd/scos-release@sha256={HEX}"
    tls_server.handler.responses[f"{path}/signature-1?tok=qs-secret"] = (200, signature)
    tls_server.handler.responses[f"{path}/signature-2?tok=qs-secret"] = (403, b"no")
    base = f"https://user:store-secret-pw@{tls_server.host}/sigs?tok=qs-secret"
    with pytest.raises(SignatureError) as caught:
        read_lookaside(base, name, DIGEST)
    assert str(caught.value) == (
        f"reading signature from https://{tls_server.host}{path}/signature-1: TLS verification failed"
        " (certificate verify failed: unable to get local issuer certificate); trust its CA with"
        f" --certificate-authority or certs.d/{tls_server.host}, or mark it insecure (--insecure-registry"
        f" {tls_server.host}) if it serves an untrusted certificate"
    )
    with (
        pytest.raises(SignatureError) as caught,
        UrlReader(TransportOptions(ca_file=str(registry_ca.ca_file))) as reader,
    ):
        read_lookaside(base, name, DIGEST, reader=reader)
    assert (
        str(caught.value) == f"reading signature from https://{tls_server.host}{path}/signature-2: HTTP 403"
    )
    assert tls_server.handler.seen == [f"{path}/signature-{i}?tok=qs-secret" for i in (1, 2)]


def test_cli_verify_store_and_lookaside_trust_the_ca_and_show_no_secret(
    tls_server: _Server,
    registry_ca: LocalCA,
    key: SecretKey,
    signature: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    signature_commands_only: None,
) -> None:
    public = tmp_path / "public.asc"
    public.write_text(key.export_public())
    tls_server.handler.responses[f"/s/sha256={HEX}/signature-1?tok=qs-secret"] = (200, signature)
    tls_server.handler.responses[f"/l/okd/scos-release@sha256={HEX}/signature-1?tok=qs-secret"] = (
        200,
        signature,
    )
    store_url = f"https://user:store-secret-pw@{tls_server.host}/s?tok=qs-secret"
    lookaside_url = f"https://user:store-secret-pw@{tls_server.host}/l?tok=qs-secret"
    argv = ["verify", "--keyring", f"k={public}", "--store", store_url, IMAGE]
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (1, "")
    failure = (
        f"https://{tls_server.host}/s/sha256={HEX}/signature-1: TLS verification failed (certificate"
        " verify failed: unable to get local issuer certificate); trust its CA with --certificate-authority or"
        f" certs.d/{tls_server.host}, or mark it insecure (--insecure-registry {tls_server.host}) if it serves"
        " an untrusted certificate"
    )
    assert err == (
        f"warning: signature store: {failure}\n"
        f"error: unable to verify {DIGEST} against keyrings: k\n* store: {failure}\n* no signatures found\n"
    )
    assert not any(secret in err for secret in SECRETS)
    for flag, source in (
        ("--store", f"https://{tls_server.host}/s/sha256={HEX}/signature-1"),
        ("--lookaside", f"https://{tls_server.host}/l/okd/scos-release@sha256={HEX}/signature-1"),
    ):
        url = store_url if flag == "--store" else lookaside_url
        argv = [
            "verify",
            "--keyring",
            f"k={public}",
            flag,
            url,
            "--certificate-authority",
            str(registry_ca.ca_file),
        ]
        code, out, err = run_cli(capsys, *argv, IMAGE)
        assert (code, err) == (0, "")
        assert out.endswith(f"from {source}\n")


def test_policy_lookaside_over_https_uses_the_checker_options(
    tls_server: _Server, registry_ca: LocalCA, signature: bytes, tmp_path: Path
) -> None:
    """``verify --policy`` and ``new --verify-components`` read a registries.d lookaside with the
    run's TLS settings (before: always requests' own trust)."""
    (tmp_path / "okd.yaml").write_text(
        f"docker:\n  quay.io/okd:\n    lookaside: https://{tls_server.host}/l\n"
    )
    tls_server.handler.responses[f"/l/okd/scos-release@sha256={HEX}/signature-1"] = (200, signature)
    registries = load_registries_d(tmp_path)
    name = DockerName.parse(IMAGE)
    trusted = ImageSignatures(registries, options=TransportOptions(ca_file=str(registry_ca.ca_file)))
    assert trusted.simple_signatures(name, DIGEST) == [signature]
    with pytest.raises(SignatureError) as caught:
        ImageSignatures(registries).simple_signatures(name, DIGEST)
    assert str(caught.value).startswith(
        f"reading signature from https://{tls_server.host}/l/okd/scos-release@sha256={HEX}/signature-1:"
        " TLS verification failed (certificate verify failed: unable to get local issuer certificate); "
    )


def test_a_store_whose_certificate_names_other_hosts_gets_the_name_advice(
    misnamed_tls_server: _Server, registry_ca: LocalCA
) -> None:
    """Its CA is trusted: the advice is that of a registry's name mismatch, not to trust its CA
    (before: 'trust its CA with --certificate-authority or certs.d/HOST, …' whatever the failure)."""
    host = misnamed_tls_server.host
    url = f"https://{host}/sigs/sha256={HEX}/signature-1"
    with (
        UrlReader(TransportOptions(ca_file=str(registry_ca.ca_file))) as reader,
        pytest.raises(FetchError) as caught,
    ):
        reader.get(url, 100)
    assert str(caught.value) == (
        f"{url}: TLS verification failed (certificate verify failed: IP address mismatch, certificate is not"
        " valid for '127.0.0.1'); its certificate is for other host names: use a name it holds, or mark the"
        f" host insecure (--insecure-registry {host}) to accept it"
    )
    assert misnamed_tls_server.handler.seen == []


def test_a_store_that_cannot_be_reached_is_a_fetch_error_not_a_signature_error() -> None:
    """The reader is the transport's: its failures are FetchError (before: SignatureError, from
    okdrelease.sign.fetch), which the signature code words as its own."""
    port = _closed_port()
    with UrlReader() as reader, pytest.raises(FetchError) as caught:
        reader.get(f"http://127.0.0.1:{port}/s", 100)
    assert not isinstance(caught.value, SignatureError)
    assert str(caught.value) == f"http://127.0.0.1:{port}/s: cannot connect (Connection refused)"
