"""The OCI distribution (registry v2) HTTP API on ``requests``.

``RegistryClient`` is created once per run and shared by every thread. For each registry it pings
``/v2/`` once (https first; plain http only for insecure registries), keeps one pooled session
whose TLS trust is ``TransportOptions.ca_file`` plus ``certs.d/HOST/*.crt`` (client certificates
from ``*.cert``/``*.key`` there), and bounds concurrent requests with a semaphore of
``max_per_registry``. ``RegistryRepository`` implements the ``Repository`` protocol: every
manifest and blob is checked against its digest, and uploads are hashed while they stream.
"""

from __future__ import annotations

import io
import logging
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import requests
import urllib3
from requests.adapters import HTTPAdapter

from okdrelease.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    NotFoundError,
    OkdReleaseError,
    RegistryError,
    UnauthorizedError,
)
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import VerifyingReader, sha256_digest, validate_digest, verify_bytes
from okdrelease.oci.layers import RawReader, read_full
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
from okdrelease.transport.base import RETRY_STATUSES, Repository, TransportOptions, retry_after_seconds

log = logging.getLogger(__name__)

STREAM_BLOCK = 1 << 20
#: Largest manifest accepted from a registry (containers/image's limit).
MAX_MANIFEST_SIZE = 4 << 20
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_ERROR_TEXT_LIMIT = 300


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _ref_text(name: str, reference: str) -> str:
    if not reference:
        return name
    return f"{name}@{reference}" if ":" in reference else f"{name}:{reference}"


def _error_detail(response: requests.Response) -> str:
    """Return ``CODE: message`` from a registry error body (or a short text excerpt)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        parts = []
        for item in body["errors"][:3]:
            if isinstance(item, dict):
                code, message = item.get("code", ""), item.get("message", "")
                parts.append(f"{code}: {message}" if code else str(message))
        return "; ".join(parts)
    text = (response.text or "").strip()
    return text[:_ERROR_TEXT_LIMIT] if text and not text.lstrip().startswith("<") else ""


def _environ_proxies(host: str, scheme: str) -> dict[str, str]:
    """The environment's proxies for ``scheme://host`` (none for loopback hosts)."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if hostname in _LOOPBACK:
        return {}
    return dict(requests.utils.get_environ_proxies(f"{scheme}://{host}/v2/"))


class _TLSAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections use a prepared SSLContext."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


def tls_files(host: str, options: TransportOptions) -> tuple[list[str], list[tuple[str, str]]]:
    """Return (CA files, client (cert, key) pairs) that apply to ``host``."""
    cas: list[str] = [options.ca_file] if options.ca_file else []
    clients: list[tuple[str, str]] = []
    for base in options.certs_dirs:
        directory = Path(base) / host
        if not directory.is_dir():
            continue
        cas.extend(str(p) for p in sorted(directory.glob("*.crt")))
        for cert in sorted(directory.glob("*.cert")):
            key = cert.with_suffix(".key")
            if not key.exists():
                raise RegistryError(
                    f"client certificate {cert} for registry {host} has no key {key.name}", registry=host
                )
            clients.append((str(cert), str(key)))
    return cas, clients


@attrs.define
class _Registry:
    """Per-registry connection state (after the ``/v2/`` ping)."""

    host: str
    base_url: str
    session: requests.Session
    verify: bool
    proxies: dict[str, str]
    semaphore: threading.BoundedSemaphore
    challenge: Challenge | None = None


class _BodyMismatch(Exception):
    """Internal: carries a DigestMismatchError raised while streaming a request body."""


class RegistryClient:
    """Connections, credentials and tokens for every registry of one run; thread-safe."""

    def __init__(
        self,
        options: TransportOptions | None = None,
        *,
        credentials: CredentialStore | None = None,
        tokens: TokenCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a client; credentials default to ``options.authfile``/``options.credentials``."""
        self.options = options or TransportOptions()
        self.credentials = credentials or CredentialStore(self.options.authfile, self.options.credentials)
        self.tokens = tokens or TokenCache()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._registries: dict[str, _Registry] = {}
        self._failed_pings: dict[str, RegistryError] = {}
        self._token_sessions: dict[str, requests.Session] = {}

    def __repr__(self) -> str:
        return f"RegistryClient({sorted(self._registries)})"

    def repository(self, ref: ImageReference) -> RegistryRepository:
        """Return the repository named by ``ref`` (its tag or digest is ignored)."""
        return RegistryRepository(self, ref)

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            registries, self._registries = list(self._registries.values()), {}
            token_sessions, self._token_sessions = list(self._token_sessions.values()), {}
        for registry in registries:
            registry.session.close()
        for session in token_sessions:
            session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection setup ----------------------------------------------------------------------

    def _new_session(self, host: str, insecure: bool) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no .netrc, no env CA overrides; proxies are set per registry
        session.headers["User-Agent"] = self.options.user_agent
        pool = max(10, self.options.max_per_registry * 2)
        session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=pool))
        session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=pool))
        if not insecure:
            self._mount_tls(session, host, pool)
        return session

    def _mount_tls(self, session: requests.Session, host: str, pool: int) -> None:
        """Trust ``ca_file`` and ``certs.d/HOST`` (CAs, client certificates) for ``https://HOST/``."""
        cas, clients = tls_files(host, self.options)
        if not cas and not clients:
            return
        context = ssl.create_default_context()
        for ca in cas:
            try:
                context.load_verify_locations(cafile=ca)
            except (OSError, ssl.SSLError) as err:
                raise RegistryError(
                    f"cannot load CA file {ca} for registry {host}: {err}", registry=host
                ) from None
        for cert, key in clients:
            try:
                context.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as err:
                raise RegistryError(
                    f"cannot load client certificate {cert} for registry {host}: {err}", registry=host
                ) from None
        session.mount(f"https://{host}/", _TLSAdapter(context, pool_connections=4, pool_maxsize=pool))

    def _token_session(self, realm_host: str) -> requests.Session:
        """One pooled session per token server host, trusting its CAs like a registry's."""
        with self._lock:
            session = self._token_sessions.get(realm_host)
            if session is None:
                session = self._new_session(realm_host, self.options.is_insecure(realm_host))
                session.proxies.update(_environ_proxies(realm_host, "https"))
                self._token_sessions[realm_host] = session
            return session

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
        insecure = self.options.is_insecure(host)
        session = self._new_session(host, insecure)
        semaphore = threading.BoundedSemaphore(self.options.max_per_registry)
        last_error = ""
        for scheme in ("https", "http") if insecure else ("https",):
            base_url = f"{scheme}://{host}"
            proxies = _environ_proxies(host, scheme)
            state = _Registry(host, base_url, session, not insecure, proxies, semaphore)
            try:
                response = self._send(state, "GET", base_url + "/v2/", {}, idempotent=True)
            except RegistryError as err:
                last_error = str(err)
                if insecure and scheme == "https":
                    log.debug("https ping of %s failed, trying http: %s", host, err)
                    continue
                raise
            with response:
                status = response.status_code
                if status == 401:
                    state.challenge = pick_challenge(response.headers.get("WWW-Authenticate"))
                elif status >= 400 and status != 404:
                    raise RegistryError(
                        f"registry {host} answered GET /v2/ with HTTP {status}", registry=host, status=status
                    )
            log.debug("registry %s: %s, auth %s", host, base_url, state.challenge and state.challenge.scheme)
            return state
        raise RegistryError(last_error or f"cannot connect to registry {host}", registry=host)

    # -- requests ------------------------------------------------------------------------------

    def _backoff(self, attempt: int, response: requests.Response | None) -> float:
        return self._delay(attempt, response.headers.get("Retry-After") if response is not None else None)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry ``attempt``: exponential, or the server's Retry-After; capped."""
        delay = 0.25 * (2**attempt)
        after = retry_after_seconds(retry_after)
        if after is not None:
            delay = after
        return min(self.options.retry_max_sleep, delay)

    def _token_backoff(self, attempt: int, retry_after: str | None) -> None:
        delay = self._delay(attempt, retry_after)
        log.info("token request failed; retrying in %.1fs", delay)
        self._sleep(delay)

    def _send(
        self,
        state: _Registry,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        data: Any = None,
        stream: bool = False,
        idempotent: bool,
        what: str = "",
    ) -> requests.Response:
        """Send one request with retries on connection errors and transient statuses."""
        attempt = 0
        while True:
            try:
                with state.semaphore:
                    response = state.session.request(
                        method,
                        url,
                        headers=dict(headers),
                        data=data,
                        stream=stream,
                        verify=state.verify,
                        proxies=state.proxies,
                        timeout=self.options.timeout,
                        allow_redirects=True,
                    )
            except requests.exceptions.SSLError as err:
                raise RegistryError(
                    _prefixed(
                        what,
                        f"registry {state.host}: TLS verification failed ({_ssl_reason(err)}); trust its CA"
                        " with --certificate-authority or certs.d, or mark it insecure (--insecure-registry)"
                        " if it serves plain HTTP or an untrusted certificate",
                    ),
                    registry=state.host,
                ) from None
            except (requests.ConnectionError, requests.Timeout) as err:
                if isinstance(getattr(err, "__context__", None), _BodyMismatch):
                    raise
                if idempotent and attempt < self.options.retries:
                    delay = self._backoff(attempt, None)
                    log.info("%s %s: %s; retrying in %.1fs", method, url, type(err).__name__, delay)
                    self._sleep(delay)
                    attempt += 1
                    continue
                raise RegistryError(
                    _prefixed(what, f"registry {state.host}: cannot connect ({_connect_reason(err)})"),
                    registry=state.host,
                ) from None
            if response.status_code in RETRY_STATUSES and idempotent and attempt < self.options.retries:
                delay = self._backoff(attempt, response)
                response.close()
                log.info("%s %s: HTTP %d; retrying in %.1fs", method, url, response.status_code, delay)
                self._sleep(delay)
                attempt += 1
                continue
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
        realm_host = urllib.parse.urlsplit(challenge.realm).netloc

        def fetch() -> dict[str, Any]:
            verify: bool = not self.options.is_insecure(realm_host)
            return fetch_token(
                self._token_session(realm_host),
                challenge,
                scopes,
                creds,
                registry=state.host,
                repository=repository,
                verify=verify,
                timeout=self.options.timeout,
                user_agent=self.options.user_agent,
                retries=self.options.retries,
                backoff=self._token_backoff,
            )

        stale_token = stale[len("Bearer ") :] if stale and stale.startswith("Bearer ") else None
        return "Bearer " + self.tokens.get(state.host, scopes, fetch, stale=stale_token)

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
        idempotent: bool = True,
        replayable: bool = True,
        what: str = "",
    ) -> requests.Response:
        """Send an authorized request; on 401 refresh the token (or adopt the new challenge) once."""
        previous: str | None = None
        for auth_attempt in range(2):
            all_headers = dict(headers or {})
            sent_auth = self._authorization(state, repository, scopes, stale=previous)
            if sent_auth:
                all_headers["Authorization"] = sent_auth
            response = self._send(
                state, method, url, all_headers, data=data, stream=stream, idempotent=idempotent, what=what
            )
            if response.status_code != 401 or auth_attempt or not replayable:
                return response
            challenge = pick_challenge(response.headers.get("WWW-Authenticate"))
            if challenge is None:
                return response
            if challenge.scheme == "basic" and (
                sent_auth or self.credentials.lookup(state.host, repository) is None
            ):
                return response  # the credentials were refused, or there are none to send
            bare = Challenge(challenge.scheme, {k: v for k, v in challenge.params.items() if k != "scope"})
            with self._lock:
                if bare != state.challenge:
                    state.challenge = bare
            previous = sent_auth
            response.close()
        raise AssertionError("unreachable")


def _iter_body(response: requests.Response, subject: str, **context: str) -> Iterator[bytes]:
    """The (decoded) body in blocks; a broken connection is a RegistryError naming ``subject``."""
    try:
        yield from response.iter_content(STREAM_BLOCK)
    except requests.RequestException as err:
        raise RegistryError(
            f"reading {subject}: connection broken ({_connect_reason(err)})",
            status=response.status_code,
            **context,
        ) from None


def _prefixed(what: str, message: str) -> str:
    return f"{what}: {message}" if what else message


def _ssl_reason(err: BaseException) -> str:
    """The OpenSSL reason of a TLS failure, without urllib3's wrapping."""
    text = str(err)
    match = re.search(r"certificate verify failed: ([^(\]'\"]+)", text)
    if match:
        return "certificate verify failed: " + match.group(1).strip()
    match = re.search(r"\[SSL: [A-Z0-9_]+\] ([^(\]'\"]+)", text)
    if match:
        return match.group(1).strip()
    return type(err).__name__


def _connect_reason(err: BaseException) -> str:
    """The OS reason of a connection failure (``Connection refused``), else the error type."""
    text = str(err)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if match:
        return match.group(1).strip()
    match = re.search(r"IncompleteRead\((\d+ bytes read, \d+ more expected)\)", text)
    if match:
        return match.group(1)
    if isinstance(err, requests.Timeout):
        return "timed out"
    return type(err).__name__


class _ResponseStream(RawReader):
    """A blob body read straight from the socket (no content decoding); a broken connection is a RegistryError."""

    def __init__(self, response: requests.Response, error: Callable[[str], RegistryError]) -> None:
        super().__init__()
        self._response = response
        self._error = error

    def read(self, size: int | None = -1) -> bytes:
        try:
            if size is None or size < 0:
                return bytes(self._response.raw.read(decode_content=False) or b"")
            return bytes(self._response.raw.read(size, decode_content=False) or b"")
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._error(_connect_reason(err)) from None

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


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
    def max_concurrency(self) -> int:
        """How many requests may run in parallel against this registry."""
        return self.client.options.max_per_registry

    def _url(self, state: _Registry, kind: str, reference: str = "") -> str:
        return f"{state.base_url}/v2/{self.name}/{kind}{reference}"

    def _error(self, response: requests.Response, action: str, reference: str = "") -> RegistryError:
        status = response.status_code
        detail = _error_detail(response)
        message = f"{action} {_ref_text(self._display, reference)}: HTTP {status}"
        if detail:
            message += f" ({detail})"
        cls: type[RegistryError] = RegistryError
        if status == 404:
            cls = NotFoundError
        elif status in (401, 403):
            cls = UnauthorizedError
        response.close()
        return cls(message, registry=self.host, repository=self.name, reference=reference, status=status)

    def _check_stored(self, response: requests.Response, kind: str, reference: str, digest: str) -> None:
        """Raise DigestMismatchError when the registry reports another digest than ours."""
        with response:
            returned = response.headers.get("Docker-Content-Digest", "").strip()
        if returned and returned != digest:
            raise DigestMismatchError(
                f"registry stored {kind} {_ref_text(self._display, reference)} as {returned},"
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
    ) -> requests.Response:
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
        state = self._state("reading manifest", reference)
        what = f"reading manifest {_ref_text(self._display, reference)}"
        response = self._request(
            "GET",
            self._url(state, "manifests/", reference),
            headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)},
            stream=True,
            what=what,
        )
        if response.status_code != 200:
            raise self._error(response, "reading manifest", reference)
        subject = f"manifest {_ref_text(self._display, reference)}"
        with response:
            parts: list[bytes] = []
            length = 0
            for block in _iter_body(
                response, subject, registry=self.host, repository=self.name, reference=reference
            ):
                parts.append(block)
                length += len(block)
                if length > MAX_MANIFEST_SIZE:
                    raise RegistryError(
                        f"{subject} is larger than {MAX_MANIFEST_SIZE} bytes",
                        registry=self.host,
                        repository=self.name,
                        reference=reference,
                        status=response.status_code,
                    )
            raw = b"".join(parts)
            media_type = _content_type(response)
            header_digest = response.headers.get("Docker-Content-Digest", "").strip()
        digest = sha256_digest(raw)
        if reference.startswith("sha") and ":" in reference:
            verify_bytes(raw, validate_digest(reference), subject)
            digest = reference
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatchError(
                f"content of {subject} does not match the registry's digest {header_digest} (got {digest})"
            )
        if media_type in ("", "text/plain", "application/octet-stream"):
            media_type = "application/json"
        try:
            return parse_manifest(raw, media_type, digest)
        except DigestMismatchError:
            raise
        except OkdReleaseError as err:
            raise OkdReleaseError(f"{subject}: {err}") from None

    def resolve(self, reference: str) -> Descriptor:
        """Return the descriptor a tag or digest points at (HEAD, falling back to GET)."""
        state = self._state("resolving manifest", reference)
        response = self._request(
            "HEAD",
            self._url(state, "manifests/", reference),
            headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)},
            what=f"resolving manifest {_ref_text(self._display, reference)}",
        )
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
        state = self._state("pushing manifest", reference)
        response = self._request(
            "PUT",
            self._url(state, "manifests/", reference),
            push=True,
            headers={"Content-Type": media_type},
            data=raw,
            what=f"pushing manifest {_ref_text(self._display, reference)}",
        )
        if response.status_code not in (200, 201, 202):
            raise self._error(response, "pushing manifest", reference)
        self._check_stored(response, "manifest", reference, digest)
        log.debug("pushed manifest %s (%s)", _ref_text(self._display, reference), digest)
        return digest

    # -- blobs ---------------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        """True when the blob exists in this repository."""
        state = self._state("checking blob", digest)
        response = self._request(
            "HEAD",
            self._url(state, "blobs/", digest),
            what=f"checking blob {_ref_text(self._display, digest)}",
        )
        with response:
            if response.status_code == 200:
                return True
            if response.status_code == 404:
                return False
        raise self._error(response, "checking blob", digest)

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        """Stream a blob; the stream raises DigestMismatchError (naming the digest) at EOF if bad."""
        validate_digest(digest)
        state = self._state("reading blob", digest)
        response = self._request(
            "GET",
            self._url(state, "blobs/", digest),
            headers={"Accept-Encoding": "identity"},
            stream=True,
            what=f"reading blob {_ref_text(self._display, digest)}",
        )
        if response.status_code != 200:
            raise self._error(response, "reading blob", digest)

        def broken(reason: str) -> RegistryError:
            return RegistryError(
                f"reading blob {_ref_text(self._display, digest)}: connection broken ({reason})",
                registry=self.host,
                repository=self.name,
                reference=digest,
            )

        reader = VerifyingReader(
            _ResponseStream(response, broken),  # type: ignore[arg-type]
            digest,
            f"blob {_ref_text(self._display, digest)}",
            size,
        )
        return reader  # type: ignore[return-value]

    def read_blob(self, digest: str, size: int | None = None) -> bytes:
        """Read a whole blob, verified."""
        with self.open_blob(digest, size) as stream:
            return stream.read()

    def put_blob(self, source: BinaryIO | bytes, digest: str, size: int | None = None) -> None:
        """Upload a blob (monolithic, or chunked when ``chunk_size`` > 0), hashing it as it is sent."""
        validate_digest(digest)
        what = f"blob {digest} uploaded to {self._display}"
        data: bytes | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            verify_bytes(data, digest, what, size)
            stream: BinaryIO = io.BytesIO(data)
            size = len(data)
        else:
            stream = source
        reader = VerifyingReader(stream, digest, what, size)
        location, min_chunk = self._start_upload(digest)
        try:
            if self.client.options.chunk_size > 0:
                location = self._upload_chunks(
                    location, reader, max(self.client.options.chunk_size, min_chunk)
                )
                body: Any = b""
            elif data is not None:
                body = data
            else:
                body = _stream_blocks(reader)
            response = self._request(
                "PUT",
                _with_query(location, digest=digest),
                push=True,
                headers={"Content-Type": "application/octet-stream"},
                data=body,
                idempotent=False,
                replayable=isinstance(body, bytes),
                what=f"uploading blob {_ref_text(self._display, digest)}",
            )
        except _BodyMismatch as err:
            self._cancel_upload(location)
            raise err.args[0] from None
        except DigestMismatchError:
            self._cancel_upload(location)
            raise
        except BaseException as err:
            cause = err.__context__
            while cause is not None and not isinstance(cause, _BodyMismatch):
                cause = cause.__context__
            self._cancel_upload(location)
            if isinstance(cause, _BodyMismatch):
                raise cause.args[0] from None
            raise
        if response.status_code not in (201, 204):
            self._cancel_upload(location)
            raise self._error(response, "uploading blob", digest)
        self._check_stored(response, "blob", digest, digest)
        log.debug("uploaded blob %s to %s", digest, self._display)

    def _start_upload(self, digest: str) -> tuple[str, int]:
        state = self._state("starting upload of blob", digest)
        response = self._request(
            "POST",
            self._url(state, "blobs/uploads/"),
            push=True,
            headers={"Content-Length": "0"},
            what=f"starting upload of blob {_ref_text(self._display, digest)}",
        )
        with response:
            if response.status_code != 202 or not response.headers.get("Location"):
                raise self._error(response, "starting blob upload", digest)
            location = urllib.parse.urljoin(response.url, response.headers["Location"])
            min_chunk = response.headers.get("OCI-Chunk-Min-Length", "")
        return location, int(min_chunk) if min_chunk.isdigit() else 0

    def _upload_chunks(self, location: str, reader: VerifyingReader, chunk_size: int) -> str:
        offset = 0
        while True:
            block = read_full(reader, chunk_size)
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
                idempotent=False,
                what="uploading blob chunk",
            )
            with response:
                if response.status_code not in (202, 204) or not response.headers.get("Location"):
                    raise self._error(response, f"uploading chunk {offset}-{end} of blob", "")
                location = urllib.parse.urljoin(response.url, response.headers["Location"])
            offset = end + 1

    def _cancel_upload(self, location: str) -> None:
        try:
            response = self._request("DELETE", location, push=True, idempotent=False)
            response.close()
        except OkdReleaseError as err:
            log.debug("cancelling upload %s failed: %s", location, err)

    def mount_blob(self, digest: str, source: Repository) -> bool:
        """Mount ``digest`` from ``source`` when it lives on the same registry; never downloads."""
        if not isinstance(source, RegistryRepository) or source.host != self.host:
            return False
        if source.name == self.name:
            return self.has_blob(digest)
        state = self._state("mounting blob", digest)
        url = (
            self._url(state, "blobs/uploads/")
            + "?"
            + urllib.parse.urlencode({"mount": digest, "from": source.name})
        )
        response = self._request(
            "POST",
            url,
            scopes=(push_scope(self.name), pull_scope(source.name)),
            headers={"Content-Length": "0"},
            what=f"mounting blob {digest} from {source.display}",
        )
        with response:
            if response.status_code == 201:
                log.debug("mounted %s from %s into %s", digest, source.display, self._display)
                return True
            if response.status_code == 202:
                location = response.headers.get("Location")
                if location:
                    self._cancel_upload(urllib.parse.urljoin(response.url, location))
                return False
        raise self._error(response, f"mounting blob from {source.display} into", digest)

    # -- tags ----------------------------------------------------------------------------------

    def list_tags(self, page_size: int | None = None) -> list[str]:
        """Return every tag, following ``Link`` pagination (``page_size`` sets ``?n=``)."""
        state = self._state("listing tags of")
        url: str | None = self._url(state, "tags/list")
        if page_size:
            url = f"{url}?n={page_size}"
        tags: list[str] = []
        while url:
            response = self._request("GET", url, what=f"listing tags of {self._display}")
            if response.status_code != 200:
                raise self._error(response, "listing tags of", "")
            with response:
                try:
                    body = response.json()
                except ValueError:
                    raise RegistryError(
                        f"listing tags of {self._display}: invalid JSON",
                        registry=self.host,
                        repository=self.name,
                    ) from None
                tags.extend(body.get("tags") or [])
                next_link = response.links.get("next", {}).get("url")
                url = urllib.parse.urljoin(response.url, next_link) if next_link else None
        return tags


def _stream_blocks(reader: VerifyingReader) -> Iterator[bytes]:
    """Yield a stream in blocks; a digest mismatch at EOF is wrapped so requests cannot swallow it."""
    while True:
        try:
            block = reader.read(STREAM_BLOCK)
        except DigestMismatchError as err:
            raise _BodyMismatch(err) from None
        if not block:
            return
        yield block
