"""The value every input source produces, and the ImageStream check they share."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import OkdReleaseError, ReleaseError, go_reason
from okdrelease.openshift.imagestream import ImageStream, load_image_stream
from okdrelease.payload.resolve import ManifestFile
from okdrelease.regularfile import NotRegularFile, open_regular, read_open

if TYPE_CHECKING:
    from okdrelease.payload.image import SourceLayer


@attrs.frozen
class Inputs:
    """The input stream, candidate operator names and what a release input carries over."""

    __repr__ = value_repr

    stream: ImageStream | None
    ordered: tuple[str, ...]
    #: --from-dir: each operator's manifests, read from disk instead of from images.
    dirs: Mapping[str, tuple[ManifestFile, ...]] | None = None
    inherited_name: str = ""
    inherited_metadata: dict[str, Any] | None = None
    inherited_previous: tuple[str, ...] | None = None
    inherited_next: tuple[str, ...] | None = None
    from_release_digest: str | None = None
    canonical_created: str | None = None
    to_image_base: str | None = None
    #: §3.3.1 step 7: the input release itself is the base image (the build counts as overridden).
    base_from_release: bool = False
    #: --from-release: the release's top layer, reused when the rebuilt payload tar is identical.
    source_layer: SourceLayer | None = None


def load_checked_stream(
    data: bytes, *, load_error: str, kind_error: str, json_only: bool = False
) -> ImageStream:
    """Decode an ImageStream and require image.openshift.io/v1 ImageStream, with the caller's oc messages.

    ``load_error`` may hold ``{err}`` for the decoding error.
    """
    try:
        stream = load_image_stream(data, json_only=json_only)
    except OkdReleaseError as err:
        raise ReleaseError(load_error.format(err=err)) from err
    if stream.kind != "ImageStream" or stream.api_version != "image.openshift.io/v1":
        raise ReleaseError(kind_error)
    return stream


def read_regular_file(path: str) -> bytes:
    """The bytes of the regular file at ``path`` (links followed), errors in Go's words as oc gives them:
    ``open PATH: <reason>`` when it cannot be opened, ``read PATH: <reason>`` when it cannot be read.
    A FIFO, device or socket is refused (``read PATH: not a regular file``), never waited on or read
    without end."""
    try:
        fd = open_regular(path)
    except NotRegularFile as err:
        reason = "is a directory" if err.is_dir else "not a regular file"
        raise ReleaseError(f"read {path}: {reason}") from err
    except OSError as err:
        raise ReleaseError(f"open {path}: {go_reason(err)}") from err
    try:
        return read_open(fd)
    except OSError as err:
        raise ReleaseError(f"read {path}: {go_reason(err)}") from err
    finally:
        os.close(fd)
