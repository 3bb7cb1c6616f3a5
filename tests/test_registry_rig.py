"""Tests of the real-registry rig itself, using plain requests against each registry flavour."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import registry_rig
import requests
from cryptography import x509
from registry_rig import (
    LocalCA,
    RegistryInfo,
    RegistryServer,
    RepoNamer,
    RigError,
    Scope,
    TokenRequest,
    TokenServer,
)

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _challenge(response: requests.Response) -> tuple[str, dict[str, str]]:
    """Split a WWW-Authenticate header into (scheme, parameters)."""
    scheme, _, rest = response.headers["WWW-Authenticate"].partition(" ")
    return scheme, dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _token(server: TokenServer, *scopes: str, user: str | None = "alice") -> str:
    """Fetch a token for ``scopes`` from ``server`` as ``user`` (None = anonymous)."""
    auth = (user, server.users[user]) if user else None
    response = requests.get(
        server.realm, params={"service": server.service, "scope": list(scopes)}, auth=auth, timeout=10
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _push_image(session: requests.Session, info: RegistryInfo, repo: str, tag: str) -> tuple[str, bytes]:
    """Push a one-layer OCI image with monolithic uploads; return (manifest digest, manifest bytes)."""
    layer = b"layer bytes for " + repo.encode()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    for blob in (layer, config):
        started = session.post(info.url(f"/v2/{repo}/blobs/uploads/"), timeout=10)
        assert started.status_code == 202, started.text
        location = requests.compat.urljoin(info.url("/"), started.headers["Location"])
        put = session.put(
            location,
            params={"digest": _digest(blob)},
            data=blob,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert put.status_code == 201, put.text
        assert put.headers["Docker-Content-Digest"] == _digest(blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": _digest(layer), "size": len(layer)}],
        }
    ).encode()
    put = session.put(
        info.url(f"/v2/{repo}/manifests/{tag}"),
        data=manifest,
        headers={"Content-Type": MANIFEST_TYPE},
        timeout=10,
    )
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == _digest(manifest)
    return _digest(manifest), manifest


@pytest.fixture
def bearer(registry_token: RegistryInfo) -> Iterator[requests.Session]:
    """Return a session for the token registry without credentials; tests set Authorization by hand."""
    with registry_token.session(with_auth=False) as session:
        yield session


def _granted_repos(token_server: TokenServer, unique_repo: RepoNamer) -> tuple[str, str]:
    """Return two fresh repositories outside alice's default namespace, each granted to her."""
    repos = unique_repo("quay"), unique_repo("quay")
    for repo in repos:
        token_server.grant("alice", repo, ["pull", "push"])
    return repos


# -- plain HTTP ---------------------------------------------------------------------------------


def test_http_registry_answers_v2(registry_http: RegistryInfo) -> None:
    response = requests.get(registry_http.url("/v2/"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert registry_http.scheme == "http"
    assert registry_http.host.startswith("127.0.0.1:")
    assert registry_http.ca_file is None
    assert registry_http.auth is None


def test_http_registry_push_pull_and_delete(registry_http: RegistryInfo, unique_repo: RepoNamer) -> None:
    repo = unique_repo()
    with registry_http.session() as session:
        digest, manifest = _push_image(session, registry_http, repo, "v1")
        got = session.get(registry_http.url(f"/v2/{repo}/manifests/v1"), headers={"Accept": MANIFEST_TYPE})
        assert got.status_code == 200
        assert got.content == manifest
        tags = session.get(registry_http.url(f"/v2/{repo}/tags/list")).json()
        assert tags == {"name": repo, "tags": ["v1"]}
        deleted = session.delete(registry_http.url(f"/v2/{repo}/manifests/{digest}"))
        assert deleted.status_code == 202
        gone = session.get(
            registry_http.url(f"/v2/{repo}/manifests/{digest}"), headers={"Accept": MANIFEST_TYPE}
        )
        assert gone.status_code == 404


# -- TLS ----------------------------------------------------------------------------------------


def test_tls_registry_verified_with_generated_ca(registry_tls: RegistryInfo) -> None:
    assert registry_tls.scheme == "https"
    assert registry_tls.ca_file is not None and Path(registry_tls.ca_file).is_file()
    response = requests.get(registry_tls.url("/v2/"), verify=registry_tls.ca_file, timeout=10)
    assert response.status_code == 200
    port = registry_tls.host.split(":")[1]
    by_name = requests.get(f"https://localhost:{port}/v2/", verify=registry_tls.ca_file, timeout=10)
    assert by_name.status_code == 200


def test_tls_registry_refused_without_ca(registry_tls: RegistryInfo) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(registry_tls.url("/v2/"), verify=True, timeout=10)


def test_ca_issues_server_cert_for_loopback(registry_ca: LocalCA) -> None:
    cert_file, key_file = registry_ca.issue_server_cert("check")
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.issuer == registry_ca.certificate.subject
    assert key_file.stat().st_mode & 0o777 == 0o600


# -- Basic auth ---------------------------------------------------------------------------------


def test_basic_registry_requires_credentials(registry_basic: RegistryInfo) -> None:
    anonymous = requests.get(registry_basic.url("/v2/"), verify=registry_basic.ca_file, timeout=10)
    assert anonymous.status_code == 401
    assert _challenge(anonymous) == ("Basic", {"realm": "okd-test-registry"})
    wrong = requests.get(
        registry_basic.url("/v2/"), verify=registry_basic.ca_file, auth=("alice", "wrong"), timeout=10
    )
    assert wrong.status_code == 401


def test_basic_registry_accepts_each_user(registry_basic: RegistryInfo) -> None:
    assert registry_basic.auth == ("alice", "alice-secret-pw")
    assert sorted(registry_basic.users) == ["alice", "bob"]
    for user, password in registry_basic.users.items():
        response = requests.get(
            registry_basic.url("/v2/"), verify=registry_basic.ca_file, auth=(user, password), timeout=10
        )
        assert response.status_code == 200, user


def test_basic_registry_push_with_session(registry_basic: RegistryInfo, unique_repo: RepoNamer) -> None:
    repo = unique_repo()
    with registry_basic.session() as session:
        digest, _ = _push_image(session, registry_basic, repo, "latest")
        head = session.head(
            registry_basic.url(f"/v2/{repo}/manifests/latest"), headers={"Accept": MANIFEST_TYPE}
        )
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest


def test_docker_config_holds_basic_credentials(registry_basic: RegistryInfo) -> None:
    config = registry_basic.docker_config("bob")
    encoded = config["auths"][registry_basic.host]["auth"]
    assert base64.b64decode(encoded) == b"bob:bob-secret-pw"
    assert list(config["auths"]) == [registry_basic.host]


# -- token auth ---------------------------------------------------------------------------------


def test_token_registry_challenges_with_realm_service_and_scope(
    registry_token: RegistryInfo, token_server: TokenServer
) -> None:
    ping = requests.get(registry_token.url("/v2/"), verify=registry_token.ca_file, timeout=10)
    assert ping.status_code == 401
    assert _challenge(ping) == ("Bearer", {"realm": token_server.realm, "service": "okd-test-registry"})
    repo = requests.get(
        registry_token.url("/v2/alice/app/tags/list"), verify=registry_token.ca_file, timeout=10
    )
    assert repo.status_code == 401
    assert _challenge(repo) == (
        "Bearer",
        {"realm": token_server.realm, "service": "okd-test-registry", "scope": "repository:alice/app:pull"},
    )
    assert token_server.requests == []


def test_token_for_one_repository_is_refused_for_another(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer, bearer: requests.Session
) -> None:
    repo_a, repo_b = _granted_repos(token_server, unique_repo)
    bearer.headers["Authorization"] = "Bearer " + _token(
        token_server, f"repository:{repo_a}:pull,push", f"repository:{repo_b}:pull,push"
    )
    _push_image(bearer, registry_token, repo_b, "v1")
    bearer.headers["Authorization"] = "Bearer " + _token(token_server, f"repository:{repo_a}:pull,push")
    _push_image(bearer, registry_token, repo_a, "v1")
    allowed = bearer.get(registry_token.url(f"/v2/{repo_a}/tags/list"))
    assert allowed.status_code == 200
    assert allowed.json() == {"name": repo_a, "tags": ["v1"]}
    refused = bearer.get(registry_token.url(f"/v2/{repo_b}/tags/list"))
    assert refused.status_code == 401
    assert _challenge(refused)[1]["scope"] == f"repository:{repo_b}:pull"


def test_token_policy_grants_only_matching_repositories(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer
) -> None:
    mine, other = unique_repo("quay"), unique_repo("elsewhere")
    token_server.grant("alice", "quay/*", ["pull", "push"])
    token_server.grant("bob", mine, ["pull"])
    token = _token(token_server, f"repository:{mine}:pull,push", f"repository:{other}:pull")
    claims = _jwt_part(token, 1)
    assert claims["access"] == [{"type": "repository", "name": mine, "actions": ["pull", "push"]}]
    assert claims["aud"] == "okd-test-registry"
    assert claims["iss"] == "okd-test-token-issuer"
    assert claims["sub"] == "alice"
    bob = _jwt_part(_token(token_server, f"repository:{mine}:pull,push", user="bob"), 1)
    assert bob["access"] == [{"type": "repository", "name": mine, "actions": ["pull"]}]
    assert token_server.requests == [
        TokenRequest(
            user="alice",
            scopes=(f"repository:{mine}:pull,push", f"repository:{other}:pull"),
            granted=(f"repository:{mine}:pull,push",),
            status=200,
            service="okd-test-registry",
        ),
        TokenRequest(
            user="bob",
            scopes=(f"repository:{mine}:pull,push",),
            granted=(f"repository:{mine}:pull",),
            status=200,
            service="okd-test-registry",
        ),
    ]


def test_token_header_carries_certificate_chain(token_server: TokenServer) -> None:
    header = _jwt_part(_token(token_server, "repository:alice/x:pull"), 0)
    assert header["alg"] == "ES256"
    (leaf,) = header["x5c"]
    cert = x509.load_der_x509_certificate(base64.b64decode(leaf))
    bundle = x509.load_pem_x509_certificate(Path(token_server.rootcertbundle).read_bytes())
    assert cert.issuer == bundle.subject


def test_cross_repository_mount_needs_pull_on_source(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer, bearer: requests.Session
) -> None:
    src, dst = _granted_repos(token_server, unique_repo)
    bearer.headers["Authorization"] = "Bearer " + _token(token_server, f"repository:{src}:pull,push")
    _push_image(bearer, registry_token, src, "v1")
    blob = b"layer bytes for " + src.encode()
    mount_url = registry_token.url(f"/v2/{dst}/blobs/uploads/")
    params = {"mount": _digest(blob), "from": src}

    bearer.headers["Authorization"] = "Bearer " + _token(token_server, f"repository:{dst}:pull,push")
    without_source = bearer.post(mount_url, params=params)
    assert without_source.status_code == 401
    # Distribution orders scopes and actions differently from one request to the next.
    challenged = {
        (s.name, frozenset(s.actions))
        for s in map(Scope.parse, _challenge(without_source)[1]["scope"].split())
    }
    assert challenged == {(dst, frozenset({"pull", "push"})), (src, frozenset({"pull"}))}

    token_server.grant("bob", dst, ["pull", "push"])
    bob_token = _token(token_server, f"repository:{dst}:pull,push", f"repository:{src}:pull", user="bob")
    bearer.headers["Authorization"] = "Bearer " + bob_token
    assert bearer.post(mount_url, params=params).status_code == 401

    token = _token(token_server, f"repository:{dst}:pull,push", f"repository:{src}:pull")
    bearer.headers["Authorization"] = "Bearer " + token
    mounted = bearer.post(mount_url, params=params)
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["Docker-Content-Digest"] == _digest(blob)
    assert bearer.head(registry_token.url(f"/v2/{dst}/blobs/{_digest(blob)}")).status_code == 200
    assert [r.scopes for r in token_server.requests][-1] == (
        f"repository:{dst}:pull,push",
        f"repository:{src}:pull",
    )


def test_anonymous_token_grants_nothing_unless_configured(
    registry_token: RegistryInfo, token_server: TokenServer, unique_repo: RepoNamer, bearer: requests.Session
) -> None:
    public, private = unique_repo("alice"), unique_repo("quay")
    bearer.headers["Authorization"] = "Bearer " + _token(token_server, f"repository:{public}:pull,push")
    _push_image(bearer, registry_token, public, "v1")

    anonymous = _token(token_server, f"repository:{public}:pull", user=None)
    assert _jwt_part(anonymous, 1)["access"] == []
    bearer.headers["Authorization"] = "Bearer " + anonymous
    assert bearer.get(registry_token.url(f"/v2/{public}/tags/list")).status_code == 401

    token_server.grant(None, "alice/*", ["pull"])
    anonymous = _token(
        token_server, f"repository:{public}:pull,push", f"repository:{private}:pull", user=None
    )
    assert _jwt_part(anonymous, 1)["access"] == [{"type": "repository", "name": public, "actions": ["pull"]}]
    bearer.headers["Authorization"] = "Bearer " + anonymous
    assert bearer.get(registry_token.url(f"/v2/{public}/tags/list")).status_code == 200
    assert [(r.user, r.status) for r in token_server.requests] == [("alice", 200), (None, 200), (None, 200)]


def test_token_server_rejects_bad_credentials_and_records_them(token_server: TokenServer) -> None:
    response = requests.get(
        token_server.realm,
        params={"service": token_server.service, "scope": "repository:alice/x:pull"},
        auth=("alice", "wrong"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="okd-test-token"'
    wrong_service = requests.get(token_server.realm, params={"service": "other"}, timeout=10)
    assert wrong_service.status_code == 400
    assert token_server.requests == [
        TokenRequest("alice", ("repository:alice/x:pull",), (), 401, "okd-test-registry"),
        TokenRequest(None, (), (), 400, "other"),
    ]
    token_server.reset_log()
    assert token_server.requests == []


def test_token_response_fields_and_expiry_are_configurable(token_server: TokenServer) -> None:
    token_server.expires_in = 3
    body = requests.get(token_server.realm, params={"scope": "repository:alice/x:pull"}, timeout=10).json()
    assert sorted(body) == ["access_token", "expires_in", "issued_at", "token"]
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 3
    claims = _jwt_part(body["token"], 1)
    assert claims["exp"] - claims["iat"] == 3
    token_server.response_keys = ("token",)
    body = requests.get(token_server.realm, timeout=10).json()
    assert sorted(body) == ["expires_in", "issued_at", "token"]
    token_server.reset()
    assert token_server.expires_in == registry_rig.DEFAULT_TOKEN_EXPIRES_IN
    assert token_server.response_keys == ("token", "access_token")


def test_token_server_space_separated_scopes_in_one_parameter(token_server: TokenServer) -> None:
    token = _token(token_server, "repository:alice/a:pull repository:alice/b:push")
    assert _jwt_part(token, 1)["access"] == [
        {"type": "repository", "name": "alice/a", "actions": ["pull"]},
        {"type": "repository", "name": "alice/b", "actions": ["push"]},
    ]


def test_catalog_scope_is_granted_by_resource_type(
    registry_token: RegistryInfo, token_server: TokenServer, bearer: requests.Session
) -> None:
    bearer.headers["Authorization"] = "Bearer " + _token(token_server, "registry:catalog:*")
    assert bearer.get(registry_token.url("/v2/_catalog")).status_code == 401
    token_server.grant("alice", "catalog", ["*"], resource_type="registry")
    bearer.headers["Authorization"] = "Bearer " + _token(token_server, "registry:catalog:*")
    assert bearer.get(registry_token.url("/v2/_catalog")).status_code == 200


# -- helpers ------------------------------------------------------------------------------------


def test_scope_parse_keeps_colons_in_name() -> None:
    scope = Scope.parse("repository:127.0.0.1:5000/ns/app:pull,push")
    assert scope == Scope("repository", "127.0.0.1:5000/ns/app", ("pull", "push"))
    assert str(scope) == "repository:127.0.0.1:5000/ns/app:pull,push"
    with pytest.raises(ValueError, match="malformed scope"):
        Scope.parse("repository")


def test_unique_repo_names_are_fresh_and_valid(unique_repo: RepoNamer) -> None:
    names = {unique_repo() for _ in range(5)} | {unique_repo("quay")}
    assert len(names) == 6
    pattern = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
    assert all(pattern.match(name) for name in names), names
    assert unique_repo.hint == "test-unique-repo-names-are-fresh-and-val"  # cut to 40 characters
    assert sum(name.startswith(f"alice/{unique_repo.hint}-") for name in names) == 5
    assert RepoNamer("Test[Param-1/x]").hint == "test-param-1-x"


def test_missing_binary_fails_with_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry_rig.REGISTRY_BINARY_ENV, str(tmp_path / "no-such-registry"))
    with pytest.raises(RigError, match="install the Debian package 'docker-registry'"):
        RegistryServer(tmp_path / "r", flavour="http").start()


def test_startup_failure_quotes_the_log(tmp_path: Path) -> None:
    server = RegistryServer(
        tmp_path / "r", flavour="tls", tls=(tmp_path / "missing.crt", tmp_path / "missing.key")
    )
    with pytest.raises(RigError, match=r"(?s)tls registry .* failed to start: process exited.*missing\.crt"):
        server.start()


def test_port_collision_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy, registry_rig.free_port()])
        monkeypatch.setattr(registry_rig, "free_port", lambda: next(ports))
        with RegistryServer(tmp_path / "r", flavour="http") as info:
            assert info.host != f"127.0.0.1:{busy}"
            assert requests.get(info.url("/v2/"), timeout=10).status_code == 200
        log_text = info.log_file.read_text()
    assert f"starting http registry on port {busy}" in log_text
    assert "address already in use" in log_text
