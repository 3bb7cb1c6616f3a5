"""``info``: oc's text and JSON for every golden release (layout and registry), the extra views, and helpers."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from golden_support import GOLDEN, RECORDED_REGISTRY, Case, four_digit_port, load_cases, push_layout
from registry_rig import RegistryServer
from test_release_extract import image_references, payload_layer, release_metadata, write_image

from okdrelease.cli import main
from okdrelease.errors import ReleaseError
from okdrelease.reference import ImageReference
from okdrelease.release.diff import compare_releases
from okdrelease.release.info import (
    TabWriter,
    describe,
    describe_comparison,
    go_value,
    render_comparison_json,
    render_json,
    short_duration,
)
from okdrelease.release.read import PlatformFilter, ReleaseInfo, load_release_from
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.open import DefaultTransport

RELEASE_CASES = [c for c in load_cases() if (c.path / "release").is_dir()] if GOLDEN.is_dir() else []


def _layout_location(case: Case) -> str:
    index = json.loads((case.path / "release" / "index.json").read_text())
    ref_name = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
    return f"oci:{case.path / 'release'}:{ref_name}"


def _expected(case: Case, name: str, info: ReleaseInfo, image: str, release_repo: str) -> str:
    """Expected output with oc's argument replaced by ours and the placeholders filled in."""
    text = (case.path / "expected" / name).read_text()
    recorded_image = str(case.data["info_ref"]).replace("{digest}", info.display_digest)
    text = text.replace(f'"image": "{recorded_image}"', f'"image": "{image}"')
    text = text.replace("{registry}/golden/release", release_repo)
    text = text.replace("{registry}/{repo}", f"{RECORDED_REGISTRY}/{case.data['input_repo']}")
    return text.replace("{registry}", RECORDED_REGISTRY)


def _load(location: str) -> ReleaseInfo:
    with DefaultTransport() as transport:
        return load_release_from(transport, location)


@pytest.mark.parametrize("case", RELEASE_CASES, ids=[c.name for c in RELEASE_CASES])
def test_golden_info_text_and_json(case: Case) -> None:
    location = _layout_location(case)
    info = _load(location)
    release_repo = f"oci:{case.path / 'release'}"
    assert describe(info) == _expected(case, "info.txt", info, location, release_repo)
    assert render_json(info) == _expected(case, "info.json", info, location, release_repo)


@pytest.mark.parametrize(
    ("name", "view"),
    [
        ("info-pullspecs.txt", "pullspecs"),
        ("info-commits.txt", "commits"),
        ("info-commit-urls.txt", "commit-urls"),
    ],
)
def test_golden_extra_views(name: str, view: str) -> None:
    case = next(c for c in RELEASE_CASES if c.name == "01-realistic")
    location = _layout_location(case)
    info = _load(location)
    assert describe(info, view=view) == _expected(case, name, info, location, f"oci:{case.path / 'release'}")


def test_golden_changes_from() -> None:
    old_case = next(c for c in RELEASE_CASES if c.name == "01-realistic")
    new_case = next(c for c in RELEASE_CASES if c.name == "07-from-release-override")
    old_loc, new_loc = _layout_location(old_case), _layout_location(new_case)
    old, new = _load(old_loc), _load(new_loc)
    comparison = compare_releases(old, new)
    assert sorted(comparison.changed_images) == ["coredns"]
    # oc printed the ages 13s and 2s: 07 was created 11 s after 01, oc ran 2 s later.
    now = datetime.datetime(2026, 11, 24, 8, 2, 32, tzinfo=datetime.UTC)
    expected_text = (new_case.path / "expected" / "info-changes-from-01.txt").read_text()
    assert describe_comparison(comparison, now=lambda: now) == expected_text
    expected_json = (new_case.path / "expected" / "info-changes-from-01.json").read_text()
    expected_json = expected_json.replace('"image": "{registry}/golden/release:01"', f'"image": "{old_loc}"')
    expected_json = expected_json.replace('"image": "{registry}/golden/release:07"', f'"image": "{new_loc}"')
    expected_json = expected_json.replace("{registry}/{repo}", f"{RECORDED_REGISTRY}/golden/in-okd415")
    assert render_comparison_json(comparison) == expected_json
    assert describe_comparison(compare_releases(old, old)) == "Releases are identical\n"


@pytest.fixture(scope="module")
def release_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A registry on a four-digit port holding the golden releases 01 and 07 under golden/release."""
    server = RegistryServer(
        tmp_path_factory.mktemp("info-registry"), flavour="http", port_picker=four_digit_port
    )
    info = server.start()
    try:
        with RegistryClient(TransportOptions(insecure=True)) as client:
            repo = client.repository(ImageReference.parse(f"{info.host}/golden/release"))
            for name in ("01-realistic", "07-from-release-override", "15a-manifest-list-keep"):
                push_layout(GOLDEN / name / "release", repo)
        yield info
    finally:
        server.stop()


def test_cli_info_from_registry_matches_oc(release_registry, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    host = release_registry.host
    case = next(c for c in RELEASE_CASES if c.name == "01-realistic")
    image = f"{host}/golden/release:01"

    def expected(name: str) -> str:
        text = (case.path / "expected" / name).read_text()
        text = text.replace("{registry}/golden/release", f"{host}/golden/release")
        return text.replace("{registry}/{repo}", f"{RECORDED_REGISTRY}/golden/in-okd415")

    assert main(["info", "--insecure", image]) == 0
    assert capsys.readouterr().out == expected("info.txt")
    assert main(["info", "--insecure", "-o", "json", image]) == 0
    assert capsys.readouterr().out == expected("info.json")
    assert main(["info", "--insecure", "--commit-urls", image]) == 0
    assert capsys.readouterr().out == expected("info-commit-urls.txt")
    assert main(["info", "--insecure", "-o", "name", image]) == 0
    names = capsys.readouterr().out.splitlines()
    assert len(names) == 138 and names[0] == "alibaba-cloud-controller-manager"
    assert main(["info", "--insecure", "--image-for", "coredns", image]) == 0
    assert capsys.readouterr().out == (
        f"{RECORDED_REGISTRY}/golden/in-okd415@sha256:cdae98e91c7352ba6aa44d0d4427ec36ca7fa0a919a0f2dd2bebe6c0336b2d5b\n"
    )
    assert main(["info", "--insecure", image, f"{host}/golden/release:01"]) == 0
    assert capsys.readouterr().out == "Releases are identical\n"


def test_cli_info_manifest_list_platform_filter(release_registry, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    image = f"{release_registry.host}/golden/release:15a"
    assert main(["info", "--insecure", "--filter-by-os", "linux/amd64", "-o", "json", image]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["digest"] == "sha256:99cd0bdc28d8ac841732a3478a00cd049ee79e92afe860a0dd70f459a0a589ab"
    assert doc["listDigest"] == "sha256:9f26c1254c84896920f7269f08398db0cacbdbf081b7f2ae0c28074d60459295"
    assert main(["info", "--insecure", "--filter-by-os", "windows/.*", image]) == 1
    assert capsys.readouterr().err == "error: filtered all images from manifest list\n"
    assert main(["info", "--insecure", "--filter-by-os", "(", image]) == 1
    assert "--filter-by-os was not a valid regular expression" in capsys.readouterr().err


def test_verify_fetches_every_component(
    release_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    host = release_registry.host
    components = tmp_path / "components"
    good = write_image(components, "good", [payload_layer({"x.yaml": b"kind: X\n"})])
    with RegistryClient(TransportOptions(insecure=True)) as client:
        push_layout(components, client.repository(ImageReference.parse(f"{host}/verify/components")))
    missing = "sha256:" + "0" * 64
    refs = image_references(
        "4.15.0",
        [
            ("good", f"{host}/verify/components@{good}", {}),
            ("gone", f"{host}/verify/components@{missing}", {}),
        ],
    )
    layer = payload_layer({"image-references": refs, "release-metadata": release_metadata("4.15.0")})
    write_image(tmp_path / "release", "r", [layer])
    location = f"oci:{tmp_path / 'release'}:r"
    assert main(["-q", "info", "--insecure", "--verify", location]) == 1
    captured = capsys.readouterr()
    assert captured.err.endswith(
        "error: the release image failed content verification and may have been tampered with\n"
    )
    assert 'tag "gone"' in captured.err
    refs = image_references("4.15.0", [("good", f"{host}/verify/components@{good}", {})])
    layer = payload_layer({"image-references": refs, "release-metadata": release_metadata("4.15.0")})
    digest = write_image(tmp_path / "release", "r", [layer])
    assert main(["-q", "info", "--insecure", "--verify", location]) == 0
    assert capsys.readouterr().out == f"{digest} 2024-01-01T00:00:00Z 4.15.0\n"
    assert main(["info", "--insecure", "--include-images", "-o", "json", location]) == 0
    images = json.loads(capsys.readouterr().out)["images"]
    assert list(images) == ["good"]
    assert images["good"]["digest"] == good
    assert list(images["good"]) == [
        "name",
        "digest",
        "contentDigest",
        "listDigest",
        "mediaType",
        "layers",
        "config",
    ]


def test_metadata_files_warnings_and_missing_references(tmp_path: Path) -> None:
    refs = image_references(
        "4.15.0",
        [
            ("a", "quay.io/okd/a@sha256:" + "a" * 64, {"io.openshift.build.versions": "kubernetes=1.28.0"}),
            ("b", "quay.io/okd/b:latest", {"io.openshift.build.versions": "kubernetes=1.29.0"}),
        ],
    )
    layer = payload_layer(
        {"image-references": refs, "README": b"hi", "NOTES": b"x", "0000_a.yaml": b"kind: A\n"}
    )
    write_image(tmp_path / "l", "r", [layer])
    info = _load(f"oci:{tmp_path / 'l'}:r")
    assert info.metadata is None
    assert describe(info) == (
        "Name:           4.15.0\n"
        f"Digest:         {info.digest}\n"
        "Created:        2024-01-01T00:00:00Z\n"
        "OS/Arch:        linux/amd64\n"
        "Manifests:      1\n"
        "Metadata files: 2\n"
        "\n"
        f"Pull From: oci:{tmp_path / 'l'}@{info.digest}\n"
        "\n"
        "Component Versions:\n"
        "  kubernetes 1.28.0 \n"
        "\n"
        "Images:\n"
        "  NAME DIGEST\n"
        f"  a    sha256:{'a' * 64}\n"
        "  b    quay.io/okd/b:latest\n"
        "\n"
        "Warnings:\n"
        "* multiple versions or display names reported for the following component(s): kubernetes\n"
        "\n"
    )
    write_image(tmp_path / "m", "r", [payload_layer({"release-metadata": release_metadata("4.15.0")})])
    with pytest.raises(ReleaseError, match="^release image did not contain an image-references file$"):
        _load(f"oci:{tmp_path / 'm'}:r")
    write_image(tmp_path / "n", "r", [payload_layer({"image-references": b'{"kind": "List"}'})])
    with pytest.raises(
        ReleaseError,
        match="^release image could not be read: unrecognized image-references in release payload$",
    ):
        _load(f"oci:{tmp_path / 'n'}:r")


def test_tabwriter_matches_go() -> None:
    w = TabWriter(0, 4, 1)
    w.write("  NAME\tREPO\tCOMMIT\t\n  a\tbb\tc\n  ccc\td\t\n\nx\ty\n")
    assert w.getvalue() == "  NAME REPO COMMIT \n  a    bb   c\n  ccc  d    \n\nx y\n"
    w = TabWriter(0, 4, 2)
    w.write("\tFROM\tTO\nName:\ta\tb\n")
    assert w.getvalue() == "       FROM  TO\nName:  a     b\n"


def test_go_value_and_durations() -> None:
    assert [go_value(v) for v in (1.0, 1.5, 1234567.0, 123456.0, 1e21, 1e-5, 0.0001, True, None)] == [
        "1",
        "1.5",
        "1.234567e+06",
        "123456",
        "1e+21",
        "1e-05",
        "0.0001",
        "true",
        "<nil>",
    ]
    assert go_value(["a", 2.0]) == "[a 2]"
    assert go_value({"b": "x", "a": 1.0}) == "map[a:1 b:x]"
    assert [short_duration(s) for s in (-5, -0.5, 13, 60, 3600 * 5, 86400 * 3, 86400 * 800)] == [
        "<invalid>",
        "0s",
        "13s",
        "1m",
        "5h",
        "3d",
        "2y",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-1.5, "0s"), (-1.999, "0s"), (-1.0, "0s"), (-2.0, "<invalid>"), (-2.5, "<invalid>"), (59.99, "59s")],
)
def test_short_duration_truncates_to_whole_seconds_first(seconds: float, text: str) -> None:
    """Go's ``int(d.Seconds())`` before the comparisons: -1.5 s is ``0s`` (``<invalid>`` before)."""
    assert short_duration(seconds) == text


def test_platform_filter_default_bypasses_single_entry() -> None:
    assert PlatformFilter.from_flag(None).is_default
    with pytest.raises(ReleaseError, match="--filter-by-os was not a valid regular expression"):
        PlatformFilter.from_flag("(")


def test_template_output_is_written_as_its_bytes(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A template literal's byte that is not UTF-8 reaches stdout as that byte, as oc writes it, whatever the
    stream's error handler (a strict one made it an internal error); a failing template's report is bytes too."""
    refs = image_references("4.15.0", [("cli", "quay.io/okd/cli@sha256:" + "1" * 64, {})])
    write_image(tmp_path / "layout", "r", [payload_layer({"image-references": refs})])
    release = f"oci:{tmp_path / 'layout'}:r"
    assert main(["info", "-o", 'template={{"a\\xffb"}}', release]) == 0
    assert capsysbinary.readouterr() == (b"a\xffb", b"")
    assert main(["info", "-o", 'template={{"\\xff"}}{{len 5}}', release]) == 1
    out, err = capsysbinary.readouterr()
    assert out.startswith(
        b'\xffError executing template: template: output:1:12: executing "output" at <len 5>: error calling len: '
        b"len of type int. Printing more information for debugging the template:\n\ttemplate was:\n\t\t"
        b'{{"\\xff"}}{{len 5}}\n\traw data was:\n\t\t{"image":'
    )
    assert err == (
        b'error: error executing template "{{\\"\\\\xff\\"}}{{len 5}}": template: output:1:12: executing "output" '
        b"at <len 5>: error calling len: len of type int\n"
    )
