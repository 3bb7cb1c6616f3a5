"""Payload file names that are not UTF-8, or sort differently as bytes and as code points, against the
real oc: ``info --contents`` prints each name as its bytes in byte order, ``extract --file`` finds such
a file and ``extract`` writes it under the same bytes, as oc does.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest
from differential.images import Entry, ImageSpec, Pusher, build
from differential.runner import Session, oracle_session
from registry_rig import RegistryInfo
from test_parity_extract_write import IR, METADATA, MTIME

#: As bytes: 5a, 61, c3a9, ee8080, f09f9880, ff; as Python code points ff (read as U+DCFF) comes
#: before U+E000 and the emoji.
NAMES = [b"Z.yaml", b"\xff.yaml", b"a.yaml", b"\xee\x80\x80.yaml", b"\xc3\xa9.yaml", b"\xf0\x9f\x98\x80.yaml"]


def _cm(index: int) -> bytes:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{index}\n  namespace: b\n".encode()


@attrs.frozen
class Rig:
    """The session and the release's pull spec."""

    session: Session
    release: str


@pytest.fixture(scope="module")
def rig(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Rig:
    session = oracle_session(registry_http.host, Path(tmp_path_factory.mktemp("odd-names")))
    files = [("image-references", IR), ("release-metadata", METADATA)]
    files += [(os.fsdecode(name), _cm(i)) for i, name in enumerate(NAMES)]
    entries = (Entry("release-manifests/", None, MTIME, 0o755),) + tuple(
        Entry(f"release-manifests/{name}", data, MTIME) for name, data in files
    )
    spec = ImageSpec(
        "odd",
        (entries,),
        {"io.openshift.release": "4.16.9"},
        config_extra={"created": "2024-05-01T00:00:00Z"},
    )
    Pusher(session.host).push("odd-names/release", build(spec), "odd")
    return Rig(session, f"{session.host}/odd-names/release:odd")


def test_info_contents_prints_names_as_bytes_in_byte_order(rig: Rig) -> None:
    """oc's stdout byte for byte (a name that is not UTF-8 stopped okdrelease half-way with an internal error)."""
    session = rig.session
    oc = session.run(session.oc_cmd("adm", "release", "info", "--insecure", "--contents", rig.release))
    ours = session.run(session.py_cmd("info", "--insecure", "--contents", rig.release))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    headers = [line for line in ours.stdout.splitlines() if line.startswith(b"# ")]
    assert headers == [
        b"# image-references",
        b"# release-metadata",
        *(b"# " + name for name in sorted(NAMES)),
    ]


def test_extract_takes_a_name_that_is_not_utf8_as_oc_and_names_a_missing_one_by_its_bytes(
    rig: Rig, tmp_path: Path
) -> None:
    """``--file`` with the name's bytes prints the file and ``extract`` writes the same names and bytes,
    as oc; a missing name oc prints with its raw byte, okdrelease as ``\\xNN`` (stderr stays text; it
    printed ``\\udcfe`` before), exit 1 as oc."""
    session, name = rig.session, os.fsdecode(b"\xff.yaml")
    oc = session.run(session.oc_cmd("adm", "release", "extract", "--insecure", "--file", name, rig.release))
    ours = session.run(session.py_cmd("extract", "--insecure", "--file", name, rig.release))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert ours.stdout == _cm(1)
    missing = os.fsdecode(b"\xfe.yaml")
    oc = session.run(
        session.oc_cmd("adm", "release", "extract", "--insecure", "--file", missing, rig.release)
    )
    ours = session.run(session.py_cmd("extract", "--insecure", "--file", missing, rig.release))
    assert (oc.code, oc.stdout, oc.stderr) == (1, b"", "error: image did not contain \ufffd.yaml\n")
    assert (ours.code, ours.stdout, ours.stderr) == (1, b"", "error: image did not contain \\xfe.yaml\n")
    oc_dir, okd_dir = tmp_path / "oc", tmp_path / "okd"
    oc = session.run(
        session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(oc_dir), rig.release)
    )
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(okd_dir), rig.release))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    written = {name: (okd_dir / os.fsdecode(name)).read_bytes() for name in os.listdir(os.fsencode(okd_dir))}
    assert written == {
        name: (oc_dir / os.fsdecode(name)).read_bytes() for name in os.listdir(os.fsencode(oc_dir))
    }
    assert sorted(written) == sorted([b"image-references", b"release-metadata", *NAMES])
