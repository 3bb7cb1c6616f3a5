"""Stage 8 of ``new``: where the release goes. One protocol, four sinks (spec §3.12, §3.13).

``ImageSink`` pushes the release image to a registry or an OCI layout (``dry_run``: computes it
only); ``FileSink`` writes the gzipped payload layer (``--to-file``); ``DirSink`` the payload files
(``--to-dir``). ``write_work_dir`` is ``--dir``, which keeps the operators' manifests beside any sink.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, ReleaseError
from okdrelease.gocompat.gotar import go_unix_nano
from okdrelease.gocompat.gotime import parse_seconds
from okdrelease.oci.convert import ManifestFormat
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.payload.context import Run
from okdrelease.payload.plan import check_release_tag
from okdrelease.payload.release_image import (
    EarlyPush,
    base_pullspec,
    build_release_image,
    push_release,
    read_base,
)
from okdrelease.payload.resolve import ManifestFile
from okdrelease.reference import ImageLocation, LayoutLocation, RegistryLocation, parse_location
from okdrelease.regularfile import undone_mkdirs, write_whole
from okdrelease.transport.registry import RegistryRepository

if TYPE_CHECKING:  # the payload's modules load when a sink delivers (issue 9: off the start)
    from okdrelease.payload import image as release_image
    from okdrelease.payload.operators import Payload

__all__ = [
    "Delivery",
    "DirSink",
    "FileSink",
    "ImageSink",
    "ReleaseTarget",
    "Sink",
    "pushing_early",
    "write_work_dir",
]


@attrs.frozen
class Delivery:
    """What a sink produced: the release digest and where it went, the payload diff ID, bytes for stdout."""

    __repr__ = value_repr

    digest: str | None = None
    to_image: str | None = None
    diff_id: str | None = None
    output: bytes | None = attrs.field(default=None, repr=False)


class Sink(Protocol):
    """Takes the assembled payload somewhere."""

    def deliver(self, payload: Payload, run: Run) -> Delivery:
        """Write or push ``payload``; return what was produced."""
        ...


def _epoch(created: str) -> float:
    return parse_seconds(created).timestamp()


@attrs.frozen
class DirSink:
    """``--to-dir``: every ``release-manifests/<file>`` flat, mode 0644, mtime from the tar."""

    __repr__ = value_repr

    directory: Path

    def deliver(self, payload: Payload, run: Run) -> Delivery:
        """Write the payload files into the directory."""
        if payload.tar is None:
            raise ValueError("DirSink: the payload tar was not kept (gzipped while written)")
        try:
            self._write(payload.tar)
        except OSError as err:
            raise ReleaseError(f"unable to write --to-dir {self.directory}: {err.strerror}") from err
        return Delivery()

    def _write(self, tar: bytes) -> None:
        import tarfile  # only --to-dir reads the payload tar back

        from okdrelease.payload.safepath import SafeDir

        with (
            undone_mkdirs(self.directory),
            SafeDir(self.directory, "--to-dir", undo=True) as target,
            tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive,
        ):
            for member in archive:
                if not member.isreg() or not member.name.startswith("release-manifests/"):
                    continue
                rest = member.name[len("release-manifests/") :]
                if not rest or "/" in rest or rest in (".", ".."):
                    continue
                extracted = archive.extractfile(member)
                if extracted is None:
                    raise ReleaseError(f"unable to read {member.name} from the payload")
                # oc stamps the file with os.Chtimes, whose nanoseconds wrap after 2262 (go_unix_nano).
                stamp = go_unix_nano(int(member.mtime))
                target.write(rest, extracted.read(), 0o644, None, mtime_ns=stamp, what="payload file")


@attrs.frozen
class FileSink:
    """``--to-file PATH``: the gzipped payload layer; mode 0750 on create; mtime = created. ``-``: stdout."""

    __repr__ = value_repr

    path: str
    created: str
    #: --from-release: the input's payload layer, written as is when the rebuilt tar is the same.
    source_layer: release_image.SourceLayer | None = None

    def deliver(self, payload: Payload, run: Run) -> Delivery:
        """Compress the payload once; write it (or hand it back for stdout)."""
        from okdrelease.payload import image as release_image

        layer = release_image.payload_layer(payload.tar, self.source_layer, payload.gzipped)
        if self.path == "-":
            return Delivery(diff_id=layer.diff_id, output=layer.blob)
        try:
            write_whole(self.path, layer.blob, 0o750, mtime=_epoch(self.created))
        except OSError as err:
            raise ReleaseError(f"unable to write --to-file {self.path}: {err.strerror}") from err
        return Delivery(diff_id=layer.diff_id)


@attrs.frozen
class ReleaseTarget:
    """Where the release image goes, and the tag it gets (None: pushed by digest)."""

    __repr__ = value_repr

    text: str
    location: ImageLocation
    tag: str | None

    @classmethod
    def parse(cls, to_image: str | None, *, given_name: str | None, name: str) -> ReleaseTarget:
        """Q2 (replicated for registries): without a tag, the --name given or inherited is the tag.

        The default ``0.0.1-<time>`` name is not, so such a release is pushed by digest. An OCI
        layout keeps only what index.json names, so there the computed name is the tag.
        """
        text = to_image or "release:latest"
        try:
            location = parse_location(text)
        except OkdReleaseError as err:
            raise ReleaseError(f"--to-image was not valid: {err}") from err
        digest = location.ref.digest if isinstance(location, RegistryLocation) else location.digest
        if digest:
            raise ReleaseError("--to-image may only point to a repository or tag, not a digest")
        if isinstance(location, RegistryLocation):
            if not location.ref.tag and given_name:
                check_release_tag(text, given_name)
            return cls(text, location, location.ref.tag or given_name)
        return cls(text, location, location.refname or name or None)

    def manifest_format(self, asked: ManifestFormat | None) -> ManifestFormat | None:
        """``--format``, else OCI for a layout (what skopeo and umoci read), else oc's (None) for a registry."""
        if asked is not None:
            return asked
        return "oci" if isinstance(self.location, LayoutLocation) else None

    def format_warning(self, fmt: ManifestFormat | None) -> str | None:
        """A warning when Docker media types go into an OCI layout (skopeo 1.9 and umoci skip such entries)."""
        if fmt == "v2s2" and isinstance(self.location, LayoutLocation):
            return (
                f"warning: {self.text} is an OCI layout holding Docker schema 2 media types: "
                "skopeo and umoci cannot open it; --format oci writes one they can"
            )
        return None


@attrs.frozen
class ImageSink:
    """Build the release image on its base and push it; ``dry_run`` only computes its digest."""

    __repr__ = value_repr

    to_image: str | None
    given_name: str | None
    name: str
    created: str
    base_image: str | None
    base_tag: str
    keep_manifest_list: bool
    dry_run: bool
    #: --from-release: the input's payload layer, reused when the rebuilt tar is the same.
    source_layer: release_image.SourceLayer | None = None
    #: --format: None is OCI for a layout, oc's Docker schema 2 for a registry.
    manifest_format: ManifestFormat | None = None

    #: The push work started before the payload existed (``start_early``), or None.
    early: EarlyPush | None = attrs.field(default=None, eq=False, repr=False)
    #: A canonical rebuild's digest, the input release's: a release of another digest fails before
    #: anything is pushed ("could not be reproduced").
    expected_digest: str | None = None
    #: Called with the destination's text and the release digest once everything is pushed by digest,
    #: before the release tag: what may still fail (signatures, --to-signature) fails with no tag pushed.
    before_tag: Callable[[str, str], None] | None = attrs.field(default=None, eq=False, repr=False)

    def start_early(self, stream: ImageStream, run: Run) -> ImageSink:
        """This sink with the push work that does not need the payload started (a registry destination
        only), from the base ``stream`` names; itself when the destination or the base cannot be named
        yet (``deliver`` reports that) or nothing is pushed."""
        if self.dry_run:
            return self
        try:
            target = ReleaseTarget.parse(self.to_image, given_name=self.given_name, name=self.name)
            base_spec = base_pullspec(stream, self.base_image, self.base_tag)
            # Never a layout: opening one creates it, and nothing may be written before the payload.
            dest = (
                run.transport.open(target.location)[0]
                if isinstance(target.location, RegistryLocation)
                else None
            )
        except OkdReleaseError:
            return self
        if not isinstance(dest, RegistryRepository):
            return self
        # Sessions for the config and, gzipped in this run (no input release's layer to reuse), the payload.
        sessions = 2 if self.source_layer is None else 1
        early = EarlyPush(
            run,
            base_spec,
            dest,
            keep_manifest_list=self.keep_manifest_list,
            to_text=target.text,
            sessions=sessions,
        )
        return attrs.evolve(self, early=early)

    def reading_base_from(self, stream: ImageStream) -> ImageSink:
        """This sink reading the base that ``stream`` names (the images before a dry-run --mirror pointed the
        release at a repository it copied nothing to: the same digests, where they can be read); itself when
        ``stream`` names no base (``deliver`` reports that)."""
        try:
            return attrs.evolve(self, base_image=base_pullspec(stream, self.base_image, self.base_tag))
        except OkdReleaseError:
            return self

    def close(self) -> None:
        """Stop the early push work (if any) and cancel what it opened and no blob used."""
        if self.early is not None:
            self.early.close()

    def deliver(self, payload: Payload, run: Run) -> Delivery:
        """Compute the release image; push it unless this is a dry run."""
        from okdrelease.payload import image as release_image

        target = ReleaseTarget.parse(self.to_image, given_name=self.given_name, name=self.name)
        layer = release_image.payload_layer(payload.tar, self.source_layer, payload.gzipped)
        fmt = target.manifest_format(self.manifest_format)
        base_spec = base_pullspec(payload.stream, self.base_image, self.base_tag)
        early = self.early if self.early is not None and self.early.base_spec == base_spec else None
        if early is not None:
            base = early.base()
        else:
            base = read_base(
                run.transport,
                run.resolver,
                base_spec,
                keep_manifest_list=self.keep_manifest_list,
                to_text=target.text,
            )
        built = build_release_image(base, name=self.name, created=self.created, layer=layer, fmt=fmt)
        if self.expected_digest is not None and built.digest != self.expected_digest:
            raise ReleaseError("the release could not be reproduced from its inputs")
        if self.dry_run:
            return Delivery(digest=built.digest, diff_id=layer.diff_id)
        from okdrelease.transport.copy import no_new_layout_left

        try:
            # A layout this run creates is removed again if the push fails (as copy and mirror do).
            with no_new_layout_left(target.location):
                dest, _ = run.transport.open(target.location, create=True)
                policy = run.transport.options.retry_policy
                before_tag = self.before_tag
                push_release(
                    built,
                    dest,
                    target.tag,
                    run.workers,
                    policy,
                    early.ahead() if early else None,
                    before_tag=(lambda: before_tag(target.text, built.digest)) if before_tag else None,
                )
        except ReleaseError:
            raise
        except OkdReleaseError as err:
            raise ReleaseError(f"failed to push image {target.text}: {err}") from err
        warning = target.format_warning(fmt)
        if warning:
            run.reporter.warn(warning)
        run.emit(f"info: Pushed to {target.text}")
        return Delivery(digest=built.digest, to_image=target.text, diff_id=layer.diff_id)


@contextlib.contextmanager
def pushing_early(sink: Sink, stream: ImageStream, run: Run, allowed: bool) -> Iterator[Sink]:
    """``sink``, with the push work that does not need the payload started when ``allowed`` and it
    pushes an image; that work is stopped (and what it opened unused cancelled) on the way out."""
    if not allowed or not isinstance(sink, ImageSink):
        yield sink
        return
    started = sink.start_early(stream, run)
    try:
        yield started
    finally:
        started.close()


def write_work_dir(
    directory: Path, operator_files: Mapping[str, tuple[ManifestFile, ...]], stream: ImageStream
) -> None:
    """``--dir``: each operator's /manifests in DIR/<tag>/ and the input stream in DIR/image-references.

    Every name comes from the input, so each is checked to stay inside DIR (no ``..``, no absolute
    name, no symlink followed).
    """
    from okdrelease.payload.safepath import SafeDir, check_component

    for name, files in operator_files.items():
        check_component(name, what=f'tag "{name}"', flag="--dir", root=directory)
        for f in files:
            check_component(f.name, what=f'file "{f.name}" of tag "{name}"', flag="--dir", root=directory)
    try:
        with undone_mkdirs(directory), SafeDir(directory, "--dir", undo=True) as root:
            for name, files in operator_files.items():
                with root.subdir(name, what=f'tag "{name}"') as sub:
                    for f in files:
                        sub.write(f.name, f.data, 0o640, f.mtime, what=f'file "{f.name}" of tag "{name}"')
            root.write("image-references", stream.to_json(), 0o644, None, what="image-references")
    except OSError as err:
        raise ReleaseError(f"unable to write --dir {directory}: {err.strerror}") from err
