"""Input ``-f/--from-image-stream-file`` (file, ``-`` or URL): resolved by reference mode (spec §3.3.2)."""

from __future__ import annotations

import sys
from pathlib import Path

from okdrelease.errors import ReleaseError
from okdrelease.payload.context import Run
from okdrelease.payload.imagestream import ImageStream, resolve_input_stream
from okdrelease.payload.inputs.base import Inputs, load_checked_stream
from okdrelease.payload.plan import Plan


def read_text_source(path: str) -> bytes:
    """The bytes of a file, of stdin (``-``) or of an http(s) URL."""
    if path == "-":
        return sys.stdin.buffer.read()
    if path.startswith(("http://", "https://")):
        import requests

        try:
            resp = requests.get(path, timeout=60)
        except requests.RequestException as err:
            raise ReleaseError(f"unable to read input image stream file: {path}: {err}") from err
        if not 200 <= resp.status_code < 300:
            raise ReleaseError(f"unable to read input image stream file: {path}: HTTP {resp.status_code}")
        return resp.content
    return Path(path).read_bytes()


def read(plan: Plan, run: Run) -> Inputs:
    """Load the input stream and resolve its tags to pull specs."""
    path = plan.options.from_image_stream_file or ""
    try:
        data = read_text_source(path)
    except FileNotFoundError as err:
        raise ReleaseError(f"open {path}: no such file or directory") from err
    except OSError as err:
        raise ReleaseError(f"unable to read input image stream file: {err}") from err
    source = load_checked_stream(
        data,
        load_error="unable to load input image stream file: {err}",
        kind_error="unrecognized input image stream file, must be an ImageStream in image.openshift.io/v1",
    )
    tags, ordered = resolve_input_stream(source, plan.options.reference_mode, plan.exclude)
    run.emit(f"info: Found {len(tags)} images in image stream")
    return Inputs(stream=ImageStream(name="", annotations={}, tags=tags), ordered=tuple(ordered))
