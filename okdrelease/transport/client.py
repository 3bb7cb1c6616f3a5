"""Connections, credentials and tokens for every registry of one run (``RegistryClient``).

A ``RegistryClient`` is created once per run and shared by every thread. For each registry it pings
``/v2/`` once (https first; plain http only for insecure registries), keeps one pooled session
whose TLS trust is ``TransportOptions.ca_file`` plus ``certs.d/HOST/*.crt`` (client certificates
from ``*.cert``/``*.key`` there; ``tlsconfig``), and bounds concurrent requests with a semaphore of
``max_per_registry``. ``request`` sends one authorized request (a bearer token fetched and cached
per scope, refreshed once after a 401); its repositories (``registry.RegistryRepository``) build
the distribution API on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, RegistryError, printable
from okdrelease.reference import ImageReference
from okdrelease.transport.auth import (
    Challenge,
    CredentialStore,
    TokenCache,
    fetch_token,
    pick_challenge,
)
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.errorbody import prefixed, status_error
from okdrelease.transport.http import (
    RETRY_STATUSES,
    BodyTooLarge,
    HttpSession,
    PlainHttpRefused,
    RedirectRefused,
    Response,
    Retrier,
    Retryable,
    connect_reason,
    environ_proxies,
    strip_auth_on_redirect,
    timeouts,
    url_host,
)
from okdrelease.transport.tlsconfig import HostRole, check_host, tls_context, trust_advice
from okdrelease.transport.wire import (
    BadFraming,
    InvalidAddress,
    InvalidHeader,
    TlsError,
    TransportError,
    name_mismatch,
)

if TYPE_CHECKING:
    from okdrelease.transport.registry import RegistryRepository

log = logging.getLogger(__name__)

T = TypeVar("T")


@attrs.define
class RegistryState:
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


class BodyMismatch(Exception):
    """Internal: carries a DigestMismatchError raised while streaming a request body."""


def body_mismatch(err: BaseException) -> DigestMismatchError | None:
    """The DigestMismatchError a streamed request body raised, if that is what ``err`` came from."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, BodyMismatch):
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
        self._registries: dict[str, RegistryState] = {}
        self._failed_pings: dict[str, RegistryError] = {}
        self._host_sessions: dict[tuple[str, HostRole], HttpSession] = {}
        #: The environment's proxies for another host, by (host, scheme), looked up once.
        self._route_proxies: dict[tuple[str, str], dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"RegistryClient({sorted(self._registries)})"

    def repository(self, ref: ImageReference) -> RegistryRepository:
        """Return the repository named by ``ref`` (its tag or digest is ignored)."""
        from okdrelease.transport.registry import RegistryRepository

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

    def registry(self, host: str) -> RegistryState:
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

    def _ping(self, host: str) -> RegistryState:
        """Ping ``/v2/`` over https; for an insecure registry over plain http too, at the same time.

        https is still preferred: plain http is used only when https failed without an answer (a
        TLS or connection error), exactly as if it had been tried after https, retries included;
        running its first attempt alongside saves a round trip before the first request.
        """
        insecure = self.options.is_insecure(host)
        session = self._new_session(host, insecure)
        semaphore = threading.BoundedSemaphore(self.options.max_per_registry)

        def at(scheme: str) -> RegistryState:
            return RegistryState(
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

    def _ping_once(self, state: RegistryState) -> Response:
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
    def _answered(state: RegistryState, response: Response) -> RegistryState:
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
        state: RegistryState,
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
            raise RegistryError(prefixed(what, text), registry=state.host) from None
        except TlsError as err:
            text = _tls_failure(state, err, self.options.cert_dir)
            raise RegistryError(prefixed(what, text), registry=state.host) from None
        except InvalidAddress as err:
            other = _other_host(state, err)
            text = f"{other}: invalid address" if other else f"invalid registry address {state.host}"
            raise RegistryError(prefixed(what, text), registry=state.host) from None
        except (
            InvalidHeader,
            BadFraming,
            BodyTooLarge,
            RedirectRefused,
        ) as err:  # (not transient: never retried)
            raise RegistryError(
                prefixed(what, f"{_failed_at(state, err)}: {err}"), registry=state.host
            ) from None
        except (TransportError, OSError) as err:
            mismatch = body_mismatch(err)
            if mismatch is not None:
                raise BodyMismatch(mismatch) from None
            error = RegistryError(
                prefixed(what, f"{_failed_at(state, err)}: cannot connect ({connect_reason(err)})"),
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
        self, state: RegistryState, repository: str, scopes: tuple[str, ...], stale: str | None = None
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
        self, state: RegistryState, response: Response, sent_auth: str | None, repository: str
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
        state: RegistryState,
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
        if elsewhere(state, url):
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


def elsewhere(state: RegistryState, url: str) -> bool:
    """Whether ``url`` leaves the registry's scheme, host and port (the redirects' rule, which keeps
    an http registry's credentials on an https URL of the same host and default port)."""
    return not url.startswith(state.base_url + "/") and strip_auth_on_redirect(state.base_url, url)


def _other_host(state: RegistryState, err: BaseException) -> str:
    """``host B (named by registry A)`` when ``err`` happened on another host than the registry's
    (an upload ``Location``, a redirect), else ""."""
    host = getattr(err, "host", "")
    if not host or host == url_host(state.base_url + "/"):
        return ""
    return f"host {printable(host)} (named by registry {state.host})"


def _failed_at(state: RegistryState, err: BaseException) -> str:
    """Where a request failed: ``registry A``, or the other host the registry sent it to."""
    return _other_host(state, err) or f"registry {state.host}"


def _tls_failure(state: RegistryState, err: TlsError, cert_dir: str | None) -> str:
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
