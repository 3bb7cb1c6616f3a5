"""``new --from-repository REPO``: every tag of a registry repository (or ref name of a layout) is a component."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from registry_rig import RegistryInfo

from okdrelease import cli
from okdrelease.release.read import load_release_from
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.copy import copy_all, copy_image
from okdrelease.transport.open import DefaultTransport

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
NAME = "4.16.0-okd.repository"
CREATED = "2024-05-01T00:00:00Z"


def build(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``okdrelease new ARGS`` (insecure registries); return the release digest."""
    code = cli.main(["new", "--insecure", "--name", NAME, "--created", CREATED, *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    match = re.match(r"(sha256:[0-9a-f]{64}) ", captured.out)
    assert match, captured.out
    return match[1]


def references(location: str) -> dict[str, str]:
    """component → pull spec from the release's image-references."""
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        info = load_release_from(transport, location)
    return {tag.name: tag.from_name for tag in info.tags}


def sample_refs() -> dict[str, str]:
    index = json.loads((SAMPLE / "index.json").read_text())
    return {d["annotations"]["org.opencontainers.image.ref.name"]: d["digest"] for d in index["manifests"]}


def test_registry_repository_equals_the_mapping_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry_http: RegistryInfo, unique_repo: Any
) -> None:
    """Same image-references, digest for digest, as the equivalent mapping file;
    cosign's sha256-<hex>.sig tags and --exclude'd tags are not components."""
    repo = f"{registry_http.host}/{unique_repo('content')}"
    refs = sample_refs()
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        source, _ = transport.open(f"oci:{SAMPLE}")
        destination, _ = transport.open(repo)
        copy_all(source, destination)
        signature_tag = "sha256-" + refs["cli"][7:] + ".sig"
        copy_image(source, "branding", destination, signature_tag)
    mapping = tmp_path / "mapping"
    lines = [f"{tag}={repo}@{refs[tag]}\n" for tag in sorted(refs) if tag != "branding"]
    mapping.write_text("".join(lines))
    by_repository = build(
        capsys,
        "--from-repository",
        repo,
        "--exclude",
        "branding",
        "--to-image",
        f"oci:{tmp_path / 'a'}:{NAME}",
    )
    by_mapping = build(capsys, "--mapping-file", str(mapping), "--to-image", f"oci:{tmp_path / 'b'}:{NAME}")
    got, want = references(f"oci:{tmp_path / 'a'}:{NAME}"), references(f"oci:{tmp_path / 'b'}:{NAME}")
    assert got == want
    assert "branding" not in got and signature_tag not in got and len(got) > 80
    assert all(spec == f"{repo}@{refs[name]}" for name, spec in got.items())
    # Not the same release digest: mapped tags carry oc's io.openshift.release.override annotation.
    assert by_repository != by_mapping


def test_layout_repository_equals_from_oci_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_repository = build(
        capsys, "--from-repository", f"oci:{SAMPLE}", "--to-image", f"oci:{tmp_path / 'a'}:{NAME}"
    )
    by_layout = build(capsys, "--from-oci-layout", str(SAMPLE), "--to-image", f"oci:{tmp_path / 'b'}:{NAME}")
    assert by_repository == by_layout
    assert references(f"oci:{tmp_path / 'a'}:{NAME}") == references(f"oci:{tmp_path / 'b'}:{NAME}")


def test_from_repository_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry_http: RegistryInfo, unique_repo: Any
) -> None:
    target = ["--to-image", f"oci:{tmp_path / 'out'}:{NAME}"]
    assert cli.main(["new", "--insecure", "--from-repository", "quay.io/okd/content:tag", *target]) == 2
    assert "--from-repository must name a repository without tag or digest" in capsys.readouterr().err
    assert (
        cli.main(["new", "--from-repository", "quay.io/a/b", "--from-release", "quay.io/a/r:1", *target]) == 1
    )
    assert "only one of" in capsys.readouterr().err
    empty = f"{registry_http.host}/{unique_repo('empty')}"
    assert cli.main(["new", "--insecure", "--from-repository", empty, *target]) == 1
    assert capsys.readouterr().err == (
        f"error: listing tags of {empty}: HTTP 404 (NAME_UNKNOWN: repository name not known to registry)\n"
    )
    only_signatures = f"{registry_http.host}/{unique_repo('signatures')}"
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        source, _ = transport.open(f"oci:{SAMPLE}")
        copy_image(source, "branding", transport.open(only_signatures)[0], "sha256-" + "0" * 64 + ".sig")
    assert cli.main(["new", "--insecure", "--from-repository", only_signatures, *target]) == 1
    assert capsys.readouterr().err == f"error: {only_signatures} has no tags to build a release from\n"
    assert not (tmp_path / "out").exists()


def test_name_prefix_names_the_release_from_its_creation_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--name-prefix STREAM: the release controller's STREAM-YYYY-MM-DD-HHMMSS (issue 12 item 2)."""
    target = f"oci:{tmp_path / 'out'}"
    args = ["new", "--from-repository", f"oci:{SAMPLE}", "--name-prefix", "4.16.0-0.okd-scos"]
    assert cli.main([*args, "--created", "2024-05-01T12:34:56Z", "--to-image", target]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(
        r"sha256:[0-9a-f]{64} 4\.16\.0-0\.okd-scos-2024-05-01-123456 2024-05-01T12:34:56Z\n", out
    )
    assert references(f"{target}:4.16.0-0.okd-scos-2024-05-01-123456")
    assert cli.main([*args, "--name", NAME, "--to-image", target]) == 2
    assert capsys.readouterr().err.endswith("error: --name and --name-prefix may not both be specified\n")
    bad = ["new", "--from-repository", f"oci:{SAMPLE}", "--name-prefix", "okd scos", "--to-image", target]
    assert cli.main(bad) == 2
    assert (
        "--name-prefix 'okd scos' followed by -YYYY-MM-DD-HHMMSS is not a semantic version"
        in capsys.readouterr().err
    )
