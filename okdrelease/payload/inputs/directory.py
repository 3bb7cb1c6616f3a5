"""Input ``--from-dir``: operator sub-directories and an optional ``image-references`` file."""

from __future__ import annotations

import os
from pathlib import Path

from okdrelease.errors import ReleaseError
from okdrelease.openshift.imagestream import ImageStream
from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import Inputs, load_checked_stream
from okdrelease.payload.plan import Plan
from okdrelease.payload.resolve import ManifestFile


def _operator_files(path: str) -> tuple[ManifestFile, ...]:
    files = []
    try:
        for child in sorted(os.scandir(path), key=lambda e: e.name):
            if child.is_file(follow_symlinks=False):
                st = child.stat(follow_symlinks=False)
                files.append(ManifestFile(child.name, Path(child.path).read_bytes(), st.st_mtime))
    except OSError as err:
        raise ReleaseError(f"unable to read --from-dir {path}: {err.strerror}") from err
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
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in plan.exclude:
                dirs[entry.name] = _operator_files(entry.path)
        elif entry.name == "image-references" and entry.is_file():
            stream = load_checked_stream(
                Path(entry.path).read_bytes(),
                json_only=True,
                load_error="unable to load image data from release directory",
                kind_error="could not parse images: invalid kind/apiVersion",
            )
    run.emit(f"info: Found {len(dirs)} operator manifest directories on disk")
    return Inputs(stream=stream, ordered=tuple(dirs), dirs=dirs)
