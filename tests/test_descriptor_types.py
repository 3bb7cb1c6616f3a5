"""Descriptors and annotations typed as Go decodes them (hunt #8a, #11).

containers/image (skopeo) decodes a descriptor's ``size`` into an ``int64``: a float (even ``134e0``), a
bool, a string or a number past int64 is refused (checked with skopeo 1.x against a layout umoci made:
``json: cannot unmarshal number 1.5 into Go struct field Descriptor.config.size of type int64``).
Strings (media type, digest, annotation values, platform fields) must be strings. A malformed
manifest is refused when it is read, with an error naming where it came from: the registry,
repository and reference, or the layout path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import build_image
from registry_rig import RegistryInfo, RepoNamer
from test_faults import cli, one_error_line, seed_layout, seed_registry

from okdrelease.errors import OkdReleaseError
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import parse_manifest

CONFIG = {"mediaType": mt.OCI_CONFIG, "digest": sha256_digest(b"c"), "size": 1}
LAYER = {"mediaType": mt.OCI_LAYER, "digest": sha256_digest(b"l"), "size": 1}


def _manifest(**fields: object) -> bytes:
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": CONFIG,
        "layers": [LAYER],
    }
    doc.update(fields)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_manifest(config={**CONFIG, "size": 1.5}), "invalid config descriptor: size 1.5 is not an integer"),
        (
            _manifest(config={**CONFIG, "size": True}),
            "invalid config descriptor: size is a boolean, not an integer",
        ),
        (
            _manifest(config={**CONFIG, "size": "12"}),
            "invalid config descriptor: size is a string, not an integer",
        ),
        (
            _manifest(config={**CONFIG, "size": 1 << 63}),
            f"invalid config descriptor: size {1 << 63} is out of range",
        ),
        (
            _manifest(config={**CONFIG, "size": None}),
            "invalid config descriptor: size is null, not an integer",
        ),
        (
            _manifest(config={k: v for k, v in CONFIG.items() if k != "size"}),
            "invalid config descriptor: size is missing",
        ),
        (_manifest(config=None), "invalid config descriptor: null, not an object"),
        (_manifest(layers=["x"]), "invalid descriptor layers[0]: a string, not an object"),
        (_manifest(layers=[LAYER, {**LAYER, "size": -1}]), "invalid descriptor layers[1]: negative size -1"),
        (_manifest(layers={}), "layers is an object, not an array"),
        (
            _manifest(layers=[{**LAYER, "mediaType": 5}]),
            "invalid descriptor layers[0]: mediaType is a number, not a string",
        ),
        (
            _manifest(layers=[{**LAYER, "digest": 5}]),
            "invalid descriptor layers[0]: digest is a number, not a string",
        ),
        (
            _manifest(layers=[{**LAYER, "annotations": {"org.opencontainers.image.title": 5}}]),
            "invalid descriptor layers[0]: annotation org.opencontainers.image.title is a number, not a string",
        ),
        (
            _manifest(layers=[{**LAYER, "annotations": []}]),
            "invalid descriptor layers[0]: annotations is an array, not an object",
        ),
        (_manifest(annotations={"a": ["b"]}), "manifest annotation a is an array, not a string"),
        (_manifest(mediaType=5), "manifest mediaType is a number, not a string"),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mt.OCI_INDEX,
                    "manifests": [{**LAYER, "platform": {"os": 5}}],
                }
            ).encode(),
            "invalid descriptor manifests[0]: os is a number, not a string",
        ),
        (
            b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:'
            + b"a" * 64
            + b'","size":'
            + b"9" * 5000
            + b"}}",
            "manifest is not valid JSON: number 99999999999999999999... with 5000 digits is out of range",
        ),
    ],
)
def test_malformed_descriptors_are_refused_when_read(raw: bytes, message: str) -> None:
    with pytest.raises(OkdReleaseError) as err:
        parse_manifest(raw)
    assert str(err.value) == message


def test_integral_sizes_up_to_int64_are_kept() -> None:
    manifest = parse_manifest(
        _manifest(config={**CONFIG, "size": (1 << 63) - 1}, layers=[{**LAYER, "size": 0}])
    )
    assert manifest.config.size == (1 << 63) - 1  # type: ignore[union-attr]
    assert [layer.size for layer in manifest.layers] == [0]  # type: ignore[union-attr]


def test_layout_ref_name_that_is_not_a_string_names_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = seed_layout(tmp_path / "lay", build_image(seed="refint"))
    index_path = tmp_path / "lay" / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = 5
    index_path.write_text(json.dumps(index))
    for argv in (["info", source], ["copy", "-q", source, f"oci:{tmp_path / 'out'}:v1"]):
        code, out, err = cli(capsys, *argv)
        assert (code, out) == (1, "")
        assert one_error_line(err).endswith(
            f"malformed {index_path}: invalid descriptor: "
            "annotation org.opencontainers.image.ref.name is a number, not a string"
        ), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"layers": ["x"]}, "invalid descriptor layers[0]: a string, not an object"),
        ({"config": None}, "invalid config descriptor: null, not an object"),
        ({"config": {**CONFIG, "size": 1.5}}, "invalid config descriptor: size 1.5 is not an integer"),
    ],
)
def test_registry_manifest_with_malformed_descriptor_names_the_image(
    registry_http: RegistryInfo,
    proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, object],
    problem: str,
) -> None:
    name = RepoNamer("desc-types")()
    image = build_image(seed="desc-types")
    seed_registry(registry_http, name, image)
    served = json.loads(image.manifest)
    served.update(change)
    proxy.add(Rule("GET", "/manifests/v1$", "replace", times=None, body=json.dumps(served).encode()))
    code, out, err = cli(capsys, "info", "--insecure", f"{proxy.host}/{name}:v1")
    assert (code, out) == (1, "")
    assert one_error_line(err) == (f"error: manifest {proxy.host}/{name}:v1: {problem}")
