"""Files over HTTP(S) outside a registry: signature stores (``--store``), containers/image
lookasides and ``new -f URL``.

They are read with the trust registries get, because the tools they come from do so:
containers/image reads a lookaside with the registry's own HTTP client (its certs.d and its
opt-out of verification), and library-go's stores use the client their caller builds (the CVO's
carries the cluster's trusted CAs). So: the system's store (``SSL_CERT_FILE``/``SSL_CERT_DIR``)
and certifi's, ``--certificate-authority`` and ``certs.d/HOST``, and no verification for a host
marked insecure (``--insecure``, ``--insecure-registry HOST``), through the environment's proxies.

A URL is shown only as ``events.safe_url`` gives it (no ``user:password@``, query or fragment):
a store URL may carry credentials or a token. Its ``user:password@`` is sent as Basic
credentials to its own host, as Go's and requests' clients send it; never to another host.
"""

from __future__ import annotations

import base64
import ssl
import threading
import urllib.parse
from typing import TYPE_CHECKING

from okdrelease.errors import FetchError, OkdReleaseError
from okdrelease.events import safe_url
from okdrelease.transport.base import TransportOptions

if TYPE_CHECKING:
    from okdrelease.transport.http import HttpSession, RawResponse


def _basic_credentials(url: str) -> dict[str, str]:
    """An ``Authorization`` header from the URL's ``user:password@`` (none without one)."""
    split = urllib.parse.urlsplit(url)
    if split.username is None:
        return {}
    pair = f"{urllib.parse.unquote(split.username)}:{urllib.parse.unquote(split.password or '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}


def _read_up_to(raw: RawResponse, limit: int) -> bytes:
    """The body's first ``limit`` bytes (fewer when it ends before)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        block = raw.read(limit - size, decode_content=True)
        if not block:
            break
        parts.append(block)
        size += len(block)
    return b"".join(parts)


class UrlReader:
    """Reads files over http(s) with one pooled session per host; ``close`` ends them.

    Thread-safe. Errors are ``FetchError`` naming the URL without its secrets and saying what
    failed in the registry transport's words (``cannot connect (Connection refused)``,
    ``TLS verification failed (...)`` with the advice registry errors give for another host).
    """

    def __init__(self, options: TransportOptions | None = None) -> None:
        """A reader with the TLS settings, proxies and timeout of ``options``."""
        self.options = options or TransportOptions()
        self._lock = threading.Lock()
        self._sessions: dict[str, HttpSession] = {}

    def __repr__(self) -> str:
        return f"UrlReader({sorted(self._sessions)})"

    def __enter__(self) -> UrlReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()

    def _session(self, host: str) -> HttpSession:
        """The session of ``host``: trusting ``ca_file`` and ``certs.d/HOST`` unless it is insecure."""
        from okdrelease.transport.http import HttpSession, environ_proxies

        with self._lock:
            session = self._sessions.get(host)
            if session is None:
                insecure = self.options.is_insecure(host)
                session = HttpSession(
                    self.options.user_agent,
                    1,
                    host=host,
                    context=None if insecure else self._context(host),
                    events=self.options.events,
                    route=self._route,
                    plain=self.options.is_insecure,
                )
                session.proxies.update(environ_proxies(host, "https"))
                self._sessions[host] = session
            return session

    def _context(self, host: str) -> ssl.SSLContext | None:
        """The CAs and client certificates of ``host`` as a registry client sets them up for another
        host a registry names (the system's trust, ``ca_file``, ``certs.d/HOST``), or None when there
        are none."""
        from okdrelease.transport.tlsconfig import tls_context

        return tls_context(host, self.options, role="other")

    def _route(self, url: str) -> tuple[HttpSession, bool, dict[str, str]]:
        """A redirect to another host goes with that host's own settings."""
        from okdrelease.transport.http import url_host

        host = url_host(url)
        return self._session(host), not self.options.is_insecure(host), {}

    def get(self, url: str, limit: int) -> tuple[int, bytes]:
        """The status of ``GET url`` and, for a 2xx answer, its body read up to ``limit`` bytes
        (other answers: b""). A request that gets no answer raises FetchError."""
        from okdrelease.transport.http import RedirectRefused, connect_reason, timeouts, url_host
        from okdrelease.transport.tlsconfig import trust_advice
        from okdrelease.transport.wire import (
            BadFraming,
            InvalidAddress,
            InvalidHeader,
            TlsError,
            TransportError,
        )

        host = url_host(url)
        shown = safe_url(url)
        try:
            session = self._session(host)
            with session.get(
                url,
                headers=_basic_credentials(url),
                stream=True,
                verify=not self.options.is_insecure(host),
                timeout=timeouts(self.options.timeout),
            ) as response:
                if not 200 <= response.status_code < 300:
                    return response.status_code, b""
                return response.status_code, _read_up_to(response.raw, limit)
        except OkdReleaseError as err:  # (its CA files or certificate directory)
            raise FetchError(f"{shown}: {err}") from None
        except TlsError as err:
            advice = trust_advice(err.reason, err.host or host, self.options.cert_dir)
            raise FetchError(f"{shown}: TLS verification failed ({err.reason}); {advice}") from None
        except InvalidAddress:
            raise FetchError(f"{shown}: invalid address") from None
        except (RedirectRefused, InvalidHeader, BadFraming) as err:  # (their text names no secret)
            raise FetchError(f"{shown}: {err}") from None
        except (TransportError, OSError) as err:
            raise FetchError(f"{shown}: cannot connect ({connect_reason(err)})") from None
