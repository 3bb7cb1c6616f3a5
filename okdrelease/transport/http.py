"""HTTP concerns of every registry and token request: sessions and pools, timeouts, one retry policy.

``RetryPolicy`` is the one description of how transient failures are retried (attempts, back-off,
``Retry-After``, a deadline); each operation (reading a manifest, streaming a blob, uploading a blob,
fetching a token) takes its own ``Retrier`` from it, so one operation never makes more than
``retries + 1`` attempts nor starts one after its deadline. Code that finds a failure worth another
attempt raises ``Retryable`` carrying the error to report when the budget is spent.
"""

from __future__ import annotations

import email.utils
import importlib.util
import json
import logging
import os
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs
import urllib3

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, OkdReleaseError, UsageError
from okdrelease.events import EventSink, RequestDone, safe_url

log = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses worth another attempt of an idempotent (or restartable) request.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
#: What requests sent as ``Accept-Encoding`` (``gzip,deflate`` and what urllib3 can decode besides).
_ACCEPT_ENCODING = ", ".join(
    re.split(r",\s*", urllib3.util.make_headers(accept_encoding=True)["accept-encoding"])
)
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or HTTP date) into seconds to wait."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_duration(text: str, flag: str = "--timeout") -> float:
    """Parse a Go duration (``90s``, ``1m30s``, ``500ms``) or plain seconds into seconds (> 0)."""
    value = text.strip()
    seconds: float | None = None
    try:
        seconds = float(value)
    except ValueError:
        if value and _DURATION_RE.sub("", value) == "":
            seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_RE.findall(value))
    if seconds is None or seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise UsageError(
            f'invalid argument "{text}" for "{flag}" flag: expected a duration such as 30s or 2m'
        )
    if seconds <= 0:
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag: the duration must be positive')
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
        if self.deadline <= 0 or self.max_delay < 0 or self.base_delay < 0:
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
# Sessions: urllib3 used directly. It measured about 0.45 ms less CPU per request than ``requests``
# on the same pools (and spares the run requests' ~55 ms import); what requests did for us is here:
# redirects (Authorization dropped on another host), proxies from the environment, certifi's CA
# bundle for verified TLS (beside the system's store), default headers, bodies read whole unless streamed, one event per answer.

#: Statuses whose ``Location`` is followed (as requests did).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 30
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LINK_STRIP = " '\""


class TooManyRedirects(urllib3.exceptions.HTTPError):
    """More than ``MAX_REDIRECTS`` redirects in a row."""


class Response:
    """One answer: status, headers (case-insensitive), the URL it came from, and its body.

    A body that was not streamed is read before the response is returned; a streamed one is read
    from ``raw`` (the urllib3 response) or ``iter_content``. ``close`` gives the connection back
    (a body not read to its end closes it).
    """

    __slots__ = ("_content", "headers", "raw", "status_code", "url")

    def __init__(self, raw: urllib3.BaseHTTPResponse, url: str) -> None:
        self.raw = raw
        self.status_code: int = raw.status
        self.headers: urllib3.HTTPHeaderDict = raw.headers
        self.url = url
        self._content: bytes | None = None

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> None:
        """Read the whole (decoded) body now."""
        if self._content is None:
            self._content = self.raw.read(decode_content=True)

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
        self.raw.release_conn()


def pool_size(workers: int) -> int:
    """Connections kept per host: ``workers`` requests may be starting while as many bodies still
    stream (the per-registry limit covers sending a request, not reading its body), plus a few."""
    return 2 * max(1, workers) + 2


def _ca_bundle() -> str:
    """certifi's CA bundle, trusted besides the system's store (as requests did), imported on first use."""
    import certifi

    return str(certifi.where())


def _unverified_context() -> ssl.SSLContext:
    """urllib3's TLS client settings without verification and without any CA loaded."""
    return urllib3.util.ssl_.create_urllib3_context(cert_reqs=ssl.CERT_NONE)


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
    default = (_DEFAULT_PORTS.get(old.scheme), None)
    if old.scheme == new.scheme and old.port in default and new.port in default:
        return False
    return old.port != new.port or old.scheme != new.scheme


def _redirect_method(status: int, method: str) -> str:
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        return "GET"
    return method


class HttpSession:
    """Pooled connections to one registry or token server (and wherever it redirects); thread-safe.

    ``context`` (extra CAs, client certificates) applies to ``https://HOST/`` only; ``events``
    hears of every answer, redirects included; ``proxies`` apply when a request names none.
    """

    def __init__(
        self,
        user_agent: str,
        workers: int,
        *,
        host: str = "",
        context: ssl.SSLContext | None = None,
        events: EventSink | None = None,
    ) -> None:
        """Pools of ``pool_size(workers)`` connections per host."""
        self.headers = {"User-Agent": user_agent, "Accept-Encoding": _ACCEPT_ENCODING, "Accept": "*/*"}
        self.proxies: dict[str, str] = {}
        self._size = pool_size(workers)
        self._host = host.lower()
        self._context = context
        self._events = events
        self._lock = threading.Lock()
        self._managers: dict[tuple[str, bool, bool], urllib3.PoolManager] = {}
        self._pools: dict[tuple[str, str, bool], urllib3.HTTPConnectionPool] = {}
        self._verified: dict[bool, ssl.SSLContext] = {}

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

    def _opener(
        self, url: str, verify: bool, proxy: str | None
    ) -> tuple[urllib3.PoolManager | urllib3.HTTPConnectionPool, str]:
        """What sends a request to ``url``, and the URL to give it.

        The session's own host (no proxy) has one pool per scheme and verification, given the
        path only; anything else (redirect targets, proxies) goes through a pool manager.
        """
        scheme, _, rest = url.partition("://")
        netloc, slash, path = rest.partition("/")
        own = netloc.lower() == self._host
        if own and not proxy:
            key = (scheme, netloc, verify)
            pool = self._pools.get(key)
            if pool is None:
                with self._lock:
                    pool = self._pools.get(key)
                    if pool is None:
                        kwargs: dict[str, Any] = {"maxsize": self._size, "block": False}
                        if scheme == "https":
                            kwargs.update(self._tls_kwargs(verify, own=True))
                        pool = self._pools[key] = urllib3.connection_from_url(
                            f"{scheme}://{netloc}", **kwargs
                        )
            return pool, slash + path
        return self._manager(proxy, verify, own and scheme == "https"), url

    def _manager(self, proxy: str | None, verify: bool, own: bool) -> urllib3.PoolManager:
        """The pool manager by proxy, verification, and whether the host's own TLS context applies."""
        key = (proxy or "", verify, own and self._context is not None)
        manager = self._managers.get(key)
        if manager is not None:
            return manager
        with self._lock:
            manager = self._managers.get(key)
            if manager is None:
                manager = self._managers[key] = self._new_manager(proxy, verify, key[2])
        return manager

    def _tls_kwargs(self, verify: bool, own: bool) -> dict[str, Any]:
        """How a pool checks TLS (called under the session lock): without verification nothing is
        loaded; verified pools share one context per kind whose CAs were loaded once (given only a
        bundle path, urllib3 builds a context and parses the bundle for every connection, ~17 ms)."""
        if not verify:
            return {"cert_reqs": "CERT_NONE", "ssl_context": _unverified_context()}
        own = own and self._context is not None
        context = self._verified.get(own)
        if context is None:
            if own and self._context is not None:
                context = self._context
            else:
                context = urllib3.util.ssl_.create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                context.load_default_certs()  # the system's trust store (SSL_CERT_FILE/SSL_CERT_DIR too), as oc
            context.load_verify_locations(_ca_bundle())
            self._verified[own] = context
        return {"cert_reqs": "CERT_REQUIRED", "ssl_context": context}

    def _new_manager(self, proxy: str | None, verify: bool, own: bool) -> urllib3.PoolManager:
        kwargs = self._tls_kwargs(verify, own)
        kwargs.update(num_pools=4, maxsize=self._size, block=False)
        if not proxy:
            return urllib3.PoolManager(**kwargs)
        parsed = urllib.parse.urlsplit(proxy)
        user = urllib.parse.unquote(parsed.username or "")
        password = urllib.parse.unquote(parsed.password or "")
        if proxy.lower().startswith("socks"):
            if importlib.util.find_spec("socks") is None:
                raise OkdReleaseError(f"proxy {safe_url(proxy)} is a SOCKS proxy: install PySocks to use it")
            from urllib3.contrib.socks import SOCKSProxyManager

            return SOCKSProxyManager(proxy, username=user or None, password=password or None, **kwargs)
        headers = urllib3.util.make_headers(proxy_basic_auth=f"{user}:{password}") if user else {}
        return urllib3.ProxyManager(proxy, proxy_headers=headers, **kwargs)

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

        ``data``: bytes, a ``dict`` (sent as a form) or an iterator of blocks (sent chunked).
        Failures raise urllib3's errors (``SSLError``, ``ProtocolError``, ``NewConnectionError``, ...).
        """
        if params:
            url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(list(params))
        sent = dict(self.headers)
        sent.update(headers or {})
        if isinstance(data, dict):
            data = urllib.parse.urlencode(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if isinstance(data, bytes | bytearray):
            sent["Content-Length"] = str(len(data))
        elif data is None and method not in ("GET", "HEAD"):
            sent.setdefault("Content-Length", "0")
        chosen = {**self.proxies, **proxies} if proxies else self.proxies
        wait = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._exchange(method, url, sent, data, verify, chosen, wait)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                if not stream:
                    response.load()
                return response
            response.close()
            target = urllib.parse.urljoin(url, location)
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
        timeout: urllib3.Timeout,
    ) -> Response:
        """One request and its answer's headers (the body is left to read); reported to ``events``."""
        opener, target = self._opener(url, verify, select_proxy(url, proxies))
        chunked = data is not None and not isinstance(data, bytes | bytearray)
        started = time.perf_counter()
        raw = opener.urlopen(
            method,
            target,
            body=data,
            headers=headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            timeout=timeout,
            chunked=chunked,
        )
        if self._events is not None:
            self._events(
                RequestDone(
                    method=method,
                    url=safe_url(url),
                    status=raw.status,
                    received=0 if method == "HEAD" else _length(raw.headers),
                    sent=len(data) if isinstance(data, bytes | bytearray) else _length(headers),
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


def _length(headers: Mapping[str, str]) -> int:
    try:
        return max(0, int(headers.get("Content-Length") or 0))
    except (TypeError, ValueError):
        return 0


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


def ssl_reason(err: BaseException) -> str:
    """The OpenSSL reason of a TLS failure, without urllib3's wrapping."""
    text = str(err)
    match = re.search(r"certificate verify failed: ([^(\]'\"]+)", text)
    if match:
        return "certificate verify failed: " + match.group(1).strip()
    match = re.search(r"\[SSL: [A-Z0-9_]+\] ([^(\]'\"]+)", text)
    if match:
        return match.group(1).strip()
    return type(err).__name__


def connect_reason(err: BaseException) -> str:
    """The OS reason of a connection failure (``Connection refused``), else the error type."""
    text = str(err)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if match:
        return match.group(1).strip()
    match = re.search(r"IncompleteRead\((\d+ bytes read, \d+ more expected)\)", text)
    if match:
        return match.group(1)
    timeout = isinstance(err, urllib3.exceptions.TimeoutError | TimeoutError)
    if (
        timeout and not isinstance(err, urllib3.exceptions.NewConnectionError)
    ) or "timed out" in text.lower():
        return "timed out"
    if "Connection reset" in text or "ConnectionResetError" in text:
        return "Connection reset by peer"
    return type(err).__name__
