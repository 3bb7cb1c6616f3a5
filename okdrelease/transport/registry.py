"""The OCI distribution (registry v2) API of one repository (``RegistryRepository``), on the
run's ``client.RegistryClient``.

``RegistryRepository`` implements the ``Repository`` protocol: every manifest and blob is checked
against its digest, and uploads are hashed while they stream.

Every operation runs under the run's ``RetryPolicy`` (``transport.http``): reads start again after
a broken connection, a truncated body, a stall past the timeout or content that does not match its
digest (blob bodies resume with a ``Range`` request where the registry honours it); uploads start
again from a re-openable source after 429/5xx, a reset or a 401 that a new token answers.
"""

from __future__ import annotations

import io
import logging
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, TypeVar

import attrs

from okdrelease.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    OkdReleaseError,
    RegistryError,
    UnauthorizedError,
    printable,
)
from okdrelease.events import BytesMoved, EventSink, metered, safe_url
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import VerifyingReader, sha256_digest, validate_digest, verify_bytes
from okdrelease.oci.layerread import RawReader, read_full
from okdrelease.oci.model import AnyManifest, Descriptor, parse_manifest
from okdrelease.reference import ImageReference, validate_tag
from okdrelease.transport.auth import pull_scope, push_scope
from okdrelease.transport.base import (
    MAX_MANIFEST_SIZE,
    MOUNTED,
    REFUSED,
    BlobMount,
    BlobSource,
    MountOutcome,
    Repository,
)
from okdrelease.transport.client import BodyMismatch, RegistryClient, RegistryState, body_mismatch, elsewhere
from okdrelease.transport.errorbody import BODY_ERRORS, error_codes, status_error
from okdrelease.transport.http import (
    MAX_LOADED_BODY,
    InvalidLocation,
    Response,
    RetriedDigestMismatch,
    Retrier,
    Retryable,
    connect_reason,
    location_url,
)
from okdrelease.transport.upload import Upload, UploadsAhead, UploadSource, upload_location

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_BLOCK = 1 << 20
#: Blobs up to this size are read whole and verified before a reader sees a byte, so content that
#: does not match its digest is fetched again instead of failing the reader at the end.
SMALL_BLOB = 1 << 20
_RAW_READ = 256 << 10
#: Tags asked for per page (``?n=``): go-containerregistry's default and Distribution's default
#: ``maxtags`` (Distribution 3.0 refused a larger ``n``); containers/image asks for none.
TAG_PAGE_SIZE = 1000
#: The most the pages of one tag listing may hold together, decoded: a registry whose ``Link`` never
#: ends (new pages with new tags) cannot keep a listing going for ever.
MAX_TAG_LISTING = 8 * MAX_LOADED_BODY


def _content_type(response: Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _ref_text(name: str, reference: str) -> str:
    if not reference:
        return name
    return f"{name}@{reference}" if ":" in reference else f"{name}:{reference}"


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
            except BODY_ERRORS as err:
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

    def _url(self, state: RegistryState, kind: str, reference: str = "") -> str:
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

    def _state(self, action: str, reference: str = "") -> RegistryState:
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
            if response.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in error_codes(response):
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
            content = UploadSource(source)

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
        self, upload: UploadSource, digest: str, size: int | None, started: Upload | None = None
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
            mismatch = err.args[0] if isinstance(err, BodyMismatch) else body_mismatch(err)
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
        self, location: str, reader: VerifyingReader, digest: str, min_chunk: int, upload: UploadSource
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
                raise BodyMismatch(err) from None
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
                location = upload_location(response.url, response.headers["Location"], self.host)
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
                and "PAGINATION_NUMBER_INVALID" in error_codes(response)
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

    def _tag_error(self, state: RegistryState, reason: str) -> RegistryError:
        return RegistryError(
            f"listing tags of {self._display}: registry {state.host}: {reason}",
            registry=self.host,
            repository=self.name,
        )

    def _tag_page(self, state: RegistryState, response: Response) -> list[str]:
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

    def _next_tag_page(self, state: RegistryState, response: Response, asked: set[str]) -> str | None:
        """The URL of the next page the ``Link`` header names (relative to this page's), or None;
        one on another host than the registry's (its scheme, host and port) or already read is an error."""
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        try:
            target = location_url(response.url, link, "next page")
        except InvalidLocation as err:
            raise self._tag_error(state, str(err)) from None
        if elsewhere(state, target):
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
    except BODY_ERRORS as err:
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
            raise BodyMismatch(err) from None
        if not block:
            return
        yield block
