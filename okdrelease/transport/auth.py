"""Registry credentials and authorization: auth files, credential helpers, challenges, token cache.

Credential files are searched in the order podman and oc use (containers/image): an explicit file
(``--authfile``, else ``REGISTRY_AUTH_FILE``), ``$XDG_RUNTIME_DIR/containers/auth.json`` (or
``/run/containers/$UID/auth.json``), ``${XDG_CONFIG_HOME:-~/.config}/containers/auth.json``,
``$DOCKER_CONFIG/config.json`` (or ``~/.docker/config.json``) and the legacy ``~/.dockercfg``.
Within a file the most specific key wins (``host/ns/repo``, ``host/ns``, ``host``); a
``credHelpers`` entry for the host, or ``credsStore``, delegates to ``docker-credential-NAME``.
Secrets never appear in logs, exception messages or reprs.
"""

from __future__ import annotations

import base64
import copy
import datetime
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, UnauthorizedError, UsageError
from okdrelease.events import safe_url
from okdrelease.gocompat.jsonbounds import json_loads
from okdrelease.transport.base import normalize_host
from okdrelease.transport.http import (
    RETRY_STATUSES,
    BodyTooLarge,
    HttpSession,
    RedirectRefused,
    Response,
    Retryable,
    RetryPolicy,
    connect_reason,
    timeouts,
)
from okdrelease.transport.wire import BadFraming, InvalidHeader, TlsError, TransportError

log = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = 60
_TOKEN_MARGIN = 5.0
_HELPER_TIMEOUT = 30.0
_HELPER_USERNAME_TOKEN = "<token>"


@attrs.frozen
class Credentials:
    """A username/password pair, or an OAuth2 identity (refresh) token; secrets are never shown."""

    __repr__ = value_repr

    username: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    identity_token: str | None = attrs.field(default=None, repr=False)
    source: str = ""

    def basic_header(self) -> str:
        """Return the ``Authorization: Basic`` header value."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


# --------------------------------------------------------------------------------------------
# Auth files


@attrs.frozen
class AuthFile:
    """One candidate credentials file; ``legacy`` marks the ``~/.dockercfg`` format."""

    __repr__ = value_repr

    path: Path
    legacy: bool = False


def auth_file_paths(explicit: str | None = None, env: Mapping[str, str] | None = None) -> list[AuthFile]:
    """Return the credential files to search, most important first (containers/image order)."""
    environ = os.environ if env is None else env
    explicit = explicit or environ.get("REGISTRY_AUTH_FILE") or None
    if explicit:
        return [AuthFile(Path(explicit))]
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    files: list[AuthFile] = []
    runtime_dir = environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        files.append(AuthFile(Path(runtime_dir) / "containers" / "auth.json"))
    else:
        files.append(AuthFile(Path("/run/containers") / str(os.getuid()) / "auth.json"))
    config_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    files.append(AuthFile(Path(config_home) / "containers" / "auth.json"))
    docker_config = environ.get("DOCKER_CONFIG")
    files.append(
        AuthFile(Path(docker_config) / "config.json" if docker_config else home / ".docker" / "config.json")
    )
    files.append(AuthFile(home / ".dockercfg", legacy=True))
    return files


def normalize_key(key: str) -> str:
    """Normalise an auth file key: URL keys (``https://host/v1/``) become ``host``; aliases unified."""
    key = key.strip()
    if "://" in key:
        key = urllib.parse.urlsplit(key).netloc
    key = key.rstrip("/")
    host, sep, rest = key.partition("/")
    return normalize_host(host) + (sep + rest if rest else "")


def lookup_keys(host: str, repository: str | None) -> list[str]:
    """Return auth file keys for ``host``/``repository``, most specific first."""
    base = normalize_host(host)
    keys: list[str] = []
    if repository:
        parts = repository.split("/")
        for end in range(len(parts), 0, -1):
            keys.append(f"{base}/{'/'.join(parts[:end])}")
    keys.append(base)
    return keys


def _decode_auth_entry(entry: Any, where: str) -> Credentials | None:
    """Return credentials from an ``auths`` entry; None for an empty entry (helper marker)."""
    if not isinstance(entry, dict):
        return None
    for field in ("auth", "username", "password", "identitytoken"):
        if entry.get(field) is not None and not isinstance(entry[field], str):
            # The value may be (part of) a secret: never quote it.
            raise OkdReleaseError(f"invalid {field!r} field in {where}: expected a string")
    identity = entry.get("identitytoken") or None
    encoded = entry.get("auth") or ""
    username = entry.get("username") or ""
    password = entry.get("password") or ""
    if encoded:
        try:
            decoded = base64.b64decode(encoded, validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise OkdReleaseError(f"invalid base64 'auth' field in {where}") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise OkdReleaseError(f"invalid 'auth' field in {where}: expected base64 of user:password")
    if identity:
        return Credentials(username or _HELPER_USERNAME_TOKEN, "", str(identity), source=where)
    if username or password:
        return Credentials(username, password, source=where)
    return None


def _read_json(path: Path) -> dict[str, Any] | None:
    from okdrelease.regularfile import FileTooLarge, read_capped

    try:
        text = read_capped(path).decode("utf-8")
    except FileNotFoundError:
        return None
    except FileTooLarge as err:
        raise OkdReleaseError(f"credentials file {path} is larger than {err.max_bytes} bytes") from None
    except UnicodeDecodeError:
        raise OkdReleaseError(f"credentials file {path} is not valid JSON: it is not UTF-8") from None
    except OSError as err:
        raise OkdReleaseError(f"cannot read credentials file {path}: {err.strerror}") from None
    if not text.strip():
        return {}
    try:
        data = json_loads(text)
    except ValueError as err:
        raise OkdReleaseError(f"credentials file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise OkdReleaseError(f"credentials file {path} is not a JSON object")
    return data


HelperRunner = Callable[[str, str], "Credentials | None"]


def run_credential_helper(helper: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-<helper> get`` for ``server``; None when it has no credentials."""
    import subprocess  # only with a credential helper: ~1.5 ms of every run's start

    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise OkdReleaseError(f"credential helper {program} not found on PATH (for {server})") from None
    except subprocess.TimeoutExpired:
        raise OkdReleaseError(f"credential helper {program} timed out for {server}") from None
    except OSError as err:
        raise OkdReleaseError(
            f"cannot run credential helper {program} for {server}: {err.strerror}"
        ) from None
    output = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if "credentials not found" in output.lower():
            return None
        # The helper's output may echo secrets: never quote it.
        raise OkdReleaseError(f"credential helper {program} failed for {server} (exit {proc.returncode})")
    try:
        data = json_loads(output)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OkdReleaseError(f"credential helper {program} returned invalid JSON for {server}")
    username = str(data.get("Username") or "")
    secret = str(data.get("Secret") or "")
    if not username and not secret:
        return None
    where = f"credential helper {program}"
    if username == _HELPER_USERNAME_TOKEN:
        return Credentials(username, "", secret, source=where)
    return Credentials(username, secret, source=where)


class CredentialStore:
    """Finds credentials for a registry repository; explicit credentials win over files."""

    def __init__(
        self,
        authfile: str | None = None,
        credentials: Mapping[str, tuple[str, str]] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        helper: HelperRunner = run_credential_helper,
    ) -> None:
        """Search ``authfile`` (or the default files) after the ``credentials`` map (host → user, password)."""
        self._authfile = authfile
        self._explicit = {normalize_host(h): c for h, c in (credentials or {}).items()}
        self._env = env
        self._helper = helper
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str | None], Credentials | None] = {}
        self._key_locks: dict[tuple[str, str | None], threading.Lock] = {}

    def __repr__(self) -> str:
        return f"CredentialStore(authfile={self._authfile!r})"

    def lookup(self, host: str, repository: str | None = None) -> Credentials | None:
        """Return the credentials for ``host``/``repository`` or None (anonymous); one search per key."""
        key = (host, repository)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # concurrent callers wait for one search (a credential helper runs once)
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            found = self._lookup(host, repository)
            with self._lock:
                self._cache[key] = found
            return found

    def source_note(self, host: str, repository: str | None = None) -> str:
        """Where the credentials for ``host``/``repository`` come from (for errors; never the secret).

        ``credentials from FILE (KEY)`` (or the helper, or ``command line``), else which files
        were searched without an entry for the registry.
        """
        try:
            found = self.lookup(host, repository)
        except OkdReleaseError as err:
            return f"credentials for {host} could not be read: {err}"
        if found is not None:
            return f"credentials from {found.source or 'an unnamed source'}"
        if self._authfile:
            return f"no credentials for {host} in {self._authfile}"
        existing = [str(c.path) for c in auth_file_paths(None, self._env) if c.path.is_file()]
        if not existing:
            return f"no credentials for {host}: no credentials file found (--authfile or REGISTRY_AUTH_FILE)"
        return f"no credentials for {host} in {', '.join(existing)}"

    def _lookup(self, host: str, repository: str | None) -> Credentials | None:
        explicit = self._explicit.get(normalize_host(host))
        if explicit is not None:
            return Credentials(explicit[0], explicit[1], source="command line")
        if self._authfile and not Path(self._authfile).exists():
            raise UsageError(f"credentials file {self._authfile} does not exist")
        for candidate in auth_file_paths(self._authfile, self._env):
            data = _read_json(candidate.path)
            if data is None:
                continue
            found = self._from_file(data, candidate, host, repository)
            if found is not None:
                log.debug("using credentials for %s from %s", host, found.source)
                return found
        return None

    def _from_file(
        self, data: dict[str, Any], candidate: AuthFile, host: str, repository: str | None
    ) -> Credentials | None:
        where = str(candidate.path)
        canonical = normalize_host(host)
        if candidate.legacy:
            auths: dict[str, Any] = data
        else:
            helpers = data.get("credHelpers") or {}
            for helper_host, helper in helpers.items() if isinstance(helpers, dict) else ():
                if normalize_key(helper_host) == canonical and helper:
                    return self._helper(str(helper), host)
            auths = data.get("auths") or {}
            if not isinstance(auths, dict):
                raise OkdReleaseError(f"credentials file {where}: 'auths' is not an object")
        normalised: dict[str, Any] = {}
        for raw_key, entry in auths.items():
            normalised.setdefault(normalize_key(raw_key), entry)
        keys = lookup_keys(host, None if candidate.legacy else repository)
        for key in keys:
            if key in normalised:
                creds = _decode_auth_entry(normalised[key], f"{where} ({key})")
                if creds is not None:
                    return creds
        store = None if candidate.legacy else data.get("credsStore")
        if store:
            return self._helper(str(store), host)
        return None


# --------------------------------------------------------------------------------------------
# Challenges and tokens


class AnonymousCredentials(CredentialStore):
    """No credentials for any registry, whatever the auth files hold (skopeo's ``--src-no-creds``)."""

    def __init__(self, reason: str = "anonymous access was asked for") -> None:
        """``reason`` ends the note of an error that says no credentials were sent."""
        super().__init__(None, {})
        self._reason = reason

    def lookup(self, host: str, repository: str | None = None) -> Credentials | None:
        """Always None: every request is anonymous."""
        return None

    def source_note(self, host: str, repository: str | None = None) -> str:
        """Why no credentials were sent to ``host``."""
        return f"no credentials sent to {host}: {self._reason}"


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@attrs.frozen
class Challenge:
    """A parsed ``WWW-Authenticate`` challenge (scheme lower-cased)."""

    __repr__ = value_repr

    scheme: str
    params: dict[str, str] = attrs.field(factory=dict)

    @property
    def realm(self) -> str:
        """The ``realm`` parameter (token endpoint for Bearer)."""
        return self.params.get("realm", "")

    @property
    def service(self) -> str | None:
        """The ``service`` parameter, if any."""
        return self.params.get("service")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` header into challenges, in order."""
    challenges: list[Challenge] = []
    text = header.strip()
    while text:
        match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", text)
        if not match:
            break
        scheme = match.group(1).lower()
        text = text[match.end() :]
        params: dict[str, str] = {}
        while text:
            param = _PARAM_RE.match(text)
            if not param or not param.group(0).strip():
                break
            value = param.group(2) if param.group(2) is not None else param.group(3)
            params[param.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
            text = text[param.end() :]
        challenges.append(Challenge(scheme, params))
        text = text.lstrip(", ")
    return challenges


def pick_challenge(header: str | None) -> Challenge | None:
    """Return the Bearer challenge of a header if any, else the Basic one, else None."""
    if not header:
        return None
    challenges = parse_challenges(header)
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def pull_scope(repository: str) -> str:
    """Return the token scope for pulling from ``repository``."""
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    """Return the token scope for pushing to (and pulling from) ``repository``."""
    return f"repository:{repository}:pull,push"


@attrs.frozen
class Token:
    """A bearer token and the monotonic time after which it must be refreshed."""

    __repr__ = value_repr

    value: str = attrs.field(repr=False)
    refresh_at: float


def _parse_issued_at(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        return datetime.datetime.fromisoformat(cleaned).timestamp()
    except ValueError:
        return None


def token_lifetime(body: Mapping[str, Any], now_wall: float) -> float:
    """Return how many seconds from now a token response stays usable (``expires_in``, ``issued_at``)."""
    try:
        expires_in = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (TypeError, ValueError):
        expires_in = DEFAULT_TOKEN_LIFETIME
    if expires_in <= 0:
        expires_in = DEFAULT_TOKEN_LIFETIME
    issued = _parse_issued_at(body.get("issued_at"))
    remaining = expires_in - (max(0.0, now_wall - issued) if issued is not None else 0.0)
    return remaining - min(_TOKEN_MARGIN, expires_in / 10)


class TokenCache:
    """Thread-safe cache of bearer tokens keyed by (registry, scope set)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        """Use ``clock`` for expiry and ``wall`` to interpret ``issued_at``."""
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, frozenset[str]], Token] = {}
        self._key_locks: dict[tuple[str, frozenset[str]], threading.Lock] = {}
        self._attempts: dict[tuple[str, frozenset[str]], int] = {}
        self._failures: dict[tuple[str, frozenset[str]], OkdReleaseError] = {}

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"

    def get(
        self,
        registry: str,
        scopes: Iterable[str],
        fetch: Callable[[], Mapping[str, Any]],
        *,
        stale: str | None = None,
    ) -> str:
        """Return a valid token for ``scopes``, calling ``fetch`` (one caller at a time) when needed.

        ``stale`` is a token the registry just refused: it is never handed out again.
        """
        key = (registry, frozenset(scopes))
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
            seen = self._attempts.get(key, 0)
        with key_lock:
            with self._lock:
                cached = self._tokens.get(key)
                attempts = self._attempts.get(key, 0)
                failure = self._failures.get(key)
            if cached is not None and cached.refresh_at > self._clock() and cached.value != stale:
                return cached.value
            if failure is not None and attempts != seen:
                # Another caller failed to fetch this token while we waited: share its error
                # instead of asking the token server again (a burst makes one request, not N).
                raise copy.copy(failure)
            try:
                body = fetch()
            except OkdReleaseError as err:
                with self._lock:
                    self._attempts[key] = attempts + 1
                    self._failures[key] = err
                raise
            with self._lock:
                self._attempts[key] = attempts + 1
                self._failures.pop(key, None)
            value = body.get("token") or body.get("access_token")
            if not isinstance(value, str) or not value:
                raise UnauthorizedError(f"token server for {registry} returned no token", registry=registry)
            token = Token(value, self._clock() + token_lifetime(body, self._wall()))
            with self._lock:
                self._tokens[key] = token
            return token.value

    def invalidate(self, registry: str, scopes: Iterable[str]) -> None:
        """Forget the token for (registry, scopes)."""
        with self._lock:
            self._tokens.pop((registry, frozenset(scopes)), None)

    def discard(self, registry: str, scopes: Iterable[str], value: str) -> None:
        """Forget the token for (registry, scopes) if it is still ``value`` (the one a registry refused)."""
        key = (registry, frozenset(scopes))
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.value == value:
                del self._tokens[key]


def fetch_token(
    session: HttpSession,
    challenge: Challenge,
    scopes: Iterable[str],
    credentials: Credentials | None,
    *,
    registry: str,
    repository: str = "",
    verify: bool = True,
    timeout: float = 60.0,
    user_agent: str = "okdrelease",
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    source: str = "",
) -> dict[str, Any]:
    """Ask the challenge's token endpoint for ``scopes``; return the JSON body.

    Connection failures and transient statuses are retried under ``policy`` (none by default); a
    200 too big to read (``BodyTooLarge``) fails at once (an error status's is not read: the status counts);
    ``source`` says where the credentials came from, for the error when they are refused.
    """
    realm = challenge.realm
    if not realm:
        raise UnauthorizedError(
            f"registry {registry} sent a Bearer challenge without realm",
            registry=registry,
            repository=repository,
        )
    scope_list = sorted(scopes)
    scope_text = f"scope {' '.join(scope_list) or 'none'}"
    where = f"token server {safe_url(realm)}"

    def refused(message: str, status: int | None = None) -> UnauthorizedError:
        return UnauthorizedError(message, registry=registry, repository=repository, status=status)

    def attempt() -> Response:
        try:
            response = _token_request(
                session, challenge, scope_list, credentials, verify, timeout, user_agent
            )
        except TlsError as err:
            raise refused(f"cannot reach {where} for registry {registry}: {err.reason}") from None
        except (InvalidHeader, BadFraming) as err:  # (not transient: never retried)
            raise refused(f"token request to {where} for registry {registry}: {err}") from None
        except (BodyTooLarge, RedirectRefused) as err:  # (a refusal, not transient: never retried)
            raise refused(f"{where} for registry {registry} ({scope_text}): {err.reason}") from None
        except (TransportError, OSError) as err:
            error = refused(f"cannot reach {where} for registry {registry}: {connect_reason(err)}")
            raise Retryable(error) from None
        if response.status_code in RETRY_STATUSES:
            response.close()
            error = refused(
                f"{where} for registry {registry} ({scope_text}) answered HTTP {response.status_code}",
                response.status_code,
            )
            raise Retryable(error, response.headers.get("Retry-After"))
        return response

    retry = policy or RetryPolicy(retries=0)
    response = retry.run(f"token request for {registry}", attempt, sleep=sleep)
    with response:
        status = response.status_code
        if status in (401, 403):
            who = "anonymous access" if credentials is None else "the credentials"
            note = f"; {source}" if source else ""
            raise refused(
                f"{where} refused {who} for registry {registry} ({scope_text}): HTTP {status}{note}",
                status,
            )
        if status != 200:
            raise refused(f"{where} for registry {registry} ({scope_text}) answered HTTP {status}", status)
        try:
            body = response.json()
        except ValueError:
            body = None
    if not isinstance(body, dict):
        raise UnauthorizedError(f"{where} for registry {registry} returned invalid JSON", registry=registry)
    token = body.get("token") or body.get("access_token")
    if isinstance(token, str) and not (token.isascii() and token.isprintable()):
        # (never quoted: it is a secret) An HTTP header carries printable ASCII only.
        raise UnauthorizedError(
            f"{where} for registry {registry} returned a token that is not printable ASCII", registry=registry
        )
    return body


def _token_request(
    session: HttpSession,
    challenge: Challenge,
    scope_list: list[str],
    credentials: Credentials | None,
    verify: bool,
    timeout: float,
    user_agent: str,
) -> Response:
    """One token request: the OAuth2 refresh-token grant for an identity token, else a GET."""
    headers = {"User-Agent": user_agent}
    if credentials is not None and credentials.identity_token:
        form: dict[str, str] = {
            "grant_type": "refresh_token",
            "refresh_token": credentials.identity_token,
            "client_id": user_agent.split("/")[0],
        }
        if challenge.service:
            form["service"] = challenge.service
        if scope_list:
            form["scope"] = " ".join(scope_list)
        return session.post(
            challenge.realm, data=form, headers=headers, verify=verify, timeout=timeouts(timeout)
        )
    params: list[tuple[str, str]] = []
    if challenge.service:
        params.append(("service", challenge.service))
    params.extend(("scope", s) for s in scope_list)
    if credentials is not None:
        headers["Authorization"] = credentials.basic_header()
    return session.get(
        challenge.realm, params=params, headers=headers, verify=verify, timeout=timeouts(timeout)
    )
