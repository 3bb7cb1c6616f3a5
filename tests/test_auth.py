"""Credential lookup (files, keys, helpers), challenge parsing and the bearer token cache."""

from __future__ import annotations

import base64
import http.server
import json
import os
import stat
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from okdrelease.errors import OkdReleaseError, UnauthorizedError, UsageError
from okdrelease.transport.auth import (
    AuthFile,
    Challenge,
    Credentials,
    CredentialStore,
    TokenCache,
    auth_file_paths,
    fetch_token,
    lookup_keys,
    normalize_key,
    parse_challenges,
    pick_challenge,
    token_lifetime,
)
from okdrelease.transport.http import HttpSession


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with every lookup location inside tmp_path (nothing exists yet)."""
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


def test_auth_file_order(tmp_path: Path, home: dict[str, str]) -> None:
    assert auth_file_paths(None, home) == [
        AuthFile(tmp_path / "run/containers/auth.json"),
        AuthFile(tmp_path / "config/containers/auth.json"),
        AuthFile(tmp_path / "home/.docker/config.json"),
        AuthFile(tmp_path / "home/.dockercfg", legacy=True),
    ]
    env = {"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path / "dc")}
    assert auth_file_paths(None, env) == [
        AuthFile(Path(f"/run/containers/{os.getuid()}/auth.json")),
        AuthFile(tmp_path / ".config/containers/auth.json"),
        AuthFile(tmp_path / "dc/config.json"),
        AuthFile(tmp_path / ".dockercfg", legacy=True),
    ]
    assert auth_file_paths("/x/auth.json", {**home, "REGISTRY_AUTH_FILE": "/y"}) == [
        AuthFile(Path("/x/auth.json"))
    ]
    assert auth_file_paths(None, {**home, "REGISTRY_AUTH_FILE": "/y"}) == [AuthFile(Path("/y"))]


def test_first_file_with_the_host_wins(tmp_path: Path, home: dict[str, str]) -> None:
    _write(tmp_path / "run/containers/auth.json", {"auths": {"other.io": _auth("o", "o")}})
    _write(tmp_path / "config/containers/auth.json", {"auths": {"quay.io": _auth("podman", "p1")}})
    _write(tmp_path / "home/.docker/config.json", {"auths": {"quay.io": _auth("docker", "p2")}})
    store = CredentialStore(env=home)
    creds = store.lookup("quay.io", "ns/repo")
    assert creds is not None
    assert (creds.username, creds.password) == ("podman", "p1")
    assert creds.source == f"{tmp_path}/config/containers/auth.json (quay.io)"
    other = store.lookup("other.io", None)
    assert other is not None and other.username == "o"
    assert store.lookup("nothing.example", "a/b") is None


def test_docker_config_and_legacy_dockercfg(tmp_path: Path, home: dict[str, str]) -> None:
    _write(tmp_path / "home/.dockercfg", {"https://legacy.io/v1/": _auth("old", "pw")})
    _write(tmp_path / "dc/config.json", {"auths": {"new.io": {"username": "u", "password": "p"}}})
    env = {**home, "DOCKER_CONFIG": str(tmp_path / "dc")}
    store = CredentialStore(env=env)
    legacy = store.lookup("legacy.io", "a/b")
    assert legacy is not None and (legacy.username, legacy.password) == ("old", "pw")
    new = store.lookup("new.io")
    assert new is not None and (new.username, new.password) == ("u", "p")


def test_most_specific_key_first(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "auth.json",
        {
            "auths": {
                "quay.io": _auth("host", "1"),
                "quay.io/ns": _auth("namespace", "2"),
                "quay.io/ns/repo": _auth("repository", "3"),
            }
        },
    )
    store = CredentialStore(str(path))
    assert [store.lookup("quay.io", r).username for r in ("ns/repo", "ns/other", "x/y")] == [  # type: ignore[union-attr]
        "repository",
        "namespace",
        "host",
    ]
    assert lookup_keys("quay.io", "a/b/c") == ["quay.io/a/b/c", "quay.io/a/b", "quay.io/a", "quay.io"]


def test_key_normalisation_and_docker_hub_aliases(tmp_path: Path) -> None:
    assert normalize_key("https://index.docker.io/v1/") == "docker.io"
    assert normalize_key("http://registry.example:5000/v2/") == "registry.example:5000"
    assert normalize_key("registry-1.docker.io/library/") == "docker.io/library"
    path = _write(tmp_path / "auth.json", {"auths": {"https://index.docker.io/v1/": _auth("hub", "pw")}})
    store = CredentialStore(str(path))
    for host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        creds = store.lookup(host, "library/busybox")
        assert creds is not None and creds.username == "hub"


def test_explicit_credentials_win(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.json", {"auths": {"quay.io": _auth("file", "f")}})
    store = CredentialStore(str(path), {"quay.io": ("flag", "secret")})
    creds = store.lookup("quay.io", "a/b")
    assert creds is not None and (creds.username, creds.password, creds.source) == (
        "flag",
        "secret",
        "command line",
    )


def test_credentials_file_read_bounded(tmp_path: Path) -> None:
    """A device or a huge file named as the auth file is refused by its size, a file that is no UTF-8 as
    no JSON (before: MemoryError and UnicodeDecodeError, internal errors of the CLI); a pipe is read."""
    with pytest.raises(OkdReleaseError) as caught:
        CredentialStore("/dev/zero").lookup("quay.io")
    assert str(caught.value) == "credentials file /dev/zero is larger than 16777216 bytes"
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"auths": {"\xe9": {}}}')
    with pytest.raises(OkdReleaseError) as caught:
        CredentialStore(str(latin)).lookup("quay.io")
    assert str(caught.value) == f"credentials file {latin} is not valid JSON: it is not UTF-8"
    read, write = os.pipe()
    os.write(write, json.dumps({"auths": {"quay.io": _auth("piped", "p")}}).encode())
    os.close(write)
    try:
        creds = CredentialStore(f"/dev/fd/{read}").lookup("quay.io", "a/b")
    finally:
        os.close(read)
    assert creds is not None and (creds.username, creds.password) == ("piped", "p")


def test_missing_explicit_file_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"credentials file {tmp_path}/nope.json does not exist"):
        CredentialStore(str(tmp_path / "nope.json")).lookup("quay.io")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OkdReleaseError, match=f"credentials file {bad} is not valid JSON"):
        CredentialStore(str(bad)).lookup("quay.io")
    garbled = _write(
        tmp_path / "garbled.json", {"auths": {"quay.io": {"auth": base64.b64encode(b"nocolon").decode()}}}
    )
    with pytest.raises(OkdReleaseError, match="invalid 'auth' field in .*garbled.json"):
        CredentialStore(str(garbled)).lookup("quay.io")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auth", 5),
        ("auth", ["c2VjcmV0OnB3"]),
        ("username", 7),
        ("password", {"p": "s3cr3t"}),
        ("identitytoken", 1),
    ],
)
def test_auth_entry_field_not_a_string_is_a_clear_error(tmp_path: Path, field: str, value: Any) -> None:
    path = _write(tmp_path / "typed.json", {"auths": {"127.0.0.1:5000": {field: value}}})
    with pytest.raises(OkdReleaseError) as caught:
        CredentialStore(str(path)).lookup("127.0.0.1:5000")
    # The file and the host are named; the value (perhaps a secret) never is.
    assert str(caught.value) == f"invalid '{field}' field in {path} (127.0.0.1:5000): expected a string"


def test_secrets_never_in_repr(tmp_path: Path) -> None:
    creds = Credentials("alice", "s3cr3t-password", "id-token-value")
    assert "s3cr3t" not in repr(creds) and "alice" not in repr(creds) and "id-token" not in repr(creds)
    cache = TokenCache()
    cache.get("r", ["s"], lambda: {"token": "tok-secret-value"})
    assert "tok-secret" not in repr(cache) and "tok-secret" not in repr(cache._tokens)


def _helper(directory: Path, name: str, known: dict[str, dict[str, str]]) -> Path:
    """Write a fake docker-credential-NAME that logs its calls and answers from ``known``."""
    script = directory / f"docker-credential-{name}"
    log = directory / f"{name}.log"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"known = {known!r}\n"
        "server = sys.stdin.read().strip()\n"
        f"open({str(log)!r}, 'a').write(sys.argv[1] + ' ' + server + '\\n')\n"
        "if server in known:\n"
        "    print(json.dumps(known[server]))\n"
        "else:\n"
        "    print('credentials not found in native keychain')\n"
        "    sys.exit(1)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def test_credential_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper_log = _helper(
        bin_dir,
        "fake",
        {
            "quay.io": {"ServerURL": "quay.io", "Username": "helped", "Secret": "helper-pw"},
            "token.io": {"ServerURL": "token.io", "Username": "<token>", "Secret": "refresh-me"},
        },
    )
    store_log = _helper(
        bin_dir, "store", {"any.io": {"ServerURL": "any.io", "Username": "st", "Secret": "x"}}
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    path = _write(
        tmp_path / "config.json",
        {
            "auths": {"quay.io": _auth("file", "f"), "plain.io": _auth("plain", "p")},
            "credHelpers": {"quay.io": "fake", "token.io": "fake"},
            "credsStore": "store",
        },
    )
    store = CredentialStore(str(path))
    quay = store.lookup("quay.io", "a/b")
    assert quay is not None and (quay.username, quay.password) == ("helped", "helper-pw")
    token = store.lookup("token.io", "a/b")
    assert token is not None and token.identity_token == "refresh-me" and token.password == ""
    plain = store.lookup("plain.io", "a/b")
    assert plain is not None and plain.username == "plain"
    anywhere = store.lookup("any.io", "a/b")
    assert anywhere is not None and (anywhere.username, anywhere.password) == ("st", "x")
    assert store.lookup("unknown.io", "a/b") is None
    assert helper_log.read_text().splitlines() == ["get quay.io", "get token.io"]
    assert store_log.read_text().splitlines() == ["get any.io", "get unknown.io"]
    # Cached: asking again does not run the helper again.
    store.lookup("quay.io", "a/b")
    assert helper_log.read_text().count("quay.io") == 1


def test_missing_helper_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    path = _write(tmp_path / "config.json", {"credHelpers": {"quay.io": "absent"}})
    with pytest.raises(OkdReleaseError, match="credential helper docker-credential-absent not found on PATH"):
        CredentialStore(str(path)).lookup("quay.io")


def test_identity_token_entry(tmp_path: Path) -> None:
    path = _write(tmp_path / "auth.json", {"auths": {"quay.io": {"identitytoken": "refresh-abc"}}})
    creds = CredentialStore(str(path)).lookup("quay.io")
    assert creds is not None and creds.identity_token == "refresh-abc"


def test_parse_challenges() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push", Basic realm="x"'
    )
    assert parse_challenges(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example/token",
                "service": "registry.example",
                "scope": "repository:a/b:pull,push",
            },
        ),
        Challenge("basic", {"realm": "x"}),
    ]
    assert pick_challenge('Basic realm="Registry Realm"') == Challenge("basic", {"realm": "Registry Realm"})
    assert pick_challenge(header) is not None and pick_challenge(header).scheme == "bearer"  # type: ignore[union-attr]
    assert pick_challenge("") is None


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_cache_expiry_scopes_and_names() -> None:
    clock = _Clock()
    wall = 1_700_000_000.0
    cache = TokenCache(clock=clock, wall=lambda: wall)
    calls: list[str] = []

    def fetcher(name: str, body: dict[str, Any]) -> Any:
        def fetch() -> dict[str, Any]:
            calls.append(name)
            return body

        return fetch

    # Default lifetime 60 s (refreshed a few seconds early).
    assert cache.get("r", ["repository:a:pull"], fetcher("a1", {"token": "A1"})) == "A1"
    assert cache.get("r", ["repository:a:pull"], fetcher("a2", {"token": "A2"})) == "A1"
    clock.now += 50
    assert cache.get("r", ["repository:a:pull"], fetcher("a3", {"token": "A3"})) == "A1"
    clock.now += 10
    assert (
        cache.get("r", ["repository:a:pull"], fetcher("a4", {"access_token": "A4", "expires_in": 300}))
        == "A4"
    )
    # Scope sets are keys; order does not matter.
    two = ["repository:b:pull,push", "repository:a:pull"]
    assert cache.get("r", two, fetcher("m", {"token": "M"})) == "M"
    assert cache.get("r", list(reversed(two)), fetcher("m2", {"token": "M2"})) == "M"
    assert cache.get("other", two, fetcher("o", {"token": "O"})) == "O"
    # A token refused by the registry is refreshed even if not expired.
    assert cache.get("r", two, fetcher("m3", {"token": "M3"}), stale="M") == "M3"
    assert calls == ["a1", "a4", "m", "o", "m3"]
    with pytest.raises(UnauthorizedError, match="token server for r returned no token"):
        cache.get("r", ["x"], lambda: {"expires_in": 60})


def test_token_lifetime_uses_issued_at() -> None:
    now = 1_700_000_000.0
    assert token_lifetime({"expires_in": 300}, now) == 295.0
    assert token_lifetime({}, now) == 55.0
    assert token_lifetime({"expires_in": 20}, now) == 18.0
    issued = "2023-11-14T22:11:20Z"  # 1_699_999_880: two minutes before now
    assert token_lifetime({"expires_in": 300, "issued_at": issued}, now) == 175.0
    assert token_lifetime(
        {"expires_in": 300, "issued_at": "2023-11-14T22:11:20.123456789Z"}, now
    ) == pytest.approx(175.123456, abs=1e-5)


def test_identity_token_uses_oauth2_refresh_grant() -> None:
    seen: list[tuple[str, str, dict[str, list[str]]]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.append((self.command, self.path, urllib.parse.parse_qs(body)))
            data = json.dumps({"access_token": "from-refresh", "expires_in": 120}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        challenge = Challenge(
            "bearer", {"realm": f"http://127.0.0.1:{server.server_address[1]}/oauth", "service": "svc"}
        )
        with HttpSession("okdrelease", 1) as session:
            body = fetch_token(
                session,
                challenge,
                ["repository:b:pull", "repository:a:pull,push"],
                Credentials("<token>", "", "refresh-xyz"),
                registry="reg.example",
            )
    finally:
        thread.join(5)
        server.server_close()
    assert body["access_token"] == "from-refresh"
    assert seen == [
        (
            "POST",
            "/oauth",
            {
                "grant_type": ["refresh_token"],
                "refresh_token": ["refresh-xyz"],
                "client_id": ["okdrelease"],
                "service": ["svc"],
                "scope": ["repository:a:pull,push repository:b:pull"],
            },
        )
    ]
