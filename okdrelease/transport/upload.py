"""Blob upload sessions: what an upload reads for each attempt (``UploadSource``), the session a
registry opened (``Upload``), and sessions opened ahead of their content (``UploadsAhead``)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import RegistryError
from okdrelease.oci.digest import VerifyingReader
from okdrelease.transport.base import BlobSource
from okdrelease.transport.http import InvalidLocation, Response, location_url
from okdrelease.workers import worker_pool

if TYPE_CHECKING:
    from okdrelease.transport.registry import RegistryRepository


class UploadSource:
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
                upload_location(response.url, location, registry),
                int(min_chunk) if min_chunk.isdigit() else 0,
            )


def upload_location(base: str, location: str, registry: str) -> str:
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
