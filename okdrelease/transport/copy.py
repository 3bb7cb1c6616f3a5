"""Copy images between repositories (registry or OCI layout) with every digest unchanged.

Blobs go first, in parallel: each is skipped when the destination has it, mounted when source and
destination share a registry, else streamed from source to destination (no temporary files).
Manifests are then pushed byte-exact, children before their index, and the tag is written last.
With a manifest format asked for (``--format oci|v2s2``), manifests in the other format are
rewritten into it (their digests change; blobs never do).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import TYPE_CHECKING, BinaryIO, Literal, TypedDict, get_args

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import (
    DigestMismatchError,
    InvalidReferenceError,
    OkdReleaseError,
    RegistryError,
    UsageError,
)
from okdrelease.events import BlobDone, EventSink, ImageDone
from okdrelease.images.resolve import Resolver
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.convert import ManifestFormat, convert, format_of
from okdrelease.oci.layerread import RawReader
from okdrelease.oci.model import AnyManifest, Descriptor, Index, Manifest
from okdrelease.oci.platform import PlatformSelector, runtime_platform
from okdrelease.reference import (
    ImageLocation,
    LayoutLocation,
    RegistryLocation,
    validate_ref_name,
    validate_tag,
)
from okdrelease.transport.base import REFUSED, BlobMount, MountOutcome, Repository, Transport, UploadSession
from okdrelease.transport.http import RetriedDigestMismatch, Retryable, RetryPolicy
from okdrelease.transport.open import default_reference
from okdrelease.transport.wire import TransportError
from okdrelease.workers import interrupted, stop_pool, worker_pool

if TYPE_CHECKING:
    from okdrelease.transport import recompress

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DEFAULT_WORKERS = 4
#: skopeo's ``--multi-arch``: what of a manifest list is copied (see ``_collect``).
MultiArch = Literal["system", "all", "index-only"]
MULTI_ARCH: tuple[str, ...] = get_args(MultiArch)
#: How many manifest lists deep a copy follows (a list of lists of images is 2). Releases and
#: multi-architecture images use one; OCI allows nesting, so a few levels more are accepted, and
#: a deeper tree (a hostile one) is refused before the interpreter's recursion limit is met.
MAX_INDEX_DEPTH = 8


def _concurrency(repo: Repository) -> int:
    return int(getattr(repo, "max_concurrency", DEFAULT_WORKERS))


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _collect(
    src: Repository,
    manifest: AnyManifest,
    multi_arch: MultiArch,
    order: list[AnyManifest],
    blobs: dict[str, Descriptor],
    resolver: Resolver,
    depth: int = 1,
) -> AnyManifest:
    """Gather ``manifest``'s tree into ``order`` (children first) and ``blobs``; return the top.

    A list is copied whole (``all``), as the one image of this machine's platform (``system``),
    or alone without its images (``index-only``: the destination must have them already). Lists
    nested more than ``MAX_INDEX_DEPTH`` deep are refused (``depth``: this one's level, from 1).
    """
    if isinstance(manifest, Index):
        if depth > MAX_INDEX_DEPTH:
            raise OkdReleaseError(
                f"manifest list {manifest.digest} in {src.display} is nested more than {MAX_INDEX_DEPTH}"
                " manifest lists deep"
            )
        if multi_arch == "system":
            chosen = _system_platform().select(manifest)
            child = resolver.manifest(src, chosen.digest)
            return _collect(src, child, multi_arch, order, blobs, resolver, depth + 1)
        for entry in manifest.manifests if multi_arch == "all" else ():
            if any(m.digest == entry.digest for m in order):
                continue
            _collect(src, resolver.manifest(src, entry.digest), multi_arch, order, blobs, resolver, depth + 1)
    else:
        assert isinstance(manifest, Manifest)
        for blob in [manifest.config, *manifest.layers]:
            blobs.setdefault(blob.digest, blob)
    order.append(manifest)
    return manifest


def _system_platform() -> PlatformSelector:
    """skopeo's ``--multi-arch system``: the entry for this machine's OS and architecture, or an error."""
    os_name, architecture = runtime_platform()
    return PlatformSelector(re.compile(f"^{re.escape(os_name)}/{re.escape(architecture)}(?:/|$)"))


class CopyCancelled(OkdReleaseError):
    """A copy stopped because another copy of the same run failed first."""


def _check_stop(cancel: threading.Event, what: str) -> None:
    """Raise CopyCancelled when ``cancel`` is set or the caller was interrupted (Ctrl-C, SIGTERM)."""
    if interrupted():
        raise CopyCancelled(f"{what}: interrupted")
    if cancel.is_set():
        raise CopyCancelled(f"{what}: cancelled after another copy failed")


class _Cancellable(RawReader):
    """A source stream that stops (CopyCancelled) as soon as ``cancel`` is set."""

    def __init__(self, stream: BinaryIO, cancel: threading.Event, what: str) -> None:
        super().__init__()
        self._stream = stream
        self._cancel = cancel
        self._what = what

    def read(self, size: int | None = -1) -> bytes:
        _check_stop(self._cancel, self._what)
        return self._stream.read(-1 if size is None else size)

    def close(self) -> None:
        self._stream.close()
        super().close()


#: The order a blob copy asks in: ``ask-first`` (skopeo's and oc's: HEAD the destination, then mount,
#: then stream) or ``mount-first`` (mount before asking, HEAD only after a refusal; see ``copy_blobs``).
BlobOrder = Literal["ask-first", "mount-first"]


def copy_blob(
    src: Repository,
    dst: Repository,
    blob: Descriptor,
    progress: Progress | None = None,
    *,
    policy: RetryPolicy | None = None,
    cancel: threading.Event | None = None,
    order: BlobOrder = "ask-first",
) -> str:
    """Make ``blob`` present in ``dst``; return what was done: ``exists``, ``mounted``, ``copied``, ``skipped``.

    The destination restarts an interrupted upload by opening the source again; content that
    does not match its digest (a byte flipped on the way) is copied again under ``policy``.
    ``order``: see :func:`copy_blobs`.
    """
    outcome = _place_blob(src, dst, blob, progress or (lambda _line: None), policy, cancel, order)
    sink = events_of(dst) or events_of(src)
    if sink is not None:
        sink(BlobDone(blob.digest, blob.size, outcome))
    return outcome


def events_of(repo: Repository) -> EventSink | None:
    """Who listens to ``repo``'s events (a registry's ``TransportOptions.events``, a layout's ``events``)."""
    sink: EventSink | None = getattr(repo, "events", None)
    return sink


@attrs.frozen
class _BlobCopy:
    """One blob of ``copy_blob`` on its way from ``src`` to ``dst``."""

    __repr__ = value_repr

    src: Repository = attrs.field(repr=False)
    dst: Repository = attrs.field(repr=False)
    blob: Descriptor
    emit: Progress = attrs.field(repr=False)
    policy: RetryPolicy
    stop: threading.Event = attrs.field(repr=False)

    @property
    def what(self) -> str:
        return f"copying blob {self.blob.digest} from {self.src.display} to {self.dst.display}"

    def done_by(self, mount: BlobMount) -> str | None:
        """What a mount that was not refused did (reported), else None."""
        if mount.outcome is MountOutcome.MOUNTED:
            self.emit(f"Copying blob {_short(self.blob.digest)} mounted from {self.src.display}")
            return "mounted"
        if mount.outcome is MountOutcome.PRESENT:
            return self.present()
        return None

    def present(self) -> str:
        """``dst`` has the blob already (reported)."""
        self.emit(f"Copying blob {_short(self.blob.digest)} skipped: already exists")
        return "exists"

    @property
    def foreign(self) -> bool:
        """A foreign layer: asked for first, never mounted, skipped where the source lacks it."""
        return self.blob.media_type == mt.DOCKER_FOREIGN_LAYER_GZIP

    def stream(self, session: UploadSession | None) -> str:
        """Stream the blob from ``src`` into ``dst``: the first attempt into ``session`` when one is
        open (which that attempt uses or cancels), another attempt into a session of its own."""
        self.emit(f"Copying blob {_short(self.blob.digest)} ({self.blob.size} bytes)")
        digest, size = self.blob.digest, self.blob.size
        first = [session] if session is not None else []

        def source() -> BinaryIO:
            return _Cancellable(self.src.open_blob(digest, size), self.stop, self.what)  # type: ignore[return-value]

        def attempt() -> None:
            into = first.pop() if first else None
            try:
                (self.dst if into is None else into).put_blob(source, digest, size)
            except RetriedDigestMismatch:
                raise  # the source already fetched it again as often as the policy allows
            except DigestMismatchError as err:
                raise Retryable(err) from None

        self.policy.run(self.what, attempt)
        return "copied"


def _place_blob(
    src: Repository,
    dst: Repository,
    blob: Descriptor,
    emit: Progress,
    policy: RetryPolicy | None,
    cancel: threading.Event | None,
    order: BlobOrder,
) -> str:
    """``copy_blob``: ask (HEAD), mount, stream, in ``order``; a mount refused with an upload session
    (a registry's 202) has the blob streamed into that session, or the session cancelled when unused."""
    copy = _BlobCopy(src, dst, blob, emit, policy or RetryPolicy(), cancel or threading.Event())
    _check_stop(copy.stop, copy.what)
    if order == "mount-first" and not copy.foreign:
        with _mount(src, dst, blob.digest) as mount:
            return copy.done_by(mount) or _asked(copy, mount)
    return _asked(copy, None)


def _asked(copy: _BlobCopy, refused: BlobMount | None) -> str:
    """Ask ``dst`` for the blob, then mount it (unless a mount was ``refused`` already), then stream it."""
    digest = copy.blob.digest
    if copy.dst.has_blob(digest):
        return copy.present()
    if copy.foreign and not copy.src.has_blob(digest):
        copy.emit(f"Copying blob {_short(digest)} skipped: foreign layer")
        return "skipped"
    if refused is not None:
        return copy.stream(refused.session)
    with _mount(copy.src, copy.dst, digest) as mount:
        return copy.done_by(mount) or copy.stream(mount.session)


def _mount(src: Repository, dst: Repository, digest: str) -> BlobMount:
    """Mount ``digest`` of ``src`` into ``dst`` (either order: before or after asking ``dst``).

    Registries refuse a cross-repository mount in more ways than a 202: Harbor answers 401 when the
    source project is unknown to it, docker.io 401 when the token lacks pull on the source, others
    403/404/400/405, and a token server may refuse the mount's scope. Any failure of the mount (an
    error answer, or a transient one, 5xx/429, or a broken connection, after the retry policy went
    through them) is a refusal like a 202, logged at debug: the blob is then streamed (``mount-first``
    asks ``dst`` first), and a real outage fails the upload with its own error, naming ``dst``. A
    mount is an optimisation: skopeo (containers/image's TryReusingBlob) and crane upload after
    any failed mount too.
    """
    try:
        return dst.mount_blob(digest, src)
    except (RegistryError, TransportError) as err:
        log.debug("mounting %s from %s into %s refused: %s", digest, src.display, dst.display, err)
        return REFUSED


def copy_blobs(
    src: Repository,
    dst: Repository,
    blobs: Iterable[Descriptor],
    *,
    progress: Progress | None = None,
    workers: int | None = None,
    policy: RetryPolicy | None = None,
    cancel: threading.Event | None = None,
    order: BlobOrder = "ask-first",
) -> dict[str, str]:
    """Copy ``blobs`` in parallel; return digest → outcome (see ``copy_blob``).

    The first failure cancels the rest: queued copies never start and running ones stop at
    their next read; that first failure is raised. Setting ``cancel`` does the same from outside.

    ``order`` ``mount-first``: mount without asking whether ``dst`` has the blob first. A registry
    answers a mount 201 whether the blob was there or not (reported ``mounted``), so the HEAD is sent
    only when the mount was refused (a 202, an error answer such as 401/403/404: see
    ``_mount``; a source elsewhere, or ``dst`` itself, is refused without a request): one round trip per blob
    instead of two for a new repository, as for a release image pushed onto its base. ``ask-first``
    (``copy``, ``mirror``) asks first and reports ``exists``; a mount it then sends is refused by the
    same answers and the blob streamed. Foreign layers are always asked for first.
    """
    todo = {b.digest: b for b in blobs}
    if not todo:
        return {}
    limit = workers or min(_concurrency(src), _concurrency(dst))
    cancel = cancel or threading.Event()
    with worker_pool(min(limit, len(todo)), "copy-blob", cancel=cancel) as pool:
        futures: dict[Future[str], str] = {
            pool.submit(
                copy_blob, src, dst, blob, progress, policy=policy, cancel=cancel, order=order
            ): digest
            for digest, blob in todo.items()
        }
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failures = [f.exception() for f in done if f.exception() is not None]
        if failures:
            stop_pool(pool, cancel, interrupting=False)
    if failures:
        first = next((e for e in failures if not isinstance(e, CopyCancelled)), failures[0])
        assert first is not None
        raise first
    return {digest: future.result() for future, digest in futures.items()}


def _converted(
    order: list[AnyManifest], fmt: ManifestFormat | None, preserve_digests: bool = False
) -> list[AnyManifest]:
    """``order`` (children first) in ``fmt``: each list rewritten over its converted children.

    With ``preserve_digests`` (skopeo's ``--preserve-digests``) a manifest that would change is refused.
    """
    if fmt is None:
        return order
    children: dict[str, tuple[str, int, str]] = {}
    out: list[AnyManifest] = []
    for manifest in order:
        new = convert(manifest, fmt, children if isinstance(manifest, Index) else None)
        if preserve_digests and new.digest != manifest.digest:
            raise UsageError(
                f"manifest {manifest.digest} ({manifest.media_type}) must be converted to write it as {fmt}, "
                "which changes its digest, but --preserve-digests was given"
            )
        children[manifest.digest] = (new.digest, len(new.raw), new.media_type)
        out.append(new)
    return out


def layout_format_warning(dst_repo: Repository, manifests: Iterable[AnyManifest]) -> str | None:
    """A warning when Docker schema 2 manifests are written into an OCI layout (skopeo and umoci skip them)."""
    from okdrelease.transport.layout import LayoutRepository

    if not isinstance(dst_repo, LayoutRepository):
        return None
    if not any(format_of(m.media_type) == "v2s2" for m in manifests):
        return None
    return (
        f"warning: {dst_repo.display} now holds Docker schema 2 manifests, which skopeo and umoci cannot "
        "open in an OCI layout; --format oci converts them (their digests change)"
    )


def copy_image(
    src_repo: Repository,
    src_reference: str,
    dst_repo: Repository,
    dst_tag: str | None,
    *,
    multi_arch: MultiArch = "all",
    progress: Progress | None = None,
    workers: int | None = None,
    policy: RetryPolicy | None = None,
    outcomes: dict[str, str] | None = None,
    manifest_format: ManifestFormat | None = None,
    warnings: list[str] | None = None,
    preserve_digests: bool = False,
    compress_format: recompress.CompressFormat | None = None,
    resolver: Resolver | None = None,
) -> str:
    """Copy one image or a whole index from ``src_reference`` to ``dst_tag`` (None: by digest); return its digest.

    ``outcomes``, when given, receives blob digest → what ``copy_blob`` did. ``manifest_format``
    converts the manifests (None: byte-exact); ``warnings`` receives what the destination's
    readers would need (a format). ``compress_format`` re-compresses layers compressed otherwise
    (skopeo's ``--dest-compress-format``; not with ``preserve_digests``). The source's manifests
    are read through ``resolver`` (the run's, so that what it already read is not asked again;
    None: one for this copy).
    """
    emit = progress or (lambda _line: None)
    reader = resolver or Resolver()
    top = reader.manifest(src_repo, src_reference)
    order: list[AnyManifest] = []
    blobs: dict[str, Descriptor] = {}
    top = _collect(src_repo, top, multi_arch, order, blobs, reader)
    # Before anything is written: a refusal leaves nothing.
    order = _converted(order, manifest_format, preserve_digests)
    from okdrelease.transport import recompress  # not on new's push path (copy_blobs): loaded when copying

    # skopeo leaves compression alone when the digests are to be kept.
    fmt = None if preserve_digests else compress_format
    with _layers_work_dir(
        fmt is not None and any(recompress.needs_recompression(b, fmt) for b in blobs.values())
    ) as work:
        layers = _recompress(src_repo, blobs.values(), fmt, work, emit)
        order = recompress.rewrite(order, layers) if layers else order
        top = order[-1]
        log.info(
            "copying %s@%s to %s (%d manifests, %d blobs)",
            src_repo.display,
            top.digest,
            dst_repo.display,
            len(order),
            len(blobs),
        )
        kept = [blob for digest, blob in blobs.items() if digest not in layers]
        done = copy_blobs(src_repo, dst_repo, kept, progress=progress, workers=workers, policy=policy)
        done.update(_put_recompressed(dst_repo, layers.values(), emit, policy))
    if outcomes is not None:
        outcomes.update(done)
    warning = layout_format_warning(dst_repo, order)
    if warning and warnings is not None and warning not in warnings:
        warnings.append(warning)
    for manifest in order:
        tag = dst_tag if manifest is top else None
        emit(f"Writing manifest {_short(manifest.digest)} to {dst_repo.display}" + (f":{tag}" if tag else ""))
        pushed = dst_repo.put_manifest(manifest.raw, manifest.media_type, tag)
        if pushed != manifest.digest:
            raise OkdReleaseError(
                f"manifest {manifest.digest} from {src_repo.display} was stored in {dst_repo.display} as {pushed}"
            )
    sink = events_of(dst_repo)
    if sink is not None:
        sink(ImageDone(dst_repo.display + (f":{dst_tag}" if dst_tag else ""), top.digest))
    return top.digest


@contextlib.contextmanager
def _layers_work_dir(needed: bool) -> Iterator[str]:
    """A temporary directory for re-compressed layers, made only when one is ``needed`` (a copy that
    re-compresses nothing does not depend on a usable $TMPDIR); one that cannot be made is an error
    saying so, not an internal error."""
    if not needed:
        yield ""
        return
    try:
        work = tempfile.TemporaryDirectory(prefix="okdrelease-layers-")
    except OSError as err:  # (tempfile's own 'No usable temporary directory found in [...]' too)
        raise OkdReleaseError(
            f"cannot create a directory for re-compressed layers: {err.strerror or err}"
        ) from None
    with work as path:
        yield path


def _recompress(
    src: Repository,
    blobs: Iterable[Descriptor],
    fmt: recompress.CompressFormat | None,
    work: str,
    emit: Progress,
) -> dict[str, recompress.Recompressed]:
    """Old layer digest → the layer compressed in ``fmt`` (none without ``fmt``), written into ``work``;
    a layer that cannot be written there (a full disk) is an error naming it."""
    from okdrelease.transport import recompress

    out: dict[str, recompress.Recompressed] = {}
    for blob in blobs:
        if fmt is not None and recompress.needs_recompression(blob, fmt):
            emit(f"Compressing blob {_short(blob.digest)} as {fmt}")
            try:
                out[blob.digest] = recompress.recompress_layer(src, blob, fmt, work)
            except OSError as err:
                raise OkdReleaseError(
                    f"cannot write the re-compressed layer {blob.digest} into {work}: {err.strerror or err}"
                ) from None
    return out


def _put_recompressed(
    dst: Repository, layers: Iterable[recompress.Recompressed], emit: Progress, policy: RetryPolicy | None
) -> dict[str, str]:
    """Store the re-compressed layers in ``dst``; new digest → ``copied`` or ``exists``."""
    done: dict[str, str] = {}
    sink = events_of(dst)
    for layer in layers:
        new = layer.new
        if dst.has_blob(new.digest):
            done[new.digest] = "exists"
        else:
            emit(f"Copying blob {_short(new.digest)} ({new.size} bytes)")
            what = f"copying blob {new.digest} to {dst.display}"
            upload = functools.partial(dst.put_blob, layer.open, new.digest, new.size)
            (policy or RetryPolicy()).run(what, upload)
            done[new.digest] = "copied"
        if sink is not None:
            sink(BlobDone(new.digest, new.size, done[new.digest]))
    return done


def copy_all(
    src_repo: Repository,
    dst_repo: Repository,
    *,
    tags: Iterable[str] | None = None,
    multi_arch: MultiArch = "all",
    progress: Progress | None = None,
    workers: int | None = None,
    policy: RetryPolicy | None = None,
    manifest_format: ManifestFormat | None = None,
    warnings: list[str] | None = None,
    preserve_digests: bool = False,
    compress_format: recompress.CompressFormat | None = None,
    resolver: Resolver | None = None,
) -> dict[str, str]:
    """Copy every tag (layout ref name) of ``src_repo`` to the same tag in ``dst_repo``; return tag → digest."""
    reader = resolver or Resolver()
    names = list(tags) if tags is not None else src_repo.list_tags()
    if not names:
        raise OkdReleaseError(f"{src_repo.display} has no tags to copy")
    return {
        name: copy_image(
            src_repo,
            name,
            dst_repo,
            name,
            multi_arch=multi_arch,
            progress=progress,
            workers=workers,
            policy=policy,
            manifest_format=manifest_format,
            warnings=warnings,
            preserve_digests=preserve_digests,
            compress_format=compress_format,
            resolver=reader,
        )
        for name in names
    }


@attrs.frozen
class CopiedImage:
    """One image written by ``copy_location``: the tag/ref name it got (None: by digest only) and its digest."""

    __repr__ = value_repr

    tag: str | None
    digest: str


@attrs.frozen
class CopyResult:
    """What ``copy_location`` copied; ``whole_layout`` when every ref name of a layout was copied."""

    __repr__ = value_repr

    images: tuple[CopiedImage, ...]
    whole_layout: bool
    #: What the destination's readers would need (``warning: …`` lines), e.g. a manifest format.
    warnings: tuple[str, ...] = ()


class _CopyOptions(TypedDict):
    """What ``copy_location`` hands to ``copy_image`` and ``copy_all`` alike."""

    progress: Progress | None
    policy: RetryPolicy | None
    manifest_format: ManifestFormat | None
    warnings: list[str] | None
    multi_arch: MultiArch
    preserve_digests: bool
    compress_format: recompress.CompressFormat | None
    resolver: Resolver


def copy_location(
    src: ImageLocation,
    dst: ImageLocation,
    *,
    source: Transport,
    destination: Transport,
    progress: Progress | None = None,
    manifest_format: ManifestFormat | None = None,
    multi_arch: MultiArch = "all",
    preserve_digests: bool = False,
    compress_format: recompress.CompressFormat | None = None,
) -> CopyResult:
    """Copy ``src`` to ``dst`` (skopeo-like): one image, or every ref name of ``oci:DIR`` to ``oci:DIR``/a repository.

    ``source`` and ``destination`` may be the same transport; they differ when each side has its
    own credentials or TLS settings. ``manifest_format`` converts manifests (digests change) unless
    ``preserve_digests`` refuses that; ``multi_arch`` says what of a manifest list is copied. A copy
    into ``oci:DIR`` that fails leaves no directory or layout that it created.
    """
    warnings: list[str] = []
    options: _CopyOptions = {
        "progress": progress,
        "policy": source.options.retry_policy,
        "manifest_format": manifest_format,
        "warnings": warnings,
        "multi_arch": multi_arch,
        "preserve_digests": preserve_digests,
        "compress_format": compress_format,
        "resolver": Resolver(),
    }
    src_repo, src_ref = source.open(src)
    with no_new_layout_left(dst):
        dst_repo, dst_ref = destination.open(dst, create=True)
        if _whole_layout(src) and dst_ref is None:
            names = src_repo.list_tags()
            _check_tags(src, dst, names)
            results = copy_all(src_repo, dst_repo, tags=names, **options)
            images = tuple(CopiedImage(tag, digest) for tag, digest in results.items())
            return CopyResult(images, True, tuple(warnings))
        src_ref = default_reference(src, src_repo, src_ref)
        dst_tag, dst_digest = _destination_tag(dst, dst_ref, src_ref)
        if dst_tag is not None:
            _check_tags(src, dst, [dst_tag])
        digest = copy_image(src_repo, src_ref, dst_repo, dst_tag, **options)
        if dst_digest and dst_digest != digest:
            raise OkdReleaseError(f"{dst} names digest {dst_digest}, but the copied image is {digest}")
    return CopyResult((CopiedImage(dst_tag, digest),), False, tuple(warnings))


#: What ``LayoutRepository`` creates in an empty directory.
_LAYOUT_ENTRIES = ("oci-layout", "index.json", "blobs")


@contextlib.contextmanager
def no_new_layout_left(dst: ImageLocation) -> Iterator[None]:
    """On failure, undo a copy into an ``oci:DIR`` layout it created (the directory, or the layout files
    in a directory that held none): the files this process wrote there, then the directories left
    empty, missing parents included (:func:`okdrelease.transport.layout.remove_written`). Files
    others wrote meanwhile, and a layout that existed, are never touched."""
    if not isinstance(dst, LayoutLocation):
        yield
        return
    from okdrelease.transport.layout import noting_writes, remove_written

    path = os.path.abspath(dst.path)
    created = path
    while not os.path.lexists(os.path.dirname(created)) and os.path.dirname(created) != created:
        created = os.path.dirname(created)
    top: str | None = created
    if os.path.lexists(path):
        top = None
        if not os.path.isdir(path) or os.path.islink(path):
            yield  # not a directory: the copy refuses it and writes nothing
            return
        if any(os.path.lexists(os.path.join(path, n)) for n in _LAYOUT_ENTRIES):
            yield  # a layout (or part of one) was there before: leave it as the copy left it
            return
    with noting_writes(path) as written:
        try:
            yield
        except BaseException:
            remove_written(path, written, top)
            raise


def _whole_layout(location: ImageLocation) -> bool:
    return isinstance(location, LayoutLocation) and not location.refname and not location.digest


def _check_tags(src: ImageLocation, dst: ImageLocation, names: list[str]) -> None:
    """Refuse, before copying anything (no blob written), names that cannot be tags (ref names) in ``dst``."""
    check, kind = (
        (validate_tag, "a tag") if isinstance(dst, RegistryLocation) else (validate_ref_name, "a ref name")
    )
    for name in names:
        try:
            check(name)
        except InvalidReferenceError:
            raise UsageError(f"{src} has ref name {name!r}, which cannot be {kind} in {dst}") from None


def _destination_tag(dst: ImageLocation, dst_ref: str | None, src_ref: str) -> tuple[str | None, str | None]:
    """Return (tag to write or None, digest the destination names or None)."""
    if isinstance(dst, RegistryLocation):
        if dst.ref.digest:
            return dst.ref.tag, dst.ref.digest
        return dst.ref.tag or "latest", None
    assert isinstance(dst, LayoutLocation)
    if dst.digest:
        return dst.refname, dst.digest
    if dst.refname:
        return dst.refname, None
    return (None if src_ref.startswith("sha256:") else src_ref), None
