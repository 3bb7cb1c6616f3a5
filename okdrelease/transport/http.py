"""HTTP concerns of every registry and token request: sessions and pools, timeouts, one retry policy.

``RetryPolicy`` is the one description of how transient failures are retried (attempts, back-off,
``Retry-After``, a deadline); each operation (reading a manifest, streaming a blob, uploading a blob,
fetching a token) takes its own ``Retrier`` from it, so one operation never makes more than
``retries + 1`` attempts nor starts one after its deadline. Code that finds a failure worth another
attempt raises ``Retryable`` carrying the error to report when the budget is spent.
"""

from __future__ import annotations

import email.utils
import logging
import re
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import requests
from requests.adapters import HTTPAdapter

from okdrelease.errors import DigestMismatchError, OkdReleaseError, UsageError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses worth another attempt of an idempotent (or restartable) request.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
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
# Sessions


class TLSAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections use a prepared SSLContext."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        """Use ``context`` for every connection (and proxy connection)."""
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Create the pool manager with the prepared context."""
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        """Create proxy managers with the prepared context."""
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


def pool_size(workers: int) -> int:
    """Connections kept per host: ``workers`` requests may be starting while as many bodies still
    stream (the per-registry limit covers sending a request, not reading its body), plus a few."""
    return 2 * max(1, workers) + 2


def new_session(user_agent: str, workers: int) -> requests.Session:
    """A session with pools sized for ``workers`` concurrent requests; no ``.netrc`` or environment overrides."""
    session = requests.Session()
    session.trust_env = False  # proxies are set per host (environ_proxies); no .netrc, no env CA bundle
    session.headers["User-Agent"] = user_agent
    size = pool_size(workers)
    session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=size))
    session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=size))
    return session


def mount_tls(session: requests.Session, host: str, context: ssl.SSLContext, workers: int) -> None:
    """Use ``context`` (extra CAs, client certificates) for ``https://HOST/``."""
    size = pool_size(workers)
    session.mount(f"https://{host}/", TLSAdapter(context, pool_connections=4, pool_maxsize=size))


def environ_proxies(host: str, scheme: str) -> dict[str, str]:
    """The environment's proxies for ``scheme://host`` (none for loopback hosts)."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if hostname in _LOOPBACK:
        return {}
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
    if isinstance(err, requests.Timeout) or "timed out" in text.lower():
        return "timed out"
    if "Connection reset" in text or "ConnectionResetError" in text:
        return "Connection reset by peer"
    return type(err).__name__
