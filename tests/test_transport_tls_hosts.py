"""TLS to another host than the registry's (an upload ``Location``, a redirect) uses that host's own
settings: one registry's opt-out of verification, CAs and client certificates never carry over."""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from imagegen import DOCKER, build_image, make_image
from registry_rig import LocalCA, RegistryInfo, RepoNamer
from test_registry import Fault, OtherHost, RecordingProxy, repo_at

from okdrelease.errors import RegistryError
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.registry import RegistryClient

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
    """A recording proxy over TLS (its certificate issued by ``registry_ca``) in front of the registry."""
    proxy = RecordingProxy(registry_http).start(server_context(registry_ca, "tls-proxy"))
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
