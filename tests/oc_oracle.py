"""The real ``oc`` as an oracle: one registry, releases built by oc, oc and okdrelease run side by side.

``oc_release_rig`` (session fixture, imported by the parity test modules; built once per session
by ``conftest.py``'s ``oc_release_rig_shared``) starts a plain-HTTP
registry, pushes the golden ``01-realistic`` inputs (the real OKD operators) and builds two
releases with the real ``oc adm release new``:

* ``realistic``: the 01-realistic command line (32 real operators, component images, metadata);
* ``every_file``: ``--from-dir`` over every operator of ``../shared/testdata-real`` (all 658 real
  manifests; version placeholders of other components replaced, ``--skip-manifest-check`` so the
  templated CVO manifest is carried and reported by extract).

oc runs with ``HOME`` set to an empty directory (no personal credentials) and ``--insecure``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from golden_support import GOLDEN, SHARED, load_cases, push_layout, substitute
from registry_rig import RegistryServer

from okdrelease.cli import main
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Manifest
from okdrelease.reference import ImageReference
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient

OC_WRAPPER = SHARED / "tools" / "oc" / "oc"
TESTDATA_REAL = SHARED / "testdata-real"
CVO_TAG = "cluster-version-operator"


@attrs.frozen
class Run:
    """Exit code, stdout and stderr of one command."""

    code: int
    out: str
    err: str


@attrs.frozen
class OcRig:
    """The registry, oc's binary and the releases oc built there."""

    host: str
    oc: str
    home: Path
    realistic: str
    every_file: str
    control: str
    input_repo: str

    def oc_run(self, args: Sequence[str], *, cwd: Path | None = None) -> Run:
        """Run ``oc adm release ARGS --insecure`` with an empty HOME."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "REGISTRY_AUTH"))}
        env["HOME"] = str(self.home)
        argv = [self.oc, "adm", "release", *args[:1], "--insecure", *args[1:]]
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
        )
        return Run(done.returncode, done.stdout, done.stderr)


def okd_run(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``okdrelease ARGS`` (``--insecure`` after the subcommand) in-process."""
    capsys.readouterr()
    code = main([*args[:1], "--insecure", *args[1:]])
    out, err = capsys.readouterr()
    return Run(code, out, err)


def oc_binary() -> str:
    """The unpacked oc binary (the wrapper unpacks it once), or skip when ../shared has no oc."""
    if not OC_WRAPPER.is_file():
        pytest.skip(f"the real oc is not available at {OC_WRAPPER}")
    done = subprocess.run([str(OC_WRAPPER), "--path"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def run_oc(args: Sequence[str], home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``oc ARGS`` with ``HOME`` an empty directory of the caller's and nothing else of the environment
    but ``PATH``; text output captured, the exit code left to the caller."""
    return subprocess.run(
        [oc_binary(), *args],
        capture_output=True,
        text=True,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        timeout=timeout,
        check=False,
    )


_LONG = "word " * 30
#: An edge-case manifest that starts with ``{`` and is flow-style YAML, not JSON.
FLOW_YAML = "0000_99_edge_07_flow.yaml"
EDGE_CASES: dict[str, bytes] = {
    # key order, YAML 1.1 scalars that must be quoted, numbers as the JSON round trip leaves them
    "0000_99_edge_00_scalars.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scalars\n  namespace: edge\ndata:\n"
        + "".join(
            f"  {key}: {value}\n"
            for key, value in [
                ("a10", "x"),
                ("a9", "x"),
                ("_x", "x"),
                ("Z", "x"),
                ("a", "x"),
                ("a09", "x"),
                ("a009", "x"),
                ("b0", "x"),
                ("b00", "x"),
                ("b1", "x"),
                ("é", "x"),
                ("1", "x"),
                ("-k", "x"),
                ("k.v", "x"),
                ("q_yes", "'yes'"),
                ("q_y", "'y'"),
                ("q_n", "'N'"),
                ("q_on", "'on'"),
                ("q_off", "'Off'"),
                ("q_null", "'null'"),
                ("q_tilde", "'~'"),
                ("q_empty", "''"),
                ("q_true", "'True'"),
                ("q_int", "'123'"),
                ("q_oct", "'0777'"),
                ("q_hex", "'0x1F'"),
                ("q_under", "'1_000'"),
                ("q_float", "'1.5'"),
                ("q_exp", "'1e3'"),
                ("q_dot", "'.5'"),
                ("q_inf", "'.inf'"),
                ("q_date", "'2024-01-02'"),
                ("q_ts", "'2024-1-2T3:04:05Z'"),
                ("q_baddate", "'2024-02-30'"),
                ("q_sixty", "'1:20'"),
                ("q_ver", "'1.2.3'"),
                ("q_plus", "'+1'"),
                ("q_big", "'99999999999999999999'"),
                ("q_e999", "'1e999'"),
                ("q_merge", "'<<'"),
                ("q_dash", "'-'"),
                ("q_star", "'*'"),
                ("q_colon", "'a: b'"),
                ("q_colon_end", "'a:'"),
                ("q_hash", "'a #b'"),
                ("q_hash2", "'a#b'"),
                ("q_lead", "' lead'"),
                ("q_trail", "'trail '"),
                ("q_tab", '"a\\tb"'),
                ("q_cr", '"a\\rb"'),
                ("q_quote", "'it''s'"),
                ("q_dq", "'say \"hi\"'"),
                ("q_bs", "'back\\\\slash'"),
                ("q_emoji", '"smile \\U0001F600"'),
                ("q_nbsp", '"a\\u00a0b"'),
                ("q_bom", '"\\ufeffbom"'),
                ("q_ls", '"a\\u2028b"'),
                ("q_flow", "'[a]'"),
                ("q_brace", "'{a}'"),
                ("q_comma", "'a,b'"),
                ("q_bang", "'!tag'"),
                ("q_amp", "'&a'"),
                ("q_pct", "'%a'"),
                ("q_at", "'@a'"),
                ("q_tick", "'`a'"),
                ("q_question", "'? a'"),
                ("q_docstart", "'--- a'"),
                ("q_dots", "'...'"),
                ("q_long", f"'{_LONG}end'"),
                ("q_long2", f"'{_LONG}  two  spaces  end'"),
                ("q_long_quoted", f"'\"{_LONG}\" #x {_LONG}'"),
                ("q_long_tab", f'"{_LONG}\\t{_LONG}"'),
            ]
        )
    ).encode(),
    "0000_99_edge_01_numbers.yaml": (
        "apiVersion: v1\nkind: Edge\nmetadata:\n  name: numbers\nspec:\n"
        + "".join(
            f"  {key}: {value}\n"
            for key, value in [
                ("int", "42"),
                ("neg", "-7"),
                ("oct", "0777"),
                ("hex", "0x1F"),
                ("under", "1_000"),
                ("float", "1.5"),
                ("whole", "1.0"),
                ("exp", "1e3"),
                ("small", "0.0000001"),
                ("tiny", "1e-7"),
                ("million", "1000000.5"),
                ("big", "12345678901234567890"),
                ("huge", "99999999999999999999"),
                ("dot", ".5"),
                ("plus", "+3"),
                ("yes", "yes"),
                ("on", "on"),
                ("y", "y"),
                ("tilde", "~"),
                ("date", "2024-01-02"),
                ("ts", "2024-01-02T03:04:05Z"),
                ("sixty", "1:20"),
                ("neg0", "-0.0"),
            ]
        )
    ).encode(),
    # block scalars: final line breaks, leading spaces, space before a break, keep chomping at EOF
    "0000_99_edge_02_blocks.yaml": (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blocks\ndata:\n"
        b"  clip: |\n    one\n    two\n"
        b"  strip: |-\n    one\n    two\n"
        b"  keep: |+\n    one\n\n\n"
        b"  lead: |2\n      indented\n    back\n"
        b"  folded: >\n    folded text\n    more\n"
        b'  space_break: "a \\nb"\n'
        b'  trailing_space_line: "a\\nb "\n'
        b'  only_break: "\\n"\n'
        b"  list:\n  - |\n    in a list\n  - - nested\n    - list\n  - {}\n  - []\n  - a: 1\n    b: [1, 2]\n"
        b"  empty_map: {}\n  empty_list: []\n  nil: null\n"
        b"  ? |\n    multi\n    line key\n  : value\n"
        + b"  "
        + b"k" * 130
        + b": long key\n"
        + b"  last: |+\n    no newline at end of file"
    ),
    # a JSON manifest, a CRLF file with several documents and comments, a BOM
    "0000_99_edge_03_json.json": b'{"kind": "Edge", "apiVersion": "v1", "metadata": {"name": "json"}, '
    b'"spec": {"f": 1.0, "g": 1e3, "s": "yes", "n": null, "l": [], "m": {}, "u": "\\u00e9\\u2028"}}\n',
    "0000_99_edge_04_crlf.yaml": b"# comment\r\n---\r\napiVersion: v1\r\nkind: Edge\r\nmetadata:\r\n  name: one\r\n"
    b"--- # two\r\napiVersion: v1\r\nkind: Edge\r\nmetadata:\r\n  name: two\r\ndata: |\r\n  x\r\n  y\r\n---\r\n",
    "0000_99_edge_05_bom.yaml": b"\xef\xbb\xbfapiVersion: v1\nkind: Edge\nmetadata:\n  name: bom\n",
    "0000_99_edge_06_anchors.yaml": b"apiVersion: v1\nkind: Edge\nmetadata:\n  name: anchors\n"
    b"base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n",
    # starts with "{" but is no JSON: the Kubernetes decoder falls back to YAML (flow style, CRLF)
    FLOW_YAML: b"{apiVersion: v1, kind: Edge, metadata: {name: flow},\r\n"
    b"  spec: {image: 'quay.io/a/b@sha256:0123', f: 1.5, m: {}, s: '012', b: yes}}\r\n",
    # one JSON object, then YAML documents: read as JSON, then YAML from the next line
    "0000_99_edge_08_json_then_yaml.yaml": b'{"apiVersion": "v1", "kind": "Edge", "metadata": {"name": "first"}, "n": 1.0}\n'
    b"---\napiVersion: v1\nkind: Edge\nmetadata:\n  name: second\nn: 1.0\n",
    # a BOM before "{": no JSON for the decoder (a BOM is no space), read as YAML
    "0000_99_edge_09_bom.json": b'\xef\xbb\xbf{"apiVersion": "v1", "kind": "Edge", "metadata": {"name": "bom-json"}, "n": 1e3}\n',
}


CONTROL_CHARACTER = {
    "0000_99_control.yaml": b'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: control\ndata:\n  del: "a\\x7fb"\n'
}


def _from_dir(root: Path, cvo: str, *, real: bool, edge: dict[str, bytes]) -> Path:
    """A --from-dir tree: the testdata-real operators' manifests (``real``), an ``edge`` operator, a CVO base."""
    target = root / ("from-dir-real" if real else "from-dir")
    target.mkdir()
    for manifests in sorted((TESTDATA_REAL / "operators").glob("*/manifests")) if real else []:
        operator = target / manifests.parent.name
        operator.mkdir()
        for path in sorted(manifests.iterdir()):
            if path.suffix in (".yaml", ".yml", ".json"):
                data = path.read_bytes()
                # other components' version placeholders cannot resolve without their images
                data = re.sub(rb"0\.0\.1-snapshot-[a-z0-9-]+", b"9.9.9", data)
                (operator / path.name).write_bytes(data)
    operator = target / "zz-edge-cases"
    operator.mkdir()
    for name, data in edge.items():
        (operator / name).write_bytes(data)
    stream = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": "input"},
        "spec": {"tags": [{"name": CVO_TAG, "from": {"kind": "DockerImage", "name": cvo}}]},
    }
    (target / "image-references").write_text(json.dumps(stream))
    return target


#: Release metadata of ``every_file``: versions oc sorts as strings in the file and by semver in info,
#: next versions (info shows none), null, empty and nested metadata values.
EVERY_FILE_METADATA = (
    *("--previous", "4.14.2", "--previous", "4.14.10", "--previous", "4.14.0"),
    *("--next", "4.16.0", "--next", "4.15.10"),
    "--metadata",
    '{"url": "https://example.com/4.15", "nil": null, "empty": "", "list": [], "map": {}, '
    '"nums": [1, 2.5, 1e21], "nested": {"b": true, "s": "x"}}',
)


def _oc_new(rig: OcRig, args: list[str]) -> None:
    done = rig.oc_run(["new", *args])
    if done.code != 0:
        raise RuntimeError(f"oc adm release new failed ({done.code}): {done.err}")


def _build(tmp: Path) -> Iterator[OcRig]:
    case = next(c for c in load_cases() if c.name == "01-realistic")
    server = RegistryServer(tmp / "registry", flavour="http")
    info = server.start()
    try:
        repo_name = str(case.data["input_repo"])
        client = RegistryClient(TransportOptions(insecure=True))
        repository = client.repository(ImageReference.parse(f"{info.host}/{repo_name}"))
        for layout in case.input_layouts:
            push_layout(layout, repository)
        home = tmp / "home"
        home.mkdir()
        rig = OcRig(
            host=info.host,
            oc=oc_binary(),
            home=home,
            realistic=f"{info.host}/parity/release:realistic",
            every_file=f"{info.host}/parity/release:every-file",
            control=f"{info.host}/parity/release:control",
            input_repo=repo_name,
        )
        work = tmp / "case"
        work.mkdir()
        stream_text = substitute((case.path / "imagestream.yaml").read_text(), info.host, repo_name)
        (work / "imagestream.yaml").write_text(stream_text)
        args = [substitute(a, info.host, repo_name, str(work)) for a in case.data["oc_args"][4:]]
        args[-1] = rig.realistic
        _oc_new(rig, args)
        cvo = re.search(rf"name: {CVO_TAG}\n.*?name: (\S+)", stream_text, re.S)
        assert cvo is not None
        for release, from_dir in (
            (rig.every_file, _from_dir(tmp, cvo.group(1), real=True, edge=EDGE_CASES)),
            (rig.control, _from_dir(tmp, cvo.group(1), real=False, edge=CONTROL_CHARACTER)),
        ):
            args = ["--from-dir", str(from_dir), "--name", "4.15.0-0.parity", "--skip-manifest-check"]
            _oc_new(rig, [*args, *EVERY_FILE_METADATA, "--to-image", release])
        yield rig
    finally:
        server.stop()


def build_oc_release_rig(factory: pytest.TempPathFactory) -> Iterator[OcRig]:
    """The session's registry with the releases the real oc built (see the module docstring)."""
    if not GOLDEN.is_dir():
        pytest.skip(f"golden cases not found at {GOLDEN}")
    oc_binary()
    yield from _build(factory.mktemp("oc-oracle"))


@pytest.fixture(scope="session")
def oc_release_rig(oc_release_rig_shared: OcRig) -> OcRig:
    """The rig for a test module that imports this fixture; the one ``conftest.py`` builds per session.

    (A fixture imported into two modules is two fixtures to pytest, each set up once: building
    here would build the releases once per importing module.)
    """
    return oc_release_rig_shared


#: ``created`` left out of a config (:func:`with_created`, :func:`with_component_times`).
ABSENT = object()


def without_created(rig: OcRig, tag: str = "no-created") -> tuple[str, str]:
    """A copy of the ``realistic`` release whose image config has no ``created`` (oc's readers take Go's
    zero time), pushed as ``parity/release:TAG``; its pull specs by tag and by digest."""
    return with_created(rig, ABSENT, tag)


def with_created(rig: OcRig, created: object, tag: str) -> tuple[str, str]:
    """A copy of the ``realistic`` release whose image config has ``created`` set to the JSON value
    ``created`` (:data:`ABSENT`: no ``created``), pushed as ``parity/release:TAG``; its pull specs by tag
    and by digest."""
    return with_config(rig, {"created": created}, tag)


def with_config(rig: OcRig, fields: dict[str, object], tag: str) -> tuple[str, str]:
    """A copy of the ``realistic`` release whose image config has each of ``fields`` set to its JSON
    value (:data:`ABSENT`: left out), in the order given after the config's other fields, pushed as
    ``parity/release:TAG``; its pull specs by tag and by digest."""
    client = RegistryClient(TransportOptions(insecure=True))
    try:
        repository = client.repository(ImageReference.parse(f"{rig.host}/parity/release"))
        manifest = repository.get_manifest(rig.realistic.rpartition(":")[2])
        assert isinstance(manifest, Manifest)
        config = json.loads(repository.read_blob(manifest.config.digest, manifest.config.size))
        for key, value in fields.items():
            config.pop(key, None)
            if value is not ABSENT:
                config[key] = value
        raw = json.dumps(config).encode()
        repository.put_blob(raw, sha256_digest(raw), len(raw))
        body = json.loads(manifest.raw)
        body["config"] = {**body["config"], "digest": sha256_digest(raw), "size": len(raw)}
        digest = repository.put_manifest(json.dumps(body).encode(), manifest.media_type, tag)
    finally:
        client.close()
    return f"{rig.host}/parity/release:{tag}", f"{rig.host}/parity/release@{digest}"


def _push_image(repository: Any, config: dict[str, Any], layer: bytes, tag: str) -> str:
    """Push ``layer``, ``config`` and a Docker v2 manifest of the two as ``tag``; the manifest's digest."""
    raw = json.dumps(config).encode()
    for blob in (layer, raw):
        repository.put_blob(blob, sha256_digest(blob), len(blob))
    body = {
        "schemaVersion": 2,
        "mediaType": _DOCKER_MANIFEST,
        "config": {"mediaType": _DOCKER_CONFIG, "digest": sha256_digest(raw), "size": len(raw)},
        "layers": [{"mediaType": _DOCKER_LAYER, "digest": sha256_digest(layer), "size": len(layer)}],
    }
    return str(repository.put_manifest(json.dumps(body).encode(), _DOCKER_MANIFEST, tag))


_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


#: ``created`` values of a release config oc reads (Go's time.Time JSON decoding) and prints in
#: extract's line as ``Format(time.RFC3339)`` in the zone written (info: in UTC).
CREATED_READ = [
    "0000-01-01T00:00:00Z",  # year 0: printed as is (0001-01-01T00:00:00Z before)
    "0001-01-01T00:00:00Z",  # Go's zero time written out (1-01-01T00:00:00Z before)
    "2024-01-01T12:00:00+02:00",  # the offset kept (10:00:00Z before)
    "2024-01-01T12:00:00.5+02:00",
    "0000-01-01T00:30:00+01:00",  # the year before 0 in UTC: -0001-12-31T23:30:00Z
    "2024-01-01T12:00:00,5+00:00",  # a comma before the fraction; a zero offset is Z
    "2024-01-01T1:00:00Z",  # a one-digit hour
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00.1234567891Z",
    None,
]
#: ``created`` values Go's decoder refuses: oc cannot read the release at all.
CREATED_REFUSED = [
    "",
    "2024-01-01",
    "2024-01-01t12:00:00z",
    "2024-13-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-01T00:00:00Zx",
    "2024-01-01T00:00:60Z",
    "2024-01-01T00:00:00+25:00",
    5,
    True,
    {},
    [],
]


def with_component_times(rig: OcRig, times: Sequence[object], tag: str) -> str:
    """A release (pushed as ``parity/times:TAG``) of one component per value of ``times``, named
    ``c0``, ``c1``, ...: its image config's ``created`` is that JSON value (:data:`ABSENT`: none); its
    layer is its own (one file). The release's pull spec."""
    return with_component_configs(rig, [{"created": created} for created in times], tag)


def with_component_configs(rig: OcRig, configs: Sequence[dict[str, object]], tag: str) -> str:
    """A release (pushed as ``parity/times:TAG``) of one component per item of ``configs``, named ``c0``,
    ``c1``, ...: its image config has architecture, os, config and rootfs, then the item's fields
    (:data:`ABSENT`: left out); its layer is its own (one file). The release's pull spec."""
    client = RegistryClient(TransportOptions(insecure=True))
    try:
        repository = client.repository(ImageReference.parse(f"{rig.host}/parity/times"))
        tags = []
        for i, fields in enumerate(configs):
            layer = _tar({f"c{i}": b"x" * (i + 1)})
            config: dict[str, Any] = {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]},
            }
            config.update((key, value) for key, value in fields.items() if value is not ABSENT)
            digest = _push_image(repository, config, layer, f"{tag}-c{i}")
            tags.append(
                {
                    "name": f"c{i}",
                    "from": {"kind": "DockerImage", "name": f"{rig.host}/parity/times@{digest}"},
                }
            )
        stream = {
            "kind": "ImageStream",
            "apiVersion": "image.openshift.io/v1",
            "metadata": {"name": "4.1.0", "creationTimestamp": None},
            "spec": {"lookupPolicy": {"local": False}, "tags": tags},
            "status": {"dockerImageRepository": ""},
        }
        layer = _tar(
            {
                "release-manifests/image-references": json.dumps(stream).encode(),
                "release-manifests/release-metadata": b'{"kind":"cincinnati-metadata-v0","version":"4.1.0"}',
            }
        )
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Labels": {"io.openshift.release": "4.1.0"}},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]},
        }
        _push_image(repository, config, layer, tag)
    finally:
        client.close()
    return f"{rig.host}/parity/times:{tag}"


def tree(directory: Path) -> dict[str, bytes]:
    """Every regular file below ``directory`` (relative path → bytes)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def fresh(directory: Path) -> Path:
    """An empty directory at ``directory``."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


#: Release config fields oc decodes (library-go's DockerImageConfig; each ``history[].created`` a Go
#: time.Time) and -o json writes again: times through MarshalJSON (copied as written before), a null
#: history entry as an empty one (left out before), null elements as "" and {} (null before), ``variant``
#: left out (oc's struct has none), ``size`` the sum of the layers.
CONFIG_READ: dict[str, dict[str, object]] = {
    "history-times": {
        "history": [
            {"created": "2024-01-01T12:00:00,5+02:00", "created_by": "/bin/sh -c x"},
            None,
            {},
            {"created": "0000-01-01T00:00:00Z", "empty_layer": True},
            {"created": "2024-01-01T1:00:00.1234567891Z", "comment": "c", "empty_layer": False},
        ]
    },
    "history-key-case": {"History": [{"Created": "2024-01-01T12:00:00+02:00", "Author": "a"}]},
    "nulls": {
        "container_config": {"Env": [None, "A=1"], "Labels": {"a": None}, "ExposedPorts": {"80/tcp": None}},
        "variant": "v8",
        "size": 5,
        "history": None,
    },
}
#: A history time Go reads but cannot write as RFC 3339: the text view is oc's, -o json fails as oc's.
CONFIG_UNWRITABLE: dict[str, dict[str, object]] = {
    "history-24h": {"history": [{"created": "2024-01-01T00:00:00+24:00"}]},
}
#: Configs oc cannot decode: the first error in document order ends it (info and extract read the
#: release before, except for a refused top-level ``created``).
CONFIG_REFUSED: dict[str, dict[str, object]] = {
    "history-created-empty": {"history": [{"created": ""}]},
    "history-created-number": {"history": [{"created": 5}]},
    "history-entry-number": {"history": [{}, 5]},
    "history-string": {"history": "abc"},
    "history-author-first": {"history": [{"author": 5, "created": ""}]},
    "history-number-before-text": {"history": [{"created": 5}, {"created": "x"}]},
    "history-key-case": {"History": [{"Created": "", "Author": 5}]},
    "history-empty-layer": {"history": [{"empty_layer": "x"}]},
    "created-before-history": {"created": "", "history": [{"created": 5}]},
    "architecture-before-history": {"architecture": 5, "history": [{"created": ""}]},
    "size-fraction": {"size": 1.0},
    "exposed-port": {"container_config": {"ExposedPorts": {"80/tcp": 5}}},
    "diff-id": {"rootfs": {"type": "layers", "diff_ids": [5]}},
}
CONFIG_CASES = {**CONFIG_READ, **CONFIG_UNWRITABLE, **CONFIG_REFUSED}
