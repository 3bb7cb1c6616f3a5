"""The OCI distribution (registry v2) HTTP API (``transport.http.HttpSession``).

``RegistryClient`` is created once per run and shared by every thread. For each registry it pings
``/v2/`` once (https first; plain http only for insecure registries), keeps one pooled session
whose TLS trust is ``TransportOptions.ca_file`` plus ``certs.d/HOST/*.crt`` (client certificates
from ``*.cert``/``*.key`` there), and bounds concurrent requests with a semaphore of
``max_per_registry``. ``RegistryRepository`` implements the ``Repository`` protocol: every
manifest and blob is checked against its digest, and uploads are hashed while they stream.

Every operation runs under the run's ``RetryPolicy`` (``transport.http``): reads start again after
a broken connection, a truncated body, a stall past the timeout or content that does not match its
digest (blob bodies resume with a ``Range`` request where the registry honours it); uploads start
again from a re-openable source after 429/5xx, a reset or a 401 that a new token answers.
"""

from __future__ import annotations

import io
import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    OkdReleaseError,
    RegistryError,
    RegistryErrorEntry,
    UnauthorizedError,
    printable,
)
from okdrelease.events import BytesMoved, EventSink, metered, safe_url
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import VerifyingReader, sha256_digest, validate_digest, verify_bytes
from okdrelease.oci.layerread import RawReader, read_full
from okdrelease.oci.model import AnyManifest, Descriptor, parse_manifest
from okdrelease.reference import ImageReference, validate_tag
from okdrelease.transport.auth import (
    Challenge,
    CredentialStore,
    TokenCache,
    fetch_token,
    pick_challenge,
    pull_scope,
    push_scope,
)
from okdrelease.transport.base import (
    MAX_MANIFEST_SIZE,
    MOUNTED,
    REFUSED,
    BlobMount,
    BlobSource,
    MountOutcome,
    Repository,
    TransportOptions,
)
from okdrelease.transport.http import (
    MAX_LOADED_BODY,
    RETRY_STATUSES,
    BodyTooLarge,
    HttpSession,
    InvalidLocation,
    PlainHttpRefused,
    RedirectRefused,
    Response,
    RetriedDigestMismatch,
    Retrier,
    Retryable,
    connect_reason,
    environ_proxies,
    location_url,
    strip_auth_on_redirect,
    timeouts,
    url_host,
)
from okdrelease.transport.wire import (
    BadFraming,
    InvalidAddress,
    InvalidHeader,
    TlsError,
    TransportError,
    load_system_trust,
    name_mismatch,
)
from okdrelease.workers import worker_pool

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_BLOCK = 1 << 20
#: Blobs up to this size are read whole and verified before a reader sees a byte, so content that
#: does not match its digest is fetched again instead of failing the reader at the end.
SMALL_BLOB = 1 << 20
_ERROR_TEXT_LIMIT = 300
_RAW_READ = 256 << 10
#: Tags asked for per page (``?n=``): go-containerregistry's default and Distribution's default
#: ``maxtags`` (Distribution 3.0 refused a larger ``n``); containers/image asks for none.
TAG_PAGE_SIZE = 1000
#: The most the pages of one tag listing may hold together, decoded: a registry whose ``Link`` never
#: ends (new pages with new tags) cannot keep a listing going for ever.
MAX_TAG_LISTING = 8 * MAX_LOADED_BODY
#: What a broken response body raises while it is read.
_BODY_ERRORS = (TransportError, OSError)


def _content_type(response: Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _ref_text(name: str, reference: str) -> str:
    if not reference:
        return name
    return f"{name}@{reference}" if ":" in reference else f"{name}:{reference}"


def _error_field(value: object) -> str:
    """An error entry's ``code`` or ``message`` as an error message shows it: a string as sent, null as
    nothing, anything else as JSON (Go's clients quote the whole body then); control characters escaped."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return printable(text)


def _error_list(response: Response) -> list[Any] | None:
    """The ``errors`` list of a registry error body, None when the body holds none."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, list) else None


def _error_detail(response: Response) -> str:
    """Return ``CODE: message`` from a registry error body (or a short text excerpt)."""
    errors = _error_list(response)
    if errors:
        parts = []
        for item in errors[:3]:
            if isinstance(item, dict):
                code, message = _error_field(item.get("code")), _error_field(item.get("message"))
                parts.append(f"{code}: {message}" if code else message)
        return "; ".join(parts)
    text = (response.text or "").strip()
    return printable(text[:_ERROR_TEXT_LIMIT]) if text and not text.startswith("<") else ""


def _error_codes(response: Response) -> set[str]:
    """The ``code`` of every entry of a registry error body."""
    errors = _error_list(response) or ()
    return {str(e.get("code")) for e in errors if isinstance(e, dict)}


def _error_entries(response: Response) -> tuple[RegistryErrorEntry, ...]:
    """The entries of a registry error body as Go's client decodes them (for oc's wording of the error):
    none when it cannot (an entry that is no object, a code or message that is no string: oc then
    reports the body as unparsable), control characters escaped."""
    errors = _error_list(response) or ()
    if not all(
        isinstance(e, dict) and all(isinstance(e.get(key), str | None) for key in ("code", "message"))
        for e in errors
    ):
        return ()
    return tuple(
        RegistryErrorEntry(
            _error_field(e.get("code")), _error_field(e.get("message")), e.get("detail") is not None
        )
        for e in errors
    )


def status_error(response: Response, what: str, **context: str) -> RegistryError:
    """The error for an unwanted HTTP status: ``WHAT: HTTP 503 (CODE: message)`` (the status alone
    when the body cannot be read); closes the response."""
    status = response.status_code
    try:
        detail, entries = _error_detail(response), _error_entries(response)
    except _BODY_ERRORS:  # a broken error body: the status alone
        detail, entries = "", ()
    if response.unread:
        detail = f"its body, larger than {MAX_LOADED_BODY} bytes, was not read"
    message = _prefixed(what, f"HTTP {status}") + (f" ({detail})" if detail else "")
    cls: type[RegistryError] = RegistryError
    if status == 404:
        cls = NotFoundError
    elif status in (401, 403):
        cls = UnauthorizedError
    response.close()
    error = cls(message, status=status, **context)
    error.entries = entries
    return error


#: What a host is to a client, which decides the TLS files it gets (``tls_files``): a registry the
#: user named, the token server a registry's own challenge names as its realm, or another host a
#: registry names (an upload ``Location``, a redirect target).
HostRole = Literal["registry", "token server", "other"]


def tls_files(
    host: str, options: TransportOptions, *, role: HostRole = "registry"
) -> tuple[list[str], list[tuple[str, str]]]:
    """Return (CA files, client (cert, key) pairs) that apply to ``host`` in ``role``.

    Every host trusts ``--certificate-authority`` and the cert dir's (skopeo's
    ``--src-cert-dir``/``--dest-cert-dir``) or else ``certs.d/HOST``'s CAs (a cert dir's CAs are
    trusted for every host of its side, as ``--certificate-authority`` is). A registry is offered
    the same directory's client pairs, and so is a token server its challenge names: the user's
    credentials go to that realm already, skopeo's token requests carry the cert dir's certificate,
    and a cert dir replaces certs.d, so without it a token server behind mutual TLS could not be
    reached. Another host (``other``) is offered ``certs.d/HOST``'s own pairs alone, never a cert
    dir's: those are the registries' (and their token servers'). Errors about a host other than a
    registry do not name it (its caller does).
    """
    owner = f" for registry {host}" if role == "registry" else ""
    cas: list[str] = [options.ca_file] if options.ca_file else []
    clients: list[tuple[str, str]] = []
    directories = (
        [Path(options.cert_dir)] if options.cert_dir else [Path(b) / host for b in options.certs_dirs]
    )
    for directory in directories:
        if not directory.is_dir():
            if options.cert_dir:
                raise RegistryError(f"certificate directory {directory}{owner} does not exist", registry=host)
            continue
        cas.extend(str(p) for p in sorted(directory.glob("*.crt")))
        if options.cert_dir and role == "other":
            continue
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.exists():
                raise RegistryError(f"client certificate {cert}{owner} has no key {key.name}", registry=host)
            clients.append((str(cert), str(key)))
        for key in sorted(directory.glob("*.key")):
            if not key.with_suffix(".cert").exists():
                raise RegistryError(f"key {key}{owner} has no client certificate", registry=host)
    return cas, clients


def tls_context(
    host: str, options: TransportOptions, *, role: HostRole = "registry"
) -> ssl.SSLContext | None:
    """The TLS context of ``https://HOST/`` in ``role``: the system's trust with ``ca_file`` and the
    cert dir's or ``certs.d/HOST``'s CAs and client certificates (``tls_files`` says which apply), or
    None when none apply (the HTTP client's default trust). RegistryError when a file cannot be loaded."""
    cas, clients = tls_files(host, options, role=role)
    if not cas and not clients:
        return None
    owner = f" for registry {host}" if role == "registry" else ""
    from okdrelease.regularfile import check_loadable

    context = ssl.create_default_context()
    load_system_trust(context)
    for ca in cas:
        try:
            check_loadable(ca)
            context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as err:
            raise RegistryError(f"cannot load CA file {ca}{owner}: {err}", registry=host) from None
    for cert, key in clients:
        try:
            check_loadable(cert)
            check_loadable(key)
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as err:
            raise RegistryError(
                f"cannot load client certificate {cert}{owner}: {err}", registry=host
            ) from None
    return context


def check_host(host: str) -> None:
    """Refuse a registry ``host[:port]`` that no URL can name (a port outside 1-65535, an empty name)."""
    name, sep, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not sep:
        name, port = host, ""
    if not name or (sep and not (port.isdigit() and 0 < int(port) < 65536)):
        raise RegistryError(
            f"invalid registry address {host}: the port must be a number from 1 to 65535", registry=host
        )


@attrs.define
class _Registry:
    """Per-registry connection state (after the ``/v2/`` ping)."""

    __repr__ = value_repr

    host: str
    base_url: str
    session: HttpSession
    verify: bool
    proxies: dict[str, str]
    semaphore: threading.BoundedSemaphore
    challenge: Challenge | None = None


class _HostSetupFailed(Exception):
    """Internal: another host's session could not be set up (its TLS files could not be loaded)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(host, reason)
        self.host = host
        self.reason = reason


class _BodyMismatch(Exception):
    """Internal: carries a DigestMismatchError raised while streaming a request body."""


def _body_mismatch(err: BaseException) -> DigestMismatchError | None:
    """The DigestMismatchError a streamed request body raised, if that is what ``err`` came from."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, _BodyMismatch):
            mismatch: DigestMismatchError = cause.args[0]
            return mismatch
        cause = cause.__context__
    return None


class RegistryClient:
    """Connections, credentials and tokens for every registry of one run; thread-safe."""

    def __init__(
        self,
        options: TransportOptions | None = None,
        *,
        credentials: CredentialStore | None = None,
        tokens: TokenCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a client; credentials default to ``options.authfile``/``options.credentials``."""
        self.options = options or TransportOptions()
        self.policy = self.options.retry_policy
        self.credentials = credentials or CredentialStore(self.options.authfile, self.options.credentials)
        self.tokens = tokens or TokenCache()
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._registries: dict[str, _Registry] = {}
        self._failed_pings: dict[str, RegistryError] = {}
        self._host_sessions: dict[tuple[str, HostRole], HttpSession] = {}
        #: The environment's proxies for another host, by (host, scheme), looked up once.
        self._route_proxies: dict[tuple[str, str], dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"RegistryClient({sorted(self._registries)})"

    def repository(self, ref: ImageReference) -> RegistryRepository:
        """Return the repository named by ``ref`` (its tag or digest is ignored)."""
        return RegistryRepository(self, ref)

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            registries, self._registries = list(self._registries.values()), {}
            host_sessions, self._host_sessions = list(self._host_sessions.values()), {}
        for registry in registries:
            registry.session.close()
        for session in host_sessions:
            session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def retrier(self) -> Retrier:
        """A fresh retry budget (one operation's) from the run's policy."""
        return self.policy.start(sleep=self._sleep, clock=self._clock)

    def run(self, what: str, attempt: Callable[[], T]) -> T:
        """Run one operation under the retry policy (``Retryable`` failures are attempted again)."""
        return self.policy.run(what, attempt, sleep=self._sleep, clock=self._clock)

    # -- connection setup ----------------------------------------------------------------------

    def _new_session(self, host: str, insecure: bool, *, role: HostRole = "registry") -> HttpSession:
        context = None if insecure else tls_context(host, self.options, role=role)
        return HttpSession(
            self.options.user_agent,
            self.options.max_per_registry,
            host=host,
            context=context,
            events=self.options.events,
            route=self._route,
            plain=self.options.is_insecure,
        )

    def _host_session(self, host: str, role: HostRole = "other") -> HttpSession:
        """One pooled session per host and role (a token server; an upload ``Location`` or a redirect
        elsewhere), with the TLS settings of that host in that role (``tls_files``): a token server
        that is also named for an upload gets the cert dir's client certificates in its token
        requests only. A host this client talks to as a registry keeps its registry settings.
        ``_HostSetupFailed`` when they cannot be loaded."""
        with self._lock:
            if host in self._registries:
                role = "registry"
            session = self._host_sessions.get((host, role))
            if session is None:
                try:
                    session = self._new_session(host, self.options.is_insecure(host), role=role)
                except RegistryError as err:
                    raise _HostSetupFailed(host, str(err)) from None
                session.proxies.update(environ_proxies(host, "https"))
                self._host_sessions[host, role] = session
            return session

    def _route(self, url: str) -> tuple[HttpSession, bool, dict[str, str]]:
        """How a request to ``url``, on another host than the session's (an upload ``Location``, a
        redirect), is sent: by that host's own session, verified unless that host is marked insecure,
        through its proxies. The registry's opt-out, CAs and client certificates stay with the
        registry (skopeo and crane send such a URL with the registry's TLS configuration); a token
        server's redirect elsewhere goes the same way (the token server's certificates stay with it)."""
        host, scheme = url_host(url), url.partition("://")[0].lower()
        proxies = self._route_proxies.get((host, scheme))
        if proxies is None:
            proxies = self._route_proxies[host, scheme] = environ_proxies(host, scheme)
        return self._host_session(host), not self.options.is_insecure(host), proxies

    def registry(self, host: str) -> _Registry:
        """Return the connection state of ``host``, pinging ``/v2/`` the first time."""
        with self._lock:
            known = self._registries.get(host)
            if known is not None:
                return known
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        with host_lock:
            with self._lock:
                known = self._registries.get(host)
                failed = self._failed_pings.get(host)
            if known is not None:
                return known
            if failed is not None:
                # A registry that could not be reached is not retried again in this run: every
                # image on it would otherwise pay the whole retry schedule.
                raise RegistryError(str(failed), registry=host, status=failed.status)
            try:
                check_host(host)
                state = self._ping(host)
            except RegistryError as err:
                if err.status is None:
                    with self._lock:
                        self._failed_pings[host] = err
                raise
            with self._lock:
                self._registries[host] = state
            return state

    def _ping(self, host: str) -> _Registry:
        """Ping ``/v2/`` over https; for an insecure registry over plain http too, at the same time.

        https is still preferred: plain http is used only when https failed without an answer (a
        TLS or connection error), exactly as if it had been tried after https, retries included;
        running its first attempt alongside saves a round trip before the first request.
        """
        insecure = self.options.is_insecure(host)
        session = self._new_session(host, insecure)
        semaphore = threading.BoundedSemaphore(self.options.max_per_registry)

        def at(scheme: str) -> _Registry:
            return _Registry(
                host, f"{scheme}://{host}", session, not insecure, environ_proxies(host, scheme), semaphore
            )

        what = f"pinging registry {host}"
        secure = at("https")
        if not insecure:
            return self._answered(secure, self.run(what, lambda: self._ping_once(secure)))
        plain = at("http")
        early = _started(lambda: self._ping_once(plain), f"ping-{host}")
        try:
            response = self.run(what, lambda: self._ping_once(secure))
        except RegistryError as err:
            if err.status is not None:
                _discard(early)
                raise
            log.debug("https ping of %s failed, trying http: %s", host, err)
        else:
            _discard(early)
            return self._answered(secure, response)
        attempts: list[Callable[[], Response]] = [early.result]

        def attempt() -> Response:
            return attempts.pop()() if attempts else self._ping_once(plain)

        return self._answered(plain, self.run(what, attempt))

    def _ping_once(self, state: _Registry) -> Response:
        """One ``GET /v2/``; a transient status is worded as the ping's."""
        try:
            return self._send(state, "GET", state.base_url + "/v2/", {})
        except Retryable as failure:
            status = getattr(failure.error, "status", None)
            if status is None:
                raise
            message = f"registry {state.host} answered GET /v2/ with HTTP {status}"
            error = RegistryError(message, registry=state.host, status=status)
            raise Retryable(error, failure.retry_after) from None

    @staticmethod
    def _answered(state: _Registry, response: Response) -> _Registry:
        """``state`` after the ping's answer: its auth challenge kept; an error status other than 401/404 raised."""
        host = state.host
        with response:
            status = response.status_code
            if status == 401:
                state.challenge = pick_challenge(response.headers.get("WWW-Authenticate"))
            elif status >= 400 and status != 404:
                raise RegistryError(
                    f"registry {host} answered GET /v2/ with HTTP {status}", registry=host, status=status
                )
        log.debug(
            "registry %s: %s, auth %s", host, state.base_url, state.challenge and state.challenge.scheme
        )
        return state

    # -- requests ------------------------------------------------------------------------------

    def _send(
        self,
        state: _Registry,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        data: Any = None,
        stream: bool = False,
        retry: bool = True,
        what: str = "",
        repository: str = "",
    ) -> Response:
        """One HTTP exchange; with ``retry`` a transient failure (connection, stall, 408/429/5xx) raises Retryable
        (a status's error names ``repository``).

        A ``url`` on plain http that an https registry named (an upload ``Location``), or a redirect
        from https to plain http, is refused unless its host is marked insecure."""
        try:
            if (
                url[:7].lower() == "http://"
                and state.base_url.startswith("https://")
                and not self.options.is_insecure(url_host(url))
            ):
                raise PlainHttpRefused(url)
            with state.semaphore:
                response = state.session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    stream=stream,
                    verify=state.verify,
                    proxies=state.proxies,
                    timeout=timeouts(self.options.timeout),
                )
        except _HostSetupFailed as err:  # (another host's TLS files: not transient, never retried)
            text = f"host {printable(err.host)} (named by registry {state.host}): {err.reason}"
            raise RegistryError(_prefixed(what, text), registry=state.host) from None
        except TlsError as err:
            text = _tls_failure(state, err, self.options.cert_dir)
            raise RegistryError(_prefixed(what, text), registry=state.host) from None
        except InvalidAddress as err:
            other = _other_host(state, err)
            text = f"{other}: invalid address" if other else f"invalid registry address {state.host}"
            raise RegistryError(_prefixed(what, text), registry=state.host) from None
        except (
            InvalidHeader,
            BadFraming,
            BodyTooLarge,
            RedirectRefused,
        ) as err:  # (not transient: never retried)
            raise RegistryError(
                _prefixed(what, f"{_failed_at(state, err)}: {err}"), registry=state.host
            ) from None
        except (TransportError, OSError) as err:
            mismatch = _body_mismatch(err)
            if mismatch is not None:
                raise _BodyMismatch(mismatch) from None
            error = RegistryError(
                _prefixed(what, f"{_failed_at(state, err)}: cannot connect ({connect_reason(err)})"),
                registry=state.host,
            )
            raise (Retryable(error) if retry else error) from None
        if retry and response.status_code in RETRY_STATUSES:
            retry_after = response.headers.get("Retry-After")
            raise Retryable(
                status_error(response, what, registry=state.host, repository=repository), retry_after
            )
        return response

    def _authorization(
        self, state: _Registry, repository: str, scopes: tuple[str, ...], stale: str | None = None
    ) -> str | None:
        challenge = state.challenge
        if challenge is None:
            return None
        creds = self.credentials.lookup(state.host, repository)
        if challenge.scheme == "basic":
            return creds.basic_header() if creds is not None and not creds.identity_token else None
        if challenge.scheme != "bearer":
            return None
        realm_host = url_host(challenge.realm)

        def fetch() -> dict[str, Any]:
            verify: bool = not self.options.is_insecure(realm_host)
            try:
                session = self._host_session(realm_host, "token server")
            except _HostSetupFailed as err:
                raise RegistryError(
                    f"token server {printable(realm_host)} for registry {state.host}: {err.reason}",
                    registry=state.host,
                ) from None
            return fetch_token(
                session,
                challenge,
                scopes,
                creds,
                registry=state.host,
                repository=repository,
                verify=verify,
                timeout=self.options.timeout,
                user_agent=self.options.user_agent,
                policy=self.policy,
                sleep=self._sleep,
                source=self.credentials.source_note(state.host, repository),
            )

        return "Bearer " + self.tokens.get(state.host, scopes, fetch, stale=_bearer(stale))

    def _adopt_challenge(
        self, state: _Registry, response: Response, sent_auth: str | None, repository: str
    ) -> bool:
        """After a 401: True when another attempt with fresh authorization may succeed (the challenge is kept)."""
        challenge = pick_challenge(response.headers.get("WWW-Authenticate"))
        if challenge is None:
            return False
        if challenge.scheme == "basic" and (
            sent_auth or self.credentials.lookup(state.host, repository) is None
        ):
            return False  # the credentials were refused, or there are none to send
        bare = Challenge(challenge.scheme, {k: v for k, v in challenge.params.items() if k != "scope"})
        with self._lock:
            if bare != state.challenge:
                state.challenge = bare
        return True

    def request(
        self,
        state: _Registry,
        method: str,
        url: str,
        *,
        repository: str,
        scopes: tuple[str, ...],
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        retry: bool = True,
        replayable: bool = True,
        what: str = "",
    ) -> Response:
        """Send an authorized request; on 401 refresh the token (or adopt the new challenge) once.

        A request whose body cannot be sent twice (``replayable=False``) is not resent here: with
        ``retry`` the 401 raises Retryable after the refused token is dropped, so the caller's
        operation starts again (re-opening its source) with a new token.

        A ``url`` on another host, port or scheme than the registry's (an upload's ``Location`` may
        name one) is sent without ``Authorization`` and its 401 returned as it is: the registry's
        credentials and tokens go to the registry alone (go-containerregistry's bearer transport adds
        them for the registry's host only), and another host's challenge is not the registry's. Its TLS
        is that host's own (``_route``): verified unless that host is marked insecure.
        """
        if _elsewhere(state, url):
            return self._send(
                state,
                method,
                url,
                dict(headers or {}),
                data=data,
                stream=stream,
                retry=retry,
                what=what,
                repository=repository,
            )
        previous: str | None = None
        for auth_attempt in range(2):
            all_headers = dict(headers or {})
            sent_auth = self._authorization(state, repository, scopes, stale=previous)
            if sent_auth:
                all_headers["Authorization"] = sent_auth
            response = self._send(
                state,
                method,
                url,
                all_headers,
                data=data,
                stream=stream,
                retry=retry,
                what=what,
                repository=repository,
            )
            if response.status_code != 401 or auth_attempt:
                return response
            if not self._adopt_challenge(state, response, sent_auth, repository):
                return response
            if not replayable:
                if not retry:
                    return response
                token = _bearer(sent_auth)
                if token is not None:
                    self.tokens.discard(state.host, scopes, token)
                raise Retryable(status_error(response, what, registry=state.host, repository=repository))
            previous = sent_auth
            response.close()
        raise AssertionError("unreachable")


def _elsewhere(state: _Registry, url: str) -> bool:
    """Whether ``url`` leaves the registry's scheme, host and port (the redirects' rule, which keeps
    an http registry's credentials on an https URL of the same host and default port)."""
    return not url.startswith(state.base_url + "/") and strip_auth_on_redirect(state.base_url, url)


def _other_host(state: _Registry, err: BaseException) -> str:
    """``host B (named by registry A)`` when ``err`` happened on another host than the registry's
    (an upload ``Location``, a redirect), else ""."""
    host = getattr(err, "host", "")
    if not host or host == url_host(state.base_url + "/"):
        return ""
    return f"host {printable(host)} (named by registry {state.host})"


def _failed_at(state: _Registry, err: BaseException) -> str:
    """Where a request failed: ``registry A``, or the other host the registry sent it to."""
    return _other_host(state, err) or f"registry {state.host}"


def _tls_failure(state: _Registry, err: TlsError, cert_dir: str | None) -> str:
    """A TLS verification failure, and how to trust the host it happened on or opt out for it
    (with a cert dir, certs.d is not read: its CAs are where to add one)."""
    other = _other_host(state, err)
    if name_mismatch(err.reason):
        host = printable(err.host) if other else state.host
        return (
            f"{other or f'registry {state.host}'}: TLS verification failed ({err.reason}); "
            + trust_advice(err.reason, host, cert_dir)
        )
    if not other:
        where = f"the certificate directory {cert_dir}" if cert_dir else "certs.d"
        return (
            f"registry {state.host}: TLS verification failed ({err.reason}); trust its CA with"
            f" --certificate-authority or {where}, or mark it insecure (--insecure-registry) if it"
            " serves plain HTTP or an untrusted certificate"
        )
    return (
        f"{other}: TLS verification failed ({err.reason}); the registry's TLS settings do not apply"
        " to another host: " + trust_advice(err.reason, printable(err.host), cert_dir)
    )


def trust_advice(reason: str, host: str, cert_dir: str | None = None) -> str:
    """How to get past the TLS verification failure ``reason`` (``wire.tls_reason``) of ``host``, a
    host the user did not name as a registry (a name mismatch: its CA is trusted, the certificate
    names other hosts; else: trust its CA, in the cert dir when there is one, or opt out)."""
    if name_mismatch(reason):
        return (
            "its certificate is for other host names: use a name it holds, or mark the host insecure"
            f" (--insecure-registry {host}) to accept it"
        )
    where = f"the certificate directory {cert_dir}" if cert_dir else f"certs.d/{host}"
    return (
        f"trust its CA with --certificate-authority or {where}, or mark it insecure"
        f" (--insecure-registry {host}) if it serves an untrusted certificate"
    )


def _started(call: Callable[[], T], name: str) -> Future[T]:
    """``call`` running in a thread of its own (not waited for at exit); its outcome in the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as err:  # handed to whoever asks for the result
            future.set_exception(err)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def _discard(future: Future[Response]) -> None:
    """Close the response ``future`` brings, whenever it comes; a failure is of no interest."""

    def close(done: Future[Response]) -> None:
        if done.exception() is None:
            done.result().close()

    future.add_done_callback(close)


def _bearer(header: str | None) -> str | None:
    return header[len("Bearer ") :] if header and header.startswith("Bearer ") else None


def _prefixed(what: str, message: str) -> str:
    return f"{what}: {message}" if what else message


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _content_range_start(response: Response) -> tuple[int, int | None] | None:
    """``(first byte, total or None)`` of a 206 answer's ``Content-Range: bytes A-B/TOTAL``."""
    value = response.headers.get("Content-Range", "")
    unit, _, spec = value.partition(" ")
    span, _, total = spec.partition("/")
    first = span.partition("-")[0]
    if unit != "bytes" or not first.isdigit():
        return None
    return int(first), int(total) if total.isdigit() else None


class _BlobBody(RawReader):
    """A blob's body as a stream that survives a broken connection, a truncated body or a stall.

    After such a failure the body is requested again from the first byte not yet handed out
    (``Range: bytes=N-``; a registry that answers 200 instead is read from the start and the bytes
    already handed out are skipped), as long as the operation's ``Retrier`` allows.
    """

    def __init__(self, repo: RegistryRepository, digest: str, size: int | None, retrier: Retrier) -> None:
        super().__init__()
        self._repo = repo
        self._digest = digest
        self._length = size
        self._retrier = retrier
        self._response: Response | None = None
        self._delivered = 0  # bytes handed out
        self._position = 0  # offset in the blob of the next byte the current response yields
        self.what = f"reading blob {_ref_text(repo.display, digest)}"

    def open(self) -> None:
        """(Re)issue the GET from the first byte not yet handed out."""
        while True:
            try:
                self._response, self._position, total = self._repo._blob_get(
                    self._digest, self._delivered, self.what
                )
            except Retryable as failure:
                if not self._retrier.again(self.what, str(failure.error), failure.retry_after):
                    raise failure.error from None
                continue
            if self._length is None:
                self._length = total
            return

    def _lost(self, reason: str) -> None:
        """The body broke off: close it and wait for another attempt, or raise when none is left."""
        if self._response is not None:
            self._response.close()
            self._response = None
        error = RegistryError(
            f"{self.what}: connection broken ({reason})",
            registry=self._repo.host,
            repository=self._repo.name,
            reference=self._digest,
        )
        if not self._retrier.again(self.what, reason):
            raise error

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all with -1/None); b"" only at the real end of the body."""
        while True:
            if self._response is None:
                self.open()
            assert self._response is not None
            # Short reads keep what arrived before a break (the wire client hands it out first;
            # urllib3, for proxied requests, drops a partly filled block).
            amount = None if size is None or size < 0 else min(size, _RAW_READ)
            try:
                data = bytes(self._response.raw.read(amount, decode_content=False) or b"")
            except _BODY_ERRORS as err:
                self._lost(connect_reason(err))
                continue
            if not data:
                if amount != 0 and self._length is not None and self._delivered < self._length:
                    missing = self._length - self._delivered
                    self._lost(f"{self._delivered} bytes read, {missing} more expected")
                    continue
                return b""
            if self._position < self._delivered:  # re-read from the start: skip what was handed out
                skip = min(len(data), self._delivered - self._position)
                self._position += skip
                data = data[skip:]
                if not data:
                    continue
            self._position += len(data)
            self._delivered += len(data)
            if self._repo.client.options.events is not None:
                self._repo.client.options.events(BytesMoved(self._digest, len(data), self._length or 0))
            return data

    def close(self) -> None:
        """Close the current response."""
        if self._response is not None:
            self._response.close()
            self._response = None
        super().close()


class _UploadSource:
    """Opens the content of an upload for each attempt: bytes and callables always, a seekable
    stream by seeking back, any other stream only until its first byte was read."""

    def __init__(self, source: BlobSource) -> None:
        self._source = source
        self._start: int | None = None
        self._opened = 0
        self.last: VerifyingReader | None = None
        if not isinstance(source, bytes | bytearray | memoryview) and not callable(source):
            try:
                self._start = source.tell() if source.seekable() else None
            except (OSError, ValueError, AttributeError):
                self._start = None

    def restartable(self) -> bool:
        """True when another attempt can read the content from its start again."""
        if isinstance(self._source, bytes | bytearray | memoryview) or callable(self._source):
            return True
        return self._start is not None or self.last is None or self.last.bytes_read == 0

    def open(self) -> tuple[BinaryIO, bool]:
        """The content for one attempt, and whether this object opened it (so must close it)."""
        self._opened += 1
        source = self._source
        if isinstance(source, bytes | bytearray | memoryview):
            return io.BytesIO(bytes(source)), True
        if callable(source):
            return source(), True
        if self._start is not None and self._opened > 1:
            source.seek(self._start)
        return source, False


@attrs.frozen
class Upload:
    """A blob upload session a registry opened: where the content goes, the least chunk it takes."""

    __repr__ = value_repr

    location: str
    min_chunk: int = 0

    @classmethod
    def answered(cls, response: Response, registry: str) -> Upload | None:
        """The session a ``POST .../blobs/uploads/`` answer opened (202 with a Location), else None;
        a ``RegistryError`` naming ``registry`` when the Location names no http(s) URL."""
        with response:
            location = response.headers.get("Location")
            if response.status_code != 202 or not location:
                return None
            min_chunk = response.headers.get("OCI-Chunk-Min-Length", "")
            return cls(
                _upload_location(response.url, location, registry),
                int(min_chunk) if min_chunk.isdigit() else 0,
            )


def _upload_location(base: str, location: str, registry: str) -> str:
    """The absolute URL of an upload session's ``Location``; ``RegistryError`` when it names none."""
    try:
        return location_url(base, location, "upload Location")
    except InvalidLocation as err:
        raise RegistryError(f"registry {registry}: {err}", registry=registry) from None


class UploadsAhead:
    """Upload sessions opened in a repository before their blobs' content was at hand (ahead of the
    payload; by a refused mount): each ``put_blob`` takes one while any is left (then opens its own),
    ``close`` cancels those no blob went to. Thread-safe; an ``UploadSession``."""

    def __init__(self, repository: RegistryRepository, uploads: Iterable[Upload]) -> None:
        """Hand out ``uploads``, opened in ``repository``."""
        self.repository = repository
        self._lock = threading.Lock()
        self._uploads = list(uploads)

    def __repr__(self) -> str:
        return f"UploadsAhead({self.repository.display}, {len(self._uploads)} open)"

    @classmethod
    def open(cls, repository: RegistryRepository, count: int) -> UploadsAhead:
        """``count`` sessions opened side by side (one attempt each: a refusal leaves one fewer)."""
        with worker_pool(count, "upload-ahead") as pool:
            started = list(pool.map(lambda _: repository.start_upload(), range(count)))
        return cls(repository, [upload for upload in started if upload is not None])

    def put_blob(self, source: BlobSource, digest: str, size: int | None = None) -> None:
        """``RegistryRepository.put_blob`` into a session opened ahead, while one is left."""
        with self._lock:
            upload = self._uploads.pop(0) if self._uploads else None
        self.repository.put_blob(source, digest, size, upload=upload)

    def close(self) -> None:
        """Cancel the sessions no blob went to."""
        with self._lock:
            left, self._uploads = self._uploads, []
        for upload in left:
            self.repository.cancel_upload(upload)


class RegistryRepository:
    """One repository on a registry; implements the ``Repository`` protocol."""

    def __init__(self, client: RegistryClient, ref: ImageReference) -> None:
        """Bind ``client`` to the repository of ``ref``."""
        self.client = client
        self.ref = ref.repository_only()
        self.host = ref.api_host
        self.name = ref.path
        self._display = f"{ref.domain}/{ref.path}"

    def __repr__(self) -> str:
        return f"RegistryRepository({self._display!r})"

    @property
    def display(self) -> str:
        """``host/repository``."""
        return self._display

    @property
    def events(self) -> EventSink | None:
        """Who is told about this repository's requests and blob bytes (``TransportOptions.events``)."""
        return self.client.options.events

    @property
    def max_concurrency(self) -> int:
        """How many requests may run in parallel against this registry."""
        return self.client.options.max_per_registry

    def _url(self, state: _Registry, kind: str, reference: str = "") -> str:
        return f"{state.base_url}/v2/{self.name}/{kind}{reference}"

    def _error(self, response: Response, action: str, reference: str = "") -> RegistryError:
        error = status_error(
            response,
            f"{action} {_ref_text(self._display, reference)}",
            registry=self.host,
            repository=self.name,
            reference=reference,
        )
        if isinstance(error, UnauthorizedError):
            note = self.client.credentials.source_note(self.host, self.name)
            entries = error.entries
            error = UnauthorizedError(
                f"{error}; {note}",
                registry=self.host,
                repository=self.name,
                reference=reference,
                status=error.status,
            )
            error.entries = entries
        return error

    def _check_stored(self, response: Response, kind: str, reference: str, digest: str) -> None:
        """Raise DigestMismatchError when the registry reports another digest than ours."""
        with response:
            returned = response.headers.get("Docker-Content-Digest", "").strip()
        if returned and returned != digest:
            raise DigestMismatchError(
                f"registry stored {kind} {_ref_text(self._display, reference)} as {printable(returned)},"
                f" but its bytes hash to {digest}"
            )

    def _request(
        self,
        method: str,
        url: str,
        *,
        push: bool = False,
        scopes: tuple[str, ...] | None = None,
        **kwargs: Any,
    ) -> Response:
        state = self.client.registry(self.host)
        if scopes is None:
            scopes = (push_scope(self.name),) if push else (pull_scope(self.name),)
        return self.client.request(state, method, url, repository=self.name, scopes=scopes, **kwargs)

    def _state(self, action: str, reference: str = "") -> _Registry:
        """The registry's connection state; a failure to reach it names this repository and ``reference``."""
        try:
            return self.client.registry(self.host)
        except RegistryError as err:
            if err.repository:
                raise
            raise type(err)(
                f"{action} {_ref_text(self._display, reference)}: {err}",
                registry=self.host,
                repository=self.name,
                reference=reference,
                status=err.status,
            ) from None

    # -- manifests -----------------------------------------------------------------------------

    def get_manifest(self, reference: str) -> AnyManifest:
        """Fetch a manifest or index by tag or digest, verified against the digest asked for."""
        subject = f"manifest {_ref_text(self._display, reference)}"
        raw, media_type, digest = self.client.run(
            f"reading {subject}", lambda: self._fetch_manifest(reference, subject)
        )
        if media_type in ("", "text/plain", "application/octet-stream"):
            media_type = "application/json"
        try:
            return parse_manifest(raw, media_type, digest)
        except DigestMismatchError:
            raise
        except OkdReleaseError as err:
            raise OkdReleaseError(f"{subject}: {err}") from None

    def _fetch_manifest(self, reference: str, subject: str) -> tuple[bytes, str, str]:
        """One attempt: (bytes, media type, digest); a broken or mismatching body raises Retryable."""
        state = self._state("reading manifest", reference)
        response = self._request(
            "GET",
            self._url(state, "manifests/", reference),
            headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)},
            stream=True,
            what=f"reading {subject}",
        )
        if response.status_code != 200:
            raise self._error(response, "reading manifest", reference)
        context = {"registry": self.host, "repository": self.name, "reference": reference}
        with response:
            raw = _read_capped(response, subject, context)
            media_type = _content_type(response)
            header_digest = response.headers.get("Docker-Content-Digest", "").strip()
        digest = sha256_digest(raw)
        try:
            if reference.startswith("sha") and ":" in reference:
                verify_bytes(raw, validate_digest(reference), subject)
                digest = reference
            if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
                raise DigestMismatchError(
                    f"content of {subject} does not match the registry's digest {printable(header_digest)}"
                    f" (got {digest})"
                )
        except DigestMismatchError as err:
            raise Retryable(err) from None
        return raw, media_type, digest

    def resolve(self, reference: str) -> Descriptor:
        """Return the descriptor a tag or digest points at (HEAD, falling back to GET)."""
        what = f"resolving manifest {_ref_text(self._display, reference)}"

        def head() -> Response:
            state = self._state("resolving manifest", reference)
            url = self._url(state, "manifests/", reference)
            return self._request("HEAD", url, headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)}, what=what)

        response = self.client.run(what, head)
        with response:
            if response.status_code == 404:
                raise self._error(response, "resolving manifest", reference)
            digest = response.headers.get("Docker-Content-Digest", "").strip()
            media_type = _content_type(response)
            length = response.headers.get("Content-Length", "")
            usable = (
                response.status_code == 200
                and digest.startswith("sha256:")
                and (media_type in mt.ACCEPT_MANIFESTS)
                and length.isdigit()
                and (digest == reference or not reference.startswith("sha256:"))
            )
        if usable:
            return Descriptor(media_type, digest, int(length))
        return self.get_manifest(reference).descriptor()

    def put_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        """PUT the exact bytes with their media type, under ``tag`` or by digest; return the digest."""
        digest = sha256_digest(raw)
        if tag is not None:
            try:
                validate_tag(tag)
            except InvalidReferenceError:
                raise InvalidReferenceError(
                    f"cannot push manifest {digest} to {self._display}: invalid tag {tag!r}"
                ) from None
        reference = tag or digest
        what = f"pushing manifest {_ref_text(self._display, reference)}"

        def put() -> Response:
            state = self._state("pushing manifest", reference)
            response = self._request(
                "PUT",
                self._url(state, "manifests/", reference),
                push=True,
                headers={"Content-Type": media_type},
                data=raw,
                what=what,
            )
            if response.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in _error_codes(response):
                # A blob written a moment ago can be briefly unknown: eventually consistent storage,
                # or Distribution's filesystem driver while another client re-links the same blob
                # (it rewrites the link file in place). The blobs were checked first, so try again.
                raise Retryable(self._error(response, "pushing manifest", reference))
            return response

        response = self.client.run(what, put)
        if response.status_code not in (200, 201, 202):
            raise self._error(response, "pushing manifest", reference)
        self._check_stored(response, "manifest", reference, digest)
        log.debug("pushed manifest %s (%s)", _ref_text(self._display, reference), digest)
        return digest

    # -- blobs ---------------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        """True when the blob exists in this repository."""
        what = f"checking blob {_ref_text(self._display, digest)}"

        def head() -> Response:
            state = self._state("checking blob", digest)
            return self._request("HEAD", self._url(state, "blobs/", digest), what=what)

        response = self.client.run(what, head)
        with response:
            if response.status_code == 200:
                return True
            if response.status_code == 404:
                return False
        raise self._error(response, "checking blob", digest)

    def _blob_get(self, digest: str, offset: int, what: str) -> tuple[Response, int, int | None]:
        """GET a blob from byte ``offset``: (response, offset of its first byte, blob size if told)."""
        state = self._state("reading blob", digest)
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        response = self._request(
            "GET", self._url(state, "blobs/", digest), headers=headers, stream=True, what=what
        )
        length = response.headers.get("Content-Length", "")
        if response.status_code == 200:
            return response, 0, int(length) if length.isdigit() else None
        if response.status_code == 206 and offset:
            span = _content_range_start(response)
            if span is not None and span[0] == offset:
                return response, offset, span[1]
            response.close()
            raise RegistryError(
                f"{what}: the registry answered bytes={offset}- with Content-Range "
                f"'{printable(response.headers.get('Content-Range', ''))}'",
                registry=self.host,
                repository=self.name,
                reference=digest,
            )
        raise self._error(response, "reading blob", digest)

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        """Stream a blob; the stream raises DigestMismatchError (naming the digest) at EOF if bad.

        Small blobs (``SMALL_BLOB``) are read whole and verified first; larger ones stream and
        resume after a broken connection.
        """
        validate_digest(digest)
        if size is not None and size <= SMALL_BLOB:
            return io.BytesIO(self.read_blob(digest, size))
        body = _BlobBody(self, digest, size, self.client.retrier())
        body.open()
        reader = VerifyingReader(body, digest, f"blob {_ref_text(self._display, digest)}", size)  # type: ignore[arg-type]
        return reader  # type: ignore[return-value]

    def read_blob(self, digest: str, size: int | None = None) -> bytes:
        """Read a whole blob, verified; content that does not match its digest is fetched again."""
        return self.read_blob_with(digest, size, _read_all)

    def read_blob_with(self, digest: str, size: int | None, use: Callable[[BinaryIO], T]) -> T:
        """Run ``use`` on the blob's verifying stream and return its result.

        When the content does not match its digest (``use`` gets the DigestMismatchError at the
        end of the stream, or a layer reader that could not decode it raises it), ``use`` starts
        again on a new stream from the first byte: what it saw before is gone with its attempt, so
        nothing is counted twice. Those restarts and the body's resumptions after a broken
        connection share one retry budget of the run's policy.
        """
        validate_digest(digest)
        retrier = self.client.retrier()
        what = f"blob {_ref_text(self._display, digest)}"
        while True:
            body = _BlobBody(self, digest, size, retrier)
            body.open()
            reader = VerifyingReader(body, digest, what, size)  # type: ignore[arg-type]
            try:
                with body:
                    return use(reader)  # type: ignore[arg-type]
            except RetriedDigestMismatch:
                raise  # a blob read inside ``use`` was already fetched as often as allowed
            except DigestMismatchError as err:
                if not retrier.again(body.what, str(err)):
                    raise RetriedDigestMismatch(str(err)) from None

    def put_blob(
        self, source: BlobSource, digest: str, size: int | None = None, *, upload: Upload | None = None
    ) -> None:
        """Upload a blob (monolithic, or chunked when ``chunk_size`` > 0), hashing it as it is sent.

        An upload that fails transiently (429/5xx, a reset, a 401 a new token answers) starts
        again from the beginning when ``source`` can be read again (bytes, a function that opens
        it, a seekable stream). ``upload``: a session :meth:`start_upload` opened ahead, used by
        the first attempt (one the registry no longer knows is replaced by a new one at once), and
        cancelled by it when it fails (its content not opened included), or here when no attempt
        took it (bytes that do not match ``digest``): a failed upload leaves no session open.
        """
        ahead = [upload] if upload is not None else []
        try:
            validate_digest(digest)
            if isinstance(source, bytes | bytearray | memoryview):
                data = bytes(source)
                verify_bytes(data, digest, f"blob {digest} uploaded to {self._display}", size)
                source = data
            content = _UploadSource(source)

            def attempt() -> None:
                started = ahead.pop() if ahead else None
                if started is not None:
                    try:
                        return self._upload_once(content, digest, size, started)
                    except RegistryError as err:
                        if err.status != 404 or not content.restartable():
                            raise
                        log.debug(
                            "upload session for %s opened ahead is gone (%s); starting another", digest, err
                        )
                self._upload_once(content, digest, size)

            self.client.run(f"uploading blob {_ref_text(self._display, digest)}", attempt)
        finally:
            for unused in ahead:  # the upload failed before its first attempt took the session
                self.cancel_upload(unused)
        log.debug("uploaded blob %s to %s", digest, self._display)

    def _upload_once(
        self, upload: _UploadSource, digest: str, size: int | None, started: Upload | None = None
    ) -> None:
        """One attempt of ``put_blob``: start an upload session (or use ``started``), send the content, check the digest."""
        location, min_chunk = attrs.astuple(started or self._start_upload(digest))
        stream: BinaryIO | None = None
        owned = False
        try:  # the session is cancelled however this attempt fails, opening the content included
            stream, owned = upload.open()
            sent = metered(stream, self.client.options.events, digest, size, "write")
            reader = VerifyingReader(sent, digest, f"blob {digest} uploaded to {self._display}", size)
            upload.last = reader
            response = self._send_content(location, reader, digest, min_chunk, upload)
        except BaseException as err:
            self._cancel_upload(location)
            mismatch = err.args[0] if isinstance(err, _BodyMismatch) else _body_mismatch(err)
            if mismatch is not None:
                raise mismatch from None
            if isinstance(err, Retryable) and not upload.restartable():
                raise err.error from None
            raise
        finally:
            if owned and stream is not None:
                stream.close()
        if response.status_code not in (201, 204):
            self._cancel_upload(location)
            raise self._error(response, "uploading blob", digest)
        self._check_stored(response, "blob", digest, digest)

    def _send_content(
        self, location: str, reader: VerifyingReader, digest: str, min_chunk: int, upload: _UploadSource
    ) -> Response:
        """PATCH the chunks (``chunk_size`` > 0) and PUT the rest, or PUT everything in one streamed request."""
        body: Any
        if self.client.options.chunk_size > 0:
            location = self._upload_chunks(location, reader, max(self.client.options.chunk_size, min_chunk))
            body = b""
        else:
            body = _stream_blocks(reader)
        return self._request(
            "PUT",
            _with_query(location, digest=digest),
            push=True,
            headers={"Content-Type": "application/octet-stream"},
            data=body,
            replayable=isinstance(body, bytes),
            what=f"uploading blob {_ref_text(self._display, digest)}",
        )

    def _start_upload(self, digest: str) -> Upload:
        state = self._state("starting upload of blob", digest)
        response = self._request(
            "POST",
            self._url(state, "blobs/uploads/"),
            push=True,
            headers={"Content-Length": "0"},
            what=f"starting upload of blob {_ref_text(self._display, digest)}",
        )
        started = Upload.answered(response, self.host)
        if started is None and response.status_code == 202:
            raise RegistryError(
                f"starting blob upload {_ref_text(self._display, digest)}: registry {self.host} answered"
                " 202 without the upload's Location",
                registry=self.host,
                repository=self.name,
                reference=digest,
            )
        if started is None:
            raise self._error(response, "starting blob upload", digest)
        return started

    def start_upload(self) -> Upload | None:
        """Open an upload session ahead of its blob (one attempt): None when the registry did not open
        one (``put_blob`` then starts its own, under the run's retries); :meth:`cancel_upload` if unused."""
        try:
            state = self.client.registry(self.host)
            response = self._request(
                "POST",
                self._url(state, "blobs/uploads/"),
                push=True,
                headers={"Content-Length": "0"},
                retry=False,
            )
        except OkdReleaseError as err:
            log.debug("no upload session opened ahead in %s: %s", self._display, err)
            return None
        return self._spare_session(response)

    def _spare_session(self, response: Response) -> Upload | None:
        """The session an answer opened that a blob may use or not (one opened ahead, a refused mount's);
        None when it opened none or its Location names no http(s) URL (the blob's upload then opens one of
        its own, whose refusal, if the registry refuses again, is the error reported)."""
        try:
            return Upload.answered(response, self.host)
        except RegistryError as err:
            log.debug("upload session in %s not used: %s", self._display, err)
            return None

    def cancel_upload(self, upload: Upload) -> None:
        """Cancel a session :meth:`start_upload` opened that no blob went to (best effort)."""
        self._cancel_upload(upload.location)

    def _upload_chunks(self, location: str, reader: VerifyingReader, chunk_size: int) -> str:
        offset = 0
        while True:
            try:
                block = read_full(reader, chunk_size)
            except DigestMismatchError as err:
                raise _BodyMismatch(err) from None
            if not block:
                return location
            end = offset + len(block) - 1
            response = self._request(
                "PATCH",
                location,
                push=True,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{end}",
                    "Content-Length": str(len(block)),
                },
                data=block,
                what="uploading blob chunk",
            )
            with response:
                if response.status_code not in (202, 204) or not response.headers.get("Location"):
                    raise self._error(response, f"uploading chunk {offset}-{end} of blob", "")
                location = _upload_location(response.url, response.headers["Location"], self.host)
            offset = end + 1

    def _cancel_upload(self, location: str) -> None:
        try:
            # Best effort, one request: a registry may want more than push rights to cancel (Distribution
            # asks token users for "*"), and asking its token server for those is not worth a round trip.
            response = self._request("DELETE", location, push=True, retry=False, replayable=False)
            response.close()
        except OkdReleaseError as err:
            log.debug("cancelling upload %s failed: %s", location, err)

    def mount_blob(self, digest: str, source: Repository) -> BlobMount:
        """Mount ``digest`` from ``source`` when it is another repository of this registry; never downloads.

        201 is ``MOUNTED`` (whether or not this repository had the blob); a 202 is ``REFUSED`` with the
        upload session it opened (the OCI distribution spec lets a client upload into it, as
        go-containerregistry does); ``source`` on another registry, or not one, or this repository
        itself, is ``REFUSED`` without a request: whoever mounts asks (``has_blob``) as well, before
        the mount or after its refusal (``copy_blob``), so a HEAD here would be the same one twice.
        """
        if not isinstance(source, RegistryRepository) or source.host != self.host or source.name == self.name:
            return REFUSED
        what = f"mounting blob {digest} from {source.display}"

        def post() -> Response:
            state = self._state("mounting blob", digest)
            query = urllib.parse.urlencode({"mount": digest, "from": source.name})
            return self._request(
                "POST",
                self._url(state, "blobs/uploads/") + "?" + query,
                scopes=(push_scope(self.name), pull_scope(source.name)),
                headers={"Content-Length": "0"},
                what=what,
            )

        response = self.client.run(what, post)
        with response:
            if response.status_code == 201:
                log.debug("mounted %s from %s into %s", digest, source.display, self._display)
                return MOUNTED
            if response.status_code == 202:
                log.debug("mounting %s from %s into %s refused (202)", digest, source.display, self._display)
                session = self._spare_session(response)
                return (
                    REFUSED
                    if session is None
                    else BlobMount(MountOutcome.REFUSED, UploadsAhead(self, [session]))
                )
        raise self._error(response, f"mounting blob from {source.display} into", digest)

    # -- tags ----------------------------------------------------------------------------------

    def list_tags(self, page_size: int = TAG_PAGE_SIZE) -> list[str]:
        """Return every tag (each once, in the registry's order), asking for pages of ``page_size``
        (``?n=``; 0: none) and following the ``Link`` header's next page on the registry itself.

        A registry that refuses the page size (400 ``PAGINATION_NUMBER_INVALID``) is asked again
        without one. A next page on another host, one already read, one that lists no new tag, or
        pages holding together more than ``MAX_TAG_LISTING`` bytes end the listing with an error.
        """
        state = self._state("listing tags of")
        unpaged = self._url(state, "tags/list")
        url: str | None = f"{unpaged}?n={page_size}" if page_size > 0 else unpaged
        what = f"listing tags of {self._display}"
        tags: dict[str, None] = {}
        asked: set[str] = set()
        listed = 0
        while url is not None:
            asked.add(url)

            def get(page: str = url) -> Response:
                return self._request("GET", page, what=what)

            response = self.client.run(what, get)
            if (
                response.status_code == 400
                and url != unpaged
                and len(asked) == 1
                and "PAGINATION_NUMBER_INVALID" in _error_codes(response)
            ):
                log.debug("%s: the registry refused ?n=%d, asking for every tag at once", what, page_size)
                response.close()
                url = unpaged
                continue
            if response.status_code != 200:
                raise self._error(response, "listing tags of", "")
            with response:
                listed += len(response.content)
                if listed > MAX_TAG_LISTING:
                    raise self._tag_error(
                        state, f"the tag list is larger than {MAX_TAG_LISTING} bytes ({len(asked)} pages)"
                    )
                page = self._tag_page(state, response)
                url = self._next_tag_page(state, response, asked)
            before = len(tags)
            tags.update(dict.fromkeys(page))
            if url is not None and len(tags) == before:
                raise self._tag_error(
                    state, f"the page {safe_url(response.url)} lists no new tag and names a next page"
                )
        return list(tags)

    def _tag_error(self, state: _Registry, reason: str) -> RegistryError:
        return RegistryError(
            f"listing tags of {self._display}: registry {state.host}: {reason}",
            registry=self.host,
            repository=self.name,
        )

    def _tag_page(self, state: _Registry, response: Response) -> list[str]:
        """The tags of one page (a JSON null among them passed over, as containers/image does); one outside
        the tag grammar ends the listing with an error naming it (skopeo sync: ``invalid tag format``):
        no request, tag or ref name is made of it."""
        try:
            body = response.json()
        except ValueError:
            body = None
        found = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(found, list | None):
            raise self._tag_error(state, "the answer is not a tag list (invalid JSON)")
        page = [tag for tag in found or () if tag is not None]
        if not all(isinstance(tag, str) for tag in page):
            raise self._tag_error(state, "the tag list holds an entry that is not a string")
        for tag in page:
            try:
                validate_tag(tag)
            except InvalidReferenceError:
                raise self._tag_error(
                    state, f"the tag list holds '{printable(tag[:200])}', which is not a valid tag"
                ) from None
        return page

    def _next_tag_page(self, state: _Registry, response: Response, asked: set[str]) -> str | None:
        """The URL of the next page the ``Link`` header names (relative to this page's), or None;
        one on another host than the registry's (its scheme, host and port) or already read is an error."""
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        try:
            target = location_url(response.url, link, "next page")
        except InvalidLocation as err:
            raise self._tag_error(state, str(err)) from None
        if _elsewhere(state, target):
            raise self._tag_error(
                state,
                f"the next page is on another host ({safe_url(target)}); tag pages are read from the registry only",
            )
        if target in asked:
            raise self._tag_error(
                state, f"the Link header leads back to a page already read ({safe_url(target)})"
            )
        return target


def _read_capped(response: Response, subject: str, context: Mapping[str, str]) -> bytes:
    """A manifest body, at most ``MAX_MANIFEST_SIZE`` bytes; a broken body raises Retryable."""
    parts: list[bytes] = []
    length = 0
    try:
        for block in response.iter_content(STREAM_BLOCK):
            parts.append(block)
            length += len(block)
            if length > MAX_MANIFEST_SIZE:
                raise RegistryError(
                    f"{subject} is larger than {MAX_MANIFEST_SIZE} bytes",
                    status=response.status_code,
                    **context,
                )
    except _BODY_ERRORS as err:
        raise Retryable(
            RegistryError(
                f"reading {subject}: connection broken ({connect_reason(err)})",
                status=response.status_code,
                **context,
            )
        ) from None
    return b"".join(parts)


def _read_all(reader: BinaryIO) -> bytes:
    """Every byte of a stream, read in blocks."""
    parts = []
    while block := reader.read(STREAM_BLOCK):
        parts.append(block)
    return b"".join(parts)


def _stream_blocks(reader: VerifyingReader) -> Iterator[bytes]:
    """Yield a stream in blocks; a digest mismatch at EOF is wrapped so no transport layer swallows it."""
    while True:
        try:
            block = reader.read(STREAM_BLOCK)
        except DigestMismatchError as err:
            raise _BodyMismatch(err) from None
        if not block:
            return
        yield block
