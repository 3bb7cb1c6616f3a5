"""Input ``--from-dir``: operator sub-directories and an optional ``image-references`` file."""

from __future__ import annotations

import os
from pathlib import Path

from okdrelease.errors import ReleaseError
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import Inputs, load_checked_stream, read_regular_file
from okdrelease.payload.plan import Plan
from okdrelease.payload.resolve import ManifestFile


def _operator_files(path: str) -> tuple[ManifestFile, ...]:
    """Every entry of an operator directory but its sub-directories, as oc reads them: a symlink is
    followed and its target's bytes read (a link to a directory, a missing target, a FIFO or device is
    an error naming the entry, as in oc)."""
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as err:
        raise ReleaseError(f"unable to read --from-dir {path}: {err.strerror}") from err
    files = []
    for child in entries:
        if child.is_dir(follow_symlinks=False):
            continue
        try:
            st = child.stat(follow_symlinks=False)
        except OSError as err:
            raise ReleaseError(f"unable to read --from-dir {path}: {err.strerror}") from err
        try:
            data = read_regular_file(child.path)
        except ReleaseError as err:
            raise ReleaseError(f"unable to create a release: {err}") from err
        files.append(ManifestFile(child.name, data, st.st_mtime))
    return tuple(files)


def read(plan: Plan, run: Run) -> Inputs:
    """Each sub-directory is an operator's manifests; ``image-references`` is the input stream."""
    root = Path(plan.options.from_dir or "")
    run.emit(f"info: Using {plan.options.from_dir} as the input to the release")
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as err:
        raise ReleaseError(f"unable to read --from-dir {root}: {err.strerror}") from err
    stream: ImageStream | None = None
    dirs: dict[str, tuple[ManifestFile, ...]] = {}
    for entry in entries:
        if entry.name == "image-references":  # read as oc reads it: whatever it is, links followed
            stream = load_checked_stream(
                read_regular_file(entry.path),
                json_only=True,
                load_error="unable to load image data from release directory",
                kind_error="could not parse images: invalid kind/apiVersion",
            )
        elif entry.is_dir(follow_symlinks=False) and entry.name not in plan.exclude:
            dirs[entry.name] = _operator_files(entry.path)
    run.emit(f"info: Found {len(dirs)} operator manifest directories on disk")
    return Inputs(stream=stream, ordered=tuple(dirs), dirs=dirs)
