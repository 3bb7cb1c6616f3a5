"""The recorded resolution (okdrelease.payload.recorded): a warm ``new`` reads one record instead of every
component's manifest, config and layer index, and writes the same release."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from okdrelease.cache import LAYER_INDEX, RESOLUTION, VERDICT, Cache
from okdrelease.cache.store import BLOBS
from okdrelease.oci import layerindex
from okdrelease.oci.platform import PlatformSelector
from okdrelease.openshift.imagestream import TagReference
from okdrelease.payload import components, recorded
from okdrelease.payload.components import visit_order
from okdrelease.payload.pipeline import new_release
from okdrelease.payload.plan import NewOptions, parse_created
from okdrelease.payload.recorded import Recorded, RecordedOperator, read_record, record_key, write_record
from okdrelease.payload.resolve import ExtractedManifests, ManifestFile

ROOT = Path(__file__).resolve().parents[2]
SPECS = ["quay.io/okd/a@sha256:" + "1" * 64, "quay.io/okd/b@sha256:" + "2" * 64]


D = {n: "sha256:" + str(n) * 64 for n in range(3, 8)}
REFERENCE = ("a", "DockerImage", "quay.io/x/a@" + D[7])


def _components() -> list[Recorded]:
    files = (
        ManifestFile("0000_a.yaml", b"kind: A\n", 1714521600.0, untouched=True),
        ManifestFile("image-references", b"{}", 0.0),
    )
    return [
        Recorded(D[3], None, {"io.openshift.build.commit.id": "abc"}),
        Recorded(
            D[4],
            D[5],
            {"io.openshift.release.operator": "true"},
            RecordedOperator(ExtractedManifests((D[6],), files, (REFERENCE,)), (None, "bad yaml")),
        ),
    ]


def test_a_record_is_a_json_header_line_then_the_file_bytes() -> None:
    """The record's bytes, pinned: a header row per component (digests, labels, then an operator's
    layers, files, verdicts and image-references tags, null for a non-operator), then the files."""
    head = (
        f'{{"format":{recorded.RECORD_FORMAT},"pullspecs":["{SPECS[0]}","{SPECS[1]}"],"components":['
        f'["{D[3]}",null,{{"io.openshift.build.commit.id":"abc"}},null,null,null,null],'
        f'["{D[4]}","{D[5]}",{{"io.openshift.release.operator":"true"}},["{D[6]}"],'
        '[["0000_a.yaml",1714521600.0,8,true],["image-references",0.0,2,false]],[null,"bad yaml"],'
        f'[["a","DockerImage","quay.io/x/a@{D[7]}"]]]]}}'
    )
    assert recorded._encode(SPECS, _components()) == head.encode() + b"\nkind: A\n{}"
    read = recorded._decode(head.encode() + b"\nkind: A\n{}", SPECS)
    operator = read[1].operator
    assert operator is not None
    assert [f.untouched for f in operator.manifests.files] == [True, False]


def test_verdicts_come_one_per_file_with_an_operators_files_or_not_at_all() -> None:
    files = (ManifestFile("a.yaml", b"kind: A\n", 0.0),)
    with pytest.raises(ValueError, match="^verdicts do not match the files$"):
        RecordedOperator(ExtractedManifests((D[6],), files), (None, None))
    assert RecordedOperator(ExtractedManifests((D[6],), files)).verdicts is None


def test_a_record_reads_back_as_written_and_only_for_its_pull_specs(tmp_path: Path) -> None:
    key = record_key([(s, False) for s in SPECS], PlatformSelector.first())
    with Cache(tmp_path) as cache:
        write_record(cache, key, SPECS, _components())
    cache = Cache(tmp_path)
    found = read_record(cache, key, SPECS)
    assert found is not None and found == _components()
    operator = found[1].operator
    assert operator is not None
    assert [f.data for f in operator.manifests.files] == [b"kind: A\n", b"{}"]
    assert read_record(cache, key, SPECS[::-1]) is None  # another stream under the same key: not used
    assert read_record(cache, "sha256:" + "0" * 64, SPECS) is None


FILE_ROWS = b'[["0000_a.yaml",1714521600.0,8,true],["image-references",0.0,2,false]]'


@pytest.mark.parametrize(
    ("rows", "tail", "error"),
    [
        (FILE_ROWS, b"kind: A\n{}!", "the parts do not fill the record"),
        (FILE_ROWS, b"kind: A\n{", "a part runs past the end of the record"),
        (b'[["0000_a.yaml",1714521600.0,8,true]]', b"kind: A\n{}", "the parts do not fill the record"),
        (FILE_ROWS[:-1] + b',["b",0.0,1,false]]', b"kind: A\n{}", "a part runs past the end of the record"),
        (FILE_ROWS.replace(b",2,", b",true,"), b"kind: A\n{", "a part's length is not a count of bytes"),
        (FILE_ROWS.replace(b",2,", b",2.0,"), b"kind: A\n{}", "a part's length is not a count of bytes"),
        (b"null", b"kind: A\n{}", "layers without files or files without layers"),
    ],
    ids=["bytes left over", "bytes short", "a file row less", "a file row more", "true", "float", "no files"],
)
def test_a_record_whose_header_and_files_disagree_is_refused_with_a_value_error(
    rows: bytes, tail: bytes, error: str
) -> None:
    """The file rows are read once: each file's bytes are the part its row's length cut, and a header
    that does not match the bytes after it is a ValueError (the record is unusable), never a crash."""
    head = recorded._encode(SPECS, _components()).split(b"\n", 1)[0]
    assert FILE_ROWS in head
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        recorded._decode(head.replace(FILE_ROWS, rows, 1) + b"\n" + tail, SPECS)


def test_a_record_that_does_not_parse_is_not_used(tmp_path: Path) -> None:
    key = record_key([(s, False) for s in SPECS], PlatformSelector.first())
    payload = recorded._encode(SPECS, _components())
    non_operator = b"null,null,null,null]"  # the first component's layers, files, verdicts, references
    damaged = {
        "short": payload[:-1],  # a file shorter than its header says
        "format": payload.replace(f'"format":{recorded.RECORD_FORMAT}'.encode(), b'"format":0', 1),
        "verdict short": payload.replace(b'[null,"bad yaml"]', b"[null]", 1),
        "verdicts without files": payload.replace(non_operator, b"null,null,[],null]", 1),
        "references without files": payload.replace(non_operator, b"null,null,null,[]]", 1),
        "files without layers": payload.replace(f'["{D[6]}"]'.encode(), b"null", 1),
        "a row a field short": payload.replace(non_operator, b"null,null,null]", 1),
        "a row of three fields": payload.replace(b"," + non_operator, b"]", 1),
        "layers without files": payload.replace(FILE_ROWS, b"null", 1),
        "a length of true": payload.replace(b"0.0,2,false]", b"0.0,true,false]", 1)[:-1],
        "nested too deep": b"[" * 100_000 + b"\n",
        "not ASCII": payload.replace(b'"abc"', '"\u00e9"'.encode(), 1),
    }
    with Cache(tmp_path) as cache:
        for name, bad in damaged.items():
            assert bad != payload
            cache.put_record(RESOLUTION, f"{key}-{name}", bad)
    cache = Cache(tmp_path)
    assert {name: read_record(cache, f"{key}-{name}", SPECS) for name in damaged} == dict.fromkeys(damaged)


def test_the_key_names_the_pull_specs_in_order_the_layers_chosen_the_platform_and_the_formats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = PlatformSelector.first()
    key = record_key([(s, False) for s in SPECS], first)
    assert re.fullmatch("sha256:[0-9a-f]{64}", key)
    assert record_key([(s, False) for s in SPECS], first) == key
    others = {
        record_key([(s, False) for s in SPECS[::-1]], first),
        record_key([(SPECS[0], False), (SPECS[1], True)], first),  # an override reads all layers
        record_key([(s, False) for s in SPECS], PlatformSelector.from_flag("linux/arm64")),
    }
    monkeypatch.setattr(recorded, "RECORD_FORMAT", recorded.RECORD_FORMAT + 1)
    others.add(record_key([(s, False) for s in SPECS], first))
    monkeypatch.undo()
    assert record_key([(s, False) for s in SPECS], first) == key
    monkeypatch.setattr(
        layerindex, "INDEX_FORMAT", layerindex.INDEX_FORMAT + 1
    )  # the files are composed from them
    others.add(record_key([(s, False) for s in SPECS], first))
    assert key not in others and len(others) == 5


def _sample(
    tmp_path: Path, run: str, cache: Cache | None, monkeypatch: pytest.MonkeyPatch, **options: object
) -> tuple[bytes, list[str], list[str]]:
    """``new`` on the README's sample to a file: (the file, progress lines, the kinds of cache entries read)."""
    read: list[str] = []
    if cache is not None:
        get = Cache._get

        def logged(self: Cache, kind: str, key: str) -> bytes | None:
            read.append(kind)
            return get(self, kind, key)

        monkeypatch.setattr(Cache, "_get", logged)
    lines: list[str] = []
    out = tmp_path / f"{run}.tar.gz"
    new_release(
        NewOptions(
            from_oci_layout=str(ROOT / "testdata" / "sample-payload"),
            layout_repository="quay.io/okd/scos-content",
            name="4.16.0-okd.sample",
            created=parse_created("2024-05-01T00:00:00Z"),
            to_file=str(out),
            **options,  # type: ignore[arg-type]
        ),
        progress=lines.append,
        cache=cache,
    )
    monkeypatch.undo()
    return out.read_bytes(), lines, read


def _in_visit_order(tmp_path: Path, lines: list[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The progress lines of a run that reads the recorded resolution, in the one order it prints them:
    ``lines`` (a run's, whose concurrent visits print in any order) with the operators' "Loading" lines
    in the order visits start in (``components.visit_order`` of the stream's tags, named by the run)."""
    streams: list[list[str]] = []
    real = components.visit_order

    def named(tags: Sequence[TagReference]) -> list[int]:
        streams.append([tag.name for tag in tags])
        return real(tags)

    monkeypatch.setattr(components, "visit_order", named)
    _sample(tmp_path, "order", None, monkeypatch)  # undoes the spy
    (names,) = streams
    loading = {line.rsplit(" ", 1)[1]: line for line in lines if line.startswith("info: Loading ")}
    order = visit_order([TagReference(name) for name in names])
    ordered = [loading.pop(names[i]) for i in order if names[i] in loading]
    assert not loading and len(lines) == len(ordered) + 2  # "Found N images", the loads, "Included"
    assert ordered != sorted(ordered)  # so the order is what the comparison checks
    return [lines[0], *ordered, lines[-1]]


def test_a_warm_new_reads_the_recorded_resolution_and_writes_the_same_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a cache, cold and warm: the same bytes and the same progress lines. The cold run reads
    every component and records the resolution with the manifest check's verdicts; the warm one reads
    that record and nothing else (no manifest, config, layer index or verdict)."""
    expected, lines, _ = _sample(tmp_path, "none", None, monkeypatch)
    with Cache(tmp_path / "cache") as cache:
        cold, cold_lines, cold_read = _sample(tmp_path, "cold", cache, monkeypatch)
    with Cache(tmp_path / "cache") as cache:
        warm, warm_lines, warm_read = _sample(tmp_path, "warm", cache, monkeypatch)
    assert cold == warm == expected
    assert sorted(cold_lines) == sorted(lines)
    assert warm_lines == _in_visit_order(tmp_path, lines, monkeypatch)
    assert any(line.startswith("info: Loading ") for line in lines)
    assert {BLOBS, LAYER_INDEX, RESOLUTION} <= set(cold_read)
    assert warm_read == [RESOLUTION]


def test_a_resolution_recorded_without_the_check_has_its_verdicts_decided_by_a_run_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record written by a run that skipped the manifest check holds no verdicts: a run that checks
    reads the verdicts kept apart (or decides them) and writes the same release."""
    expected, lines, _ = _sample(tmp_path, "none", None, monkeypatch)
    with Cache(tmp_path / "cache") as cache:
        _sample(tmp_path, "unchecked", cache, monkeypatch, skip_manifest_check=True)
    with Cache(tmp_path / "cache") as cache:
        checked, checked_lines, checked_read = _sample(tmp_path, "checked", cache, monkeypatch)
    operators = sum(line.startswith("info: Loading ") for line in lines)
    assert (checked, checked_lines) == (expected, _in_visit_order(tmp_path, lines, monkeypatch))
    assert sorted(checked_read) == sorted([RESOLUTION] + [VERDICT] * operators)


class _Recording(Cache):
    """A cache that keeps the payload of every recorded resolution written."""

    written: list[bytes]

    def put_record(self, kind: str, key: str, payload: bytes) -> None:
        if kind == RESOLUTION:
            self.written.append(payload)
        super().put_record(kind, key, payload)


def _recording(path: Path) -> _Recording:
    cache = _Recording(path)
    cache.written = []
    return cache


def test_a_checking_run_records_the_verdicts_a_record_lacked_and_the_next_run_reads_only_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checking run writes the record again under the same key, with the verdicts it decided: the
    bytes a checking cold run records. The run after it reads the record alone (no verdict entry);
    a run that reads a complete record writes nothing."""
    expected, lines, _ = _sample(tmp_path, "none", None, monkeypatch)
    with _recording(tmp_path / "cold") as cache:
        _sample(tmp_path, "cold", cache, monkeypatch)
    (cold_record,) = cache.written
    with _recording(tmp_path / "cache") as cache:
        _sample(tmp_path, "unchecked", cache, monkeypatch, skip_manifest_check=True)
    (unchecked_record,) = cache.written
    with _recording(tmp_path / "cache") as cache:
        _sample(tmp_path, "checked", cache, monkeypatch)
    assert cache.written == [cold_record] and unchecked_record != cold_record
    with _recording(tmp_path / "cache") as cache:
        again, again_lines, again_read = _sample(tmp_path, "again", cache, monkeypatch)
    assert (again, again_lines, again_read) == (
        expected,
        _in_visit_order(tmp_path, lines, monkeypatch),
        [RESOLUTION],
    )
    assert cache.written == []
    with _recording(tmp_path / "cache") as cache:  # a run that skips the check keeps the verdicts
        skipped, _, skipped_read = _sample(tmp_path, "skipped", cache, monkeypatch, skip_manifest_check=True)
    assert (skipped, skipped_read, cache.written) == (expected, [RESOLUTION], [])
