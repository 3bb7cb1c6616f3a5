"""Real-registry test rig: local CA, Distribution ``docker-registry`` processes and a JWT token server.

Everything listens on 127.0.0.1 on ports picked by binding port 0 (retried on collision); nothing
needs external network. The pytest fixtures in ``tests/conftest.py`` expose this module:

* ``LocalCA`` creates a throwaway CA (EC P-256, via ``cryptography``) and issues server
  certificates for ``127.0.0.1``/``localhost`` and token-signing certificates.
* ``RegistryServer`` writes a Distribution 2.8 config (filesystem storage in a private directory,
  deletes enabled), starts ``docker-registry serve CONFIG``, waits until ``/v2/`` answers and stops
  it again (terminate, wait, kill). Its log file is quoted when startup fails.
* ``TokenServer`` is a threaded ``http.server`` implementing the Docker token protocol
  (``GET /token?service=..&scope=..&scope=..``, HTTP Basic for users, anonymous otherwise). It
  grants per-repository scopes from a policy edited with ``grant()``, signs ES256 JWTs whose
  ``x5c`` header carries a certificate issued by the CA in the registry's ``rootcertbundle``, and
  records every request in ``requests``.
* ``RegistryInfo`` is what tests get: host, scheme, CA file, credentials and URL helpers.

Token lifetime note: Distribution accepts a JWT for 60 s of leeway past its ``exp``; a short
``TokenServer.expires_in`` therefore tells clients to refresh early, it does not make the registry
reject the old token at once.
"""

from __future__ import annotations

import base64
import datetime
import fnmatch
import http.server
import ipaddress
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import bcrypt
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

REGISTRY_BINARY_ENV = "OKD_TEST_REGISTRY_BINARY"
DEFAULT_REGISTRY_BINARY = "/usr/bin/docker-registry"
TOKEN_SERVICE = "okd-test-registry"
TOKEN_ISSUER = "okd-test-token-issuer"
DEFAULT_TOKEN_EXPIRES_IN = 300
DEFAULT_USERS: Mapping[str, str] = {"alice": "alice-secret-pw", "bob": "bob-secret-pw"}
_STARTUP_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_PORT_ATTEMPTS = 5
#: How often a serving loop looks for ``shutdown()`` (0.5 s by default, paid by every stop).
_POLL_INTERVAL = 0.02


class RigError(RuntimeError):
    """The test rig could not set up a registry, certificate or token server."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def registry_binary() -> str:
    """Return the docker-registry executable path or raise RigError naming the package to install."""
    explicit = os.environ.get(REGISTRY_BINARY_ENV)
    candidate = explicit or DEFAULT_REGISTRY_BINARY
    found = shutil.which(candidate) or (None if explicit else shutil.which("docker-registry"))
    if not found:
        raise RigError(
            f"Distribution registry binary not found at {candidate!r}: install the Debian package "
            f"'docker-registry' (apt-get install -y docker-registry) or set {REGISTRY_BINARY_ENV}"
        )
    return found


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --------------------------------------------------------------------------------------------
# Certificates


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "okdrelease tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


class LocalCA:
    """A throwaway certificate authority whose certificate is written to ``ca_file``."""

    def __init__(self, directory: Path) -> None:
        """Create the CA key and self-signed certificate in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = _utcnow()
        public = self._key.public_key()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("okdrelease test CA"))
            .issuer_name(_name("okdrelease test CA"))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = _write_pem(
            directory / "ca.crt", self.certificate.public_bytes(serialization.Encoding.PEM)
        )

    def _issue(
        self, common_name: str, usage: x509.ExtendedKeyUsage, san: x509.SubjectAlternativeName | None
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _utcnow()
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(usage, critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
            )
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return key, builder.sign(self._key, hashes.SHA256())

    def issue_server_cert(self, name: str, *, dns_names: Sequence[str] = ()) -> tuple[Path, Path]:
        """Write a server certificate for 127.0.0.1 and localhost (for ``dns_names`` alone when given);
        return (cert_file, key_file)."""
        san = x509.SubjectAlternativeName(
            [x509.DNSName(d) for d in dns_names]
            if dns_names
            else [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
        )
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
        key, cert = self._issue("127.0.0.1", usage, san)
        cert_file = _write_pem(self.directory / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM))
        key_file = _write_pem(self.directory / f"{name}.key", _key_pem(key))
        return cert_file, key_file

    def issue_client_cert(self, name: str) -> tuple[Path, Path]:
        """Write a TLS client certificate; return (``NAME.cert``, ``NAME.key``), as certs.d names them."""
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
        key, cert = self._issue(name, usage, None)
        cert_file = _write_pem(self.directory / f"{name}.cert", cert.public_bytes(serialization.Encoding.PEM))
        key_file = _write_pem(self.directory / f"{name}.key", _key_pem(key))
        return cert_file, key_file

    def issue_signing_cert(self, common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """Return a new key and CA-issued certificate suitable for signing registry JWTs."""
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING])
        return self._issue(common_name, usage, None)


def write_htpasswd(path: Path, users: Mapping[str, str]) -> Path:
    """Write an htpasswd file with bcrypt hashes (cost 4, fast) for ``users``; return its path."""
    lines = [
        f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
        for user, password in users.items()
    ]
    path.write_text("".join(lines))
    return path


# --------------------------------------------------------------------------------------------
# Token server


@attrs.frozen
class Grant:
    """One policy entry: ``user`` (None = anonymous) may perform ``actions`` on matching names."""

    user: str | None
    pattern: str
    actions: frozenset[str]
    resource_type: str = "repository"

    def allows(self, user: str | None, resource_type: str, name: str) -> frozenset[str]:
        """Return the actions this grant gives ``user`` on the resource (empty if it does not apply)."""
        if user != self.user or resource_type != self.resource_type:
            return frozenset()
        return self.actions if fnmatch.fnmatchcase(name, self.pattern) else frozenset()


@attrs.frozen
class Scope:
    """A parsed token scope ``type:name:action,action``."""

    resource_type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse a scope string; the name may itself contain colons (e.g. a host:port)."""
        resource_type, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not sep or not sep2 or not name:
            raise ValueError(f"malformed scope {text!r}")
        return cls(resource_type, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}:{','.join(self.actions)}"


@attrs.frozen
class TokenRequest:
    """One request the token server answered: who asked, for what, what was granted, HTTP status."""

    user: str | None
    scopes: tuple[str, ...]
    granted: tuple[str, ...]
    status: int
    service: str | None


DEFAULT_GRANTS: tuple[Grant, ...] = (
    Grant("alice", "alice/*", frozenset({"pull", "push", "delete"})),
    Grant("bob", "bob/*", frozenset({"pull", "push", "delete"})),
)


class TokenServer:
    """Docker token-protocol server on 127.0.0.1 issuing ES256 JWTs for a Distribution registry."""

    def __init__(
        self,
        ca: LocalCA,
        *,
        users: Mapping[str, str] = DEFAULT_USERS,
        service: str = TOKEN_SERVICE,
        issuer: str = TOKEN_ISSUER,
    ) -> None:
        """Prepare a server whose tokens carry a certificate issued by ``ca``; call ``start()``."""
        self.users = dict(users)
        self.service = service
        self.issuer = issuer
        self.rootcertbundle = ca.ca_file
        self._key, cert = ca.issue_signing_cert("okdrelease test token signer")
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")]
        self._lock = threading.Lock()
        self._grants: list[Grant] = list(DEFAULT_GRANTS)
        self._requests: list[TokenRequest] = []
        self.expires_in = DEFAULT_TOKEN_EXPIRES_IN
        self.response_keys: tuple[str, ...] = ("token", "access_token")
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- policy ------------------------------------------------------------------------------

    def grant(
        self, user: str | None, pattern: str, actions: Iterable[str], *, resource_type: str = "repository"
    ) -> None:
        """Allow ``user`` (None = anonymous) ``actions`` (``*`` = any) on names matching the glob."""
        with self._lock:
            self._grants.append(Grant(user, pattern, frozenset(actions), resource_type))

    def clear_grants(self) -> None:
        """Remove every grant, including the defaults (alice on alice/*, bob on bob/*)."""
        with self._lock:
            self._grants = []

    def reset(self) -> None:
        """Restore default grants, expiry and response keys, and clear the request log."""
        with self._lock:
            self._grants = list(DEFAULT_GRANTS)
            self._requests = []
        self.expires_in = DEFAULT_TOKEN_EXPIRES_IN
        self.response_keys = ("token", "access_token")

    def reset_log(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests = []

    @property
    def requests(self) -> list[TokenRequest]:
        """Return a copy of the requests served so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def allowed(self, user: str | None, scope: Scope) -> tuple[str, ...]:
        """Return the requested actions of ``scope`` that the policy grants ``user``, in request order."""
        with self._lock:
            granted: set[str] = set()
            for entry in self._grants:
                granted |= entry.allows(user, scope.resource_type, scope.name)
        return tuple(a for a in scope.actions if a in granted or "*" in granted)

    # -- tokens ------------------------------------------------------------------------------

    def issue(self, user: str | None, access: list[dict[str, Any]], expires_in: int) -> str:
        """Return a signed JWT for ``user`` carrying the ``access`` claim."""
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": self._x5c}
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + expires_in,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def handle(self, query: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Answer one token request; return (HTTP status, JSON body) and record it."""
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        service = params.get("service", [None])[0]
        raw_scopes = tuple(s for value in params.get("scope", []) for s in value.split())
        user, password = _parse_basic(authorization) if authorization else (None, None)
        granted: list[Scope] = []
        if authorization and (user is None or self.users.get(user) != password):
            status, body = 401, _error("UNAUTHORIZED", "bad credentials")
        elif service not in (None, self.service):
            status, body = 400, _error("DENIED", f"unknown service {service!r}")
        else:
            try:
                scopes = [Scope.parse(s) for s in raw_scopes]
            except ValueError as exc:
                status, body = 400, _error("DENIED", str(exc))
            else:
                for scope in scopes:
                    actions = self.allowed(user, scope)
                    if actions:
                        granted.append(Scope(scope.resource_type, scope.name, actions))
                status, body = 200, self._token_body(user, granted)
        with self._lock:
            self._requests.append(
                TokenRequest(user, raw_scopes, tuple(str(g) for g in granted), status, service)
            )
        return status, body

    def _token_body(self, user: str | None, granted: list[Scope]) -> dict[str, Any]:
        expires_in = self.expires_in
        access = [{"type": g.resource_type, "name": g.name, "actions": list(g.actions)} for g in granted]
        token = self.issue(user, access, expires_in)
        body: dict[str, Any] = {key: token for key in self.response_keys}
        body["expires_in"] = expires_in
        body["issued_at"] = _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        return body

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def realm(self) -> str:
        """Return the token endpoint URL to configure as the registry's realm."""
        if self._httpd is None:
            raise RigError("token server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/token"

    def start(self) -> TokenServer:
        """Start serving on a free loopback port in a daemon thread; return self."""
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/token":
                    status, body = 404, _error("NOT_FOUND", url.path)
                else:
                    status, body = server.handle(url.query, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="okd-test-token"')
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server API
                log.debug("token server: " + format, *args)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(_POLL_INTERVAL,), name="token-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=_STOP_TIMEOUT)
            self._thread = None


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


def _parse_basic(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


# --------------------------------------------------------------------------------------------
# Registry process


@attrs.frozen
class RegistryInfo:
    """How to reach one running test registry (``host`` is ``127.0.0.1:PORT``)."""

    host: str
    scheme: str
    ca_file: str | None
    username: str | None
    password: str | None
    users: Mapping[str, str]
    storage_dir: Path
    log_file: Path
    flavour: str
    token_server: TokenServer | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def base_url(self) -> str:
        """Return ``scheme://host``."""
        return f"{self.scheme}://{self.host}"

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` (e.g. ``/v2/``) on this registry."""
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def verify(self) -> str | bool:
        """Return the ``verify`` argument for requests: the CA file for TLS, else True."""
        return self.ca_file if self.ca_file else True

    @property
    def auth(self) -> tuple[str, str] | None:
        """Return (username, password) of the default user, or None without credentials."""
        if self.username is None or self.password is None:
            return None
        return self.username, self.password

    def session(self, *, with_auth: bool = True) -> requests.Session:
        """Return a requests session trusting the CA, ignoring proxy env, with Basic auth if any."""
        session = requests.Session()
        session.trust_env = False
        session.verify = self.verify
        if with_auth and self.auth is not None:
            session.auth = self.auth
        return session

    def docker_config(self, user: str | None = None) -> dict[str, Any]:
        """Return a docker ``config.json`` dict holding credentials of ``user`` (default user if None)."""
        name = user or self.username
        if name is None:
            return {"auths": {}}
        secret = f"{name}:{self.users[name]}".encode()
        return {"auths": {self.host: {"auth": base64.b64encode(secret).decode("ascii")}}}

    def log_tail(self, lines: int = 30) -> str:
        """Return the last ``lines`` lines of the registry log."""
        return _tail(self.log_file, lines)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


_ADDR_IN_USE = re.compile(r"address already in use", re.IGNORECASE)


class RegistryServer:
    """One ``docker-registry serve`` process with its own config, storage and log in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        *,
        flavour: str,
        tls: tuple[Path, Path] | None = None,
        ca_file: Path | None = None,
        htpasswd_users: Mapping[str, str] | None = None,
        token_server: TokenServer | None = None,
        binary: str | None = None,
        port_picker: Callable[[], int] | None = None,
    ) -> None:
        """Describe the registry; ``tls`` is (cert, key); use ``start()`` to launch it."""
        self.port_picker = port_picker or free_port
        self.workdir = workdir
        self.flavour = flavour
        self.tls = tls
        self.ca_file = ca_file
        self.htpasswd_users = dict(htpasswd_users) if htpasswd_users is not None else None
        self.token_server = token_server
        self.binary = binary
        self.storage_dir = workdir / "storage"
        self.config_file = workdir / "config.yml"
        self.log_file = workdir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.info: RegistryInfo | None = None

    def _config(self, port: int) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
            "health": {"storagedriver": {"enabled": False}},
        }
        if self.tls is not None:
            config["http"]["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
        if self.htpasswd_users is not None:
            path = write_htpasswd(self.workdir / "htpasswd", self.htpasswd_users)
            config["auth"] = {"htpasswd": {"realm": "okd-test-registry", "path": str(path)}}
        if self.token_server is not None:
            config["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": self.token_server.service,
                    "issuer": self.token_server.issuer,
                    "rootcertbundle": str(self.token_server.rootcertbundle),
                }
            }
        return config

    def start(self) -> RegistryInfo:
        """Launch the registry on a free port (retrying on collisions) and wait for ``/v2/``."""
        binary = self.binary or registry_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "OTEL_"))}
        for attempt in itertools.count(1):
            port = self.port_picker()
            self.config_file.write_text(yaml.safe_dump(self._config(port), sort_keys=False))
            with self.log_file.open("ab") as log_fh:
                log_fh.write(f"--- starting {self.flavour} registry on port {port}\n".encode())
                log_fh.flush()
                self._process = subprocess.Popen(
                    [binary, "serve", str(self.config_file)],
                    stdin=subprocess.DEVNULL,
                    stdout=log_fh,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=env,
                )
            try:
                self._wait_ready(port)
            except _PortInUse:
                self.stop()
                if attempt >= _PORT_ATTEMPTS:
                    raise RigError(self._failure(f"port collisions {attempt} times")) from None
                log.info("registry port %d was taken, retrying", port)
                continue
            except BaseException:
                self.stop()
                raise
            users = self._users()
            username, password = next(iter(users.items()), (None, None))
            self.info = RegistryInfo(
                host=f"127.0.0.1:{port}",
                scheme="https" if self.tls else "http",
                ca_file=str(self.ca_file) if self.ca_file else None,
                username=username,
                password=password,
                users=users,
                storage_dir=self.storage_dir,
                log_file=self.log_file,
                flavour=self.flavour,
                token_server=self.token_server,
            )
            return self.info
        raise AssertionError("unreachable")

    def _users(self) -> dict[str, str]:
        """Return the users the registry (or its token server) accepts; the first is the default."""
        if self.htpasswd_users is not None:
            return dict(self.htpasswd_users)
        return dict(self.token_server.users) if self.token_server is not None else {}

    def _failure(self, what: str) -> str:
        return (
            f"{self.flavour} registry ({self.config_file}) failed to start: {what}; "
            f"log {self.log_file}:\n{_tail(self.log_file, 40)}"
        )

    def _log_text(self) -> str:
        """Return the log written since the current process started."""
        text = self.log_file.read_text(errors="replace")
        return text[text.rfind("--- starting ") :]

    def _wait_ready(self, port: int) -> None:
        scheme = "https" if self.tls else "http"
        url = f"{scheme}://127.0.0.1:{port}/v2/"
        listening = f"listening on 127.0.0.1:{port}"
        session = requests.Session()
        session.trust_env = False
        verify: str | bool = str(self.ca_file) if self.ca_file else True
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        assert self._process is not None
        try:
            while True:
                code = self._process.poll()
                if code is not None:
                    if _ADDR_IN_USE.search(self._log_text()):
                        raise _PortInUse()
                    raise RigError(self._failure(f"process exited with status {code}"))
                # Only our process can be behind the port once it logged the bind; before that a
                # foreign listener on a colliding port could answer instead.
                if listening in self._log_text():
                    try:
                        response = session.get(url, verify=verify, timeout=2)
                    except requests.RequestException as exc:
                        log.debug("registry %s not ready yet: %s", self.flavour, exc)
                    else:
                        if response.status_code in (200, 401):
                            return
                        raise RigError(self._failure(f"GET {url} answered {response.status_code}"))
                if time.monotonic() > deadline:
                    raise RigError(self._failure(f"no answer on {url} within {_STARTUP_TIMEOUT:.0f} s"))
                time.sleep(0.05)
        finally:
            session.close()

    @property
    def pid(self) -> int | None:
        """The registry process's id while it runs (the benchmark reads its CPU time)."""
        return None if self._process is None else self._process.pid

    def stop(self) -> None:
        """Terminate the process, killing it if it does not exit within 10 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.warning("registry %s did not stop, killing pid %d", self.flavour, process.pid)
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)

    def __enter__(self) -> RegistryInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _PortInUse(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Repository names


class RepoNamer:
    """Callable returning fresh repository names ``<namespace>/<hint>-<n>-<random>``."""

    def __init__(self, hint: str) -> None:
        """Use ``hint`` (e.g. the test name) sanitised into a repository path component."""
        cleaned = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")
        self.hint = cleaned[:40].rstrip("-") or "repo"
        self._counter = itertools.count(1)

    def __call__(self, namespace: str = "alice") -> str:
        """Return a repository name unused so far; ``alice/`` is pushable by alice on every flavour."""
        suffix = secrets.token_hex(4)
        return f"{namespace}/{self.hint}-{next(self._counter)}-{suffix}"


__all__ = [
    "DEFAULT_USERS",
    "Grant",
    "LocalCA",
    "RegistryInfo",
    "RegistryServer",
    "RepoNamer",
    "RigError",
    "Scope",
    "TokenRequest",
    "TokenServer",
    "free_port",
    "registry_binary",
    "write_htpasswd",
]
