"""The repository interface every transport implements, and the options they share."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import BinaryIO, NoReturn, Protocol, TypeVar, runtime_checkable

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, UsageError
from okdrelease.events import EventSink
from okdrelease.oci.model import AnyManifest, Descriptor
from okdrelease.reference import ImageLocation
from okdrelease.transport.http import RetryPolicy

T = TypeVar("T")

DEFAULT_CERTS_DIRS = ("/etc/containers/certs.d", "/etc/docker/certs.d")
#: Concurrent requests per registry (``--max-per-registry``). At 30 ms round trip (the benchmark's
#: delay proxy, 180 images) ``new`` took 1.72 s with 32, 1.91 s with 16 (medians of 5 alternating
#: runs), and 48 or 64 gained nothing more; on loopback 32 was no slower (1.43 s against 1.50 s)
#: and peak RSS rose by 1 to 4 MiB.
DEFAULT_MAX_PER_REGISTRY = 32
#: Largest manifest accepted from a registry or a layout (containers/image's limit).
MAX_MANIFEST_SIZE = 4 << 20
#: Largest image config read into memory (containers/image's ``MaxConfigBodySize``).
MAX_CONFIG_SIZE = 4 << 20
#: What ``put_blob`` uploads: bytes, a stream, or a function that opens the content afresh, so
#: that an interrupted upload can start again from the first byte.
BlobSource = bytes | BinaryIO | Callable[[], BinaryIO]
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
CANONICAL_DOCKER_HUB = "docker.io"


def normalize_host(host: str) -> str:
    """Return the canonical form of a registry ``host[:port]`` (lower case, Docker Hub names unified)."""
    host = host.lower()
    return CANONICAL_DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def registry_key(host: str) -> str:
    """The form of a registry name given by a user (``https://Host:5000/`` → ``host:5000``) to compare."""
    key = host.strip()
    if "://" in key:
        key = key.split("://", 1)[1]
    return normalize_host(key.rstrip("/"))


@attrs.frozen
class TransportOptions:
    """Settings shared by every registry connection of one run.

    ``insecure`` disables TLS verification and allows plain HTTP for every registry;
    ``insecure_registries`` does so for the named ``host[:port]`` only.
    ``credentials`` maps ``host[:port]`` to ``(username, password)`` and wins over auth files.
    ``retries``, ``retry_max_sleep`` and ``retry_deadline`` make the run's ``retry_policy``;
    ``timeout`` bounds connecting and every wait for data (a stalled read fails after it).
    """

    __repr__ = value_repr

    authfile: str | None = None
    insecure: bool = False
    insecure_registries: frozenset[str] = frozenset()
    ca_file: str | None = None
    certs_dirs: tuple[str, ...] = DEFAULT_CERTS_DIRS
    #: One directory of ``*.crt`` CAs and ``*.cert``/``*.key`` client pairs for every registry,
    #: used instead of ``certs_dirs/HOST`` (skopeo's ``--src-cert-dir``/``--dest-cert-dir``).
    cert_dir: str | None = None
    credentials: dict[str, tuple[str, str]] = attrs.field(factory=dict, repr=False)
    max_per_registry: int = DEFAULT_MAX_PER_REGISTRY
    retries: int = 3
    retry_max_sleep: float = 10.0
    retry_deadline: float = 300.0
    timeout: float = 60.0
    chunk_size: int = 0  # 0 = monolithic uploads; > 0 = chunked PATCH uploads of this size
    user_agent: str = "okdrelease"
    #: Told about every answered HTTP request (okdrelease.events); None: nobody listens.
    events: EventSink | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # NaN fails every comparison, and an infinite timeout reaches the socket layer as an
        # OverflowError mid-run: both are refused here, as zero and negative values are.
        if not 0 < self.timeout < math.inf:
            raise UsageError(
                f"the request timeout must be a positive, finite number of seconds (got {self.timeout})"
            )
        if self.max_per_registry < 1:
            raise UsageError(f"max_per_registry must be at least 1 (got {self.max_per_registry})")
        self.retry_policy  # noqa: B018 - validates retries and the deadline

    @property
    def retry_policy(self) -> RetryPolicy:
        """The one retry policy of every registry and token request of this run."""
        return RetryPolicy(retries=self.retries, max_delay=self.retry_max_sleep, deadline=self.retry_deadline)

    def is_insecure(self, host: str) -> bool:
        """True when TLS verification is off (and plain HTTP allowed) for ``host`` (``host[:port]``).

        Names match case-insensitively, a ``scheme://`` prefix or trailing ``/`` given by the user is
        ignored, and Docker Hub's names (docker.io, index.docker.io, registry-1.docker.io) are one.
        """
        if self.insecure:
            return True
        wanted = registry_key(host)
        return any(registry_key(name) == wanted for name in self.insecure_registries)


class MountOutcome(enum.Enum):
    """What :meth:`Repository.mount_blob` did."""

    #: The blob is in place now, by reference to the source (a registry's 201);
    #: a registry answers so whether or not the destination had the blob before.
    MOUNTED = "mounted"
    #: The destination had the blob already and nothing was done (a layout; the same repository).
    PRESENT = "present"
    #: Not mounted: the source is elsewhere or lacks the blob, or the registry would not (a 202).
    REFUSED = "refused"


class UploadSession(Protocol):
    """An upload session a destination opened for one blob: ``put_blob`` sends a blob into it (a
    session the registry no longer knows is replaced by a new one), ``close`` cancels it when no
    blob went to it.

    Only the first ``put_blob`` uses the session, whatever becomes of it: an attempt that fails
    cancels it (a failed session is never used again), and every later ``put_blob`` (another
    attempt at the same blob) opens a session of its own, as ``Repository.put_blob`` does. A
    ``put_blob`` that fails before sending anything (its source cannot be opened, bytes that do not
    match ``digest``) cancels the session too: no session is left open on any path.
    """

    def put_blob(self, source: BlobSource, digest: str, size: int | None = None) -> None:
        """``Repository.put_blob`` into this session (the first call), or into one of its own."""
        ...

    def close(self) -> None:
        """Cancel the session when no blob went to it (best effort)."""
        ...


@attrs.frozen
class BlobMount:
    """The answer of :meth:`Repository.mount_blob`: its ``outcome``, and for a refusal the upload
    session the registry opened instead (a 202 names one, which the blob's upload may use); whoever
    holds a session closes it (``with``) once the blob is uploaded or known not to be needed."""

    __repr__ = value_repr

    outcome: MountOutcome
    session: UploadSession | None = attrs.field(default=None, eq=False, repr=False)

    @session.validator
    def _only_refused(
        self, _attribute: attrs.Attribute[UploadSession | None], value: UploadSession | None
    ) -> None:
        if value is not None and self.outcome is not MountOutcome.REFUSED:
            raise ValueError(f"a {self.outcome.value} blob mount carries no upload session (a refusal may)")

    def __bool__(self) -> NoReturn:
        raise TypeError("a BlobMount has no truth value: compare its outcome")

    def __enter__(self) -> BlobMount:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.session is not None:
            self.session.close()


MOUNTED = BlobMount(MountOutcome.MOUNTED)
PRESENT = BlobMount(MountOutcome.PRESENT)
REFUSED = BlobMount(MountOutcome.REFUSED)


@runtime_checkable
class Repository(Protocol):
    """One repository of a registry, or an OCI image layout; all methods are thread-safe.

    ``reference`` arguments are a tag or a ``sha256:`` digest. Every byte handed out has been
    (or, for streams, is being) checked against its digest.
    """

    @property
    def display(self) -> str:
        """Human name used in messages: ``host/repo`` or ``oci:DIR``."""
        ...

    def get_manifest(self, reference: str) -> AnyManifest:
        """Fetch a manifest or index by tag or digest (bytes verified when asked by digest)."""
        ...

    def resolve(self, reference: str) -> Descriptor:
        """Return the descriptor (media type, digest, size) a tag or digest points at."""
        ...

    def put_manifest(self, raw: bytes, media_type: str, tag: str | None = None) -> str:
        """Store manifest bytes unchanged, under ``tag`` or by digest; return the digest."""
        ...

    def has_blob(self, digest: str) -> bool:
        """True when the blob exists."""
        ...

    def open_blob(self, digest: str, size: int | None = None) -> BinaryIO:
        """Open a blob as a stream that raises DigestMismatchError at EOF on a bad digest."""
        ...

    def read_blob(self, digest: str, size: int | None = None) -> bytes:
        """Read a whole (small) blob, verified."""
        ...

    def put_blob(self, source: BlobSource, digest: str, size: int | None = None) -> None:
        """Store a blob from bytes, a stream or an opener; the content must hash to ``digest``."""
        ...

    def mount_blob(self, digest: str, source: Repository) -> BlobMount:
        """Make ``digest`` available by reference to ``source``, never by reading it: what was done.

        A registry mounts within itself only (another repository of the same registry), a layout
        mounts nothing (its blobs are its own); a refusal may carry the upload session a registry
        opened instead.
        An error answer raises (as does a source blob that does not match its digest).
        """
        ...

    def list_tags(self) -> list[str]:
        """All tags (registry, all pages) or ref names (layout)."""
        ...


@runtime_checkable
class Transport(Protocol):
    """Turns locations into repositories for one run and owns their connections.

    Every command opens its images through this seam (``okdrelease.transport.open.DefaultTransport``
    is the registry-and-layout implementation; overlays wrap another Transport).
    """

    @property
    def options(self) -> TransportOptions:
        """The settings every registry connection of this run uses."""
        ...

    def open(self, location: ImageLocation, create: bool = False) -> tuple[Repository, str | None]:
        """Open the repository holding ``location``; return it and the tag/digest/ref name it names (or None).

        ``create`` makes a missing OCI layout (registries need nothing created).
        """
        ...

    def close(self) -> None:
        """Release every connection this transport holds."""
        ...


@runtime_checkable
class RestartingRepository(Protocol):
    """A repository that can read a blob through a reader again when its bytes did not match (a registry)."""

    def read_blob_with(self, digest: str, size: int | None, use: Callable[[BinaryIO], T]) -> T:
        """Run ``use`` on the blob's verifying stream; start it again on a new stream after a digest mismatch."""
        ...


@attrs.frozen
class BlobOpener:
    """One blob of a repository, opened afresh on each call (an ``oci.layerread`` layer source).

    ``read_with(use)`` runs ``use`` on the blob's verifying stream; a registry starts ``use`` again
    on a new stream when the bytes did not match their digest (changed on the way), under the
    run's retry policy. A layout's blob is a local file: its mismatch is reported at once.
    """

    __repr__ = value_repr

    repository: Repository = attrs.field(repr=False)
    digest: str
    size: int | None = None

    def __call__(self) -> BinaryIO:
        """The blob's verifying stream."""
        return self.repository.open_blob(self.digest, self.size)

    def read_with(self, use: Callable[[BinaryIO], T]) -> T:
        """``use`` on the blob's stream (closed afterwards); restarted where the repository can."""
        if isinstance(self.repository, RestartingRepository):
            return self.repository.read_blob_with(self.digest, self.size, use)
        with self() as stream:
            return use(stream)


def check_config_size(repository: Repository, config: Descriptor) -> None:
    """Refuse, before reading it, an image config declared larger than :data:`MAX_CONFIG_SIZE`."""
    if config.size > MAX_CONFIG_SIZE:
        raise OkdReleaseError(
            f"image config {config.digest} in {repository.display} is larger than {MAX_CONFIG_SIZE} bytes"
        )
