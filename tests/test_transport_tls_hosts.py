"""TLS to another host than the registry's (an upload ``Location``, a redirect) uses that host's own
settings: one registry's opt-out of verification, CAs and client certificates never carry over. The
token server a registry's challenge names is offered the cert dir's client certificate, as the
registry is."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from imagegen import DOCKER, build_image, make_image
from registry_rig import LocalCA, RegistryInfo, RepoNamer, TokenServer, free_port
from test_registry import (
    Fault,
    Loopback,
    OtherHost,
    RecordingProxy,
    options_for,
    proxy_client,
    repo_at,
    token_recorder,
)

from okdrelease.errors import RegistryError
from okdrelease.transport import client as client_module
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient

__all__ = ["token_recorder"]  # the recording proxy in front of the Bearer-token registry (a fixture)

#: The reason Python's ssl gives for a certificate no trusted CA signed.
UNTRUSTED = "certificate verify failed: unable to get local issuer certificate"


def tls_refusal(a: str, b: str) -> str:
    """How an untrusted certificate of host B, named by registry A, is told (after what was done)."""
    return (
        f"host {b} (named by registry {a}): TLS verification failed ({UNTRUSTED}); the registry's TLS"
        f" settings do not apply to another host: trust its CA with --certificate-authority or"
        f" certs.d/{b}, or mark it insecure (--insecure-registry {b}) if it serves an untrusted certificate"
    )


def server_context(ca: LocalCA, name: str) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 issued by ``ca``."""
    cert, key = ca.issue_server_cert(name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def http_proxy(registry_http: RegistryInfo) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the plain-HTTP registry (registry A, marked insecure)."""
    proxy = RecordingProxy(registry_http).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def tls_proxy(registry_http: RegistryInfo, registry_ca: LocalCA) -> Iterator[RecordingProxy]:
    """A recording proxy over TLS (its certificate issued by ``registry_ca``) in front of the registry
    (Locations relayed relative: the registry's own name the plain-HTTP registry behind it)."""
    proxy = RecordingProxy(registry_http).start(server_context(registry_ca, "tls-proxy"))
    proxy.relative_locations = True
    yield proxy
    proxy.stop()


@pytest.fixture
def other_ca(tmp_path: Path) -> LocalCA:
    """A CA nothing trusts unless a test says so."""
    return LocalCA(tmp_path / "other-ca")


@pytest.fixture
def tls_host(other_ca: LocalCA) -> Iterator[OtherHost]:
    """Host B: a loopback TLS server whose certificate ``other_ca`` issued."""
    host = OtherHost(server_context(other_ca, "other-host"))
    yield host
    host.stop()


def certs_d(root: Path, host: str, ca: LocalCA) -> str:
    """A certs.d directory trusting ``ca`` (besides any CA there) for ``host``; return the certs.d path."""
    directory = root / "certs.d" / host
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{len(list(directory.iterdir()))}.crt").write_bytes(Path(ca.ca_file).read_bytes())
    return str(root / "certs.d")


#: How each case sets the options (A: the registry, B: the other host, its CA, a temporary
#: directory), and whether the upload to B then goes through.
Setting = Callable[[str, str, LocalCA, Path], TransportOptions]
SETTINGS: dict[str, tuple[Setting, bool]] = {
    "registry opted out": (
        lambda a, b, ca, tmp: TransportOptions(insecure_registries=frozenset({a}), retries=0),
        False,
    ),
    "registry opted out, the host's CA in the registry's certs.d": (
        lambda a, b, ca, tmp: TransportOptions(
            insecure_registries=frozenset({a}), certs_dirs=(certs_d(tmp, a, ca),), retries=0
        ),
        False,
    ),
    "host opted out": (
        lambda a, b, ca, tmp: TransportOptions(insecure_registries=frozenset({a, b}), retries=0),
        True,
    ),
    "every host opted out": (lambda a, b, ca, tmp: TransportOptions(insecure=True, retries=0), True),
    "host's certs.d": (
        lambda a, b, ca, tmp: TransportOptions(
            insecure_registries=frozenset({a}), certs_dirs=(certs_d(tmp, b, ca),), retries=0
        ),
        True,
    ),
    "--certificate-authority": (
        lambda a, b, ca, tmp: TransportOptions(
            insecure_registries=frozenset({a}), ca_file=str(ca.ca_file), retries=0
        ),
        True,
    ),
}


def check_upload_elsewhere(
    proxy: RecordingProxy, host: OtherHost, options: TransportOptions, name: str, accepted: bool
) -> None:
    """Registry ``proxy`` answers the upload's POST with a Location on ``host``: the blob is PUT there
    (``accepted``), or refused with an error naming that host and how to trust it, which gets no request."""
    a, b = proxy.host, host.host
    blob = build_image(seed=f"tls-elsewhere-{name}", layers=1, layer_size=3000).layers[0]
    proxy.faults.append(Fault("POST", r"/blobs/uploads/$", 202, {"Location": f"{host.url}/upload/1"}))
    with RegistryClient(options) as client:
        repo = repo_at(client, a, name)
        if accepted:
            repo.put_blob(blob.data, blob.digest, len(blob.data))
            assert [(m, p, d) for m, p, _, d in host.seen] == [
                ("PUT", f"/upload/1?digest={urllib.parse.quote(blob.digest)}", blob.data)
            ]
            return
        with pytest.raises(RegistryError) as err:
            repo.put_blob(blob.data, blob.digest, len(blob.data))
    assert str(err.value) == f"uploading blob {a}/{name}@{blob.digest}: {tls_refusal(a, b)}"
    assert err.value.registry == a
    assert host.seen == []
    assert [m for m, _, _ in proxy.log] == ["GET", "POST"]


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_an_upload_location_on_another_host_takes_that_host_s_own_tls_settings(
    http_proxy: RecordingProxy,
    tls_host: OtherHost,
    other_ca: LocalCA,
    unique_repo: RepoNamer,
    tmp_path: Path,
    setting: str,
) -> None:
    """Registry A (verification off for it: --insecure-registry A) answers the upload's POST with a
    Location on host B, whose certificate a CA of its own issued. With only A opted out (its certs.d
    holding B's CA changes nothing) the PUT is refused with an error naming B and how to trust it,
    and B gets no request; before, A's opt-out switched verification off for B too, and the blob
    went to an unverified host. B's own settings let it through: B marked insecure (or every host,
    as skopeo's --dest-tls-verify=false does), B's CA in certs.d/B or given for every registry."""
    make_options, accepted = SETTINGS[setting]
    options = make_options(http_proxy.host, tls_host.host, other_ca, tmp_path)
    check_upload_elsewhere(http_proxy, tls_host, options, unique_repo(), accepted)


@pytest.mark.parametrize(("where", "accepted"), [("registry", False), ("host", True)])
def test_a_verified_registry_s_trust_stays_with_it(
    tls_proxy: RecordingProxy,
    tls_host: OtherHost,
    other_ca: LocalCA,
    registry_ca: LocalCA,
    unique_repo: RepoNamer,
    tmp_path: Path,
    where: str,
    accepted: bool,
) -> None:
    """Registry A over verified TLS (its CA in certs.d/A) names host B for the upload: B's CA in
    A's certs.d does not make B trusted (before, the error named A, not B); in certs.d/B it does
    (before, B was checked against the system's CAs only and refused)."""
    a, b = tls_proxy.host, tls_host.host
    root = certs_d(tmp_path, a, registry_ca)
    certs_d(tmp_path, a if where == "registry" else b, other_ca)
    options = TransportOptions(certs_dirs=(root,), retries=0)
    check_upload_elsewhere(tls_proxy, tls_host, options, unique_repo(), accepted)


def test_a_redirect_to_another_host_is_verified_with_that_host_s_settings(
    http_proxy: RecordingProxy, tls_host: OtherHost, unique_repo: RepoNamer
) -> None:
    """A blob GET that registry A (opted out) redirects to B (a storage host) is refused when B's
    certificate is untrusted, naming B; with B opted out too, B serves the blob."""
    a, b = http_proxy.host, tls_host.host
    options = TransportOptions(insecure_registries=frozenset({a}), retries=0)
    with RegistryClient(options) as client:
        repo = repo_at(client, a, unique_repo())
        layer = make_image(repo, "v1", seed="tls-redirect", flavour=DOCKER, layer_size=3000).layers[0]
    tls_host.blobs["/storage/1"] = layer.data
    http_proxy.faults.append(
        Fault("GET", f"/blobs/{layer.digest}", 307, {"Location": f"{tls_host.url}/storage/1?sig=s"}, count=2)
    )
    with RegistryClient(options) as client, pytest.raises(RegistryError) as err:
        repo_at(client, a, repo.name).read_blob(layer.digest, len(layer.data))
    assert str(err.value) == f"reading blob {a}/{repo.name}@{layer.digest}: {tls_refusal(a, b)}"
    assert tls_host.seen == []
    both = TransportOptions(insecure_registries=frozenset({a, b}), retries=0)
    with RegistryClient(both) as client:
        assert repo_at(client, a, repo.name).read_blob(layer.digest, len(layer.data)) == layer.data
    assert [(m, p) for m, p, _, _ in tls_host.seen] == [("GET", "/storage/1?sig=s")]


@pytest.fixture
def client_ca(tmp_path: Path) -> LocalCA:
    """The CA of the user's TLS client certificates (host B trusts it, so it can tell one was offered)."""
    return LocalCA(tmp_path / "client-ca")


def mutual_tls_host(ca: LocalCA, client_ca: LocalCA, mode: ssl.VerifyMode) -> Iterator[OtherHost]:
    """Host B over TLS (``ca``'s certificate) asking for (``CERT_OPTIONAL``) or requiring
    (``CERT_REQUIRED``) a client certificate ``client_ca`` issued."""
    context = server_context(ca, "mutual-tls-host")
    context.verify_mode = mode
    context.load_verify_locations(cafile=str(client_ca.ca_file))
    host = OtherHost(context)
    yield host
    host.stop()


@pytest.fixture
def asking_host(other_ca: LocalCA, client_ca: LocalCA) -> Iterator[OtherHost]:
    """Host B over TLS (``other_ca``'s certificate) asking for a client certificate, not requiring one."""
    yield from mutual_tls_host(other_ca, client_ca, ssl.CERT_OPTIONAL)


def client_pair(directory: Path, ca: LocalCA) -> None:
    """Put a client certificate ``client.cert`` and its ``client.key``, issued by ``ca``, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in ca.issue_client_cert("client"):
        (directory / path.name).write_bytes(path.read_bytes())


def client_cert_options(
    where: str, a: str, b: str, ca: LocalCA, client: LocalCA, tmp: Path
) -> TransportOptions:
    """Options with the user's client certificate in the cert dir, certs.d/A or certs.d/B (A the
    registry, opted out; B the other host, its CA ``ca`` trusted beside the certificate)."""
    if where == "cert dir":
        certs = tmp / "cert-dir"
        client_pair(certs, client)
        (certs / "b-ca.crt").write_bytes(Path(ca.ca_file).read_bytes())
        return TransportOptions(insecure_registries=frozenset({a}), cert_dir=str(certs), retries=0)
    client_pair(tmp / "certs.d" / (a if where == "certs.d/A" else b), client)
    return TransportOptions(insecure_registries=frozenset({a}), certs_dirs=(certs_d(tmp, b, ca),), retries=0)


@pytest.mark.parametrize(
    ("where", "offered"), [("cert dir", False), ("certs.d/A", False), ("certs.d/B", True)]
)
def test_another_host_is_offered_its_own_client_certificate_only(
    http_proxy: RecordingProxy,
    asking_host: OtherHost,
    other_ca: LocalCA,
    client_ca: LocalCA,
    unique_repo: RepoNamer,
    tmp_path: Path,
    where: str,
    offered: bool,
) -> None:
    """Host B, named by registry A's upload Location, asks for a client certificate: the cert dir's
    (skopeo's --dest-cert-dir: the registry's) and certs.d/A's are never offered to it (before, the
    cert dir's pair went to every host); certs.d/B's, B's own configuration, is. The cert dir's CAs
    are trusted for B (the upload goes through in every case)."""
    a, b = http_proxy.host, asking_host.host
    options = client_cert_options(where, a, b, other_ca, client_ca, tmp_path)
    check_upload_elsewhere(http_proxy, asking_host, options, unique_repo(), True)
    assert asking_host.client_certs == [offered]


@pytest.fixture
def requiring_host(other_ca: LocalCA, client_ca: LocalCA) -> Iterator[OtherHost]:
    """Host B over TLS (``other_ca``'s certificate) requiring a client certificate ``client_ca`` issued."""
    yield from mutual_tls_host(other_ca, client_ca, ssl.CERT_REQUIRED)


@pytest.fixture
def realm_on(
    token_recorder: RecordingProxy,
    token_server: TokenServer,
    other_ca: LocalCA,
    client_ca: LocalCA,
    tmp_path: Path,
) -> Callable[[OtherHost], TransportOptions]:
    """Make registry A (``token_recorder`` in front of the token registry, opted out) name host B as
    its token server, B issuing the token server's tokens; return the options: the user's client
    certificate and B's CA in a cert dir, the registry's user's credentials."""

    def name(host: OtherHost) -> TransportOptions:
        host.tokens = token_server.handle
        challenge = f'Bearer realm="{host.url}/token",service="{token_server.service}"'
        token_recorder.faults.append(Fault("GET", r"^/v2/$", 401, {"WWW-Authenticate": challenge}))
        options = client_cert_options(
            "cert dir", token_recorder.host, host.host, other_ca, client_ca, tmp_path
        )
        assert token_recorder.target.auth is not None
        return attrs.evolve(options, credentials={token_recorder.host: token_recorder.target.auth})

    return name


def test_a_token_server_requiring_a_client_certificate_gets_the_cert_dir_s(
    registry_token: RegistryInfo,
    token_recorder: RecordingProxy,
    requiring_host: OtherHost,
    token_server: TokenServer,
    realm_on: Callable[[OtherHost], TransportOptions],
    unique_repo: RepoNamer,
) -> None:
    """Registry A's challenge names host B as its token server, and B requires a client certificate
    (mutual TLS): with the certificate in the cert dir (skopeo's --src-cert-dir, which replaces
    certs.d), B's token request presents it and the manifest is read with B's token. Before, a cert
    dir's certificate was never offered to another host, so B could not be reached at all."""
    name = unique_repo()
    with RegistryClient(options_for(registry_token)) as client:
        image = make_image(repo_at(client, registry_token.host, name), "v1", seed="mtls-token-server")
    token_server.reset_log()
    options = realm_on(requiring_host)
    with RegistryClient(options) as client:
        assert repo_at(client, token_recorder.host, name).get_manifest("v1").digest == image.digest
    assert [(m, p.partition("?")[0]) for m, p, _, _ in requiring_host.seen] == [("GET", "/token")]
    assert requiring_host.client_certs == [True]
    assert [(r.user, r.granted) for r in token_server.requests] == [("alice", (f"repository:{name}:pull",))]


def test_a_token_server_named_for_an_upload_too_gets_the_certificate_with_token_requests_only(
    token_recorder: RecordingProxy,
    asking_host: OtherHost,
    realm_on: Callable[[OtherHost], TransportOptions],
    unique_repo: RepoNamer,
) -> None:
    """Host B is registry A's token server and also where A's upload Location points: the token
    request to B presents the cert dir's client certificate, the PUT to B (another host's request)
    presents none and carries no Authorization. Before, neither did (the token request had none)."""
    options = realm_on(asking_host)
    blob = build_image(seed="realm-and-upload", layers=1, layer_size=3000).layers[0]
    location = f"{asking_host.url}/upload/1"
    token_recorder.faults.append(Fault("POST", r"/blobs/uploads/$", 202, {"Location": location}))
    with RegistryClient(options) as client:
        repo_at(client, token_recorder.host, unique_repo()).put_blob(blob.data, blob.digest, len(blob.data))
    seen = [(m, p.partition("?")[0], {k.lower() for k in h}) for m, p, h, _ in asking_host.seen]
    assert [(m, p) for m, p, _ in seen] == [("GET", "/token"), ("PUT", "/upload/1")]
    assert "authorization" in seen[0][2] and "authorization" not in seen[1][2]
    assert asking_host.client_certs == [True, False]


def load_failure(ca_file: Path) -> str:
    """What Python's ssl says of a CA file it cannot load."""
    with pytest.raises(ssl.SSLError) as err:
        ssl.create_default_context().load_verify_locations(cafile=str(ca_file))
    return str(err.value)


def failed_upload_elsewhere(
    proxy: RecordingProxy, location: str, options: TransportOptions, name: str
) -> tuple[str, RegistryError]:
    """Registry ``proxy`` answers the upload's POST with ``location`` (on another host) and the upload
    fails: the ``A/NAME@DIGEST`` it was worded with, and the error."""
    blob = build_image(seed=f"failed-elsewhere-{name}", layers=1, layer_size=3000).layers[0]
    proxy.faults.append(Fault("POST", r"/blobs/uploads/$", 202, {"Location": location}))
    with RegistryClient(options) as client, pytest.raises(RegistryError) as err:
        repo_at(client, proxy.host, name).put_blob(blob.data, blob.digest, len(blob.data))
    return f"{proxy.host}/{name}@{blob.digest}", err.value


@pytest.mark.parametrize("broken", ["a CA file that is not one", "a key without its certificate"])
def test_another_host_s_unusable_tls_files_are_worded_with_what_was_done(
    http_proxy: RecordingProxy, tls_host: OtherHost, unique_repo: RepoNamer, tmp_path: Path, broken: str
) -> None:
    """certs.d/B, for the host B registry A names for the upload, cannot be used: the error says what
    was being done, which host and which registry named it; B gets no request. Before, the bare
    "... for registry B" error escaped without what was done or the registry."""
    a, b = http_proxy.host, tls_host.host
    directory = tmp_path / "certs.d" / b
    directory.mkdir(parents=True)
    if broken == "a key without its certificate":
        (directory / "client.key").write_text("key")
        reason = f"key {directory / 'client.key'} has no client certificate"
    else:
        (directory / "ca.crt").write_text("not a certificate")
        reason = f"cannot load CA file {directory / 'ca.crt'}: {load_failure(directory / 'ca.crt')}"
    options = TransportOptions(
        insecure_registries=frozenset({a}), certs_dirs=(str(tmp_path / "certs.d"),), retries=0
    )
    what, err = failed_upload_elsewhere(http_proxy, f"{tls_host.url}/upload/1", options, unique_repo())
    assert str(err) == f"uploading blob {what}: host {b} (named by registry {a}): {reason}"
    assert err.registry == a
    assert tls_host.seen == []


def test_a_token_realm_s_host_is_its_normal_form(
    http_proxy: RecordingProxy, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    """A realm with userinfo (https://USER:PASSWORD@HOST:PORT/token) whose session cannot be set up
    (--certificate-authority is not a CA file; the registry is opted out, so only the token server
    reads it): the error names the token server by its host alone, never the userinfo. Before, the
    realm's whole netloc, password included, was the session's host and was in the error."""
    bad = tmp_path / "bad-ca.pem"
    bad.write_text("not a certificate")
    a, realm_host = http_proxy.host, f"127.0.0.1:{free_port()}"
    challenge = f'Bearer realm="https://tok:realm-s3cret@{realm_host}/token",service="s"'
    http_proxy.faults.append(Fault("GET", r"^/v2/$", 401, {"WWW-Authenticate": challenge}))
    options = TransportOptions(
        insecure_registries=frozenset({a}), ca_file=str(bad), credentials={a: ("alice", "pw")}, retries=0
    )
    name = unique_repo()
    with RegistryClient(options) as client, pytest.raises(RegistryError) as err:
        repo_at(client, a, name).get_manifest("v1")
    assert str(err.value) == (
        f"token server {realm_host} for registry {a}: cannot load CA file {bad}: {load_failure(bad)}"
    )
    assert "realm-s3cret" not in repr(err.value.__dict__)


class TunnelProxy(Loopback):
    """An HTTP proxy on a free loopback port answering every CONNECT with a tunnel to ``to`` (a
    loopback ``host:port``), whatever host and port it names (recorded in ``targets``)."""

    def __init__(self, to: str) -> None:
        """Serve at once."""
        self.targets: list[str] = []
        proxy = self
        address = (to.rpartition(":")[0], int(to.rpartition(":")[2]))

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_CONNECT(self) -> None:  # noqa: N802
                proxy.targets.append(self.path)
                with socket.create_connection(address) as upstream:
                    self.send_response(200, "Connection established")
                    self.end_headers()
                    back = threading.Thread(target=_pump, args=(upstream, self.connection), daemon=True)
                    back.start()
                    _pump(self.connection, upstream)
                    back.join(5)
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        super().__init__(Handler)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until either ends, then end ``sink``'s sending side."""
    try:
        while data := source.recv(1 << 16):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")  # (proxied: urllib3's; the CLI silences it)
@pytest.mark.parametrize("opted_out", [True, False])
def test_a_token_realm_on_port_443_is_its_host_s(
    http_proxy: RecordingProxy,
    tls_host: OtherHost,
    unique_repo: RepoNamer,
    monkeypatch: pytest.MonkeyPatch,
    opted_out: bool,
) -> None:
    """Registry A's challenge names https://tok.example:443/token, the default port written out,
    reached through an HTTPS proxy (from the environment) that tunnels it to host B's loopback TLS
    server, so no privileged port is needed. --insecure-registry tok.example covers that realm: the
    token comes from B despite its untrusted certificate and the manifest is read with it. Without,
    the token request fails TLS verification, naming the token server. Before dcb2953 the realm's
    host was tok.example:443, which --insecure-registry tok.example did not cover."""
    tunnel = TunnelProxy(tls_host.host)
    try:
        monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
        for variable in ("NO_PROXY", "no_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(variable, raising=False)
        tls_host.tokens = lambda query, authorization: (200, {"token": "tok-443"})
        a, realm, name = http_proxy.host, "https://tok.example:443/token", unique_repo()
        client, _ = proxy_client(http_proxy)
        with client:
            image = make_image(repo_at(client, a, name), "v1", seed="realm-443")
        challenge = f'Bearer realm="{realm}",service="s"'
        http_proxy.faults.append(Fault("GET", r"^/v2/$", 401, {"WWW-Authenticate": challenge}))
        insecure = frozenset({a, "tok.example"} if opted_out else {a})
        options = TransportOptions(insecure_registries=insecure, retries=0)
        with RegistryClient(options) as client:
            repo = repo_at(client, a, name)
            if opted_out:
                assert repo.get_manifest("v1").digest == image.digest
            else:
                with pytest.raises(RegistryError) as err:
                    repo.get_manifest("v1")
    finally:
        tunnel.stop()
    assert tunnel.targets == ["tok.example:443"]
    if opted_out:
        assert [(m, p.partition("?")[0]) for m, p, _, _ in tls_host.seen] == [("GET", "/token")]
        assert http_proxy.log[-1][2]["Authorization"] == "Bearer tok-443"
    else:
        assert str(err.value) == f"cannot reach token server {realm} for registry {a}: {UNTRUSTED}"
        assert tls_host.seen == []


def plain_refusal(a: str, b: str) -> str:
    """How plain HTTP to host B, named by the https registry A, is refused."""
    return (
        f"host {b} (named by registry {a}): plain HTTP to {b}, named over https, is refused: TLS is"
        f" verified unless the host is marked insecure (--insecure-registry {b})"
    )


@pytest.fixture
def plain_host() -> Iterator[OtherHost]:
    """Host B over plain HTTP."""
    host = OtherHost()
    yield host
    host.stop()


def verified_options(tmp: Path, a: str, ca: LocalCA, *insecure: str) -> TransportOptions:
    """Registry A verified (its CA in certs.d/A), hosts ``insecure`` marked insecure, no retries."""
    return TransportOptions(
        certs_dirs=(certs_d(tmp, a, ca),), insecure_registries=frozenset(insecure), retries=0
    )


@pytest.mark.parametrize("opted_in", [False, True])
def test_an_upload_location_on_plain_http_from_an_https_registry_is_refused_unless_opted_in(
    tls_proxy: RecordingProxy,
    plain_host: OtherHost,
    registry_ca: LocalCA,
    unique_repo: RepoNamer,
    tmp_path: Path,
    opted_in: bool,
) -> None:
    """Registry A over verified TLS answers the upload's POST with a Location on http://B: refused,
    naming B and how to allow it, B gets no request (before, the blob went to B in clear); with B
    marked insecure (--insecure-registry B) the PUT reaches B."""
    a, b = tls_proxy.host, plain_host.host
    options = verified_options(tmp_path, a, registry_ca, *([b] if opted_in else []))
    blob = build_image(seed="plain-location", layers=1, layer_size=3000).layers[0]
    tls_proxy.faults.append(
        Fault("POST", r"/blobs/uploads/$", 202, {"Location": f"{plain_host.url}/upload/1"})
    )
    name = unique_repo()
    with RegistryClient(options) as client:
        repo = repo_at(client, a, name)
        if opted_in:
            repo.put_blob(blob.data, blob.digest, len(blob.data))
            assert [(m, p) for m, p, _, _ in plain_host.seen] == [
                ("PUT", f"/upload/1?digest={urllib.parse.quote(blob.digest)}")
            ]
            return
        with pytest.raises(RegistryError) as err:
            repo.put_blob(blob.data, blob.digest, len(blob.data))
    assert str(err.value) == f"uploading blob {a}/{name}@{blob.digest}: {plain_refusal(a, b)}"
    assert plain_host.seen == []


@pytest.mark.parametrize("opted_in", [False, True])
def test_a_redirect_from_https_to_plain_http_is_refused_unless_opted_in(
    tls_proxy: RecordingProxy,
    plain_host: OtherHost,
    registry_ca: LocalCA,
    unique_repo: RepoNamer,
    tmp_path: Path,
    opted_in: bool,
) -> None:
    """A blob GET that the https registry A redirects (307) to http://B: refused at once (no retry,
    no back-off), naming B and how to allow it, B gets no request (before, it was followed in
    clear, as Go's clients do); with B marked insecure, B serves the blob."""
    a, b = tls_proxy.host, plain_host.host
    options = verified_options(tmp_path, a, registry_ca, *([b] if opted_in else []))
    sleeps: list[float] = []
    with RegistryClient(options) as client:
        repo = repo_at(client, a, unique_repo())
        layer = make_image(repo, "v1", seed="plain-redirect", flavour=DOCKER, layer_size=3000).layers[0]
    plain_host.blobs["/storage/1"] = layer.data
    tls_proxy.faults.append(
        Fault("GET", f"/blobs/{layer.digest}", 307, {"Location": f"{plain_host.url}/storage/1?sig=s"})
    )
    options = attrs.evolve(options, retries=3)
    with RegistryClient(options, sleep=sleeps.append) as client:
        reader = repo_at(client, a, repo.name)
        if opted_in:
            assert reader.read_blob(layer.digest, len(layer.data)) == layer.data
            assert [(m, p) for m, p, _, _ in plain_host.seen] == [("GET", "/storage/1?sig=s")]
            return
        with pytest.raises(RegistryError) as err:
            reader.read_blob(layer.digest, len(layer.data))
    assert str(err.value) == f"reading blob {a}/{repo.name}@{layer.digest}: {plain_refusal(a, b)}"
    assert (plain_host.seen, sleeps) == ([], [])
    assert len(tls_proxy.requests_matching("GET", f"/blobs/{layer.digest}")) == 1


def test_a_redirect_loop_fails_at_once(http_proxy: RecordingProxy, unique_repo: RepoNamer) -> None:
    """A blob GET the registry redirects to itself for ever: one loop of 31 requests, an error naming
    the registry and the last URL without its query, no retry; before, the loop was taken for a
    broken connection ("cannot connect (TooManyRedirects)") and run again under the retry policy."""
    a = http_proxy.host
    path = "/v2/loop/blobs/sha256:" + "0" * 64
    http_proxy.faults.append(Fault("GET", "/blobs/", 307, {"Location": f"{path}?again=1"}, count=1000))
    client, sleeps = proxy_client(http_proxy)
    name = unique_repo()
    with client, pytest.raises(RegistryError) as err:
        repo_at(client, a, name).read_blob("sha256:" + "1" * 64, 3)
    assert str(err.value) == (
        f"reading blob {a}/{name}@sha256:{'1' * 64}: registry {a}: more than 30 redirects, the last to"
        f" http://{a}{path}"
    )
    assert (len(http_proxy.requests_matching("GET", "/blobs/")), sleeps) == (31, [])


def test_with_a_cert_dir_another_host_s_tls_failure_says_to_trust_it_there(
    http_proxy: RecordingProxy, tls_host: OtherHost, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    """With a cert dir (skopeo's --dest-cert-dir) certs.d is not read: the advice for host B's
    untrusted certificate names the cert dir, not certs.d/B (before, certs.d/B)."""
    a, b = http_proxy.host, tls_host.host
    certs = tmp_path / "cert-dir"
    certs.mkdir()
    options = TransportOptions(insecure_registries=frozenset({a}), cert_dir=str(certs), retries=0)
    what, err = failed_upload_elsewhere(http_proxy, f"{tls_host.url}/upload/1", options, unique_repo())
    assert str(err) == (
        f"uploading blob {what}: host {b} (named by registry {a}): TLS verification"
        f" failed ({UNTRUSTED}); the registry's TLS settings do not apply to another host: trust its CA"
        f" with --certificate-authority or the certificate directory {certs}, or mark it insecure"
        f" (--insecure-registry {b}) if it serves an untrusted certificate"
    )


def test_a_broken_answer_from_another_host_is_worded_as_that_host_s(
    http_proxy: RecordingProxy, plain_host: OtherHost, unique_repo: RepoNamer
) -> None:
    """Host B, named by the upload Location, answers the PUT with a body that breaks off: the error
    names B (before, "registry A: cannot connect (...)")."""
    a, b = http_proxy.host, plain_host.host
    options = TransportOptions(insecure_registries=frozenset({a}), retries=0)
    what, err = failed_upload_elsewhere(http_proxy, f"{plain_host.url}/short/1", options, unique_repo())
    assert str(err) == (
        f"uploading blob {what}: host {b} (named by registry {a}):"
        " cannot connect (10 bytes read, 90 more expected)"
    )


def test_another_host_s_proxies_are_looked_up_once(
    http_proxy: RecordingProxy, plain_host: OtherHost, unique_repo: RepoNamer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blob GETs that registry A redirects to host B, twice: the environment's proxies for B are
    looked up once per scheme (the request's, and https for B's session), not per request (before,
    once per request)."""
    looked_up: list[tuple[str, str]] = []
    real = client_module.environ_proxies

    def counting(host: str, scheme: str) -> dict[str, str]:
        looked_up.append((host, scheme))
        return real(host, scheme)

    monkeypatch.setattr(client_module, "environ_proxies", counting)
    a, b = http_proxy.host, plain_host.host
    client, _ = proxy_client(http_proxy)
    with client:
        repo = repo_at(client, a, unique_repo())
        layer = make_image(repo, "v1", seed="proxies-once", flavour=DOCKER, layer_size=3000).layers[0]
        plain_host.blobs["/storage/1"] = layer.data
        http_proxy.faults.append(
            Fault("GET", f"/blobs/{layer.digest}", 307, {"Location": f"{plain_host.url}/storage/1"}, count=2)
        )
        for _ in range(2):
            assert repo.read_blob(layer.digest, len(layer.data)) == layer.data
    assert [(m, p) for m, p, _, _ in plain_host.seen] == [("GET", "/storage/1")] * 2
    assert [where for where in looked_up if where[0] == b] == [(b, "http"), (b, "https")]
