"""``okdrelease mirror`` into OCI layouts that skopeo and umoci open, and of multi-arch releases (issue 13).

A tiny single-architecture release (three Docker schema 2 components, the release built by
okdrelease for a registry, so Docker schema 2 too) and the generated four-architecture sample of
``test_multiarch`` on the session registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registry_rig import RegistryInfo, RepoNamer
from test_layout_formats import (
    LAYOUT_WARNING,
    assert_all_oci,
    assert_opened_by_skopeo_and_umoci,
    blob,
    index_entry,
)
from test_mirror_templates import NAME, Payload, push_payload

from okdrelease.cli import main
from okdrelease.oci import mediatypes as mt


def mirror(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    """``okdrelease mirror ARGS``; return (stdout, stderr) after asserting success."""
    code = main(["mirror", "--insecure", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def build(capsys: pytest.CaptureFixture[str], payload: Payload, target: str) -> str:
    """okdrelease's release of the payload at ``target``; its digest."""
    code = main(["new", "--insecure", "--name", NAME, *payload.mappings, "--to-image", target])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.split()[0]


def test_mirror_to_layout_default_and_format_oci(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = push_payload(registry_http, unique_repo())
    release = f"{registry_http.host}/{unique_repo()}:{NAME}"
    digest = build(capsys, payload, release)
    tag = f"{NAME}-x86_64"

    # Default: byte for byte, the release digest (and its signatures) kept; skopeo cannot open the
    # Docker schema 2 release entry and stderr says so, once.
    kept = tmp_path / "kept"
    out, err = mirror(capsys, "--from", release, "--to", f"oci:{kept}")
    assert err.count(LAYOUT_WARNING) == 1 and "--format oci converts them" in err
    entry = index_entry(kept, tag)
    assert (entry["mediaType"], entry["digest"]) == (mt.DOCKER_MANIFEST, digest)
    assert f"{digest} oci:{kept}:{tag}\n" in out

    # --format oci: every manifest converted, skopeo and umoci open the release and each component.
    converted = tmp_path / "converted"
    out, err = mirror(capsys, "--from", release, "--to", f"oci:{converted}", "--format", "oci")
    assert LAYOUT_WARNING not in err
    new_digest = index_entry(converted, tag)["digest"]
    assert new_digest != digest
    assert (
        f"warning: --format oci wrote the release as {new_digest}; its signatures name {digest}, "
        "the release as built (mirror without --format to keep it)\n"
    ) in err
    assert "warning: --format oci changed the digests of 3 component images;" in err
    assert f"{new_digest} oci:{converted}:{tag}\n" in out
    release_manifest = assert_all_oci(converted, tag)
    assert_opened_by_skopeo_and_umoci(converted, tag, new_digest, tmp_path)
    assert (tmp_path / f"bundle-{tag}" / "rootfs" / "release-manifests" / "image-references").is_file()
    for name in payload.digests:
        ref = f"{tag}-{name}"
        component = assert_all_oci(converted, ref)
        assert_opened_by_skopeo_and_umoci(converted, ref, index_entry(converted, ref)["digest"], tmp_path)
        assert component.layers  # same layer blobs as the source, only their media types changed
    # The converted release still names the components by their original digests.
    references = json.loads(
        (tmp_path / f"bundle-{tag}" / "rootfs" / "release-manifests" / "image-references").read_text()
    )
    named = {t["name"]: t["from"]["name"].split("@")[1] for t in references["spec"]["tags"]}
    assert named == payload.digests
    # Same config and layer blobs as the release as built: only the manifest bytes changed.
    original = json.loads(blob(kept, digest))
    assert release_manifest.config.digest == original["config"]["digest"]
    assert [d.digest for d in release_manifest.layers] == [d["digest"] for d in original["layers"]]

