"""``new --skip-if-unchanged RELEASE``: build only when a component digest changed (issue 12 item 2, second half)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import pytest
from registry_rig import RegistryInfo

from okdrelease import cli
from okdrelease.payload.unchanged import ExistingRelease, unchanged_since
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.copy import copy_all, copy_image
from okdrelease.transport.open import DefaultTransport

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
STREAM = "4.16.0-0.okd-scos"
FIRST = "2024-05-01T00:00:00Z"
SECOND = "2024-05-02T00:00:00Z"
FIRST_NAME = f"{STREAM}-2024-05-01-000000"
SECOND_NAME = f"{STREAM}-2024-05-02-000000"


def new(capsys: pytest.CaptureFixture[str], created: str, *args: str) -> tuple[str, str]:
    """Run ``okdrelease new`` from the component repository; return (stdout, stderr)."""
    code = cli.main(["new", "--insecure", "--name-prefix", STREAM, "--created", created, *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, captured.err


def tags(location: str) -> list[str]:
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        return sorted(transport.open(location)[0].list_tags())


@pytest.fixture
def content(registry_http: RegistryInfo, unique_repo: Any) -> str:
    """A registry repository holding the sample payload's images, one tag per component."""
    repo = f"{registry_http.host}/{unique_repo('content')}"
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        copy_all(transport.open(f"oci:{SAMPLE}")[0], transport.open(repo)[0])
    return repo


def test_same_components_skip_and_print_the_existing_release(
    capsys: pytest.CaptureFixture[str], registry_http: RegistryInfo, unique_repo: Any, content: str
) -> None:
    release = f"{registry_http.host}/{unique_repo('release')}"
    out, err = new(capsys, FIRST, "--from-repository", content, "--skip-if-unchanged", f"{release}:{STREAM}")
    # No release yet: built (a dry run here, nothing to push), with an info line saying why.
    assert re.fullmatch(rf"sha256:[0-9a-f]{{64}} {FIRST_NAME} {FIRST}\n", out), out
    assert f"info: No release at {release}:{STREAM} yet, building" in err
    out, _ = new(capsys, FIRST, "--from-repository", content, "--to-image", f"{release}:{FIRST_NAME}")
    match = re.fullmatch(rf"(sha256:[0-9a-f]{{64}}) {FIRST_NAME} {FIRST}\n", out)
    assert match, out
    before = tags(release)
    assert before == [FIRST_NAME]

    args = ["--from-repository", content, "--to-image", f"{release}:{SECOND_NAME}"]
    out, err = new(capsys, SECOND, *args, "--skip-if-unchanged", f"{release}:{FIRST_NAME}")
    assert out == f"{match[1]} {FIRST_NAME} {FIRST}\n"
    assert (
        f"info: Release {FIRST_NAME} at {release}:{FIRST_NAME} ({match[1]}) has the same 86 component digests: "
        "unchanged, nothing pushed\n"
    ) in err
    assert tags(release) == before
    # By digest too, and a layout copy of the release compares the same.
    out, _ = new(capsys, SECOND, *args, "--skip-if-unchanged", f"{release}@{match[1]}")
    assert out == f"{match[1]} {FIRST_NAME} {FIRST}\n"
    assert tags(release) == before


def test_one_changed_component_builds(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    registry_http: RegistryInfo,
    unique_repo: Any,
    content: str,
) -> None:
    existing = f"oci:{tmp_path / 'existing'}:{FIRST_NAME}"
    out, _ = new(capsys, FIRST, "--from-repository", content, "--to-image", existing)
    first_digest = out.split()[0]
    release = f"{registry_http.host}/{unique_repo('release')}"
    args = [
        "--from-repository",
        content,
        "--to-image",
        f"{release}:{SECOND_NAME}",
        "--skip-if-unchanged",
        existing,
    ]
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        sample, repo = transport.open(f"oci:{SAMPLE}")[0], transport.open(content)[0]
        # "tools" is pruned from the release (no operator references it): changing it changes nothing.
        copy_image(sample, "must-gather", repo, "tools")
        assert new(capsys, SECOND, *args)[0] == f"{first_digest} {FIRST_NAME} {FIRST}\n"
        copy_image(sample, "must-gather", repo, "cli")
    out, err = new(capsys, SECOND, *args)
    assert re.fullmatch(rf"sha256:[0-9a-f]{{64}} {SECOND_NAME} {SECOND}\n", out), out
    assert out.split()[0] != first_digest
    assert f"info: Components differ from release {FIRST_NAME} ({existing}): changed cli\n" in err
    assert tags(release) == [SECOND_NAME]


def test_differences_are_named() -> None:
    """Tags added, removed, at another digest, or without a known digest are differences; order is not."""
    existing = ExistingRelease(
        "r:1", "sha256:" + "0" * 64, "4.16.0", FIRST, {"a": "sha256:a", "b": "sha256:b"}
    )
    assert unchanged_since(existing, {"b": "sha256:b", "a": "sha256:a"}) is None
    assert unchanged_since(existing, {"a": "sha256:a", "b": "sha256:c"}) == "changed b"
    assert unchanged_since(existing, {"a": "sha256:a", "b": None}) == "changed b"
    assert unchanged_since(existing, {"a": "sha256:a", "c": "sha256:c"}) == "added c; removed b"
    assert unchanged_since(existing, {"a": "sha256:a"}) == "removed b"
    unknown = attrs.evolve(existing, digests={"a": "sha256:a", "b": None})
    assert unchanged_since(unknown, {"a": "sha256:a", "b": None}) == "changed b"
    assert existing.result_line == f"sha256:{'0' * 64} 4.16.0 {FIRST}"


def test_skip_if_unchanged_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry_http: RegistryInfo, unique_repo: Any
) -> None:
    target = ["--to-image", f"oci:{tmp_path / 'out'}:x"]
    base = ["new", "--from-repository", f"oci:{SAMPLE}", "--name", "4.16.0", *target]
    assert cli.main([*base, "--skip-if-unchanged", "Not A Reference"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --skip-if-unchanged was not a valid pullspec: "), err
    # Not a release: a component image has no image-references.
    assert cli.main([*base, "--skip-if-unchanged", f"oci:{SAMPLE}:cli"]) == 1
    assert capsys.readouterr().err == (
        f"error: --skip-if-unchanged: oci:{SAMPLE}:cli is not a release image: it has no image-references\n"
    )
    assert (
        cli.main(["new", "--from-repository", f"oci:{SAMPLE}", "-o", "json", "--skip-if-unchanged", "x:1"])
        == 2
    )
    assert "--skip-if-unchanged cannot be combined with -o json" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
