"""Requests the wire client does not send: through proxies (HTTP and SOCKS) and to other hosts
(redirect targets such as a storage backend), on urllib3's pool managers.

Imported only when a session first needs it (so a run against a registry without proxy never loads
urllib3, http.client or ``email``). urllib3's failures are translated here into the transport's
own (``wire.TlsError``, ``ConnectError``, ``BrokenResponse``, ``InvalidAddress``) with the reason
texts they always had, so callers catch one set of errors whichever path a request took.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import urllib3

from okdrelease.errors import OkdReleaseError, printable
from okdrelease.events import safe_url
from okdrelease.transport.wire import (
    BrokenResponse,
    ConnectError,
    InvalidAddress,
    TlsError,
    TransportError,
    check_headers,
    os_reason,
    strip_userinfo,
    tls_reason,
)


def _reason(err: BaseException) -> str:
    """The short text of a urllib3 failure (a connect timeout says ``timed out`` like a read's)."""
    reason = os_reason(err)
    if reason != type(err).__name__:
        return reason
    if isinstance(err, urllib3.exceptions.TimeoutError) and not isinstance(
        err, urllib3.exceptions.NewConnectionError
    ):
        return "timed out"
    return reason


def translate(err: Exception, proxy: str = "") -> TransportError:
    """The transport error for a urllib3 failure of a request (before its answer's body); a failure to
    go through the proxy (``host:port``) names it."""
    if isinstance(err, urllib3.exceptions.ProxyError) and proxy:
        inner = err.original_error if isinstance(err.original_error, Exception) else err
        reason = _reason(inner)
        if reason == type(inner).__name__ and str(inner):  # e.g. the proxy's refusal of the tunnel
            reason = printable(str(inner))
        return ConnectError(str(err), f"through proxy {proxy}: {reason}")
    if isinstance(err, urllib3.exceptions.SSLError):
        return TlsError(str(err), tls_reason(err))
    if isinstance(err, urllib3.exceptions.LocationValueError):
        return InvalidAddress(str(err))
    return ConnectError(str(err), _reason(err))


class Urllib3Response:
    """A urllib3 answer behind the transport's response seam (``status``, ``headers``, ``read``,
    ``stream``, ``close``); a body that breaks raises ``BrokenResponse``."""

    __slots__ = ("_raw", "headers", "status")

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self.status: int = raw.status
        self.headers: Mapping[str, str] = raw.headers

    def __repr__(self) -> str:
        return f"<Urllib3Response [{self.status}]>"

    def read(self, amount: int | None = None, decode_content: bool = True) -> bytes:
        """Up to ``amount`` bytes of the body (all with None)."""
        try:
            return bytes(self._raw.read(amount, decode_content=decode_content))
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise BrokenResponse(str(err), _reason(err)) from err

    def stream(self, size: int, decode_content: bool = True) -> Iterator[bytes]:
        """The body in blocks of up to ``size`` bytes."""
        try:
            yield from self._raw.stream(size, decode_content=decode_content)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise BrokenResponse(str(err), _reason(err)) from err

    def close(self) -> None:
        """Give the connection back (closed when the body was not read to its end)."""
        self._raw.close()
        self._raw.release_conn()


def urlopen(
    opener: urllib3.PoolManager,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Any,
    timeout: tuple[float, float],
) -> Urllib3Response:
    """One request through ``opener`` (no retries, no redirects followed, the body left to read);
    ``InvalidHeader`` for a header with a line break, as the wire client says it."""
    check_headers(headers)
    try:
        raw = opener.urlopen(
            method,
            url,
            body=body,
            headers=dict(headers),
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            chunked=body is not None and not isinstance(body, bytes | bytearray),
        )
    except (urllib3.exceptions.HTTPError, OSError) as err:
        via = getattr(opener, "proxy", None)
        raise translate(err, f"{via.host}:{via.port}" if via is not None else "") from err
    return Urllib3Response(raw)


#: The proxy URL schemes a pool manager can go through (``socks...`` with PySocks).
_PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


def proxy_url(proxy: str) -> str:
    """``proxy`` as a pool manager takes it: ``http://`` when it names no scheme (as curl and requests
    read ``HTTPS_PROXY=host:port``); OkdReleaseError naming it (without its credentials) when it is no
    usable proxy URL."""
    if "://" not in proxy:
        proxy = "http://" + proxy
    scheme, _, rest = proxy.partition("://")
    netloc, _, _ = rest.partition("/")
    shown = printable(f"{scheme}://{strip_userinfo(netloc)}")
    try:
        parsed = urllib.parse.urlsplit(proxy)
        parsed.port  # noqa: B018 - it raises for a port out of range or not a number
    except ValueError as err:
        raise OkdReleaseError(f"invalid proxy URL {shown}: {printable(str(err))}") from None
    if parsed.scheme.lower() not in _PROXY_SCHEMES:
        raise OkdReleaseError(f"invalid proxy URL {shown}: a proxy is http, https or socks, not {scheme!r}")
    if not parsed.hostname:
        raise OkdReleaseError(f"invalid proxy URL {shown}: no host")
    return proxy


def new_manager(proxy: str | None, cert_reqs: str, context: ssl.SSLContext, size: int) -> urllib3.PoolManager:
    """A pool manager, through ``proxy`` when given (``socks...`` needs PySocks; :func:`proxy_url`)."""
    kwargs: dict[str, Any] = {
        "cert_reqs": cert_reqs,
        "ssl_context": context,
        "num_pools": 4,
        "maxsize": size,
        "block": False,
    }
    if not proxy:
        return urllib3.PoolManager(**kwargs)
    proxy = proxy_url(proxy)
    parsed = urllib.parse.urlsplit(proxy)
    user = urllib.parse.unquote(parsed.username or "")
    password = urllib.parse.unquote(parsed.password or "")
    if proxy.lower().startswith("socks"):
        import importlib.util

        if importlib.util.find_spec("socks") is None:
            raise OkdReleaseError(f"proxy {safe_url(proxy)} is a SOCKS proxy: install PySocks to use it")
        from urllib3.contrib.socks import SOCKSProxyManager

        return SOCKSProxyManager(proxy, username=user or None, password=password or None, **kwargs)
    headers = urllib3.util.make_headers(proxy_basic_auth=f"{user}:{password}") if user else {}
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **kwargs)
