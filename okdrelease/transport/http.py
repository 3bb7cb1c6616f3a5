"""HTTP concerns of every registry and token request: sessions and pools, timeouts, one retry policy.

``RetryPolicy`` is the one description of how transient failures are retried (attempts, back-off,
``Retry-After``, a deadline); each operation (reading a manifest, streaming a blob, uploading a blob,
fetching a token) takes its own ``Retrier`` from it, so one operation never makes more than
``retries + 1`` attempts nor starts one after its deadline. Code that finds a failure worth another
attempt raises ``Retryable`` carrying the error to report when the budget is spent.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, OkdReleaseError, UsageError, printable
from okdrelease.events import EventSink, RequestDone, safe_url
from okdrelease.gocompat import goduration
from okdrelease.transport.wire import (
    ACCEPT_ENCODING,
    DEFAULT_PORTS,
    BrokenResponse,
    TransportError,
    WirePool,
    client_context,
    content_length,
    load_system_trust,
    os_reason,
    strip_userinfo,
)

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses worth another attempt of an idempotent (or restartable) request.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
#: Go's largest ``time.Duration`` (2**63 - 1 ns), in seconds.
_GO_MAX_DURATION = (2**63 - 1) / 1e9


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or HTTP date) into seconds to wait."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # only for a date: its import is not free

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_duration(text: str, flag: str = "--timeout") -> float:
    """Parse a duration as Go's ``time.ParseDuration`` does (``90s``, ``1h2m3.5s``, ``-1s``, ``500ms``,
    ``1.5h``), or plain seconds (``2``, ``0.5``), into seconds; it must be positive.

    What Go refuses is refused in Go's words as oc's (pflag's) duration flags give them:
    ``invalid argument "1x" for "--timeout" flag: time: unknown unit "x" in duration "1x"``, ``time:
    missing unit in duration``, ``time: invalid duration`` (also past the largest duration Go holds,
    about 2,562,047 h); a duration that is zero or negative: ``the duration must be positive``.
    """
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    reason = None
    if not math.isfinite(seconds):  # not plain seconds (nan and inf are not either)
        try:
            seconds = goduration.parse_duration(value) / 1e9
        except ValueError:
            try:  # as given, spaces and all: Go refuses it too, and its words name the value so
                seconds = goduration.parse_duration(text) / 1e9
            except ValueError as err:
                reason = str(err)
    if reason is None and seconds > _GO_MAX_DURATION:
        reason = f"time: invalid duration {goduration.quote(text)}"
    elif reason is None and seconds <= 0:
        reason = "the duration must be positive"
    if reason is not None:
        from okdrelease.gocompat.strconv import invalid_flag_argument

        raise UsageError(invalid_flag_argument(text, flag, reason))
    return seconds


class Retryable(Exception):
    """Raised by one attempt of an operation whose failure is transient; ``error`` is what to report at last."""

    def __init__(self, error: OkdReleaseError, retry_after: str | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class RetriedDigestMismatch(DigestMismatchError):
    """Content still did not match its digest after every attempt the policy allows (do not retry again)."""


@attrs.frozen
class RetryPolicy:
    """How transient failures are retried: ``retries`` more attempts, exponential back-off, a deadline.

    The wait before retry ``n`` (0-based) is ``base_delay * 2**n`` or the server's ``Retry-After``,
    never more than ``max_delay``; no attempt starts once ``deadline`` seconds have passed since the
    operation's first attempt (or would pass during the wait).
    """

    __repr__ = value_repr

    retries: int = 3
    base_delay: float = 0.25
    max_delay: float = 10.0
    deadline: float = 300.0

    def __attrs_post_init__(self) -> None:
        if self.retries < 0:
            raise UsageError(f"the number of retries must not be negative (got {self.retries})")
        if not (self.deadline > 0 and self.max_delay >= 0 and self.base_delay >= 0):  # NaN fails too
            raise UsageError("retry delays must not be negative and the deadline must be positive")

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based)."""
        after = retry_after_seconds(retry_after)
        wanted = self.base_delay * (2**attempt) if after is None else after
        return min(self.max_delay, wanted)

    def start(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Retrier:
        """The retry budget of one operation, starting now."""
        return Retrier(self, sleep=sleep, clock=clock)

    def run(
        self,
        what: str,
        attempt: Callable[[], T],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> T:
        """Call ``attempt`` until it returns; a ``Retryable`` is retried while the budget lasts, else its error raised."""
        retrier = self.start(sleep=sleep, clock=clock)
        while True:
            try:
                return attempt()
            except Retryable as failure:
                if not retrier.again(what, str(failure.error), failure.retry_after):
                    raise failure.error from None


class Retrier:
    """The retry budget of one operation (see ``RetryPolicy``); not shared between threads."""

    def __init__(self, policy: RetryPolicy, *, sleep: Callable[[float], None], clock: Callable[[], float]):
        """Start the budget now."""
        self.policy = policy
        self.used = 0
        self._sleep = sleep
        self._clock = clock
        self._start = clock()

    def __repr__(self) -> str:
        return f"Retrier(used={self.used}, policy={self.policy!r})"

    def again(self, what: str, reason: str, retry_after: str | None = None) -> bool:
        """Wait and return True when one more attempt fits the policy; False when retries or deadline are spent."""
        if self.used >= self.policy.retries:
            return False
        delay = self.policy.delay(self.used, retry_after)
        if self._clock() - self._start + delay > self.policy.deadline:
            log.info(
                "%s: %s; not retrying, the %.0fs deadline would pass", what, reason, self.policy.deadline
            )
            return False
        self.used += 1
        log.info("%s: %s; retry %d of %d in %.1fs", what, reason, self.used, self.policy.retries, delay)
        self._sleep(delay)
        return True


# --------------------------------------------------------------------------------------------
# Sessions. Requests to the session's own host (the registry, the token server) go through our own
# HTTP/1.1 client (``transport.wire``: about 0.2 ms less CPU per request than urllib3, which itself
# measured 0.45 ms less than ``requests``); a request to another host (an upload Location, a redirect
# target) goes to the session ``route`` names, that host's own (with its TLS settings), and so
# through its own wire pool too; proxied requests (and another host without ``route``) through
# urllib3 (``transport.pooled``), imported only then. What requests did for us is here: redirects
# (Authorization dropped on another host), proxies from the environment, certifi's CA bundle for
# verified TLS (beside the system's store), default headers, bodies read whole unless streamed, one event per answer.

#: Statuses whose ``Location`` is followed (as requests did).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 30
#: The most a body read whole (not streamed: token answers, error bodies, tag pages) may hold
#: decoded; a bigger one fails (a small compressed answer cannot fill memory).
MAX_LOADED_BODY = 32 << 20
_LOAD_BLOCK = 256 << 10
_LINK_STRIP = " '\""


class RedirectRefused(TransportError):
    """A redirect that is not followed: asking again brings the same answer, so it is never retried."""


class TooManyRedirects(RedirectRefused):
    """More than ``MAX_REDIRECTS`` redirects in a row (a loop)."""


class PlainHttpRefused(RedirectRefused):
    """A URL on plain ``http://`` reached from https (a redirect, an upload ``Location``) on a host not
    marked insecure: TLS is verified unless the user opts out for that host. (Go's clients, skopeo's
    and crane's, follow such a redirect; we do not, on purpose.)"""

    def __init__(self, url: str) -> None:
        """The refusal of ``url`` (named by its host only)."""
        host = url_host(url)
        shown = printable(host)
        super().__init__(
            f"plain HTTP to {shown}, named over https, is refused: TLS is verified unless the host is"
            f" marked insecure (--insecure-registry {shown})"
        )
        self.host = host


class BodyTooLarge(BrokenResponse):
    """A body read whole holds more than ``MAX_LOADED_BODY`` bytes: a refusal, not a transient
    failure (asking again brings the same answer), so it is never retried."""


class RawResponse(Protocol):
    """What a backend (``wire.WireResponse``, ``pooled.Urllib3Response``) gives ``Response``:
    a body that breaks raises a ``wire.TransportError``."""

    @property
    def status(self) -> int:
        """The HTTP status."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers, names case-insensitive."""

    def read(self, amount: int | None = None, decode_content: bool = True) -> bytes:
        """Up to ``amount`` bytes of the body (all with None); b"" at its end."""

    def stream(self, size: int, decode_content: bool = True) -> Iterator[bytes]:
        """The body in blocks of up to ``size`` bytes."""

    def close(self) -> None:
        """Give the connection back (closed when the body was not read to its end)."""


class Response:
    """One answer: status, headers (case-insensitive), the URL it came from, and its body.

    A body that was not streamed is read before the response is returned; a streamed one is read
    from ``raw`` or ``iter_content``. ``close`` gives the connection back (a body not read to its
    end closes it).
    """

    __slots__ = ("_content", "headers", "raw", "status_code", "unread", "url")

    def __init__(self, raw: RawResponse, url: str) -> None:
        self.raw = raw
        self.status_code: int = raw.status
        self.headers: Mapping[str, str] = raw.headers
        self.url = url
        self._content: bytes | None = None
        #: An error status's body held more than ``MAX_LOADED_BODY`` bytes and was dropped (``content`` is empty).
        self.unread = False

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> None:
        """Read the whole (decoded) body now; ``BodyTooLarge`` when it holds more than
        ``MAX_LOADED_BODY`` bytes (the connection is closed). An error status's body (400 and up,
        only ever read for an error's detail) that large is dropped instead (``unread``): the status
        says what happened, and is handled as it would be with a short body."""
        if self._content is not None:
            return
        parts: list[bytes] = []
        size = 0
        while block := self.raw.read(_LOAD_BLOCK, decode_content=True):
            size += len(block)
            if size > MAX_LOADED_BODY:
                self.raw.close()
                if self.status_code >= 400:
                    self._content, self.unread = b"", True
                    return
                raise BodyTooLarge(f"the response body is larger than {MAX_LOADED_BODY} bytes")
            parts.append(block)
        self._content = b"".join(parts)

    @property
    def content(self) -> bytes:
        """The whole body, decoded (gzip, deflate) as the server's ``Content-Encoding`` says."""
        self.load()
        assert self._content is not None
        return self._content

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON."""
        return json.loads(self.content)

    def iter_content(self, size: int) -> Iterator[bytes]:
        """The decoded body in blocks of up to ``size`` bytes."""
        if self._content is not None:
            yield self._content
            return
        yield from self.raw.stream(size, decode_content=True)

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header's entries by ``rel`` (else URL), each with its ``url`` and parameters."""
        value = self.headers.get("Link", "").strip(_LINK_STRIP)
        links: dict[str, dict[str, str]] = {}
        for entry in re.split(", *<", value) if value else ():
            url, _, params = entry.partition(";")
            link = {"url": url.strip("<> '\"")}
            for param in params.split(";") if params else ():
                key, sep, val = param.partition("=")
                if not sep or "=" in val:
                    break
                link[key.strip(_LINK_STRIP)] = val.strip(_LINK_STRIP)
            links[link.get("rel") or link["url"]] = link
        return links

    def close(self) -> None:
        """Give the connection back to its pool (closed when the body was not read to its end)."""
        self.raw.close()


def pool_size(workers: int) -> int:
    """Connections kept per host: ``workers`` requests may be starting while as many bodies still
    stream (the per-registry limit covers sending a request, not reading its body), plus a few."""
    return 2 * max(1, workers) + 2


def _ca_bundle() -> str:
    """certifi's CA bundle, trusted besides the system's store (as requests did), imported on first use."""
    import certifi

    return str(certifi.where())


def select_proxy(url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy for ``url``: by ``scheme://host``, scheme, ``all://host``, then ``all``."""
    if not proxies:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.hostname is None:
        return proxies.get(parts.scheme, proxies.get("all"))
    for key in (f"{parts.scheme}://{parts.hostname}", parts.scheme, f"all://{parts.hostname}", "all"):
        if key in proxies:
            return proxies[key]
    return None


def strip_auth_on_redirect(old_url: str, new_url: str) -> bool:
    """True when a redirect leaves the host (or port, or scheme) the ``Authorization`` was meant for."""
    old, new = urllib.parse.urlsplit(old_url), urllib.parse.urlsplit(new_url)
    if old.hostname != new.hostname:
        return True
    if old.scheme == "http" and old.port in (80, None) and new.scheme == "https" and new.port in (443, None):
        return False
    default = (DEFAULT_PORTS.get(old.scheme), None)
    if old.scheme == new.scheme and old.port in default and new.port in default:
        return False
    return old.port != new.port or old.scheme != new.scheme


def _redirect_method(status: int, method: str) -> str:
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        return "GET"
    return method


#: Which session sends a request to a URL on another host than a session's own, whether TLS to it
#: is verified, and through which proxies (that host's own settings); given the URL.
Route = Callable[[str], "tuple[HttpSession, bool, Mapping[str, str]]"]


class InvalidLocation(RedirectRefused):
    """A ``Location`` (a redirect's, an upload session's) that names no http(s) URL: never followed."""


def _shown_location(location: str) -> str:
    """``location`` as an error may show it: no ``user:password@``, query or fragment, at most 200
    characters, control characters escaped (it may be anything a server sent)."""
    text = location.partition("#")[0].partition("?")[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        text = f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
    return printable(text[:200])


def location_url(base: str, location: str, what: str = "redirect") -> str:
    """The absolute URL ``location`` names from ``base``; ``InvalidLocation`` (naming ``what`` and
    the location without credentials) when it is not an http(s) URL with a host and a valid port."""
    try:
        target = urllib.parse.urljoin(base, location)
        parts = urllib.parse.urlsplit(target)
        parts.port  # noqa: B018 (a port out of range raises ValueError)
    except ValueError as err:
        raise InvalidLocation(
            f"the {what} target {_shown_location(location)} is not a valid URL ({err})"
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidLocation(f"the {what} target {_shown_location(location)} is not an http(s) URL")
    if not parts.hostname:
        raise InvalidLocation(f"the {what} target {_shown_location(location)} names no host")
    return target


def url_host(url: str) -> str:
    """The ``host[:port]`` a URL names, lower case, without userinfo or its scheme's default port."""
    scheme, _, rest = url.partition("://")
    netloc = rest.partition("/")[0].partition("?")[0].rpartition("@")[2].lower()
    port = f":{DEFAULT_PORTS[scheme]}" if scheme in DEFAULT_PORTS else None
    return netloc[: -len(port)] if port and netloc.endswith(port) else netloc


class HttpSession:
    """Pooled connections to one registry or token server (and wherever it redirects); thread-safe.

    ``context`` (extra CAs, client certificates) applies to ``https://HOST/`` only; ``events``
    hears of every answer, redirects included; ``proxies`` apply when a request names none.
    A request to another host (an upload ``Location``, a redirect) goes where ``route`` says, with
    that host's TLS settings: one host's opt-out of verification never carries over to another.
    Without ``route`` this session sends it with the caller's ``verify``. A redirect from https to
    plain http is refused (``PlainHttpRefused``) unless ``plain`` allows that host.
    """

    def __init__(
        self,
        user_agent: str,
        workers: int,
        *,
        host: str = "",
        context: ssl.SSLContext | None = None,
        events: EventSink | None = None,
        route: Route | None = None,
        plain: Callable[[str], bool] | None = None,
    ) -> None:
        """Pools of ``pool_size(workers)`` connections per host."""
        self.headers = {"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING, "Accept": "*/*"}
        self.proxies: dict[str, str] = {}
        self._size = pool_size(workers)
        self._host = host.lower()
        #: The session's own host as ``url_host`` gives it, by scheme (its default port left out).
        self._home = {scheme: url_host(f"{scheme}://{self._host}/") for scheme in DEFAULT_PORTS}
        self._route = route
        self._plain = plain
        self._context = context
        self._events = events
        self._lock = threading.Lock()
        self._managers: dict[tuple[str, bool, bool], urllib3.PoolManager] = {}
        self._pools: dict[tuple[str, str, bool], WirePool] = {}
        self._verified: dict[bool, ssl.SSLContext] = {}
        self._unverified: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"HttpSession({self._host!r})"

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            managers, self._managers = list(self._managers.values()), {}
            pools, self._pools = list(self._pools.values()), {}
        for manager in managers:
            manager.clear()
        for pool in pools:
            pool.close()

    def _pool(self, scheme: str, netloc: str, verify: bool) -> WirePool:
        """The wire pool of the session's own host by scheme and verification."""
        key = (scheme, netloc, verify)
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.get(key)
                if pool is None:
                    context = self._tls_context(verify, own=True) if scheme == "https" else None
                    pool = self._pools[key] = WirePool(scheme, netloc, context=context, maxsize=self._size)
        return pool

    def _manager(self, proxy: str | None, verify: bool, own: bool) -> urllib3.PoolManager:
        """The urllib3 pool manager by proxy, verification, and whether the host's own TLS context applies."""
        from okdrelease.transport import pooled

        key = (proxy or "", verify, own and self._context is not None)
        manager = self._managers.get(key)
        if manager is not None:
            return manager
        with self._lock:
            manager = self._managers.get(key)
            if manager is None:
                context = self._tls_context(verify, key[2])
                cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
                manager = self._managers[key] = pooled.new_manager(proxy, cert_reqs, context, self._size)
        return manager

    def _tls_context(self, verify: bool, own: bool) -> ssl.SSLContext:
        """How a pool checks TLS (called under the session lock): without verification nothing is
        loaded; verified pools share one context per kind whose CAs were loaded once (given only a
        bundle path, urllib3 builds a context and parses the bundle for every connection, ~17 ms)."""
        if not verify:
            if self._unverified is None:
                self._unverified = client_context(verified=False)
                self._unverified.set_alpn_protocols(["http/1.1"])
            return self._unverified
        own = own and self._context is not None
        context = self._verified.get(own)
        if context is None:
            if own and self._context is not None:
                context = self._context
            else:
                context = client_context(verified=True)
                load_system_trust(context)  # the system's trust store (SSL_CERT_FILE/SSL_CERT_DIR too), as oc
            context.load_verify_locations(_ca_bundle())
            context.set_alpn_protocols(["http/1.1"])
            self._verified[own] = context
        return context

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Iterable[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        verify: bool = True,
        proxies: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (60.0, 60.0),
    ) -> Response:
        """Send a request, following redirects; the body is read unless ``stream``.

        ``data``: bytes, a ``dict`` (sent as a form) or an iterator of blocks (sent chunked);
        ``timeout``: ``(connect, read)`` seconds. Failures raise ``wire.TransportError``
        (``TlsError``, ``ConnectError``, ``BrokenResponse``, ``InvalidAddress``, ``RedirectRefused``).
        """
        if params:
            url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(list(params))
        sent = dict(self.headers)
        sent.update(headers or {})
        if isinstance(data, memoryview):
            data = bytes(data)
        elif isinstance(data, dict):
            data = urllib.parse.urlencode(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if isinstance(data, bytes | bytearray):
            sent["Content-Length"] = str(len(data))
        elif data is None and method not in ("GET", "HEAD"):
            sent.setdefault("Content-Length", "0")
        chosen = {**self.proxies, **proxies} if proxies else self.proxies
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._exchange(method, url, sent, data, verify, chosen, timeout)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                if not stream:
                    try:
                        response.load()
                    except TransportError as err:  # (too big, broken): on the host that answered
                        err.host = err.host or url_host(url)
                        raise
                return response
            response.close()
            target = location_url(url, location)
            if (
                url[:8].lower() == "https://"
                and target[:7].lower() == "http://"
                and self._plain is not None
                and not self._plain(url_host(target))
            ):
                raise PlainHttpRefused(target)
            if strip_auth_on_redirect(url, target):
                sent.pop("Authorization", None)
            new_method = _redirect_method(response.status_code, method)
            if response.status_code not in (307, 308):
                for name in ("Content-Length", "Content-Type", "Transfer-Encoding"):
                    sent.pop(name, None)
                data = None
            method, url = new_method, target
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects, the last to {safe_url(url)}")

    def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: Any,
        verify: bool,
        proxies: Mapping[str, str],
        timeout: tuple[float, float],
    ) -> Response:
        """One request and its answer's headers (the body is left to read); reported to ``events``.

        A URL on another host goes to the session ``route`` names (with that host's verification and
        proxies). The session's own host without a proxy goes through its wire pool (given the path
        only); anything else through a urllib3 pool manager. A failure names its host
        (``TransportError.host``)."""
        scheme, _, rest = url.partition("://")
        host = url_host(url)
        own = host == self._home.get(scheme, self._host)
        if self._route is not None and not own:
            session, verify, proxies = self._route(url)
            return session._exchange(method, url, headers, data, verify, proxies, timeout)
        proxy = select_proxy(url, proxies)
        netloc, slash, path = rest.partition("/")
        if "@" in netloc:  # a user:password@ is never sent (as urllib3 did), logged or shown
            netloc = strip_userinfo(netloc)
            url = f"{scheme}://{netloc}{slash}{path}"
        started = time.perf_counter()
        raw: RawResponse
        try:
            if own and not proxy and scheme in DEFAULT_PORTS:
                raw = self._pool(scheme, netloc, verify).request(method, slash + path, headers, data, timeout)
            else:
                from okdrelease.transport import pooled

                manager = self._manager(proxy, verify, own and scheme == "https")
                raw = pooled.urlopen(manager, method, url, headers, data, timeout)
        except TransportError as err:
            err.host = err.host or host
            raise
        if self._events is not None:
            self._events(
                RequestDone(
                    method=method,
                    url=safe_url(url),
                    status=raw.status,
                    received=0
                    if method == "HEAD"
                    else content_length(raw.headers.get("Content-Length")) or 0,
                    sent=len(data)
                    if isinstance(data, bytes | bytearray)
                    else content_length(headers.get("Content-Length")) or 0,
                    seconds=time.perf_counter() - started,
                )
            )
        return Response(raw, url)

    def get(self, url: str, **kwargs: Any) -> Response:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        """``request("POST", url, ...)``."""
        return self.request("POST", url, **kwargs)


def environ_proxies(host: str, scheme: str) -> dict[str, str]:
    """The environment's proxies for ``scheme://host`` (none for loopback hosts, none when no proxy is set).

    With a proxy set, requests' reading of ``no_proxy`` (names, suffixes, ``host:port``, CIDR
    blocks) decides, imported only then.
    """
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if hostname in _LOOPBACK or not any(
        value and name[-6:].lower() == "_proxy" and name.lower() != "no_proxy"
        for name, value in os.environ.items()
    ):
        return {}
    import requests.utils

    return dict(requests.utils.get_environ_proxies(f"{scheme}://{host}/v2/"))


def timeouts(seconds: float) -> tuple[float, float]:
    """``(connect, read)`` timeouts: a connection or a stalled read fails after ``seconds``."""
    return (seconds, seconds)


def quiet_insecure_warnings() -> None:
    """Silence urllib3's per-request warning about unverified TLS (the user opted out of
    verification) without importing urllib3 (the filter waits for the warning, by its text)."""
    import warnings

    warnings.filterwarnings("ignore", message="Unverified HTTPS request", module=r"urllib3\.")


def connect_reason(err: BaseException) -> str:
    """The reason of a connection failure (``Connection refused``, ``timed out``, ``10 bytes read,
    990 more expected``), else the error type."""
    return err.reason if isinstance(err, TransportError) else os_reason(err)
