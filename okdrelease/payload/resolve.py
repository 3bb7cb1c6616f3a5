"""What ``new`` adds to the one image resolver (``okdrelease.images.resolve``): operators' ``/manifests``
files (checked as they arrive, read once per run) and oc ``new``'s wording of read failures."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import DigestMismatchError, OkdReleaseError
from okdrelease.gocompat.errcode import describe_read_error as describe_registry_error
from okdrelease.gocompat.gotar import extracted_mtime
from okdrelease.images.resolve import Memo, ResolvedImage, Resolver
from okdrelease.oci.layerindex import compose
from okdrelease.oci.model import Descriptor
from okdrelease.openshift.imagestream import load_image_stream
from okdrelease.payload.check import ManifestChecker

__all__ = [
    "IMAGE_REFERENCES",
    "ExtractedManifests",
    "ManifestFile",
    "OperatorManifests",
    "Reference",
    "known_references",
    "load_references",
    "untouched_flags",
    "describe_registry_error",
    "tampered",
]

MANIFESTS_PREFIX = "manifests/"


@attrs.frozen
class ManifestFile:
    """A top-level file of an operator's ``/manifests`` directory."""

    __repr__ = value_repr

    name: str
    data: bytes = attrs.field(repr=False)
    mtime: float
    #: Every transform of its operator returns it as it is (see :func:`untouched_flags`): not rewritten.
    untouched: bool = attrs.field(default=False, eq=False, repr=False)


IMAGE_REFERENCES = "image-references"


#: One tag of an operator's ``image-references``: (name, from.kind, from.name).
Reference = tuple[str, str, str]


def load_references(data: bytes) -> tuple[Reference, ...]:
    """The tags of an operator's ``image-references`` file; OkdReleaseError when it does not load."""
    local = load_image_stream(data)
    return tuple((t.name, t.from_kind or "", t.from_name or "") for t in local.tags)


def known_references(files: Sequence[tuple[str, bytes]]) -> tuple[Reference, ...] | None:
    """:func:`load_references` of an operator's ``image-references``: None without one, or when it does
    not load (the payload stage reads it again and words the failure)."""
    for name, data in files:
        if name == IMAGE_REFERENCES:
            try:
                return load_references(data)
            except OkdReleaseError:
                return None
    return None


def untouched_flags(
    files: Sequence[tuple[str, bytes]], references: tuple[Reference, ...] | None
) -> tuple[bool, ...]:
    """For each of an operator's files, whether every rewriting of its manifests returns it unchanged:
    it names none of the DockerImage sources of the operator's ``image-references`` (``references``,
    :func:`known_references`) and holds no version placeholder (``mapper.untouched``). All False when
    the operator has an ``image-references`` that does not load."""
    from okdrelease.payload.mapper import untouched

    if references is None and any(name == IMAGE_REFERENCES for name, _data in files):
        return (False,) * len(files)
    sources = [
        source.encode("utf-8", "surrogateescape")
        for _name, kind, source in references or ()
        if kind == "DockerImage" and source
    ]
    return tuple(untouched(data, sources) for _name, data in files)


def tampered(what: str, pullspec: str, err: DigestMismatchError) -> str:
    """oc's content-verification failure (spec §3.3.1, §3.7.6, §3.12.3), naming the image and the digest."""
    return f"{what} failed content verification and may have been tampered with: {pullspec}: {err}"


@attrs.frozen
class OperatorManifests:
    """Operators' ``/manifests`` files, read through the run's resolver (layer indexes shared) once per run."""

    __repr__ = value_repr

    resolver: Resolver
    #: Checks operator manifests as they arrive (None: the check is skipped).
    checker: ManifestChecker | None = None
    files: Memo[tuple[str, ...], ExtractedManifests] = attrs.field(factory=Memo, repr=False)

    def read(self, image: ResolvedImage, *, all_layers: bool, ref: str) -> ExtractedManifests:
        """The top-level files of ``/manifests`` from the last layer (or all layers, whiteouts applied)."""
        layers = image.manifest.layers
        if not layers:
            raise OkdReleaseError(
                f"unable to filter layers for {ref}: tried to select layer -1, but image only has 0 layers"
            )
        selected: Sequence[Descriptor] = layers if all_layers else layers[-1:]
        repo = image.repository

        def extract() -> ExtractedManifests:
            # Images start at different layers, so the first readers of shared base layers scan them
            # side by side instead of all queueing behind the bottom one.
            start = sum(image.digest.encode()) % len(selected)
            order = [(start + k) % len(selected) for k in range(len(selected))]
            indexes = {i: self.resolver.layer_index(repo, selected[i], MANIFESTS_PREFIX) for i in order}
            files = compose(indexes[i] for i in range(len(selected)))
            top = [
                (path, entry) for path, entry in sorted(files.items()) if "/" not in path and entry.is_file
            ]
            named = [(path, entry.data) for path, entry in top]
            references = known_references(named)
            flags = untouched_flags(named, references)
            found = tuple(
                ManifestFile(path, entry.data, extracted_mtime(entry.mtime), untouched)
                for (path, entry), untouched in zip(top, flags, strict=True)
            )
            self.precheck(found, digests)  # checked now, while other images are still being fetched
            return ExtractedManifests(digests, found, references)

        digests = tuple(d.digest for d in selected)
        return self.files.get(digests, extract)

    def precheck(self, files: Sequence[ManifestFile], layers: Sequence[str]) -> None:
        """Decide the verdicts of an operator's files (read from ``layers``) now, unless the check is skipped.

        The layers' digests and the directory fix every file's content: the verdicts are remembered
        under them and the names, so a warm run hashes no file.
        """
        if self.checker is not None:
            source = f"{','.join(layers)}|{MANIFESTS_PREFIX}"
            self.checker.precheck_files(((item.name, item.data) for item in files), source)

    def verdicts(self, files: Sequence[ManifestFile]) -> tuple[str | None, ...] | None:
        """The verdicts of files read (and prechecked) by :meth:`read`, in order (None for a file the
        check passes or skips); None when the check is skipped."""
        if self.checker is None:
            return None
        return tuple(self.checker.problem(item.name, item.data) for item in files)

    def recall(
        self, read: ExtractedManifests, verdicts: tuple[str | None, ...] | None
    ) -> tuple[str | None, ...] | None:
        """The :meth:`verdicts` of files found before (a recorded resolution's): ``verdicts`` taken as
        they are; when there are none (recorded by a run that skipped the check), decided now as
        :meth:`read` decides them (None when this run skips the check too)."""
        if verdicts is None:
            self.precheck(read.files, read.layers)
            return self.verdicts(read.files)
        if self.checker is not None:
            self.checker.hold(zip((item.data for item in read.files), verdicts, strict=True))
        return verdicts


@attrs.frozen
class ExtractedManifests:
    """What one operator image's ``/manifests`` yielded: its top-level files, the digests of the layers
    they were read from and the tags of its ``image-references`` (:func:`known_references`)."""

    __repr__ = value_repr

    layers: tuple[str, ...]
    files: tuple[ManifestFile, ...] = attrs.field(repr=False)
    references: tuple[Reference, ...] | None = attrs.field(default=None, repr=False)
