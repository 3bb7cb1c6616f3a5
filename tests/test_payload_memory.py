"""What ``new`` holds at once (issue 9: peak RSS below oc's at 400 images): the resolution record is
stored from the operators' own file bytes, never from a copy of all of them.

Memory is asserted through ``tracemalloc`` (every Python allocation, exactly), never through RSS or
time: the peak over a step is bounded by a few MiB however much goes through it.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from okdrelease.cache import Cache
from okdrelease.payload.recorded import Recorded, RecordedOperator, read_record, write_record
from okdrelease.payload.resolve import ExtractedManifests, ManifestFile

SPEC = "quay.io/okd/operator@sha256:" + "1" * 64
KEY = "sha256:" + "2" * 64
LAYER = "sha256:" + "3" * 64


def test_a_recorded_resolution_is_stored_without_a_copy_of_its_files(tmp_path: Path) -> None:
    """Recording 16 MiB of operator files holds under 2 MiB more (it joined them into one 16 MiB
    record first); the record reads back the same."""
    files = tuple(ManifestFile(f"{i:04d}.yaml", bytes([65 + i]) * (2 << 20), float(i)) for i in range(8))
    operator = RecordedOperator(ExtractedManifests((LAYER,), files, None), (None,) * len(files))
    found = [Recorded("sha256:" + "4" * 64, None, {"io.openshift.release.operator": "true"}, operator)]
    tracemalloc.start()
    try:
        with Cache(tmp_path) as cache:
            write_record(cache, KEY, [SPEC], found)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, peak
    with Cache(tmp_path) as cache:
        assert read_record(cache, KEY, [SPEC]) == found
