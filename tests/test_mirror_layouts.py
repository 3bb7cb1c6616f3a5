"""``okdrelease mirror`` into OCI layouts that skopeo and umoci open, and of multi-arch releases (issue 13).

A tiny single-architecture release (three Docker schema 2 components, the release built by
okdrelease for a registry, so Docker schema 2 too) and the generated four-architecture sample of
``test_multiarch`` on the session registry.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from imagegen import DOCKER, OCI
from registry_rig import RegistryInfo, RepoNamer
from test_layout_formats import (
    LAYOUT_WARNING,
    assert_all_oci,
    assert_opened_by_skopeo_and_umoci,
    blob,
    index_entry,
    tool,
)
from test_mirror_templates import NAME, Payload, push_payload
from test_multiarch import ARCHES, MultiarchReleases, Sample, assert_oc_reads, oc
from test_multiarch import NAME as MULTI_NAME
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.model import Index
from okdrelease.transport.base import Repository
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.layout import LayoutRepository


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


# --------------------------------------------------------------------------------------------
# Multi-arch releases


def assert_every_architecture(
    repo: Repository, ref: str, release: Repository, sample: Sample, digest: str
) -> None:
    """``ref`` in ``repo`` is the release index ``digest``: each entry (an architecture's release image) and
    each component list with every architecture's image present by digest, the bytes of ``release``'s."""
    top = repo.get_manifest(ref)
    assert isinstance(top, Index) and top.digest == digest
    source = release.get_manifest(digest)
    assert isinstance(source, Index) and top.raw == source.raw
    assert [d.platform.architecture if d.platform else "" for d in top.manifests] == list(ARCHES)
    for entry in top.manifests:
        assert repo.get_manifest(entry.digest).raw == release.get_manifest(entry.digest).raw
    for name, component in sample.lists.items():
        mirrored = repo.get_manifest(component.digest)
        assert mirrored.raw == component.raw, name
        for arch, child in zip(ARCHES, component.children, strict=True):
            image = repo.get_manifest(child.digest)
            assert image.raw == child.manifest, (name, arch)
            assert all(repo.has_blob(b.digest) for b in child.blobs), (name, arch)


@pytest.mark.parametrize("flavour", [DOCKER, OCI])
def test_mirror_of_a_multiarch_release_keeps_every_architecture(
    flavour: str,
    registry_http: RegistryInfo,
    multiarch_releases: MultiarchReleases,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The four-architecture release mirrored to a registry (as the real oc mirrors it) and to a layout."""
    host = registry_http.host
    built = multiarch_releases.get(flavour, capsys)
    sample, release_repo, digest = built.sample, built.repository, built.digest
    release = f"{host}/{release_repo}:{MULTI_NAME}"
    home = tmp_path / "home"
    home.mkdir()

    ours, theirs = unique_repo(), unique_repo()
    with ThreadPoolExecutor(
        1
    ) as pool:  # oc mirrors (its client waiting between requests) while okdrelease does
        by_oc = pool.submit(
            oc, home, "mirror", "--from", release, "--to", f"{host}/{theirs}", "--keep-manifest-list"
        )
        mirror(capsys, "--from", release, "--to", f"{host}/{ours}", "--keep-manifest-list")
        done = by_oc.result()
    assert done.returncode == 0, done.stderr
    with RegistryClient(options_for(registry_http)) as client:
        mirrored, by_oc = repo_at(client, host, ours), repo_at(client, host, theirs)
        tags = {tag: mirrored.resolve(tag).digest for tag in mirrored.list_tags()}
        assert tags == {tag: by_oc.resolve(tag).digest for tag in by_oc.list_tags()}
        assert tags[f"{MULTI_NAME}-multi"] == digest
        source = repo_at(client, host, release_repo)
        assert_every_architecture(mirrored, f"{MULTI_NAME}-multi", source, sample, digest)
        # oc reads the mirrored release whole and per architecture, every component's list by digest.
        assert_oc_reads(home, f"{host}/{ours}:{MULTI_NAME}-multi", sample, digest)

        layout = tmp_path / "layout"
        out, err = mirror(capsys, "--from", release, "--to", f"oci:{layout}", "--keep-manifest-list")
        assert f"{digest} oci:{layout}:{MULTI_NAME}-multi\n" in out
        assert_every_architecture(LayoutRepository(layout), f"{MULTI_NAME}-multi", source, sample, digest)
    if flavour == OCI:
        # Built in OCI media types, the release opens in skopeo as mirrored, digests kept.
        assert LAYOUT_WARNING not in err
        for arch in ARCHES:
            inspected = json.loads(
                tool("skopeo", "--override-arch", arch, "inspect", f"oci:{layout}:{MULTI_NAME}-multi")
            )
            assert inspected["Architecture"] == arch and inspected["Digest"] == digest
    else:
        assert err.count(LAYOUT_WARNING) == 1
