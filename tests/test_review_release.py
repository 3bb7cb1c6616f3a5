"""Review of release reading: layer replacement in extract, safety through payload symlinks, --verify, bad inputs."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from registry_rig import RegistryInfo
from test_release_extract import (
    base_layer,
    file_entry,
    image_references,
    open_ref,
    payload_layer,
    release_metadata,
    tar_bytes,
    tree,
    write_image,
)

from okdrelease.cli import main
from okdrelease.errors import NotFoundError, ReleaseError
from okdrelease.reference import ImageLocation
from okdrelease.release.extract import extract_release, read_payload_file
from okdrelease.release.read import PlatformFilter, load_images, load_release_from, verify_images
from okdrelease.transport.base import Repository
from okdrelease.transport.open import DefaultTransport

REFS = image_references("4.15.0", [("cli", "quay.io/okd/cli@sha256:" + "1" * 64, {})])


def _entry(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mode = 0o755
    return info, None


def test_upper_layer_entries_replace_lower_paths(tmp_path: Path) -> None:
    """A file over a directory, a directory over a file and a symlink over a directory hide the lower entries."""
    lower = payload_layer(
        {
            "image-references": REFS,
            "release-metadata": release_metadata("4.15.0"),
            "x.yaml": b"kind: X\n",
            "d/inner.yaml": b"kind: D\n",
            "s/inner.yaml": b"kind: S\n",
            "keep/k.yaml": b"kind: K\n",
        }
    )
    upper = payload_layer(
        {"x.yaml/y.yaml": b"kind: Y\n", "d": b"now a file\n"},
        [
            _entry("release-manifests/s", tarfile.SYMTYPE, "keep"),
            _entry("release-manifests/keep", tarfile.DIRTYPE),
        ],
    )
    write_image(tmp_path / "layout", "r", [base_layer(), lower, upper])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    out = tmp_path / "out"
    for directory in ("x.yaml", "keep"):  # oc creates no directory below the target: these must be there
        (out / directory).mkdir(parents=True)
    result = extract_release(repository, reference, str(out), keep_bytes=True)
    assert result.written == ("x.yaml/y.yaml", "image-references", "release-metadata", "keep/k.yaml")
    assert tree(out) == [
        "image-references",
        "keep",
        "keep/k.yaml",
        "release-metadata",
        "x.yaml",
        "x.yaml/y.yaml",
    ]
    for hidden in ("x.yaml", "d/inner.yaml", "s/inner.yaml"):
        with pytest.raises(ReleaseError, match=f"^image did not contain {hidden}$"):
            read_payload_file(repository, reference, hidden)
    assert read_payload_file(repository, reference, "keep/k.yaml") == b"kind: K\n"


def test_payload_symlink_used_as_a_directory_does_not_redirect_writes(tmp_path: Path) -> None:
    """A symlink entry (even one pointing inside) is never created, so a later entry below it lands in a real directory."""
    layer = payload_layer(
        {"image-references": REFS, "sub/a.yaml": b"kind: A\n"},
        [
            _entry("release-manifests/link", tarfile.SYMTYPE, "sub"),
            file_entry("release-manifests/link/b.yaml", b"kind: B\n"),
        ],
    )
    write_image(tmp_path / "layout", "r", [layer])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    out = tmp_path / "out"
    for directory in ("link", "sub"):  # oc creates no directory below the target: these must be there
        (out / directory).mkdir(parents=True)
    extract_release(repository, reference, str(out), keep_bytes=True)
    assert tree(out) == ["image-references", "link", "link/b.yaml", "sub", "sub/a.yaml"]
    assert not (out / "link").is_symlink()
    assert (out / "link" / "b.yaml").read_bytes() == b"kind: B\n"


class _Gone:
    """An opener whose every repository answers 404."""

    def open(self, location: ImageLocation, create: bool = False) -> tuple[Repository, str | None]:
        raise NotFoundError(f"manifest {location} not found", reference="x")


def test_verify_reports_each_unreachable_component_once(tmp_path: Path) -> None:
    refs = image_references(
        "4.15.0",
        [("a", "quay.io/okd/a@sha256:" + "1" * 64, {}), ("b", "quay.io/okd/b@sha256:" + "2" * 64, {})],
    )
    write_image(tmp_path / "layout", "r", [payload_layer({"image-references": refs})])
    info = load_release_from(DefaultTransport(), f"oci:{tmp_path / 'layout'}:r")
    platform = PlatformFilter.from_flag(None)
    loaded = load_images(info, _Gone(), platform=platform)
    assert verify_images(loaded) == [
        f'tag "a": manifest quay.io/okd/a@sha256:{"1" * 64} not found',
        f'tag "b": manifest quay.io/okd/b@sha256:{"2" * 64} not found',
    ]


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "noref", "r", [payload_layer({"release-metadata": release_metadata("4.15.0")})])
    write_image(tmp_path / "corrupt", "r", [b"not a tar" * 100])
    missing = f"oci:{tmp_path / 'missing'}:r"
    corrupt = f"oci:{tmp_path / 'corrupt'}:r"
    cases = [
        (["info", missing], f"error: {tmp_path / 'missing'} is not an OCI image layout: no such directory\n"),
        (
            ["info", f"oci:{tmp_path / 'noref'}:r"],
            "error: release image did not contain an image-references file\n",
        ),
        (
            ["diff", missing, missing],
            f"error: {tmp_path / 'missing'} is not an OCI image layout: no such directory\n",
        ),
        (["extract", "--to", str(tmp_path / "o"), corrupt], None),
        (["info", corrupt], None),
    ]
    for argv, expected in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and "internal error" not in err
        assert err.count("\n") == 1, err
        if expected is not None:
            assert err == expected
        else:
            assert err.startswith("error: unable to read layer sha256:") and f"of {corrupt[:-2]}: " in err
    assert not (tmp_path / "o").exists() or tree(tmp_path / "o") == []


def test_registry_404_is_an_error_naming_the_image(
    registry_http: RegistryInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registry_http.host}/review/none:4.15"
    for argv in (["info", "--insecure", image], ["extract", "--insecure", "--to", "/nonexistent-x", image]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert f"{registry_http.host}/review/none" in err and "4.15" in err
    assert not Path("/nonexistent-x").exists()


def test_unclean_entry_names_are_the_same_path(tmp_path: Path) -> None:
    """``./a.yaml`` and ``sub//c.yaml`` in a lower layer do not overwrite the upper layer's ``a.yaml``/``sub/c.yaml``."""
    lower = payload_layer(
        {"image-references": REFS, "./a.yaml": b"kind: Old\n", "sub//c.yaml": b"kind: Old\n"}
    )
    upper = payload_layer({"a.yaml": b"kind: New\n", "sub/c.yaml": b"kind: New\n"})
    write_image(tmp_path / "layout", "r", [lower, upper])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)  # oc creates no directory below the target
    result = extract_release(repository, reference, str(out), keep_bytes=True)
    assert sorted(result.written) == ["a.yaml", "image-references", "sub/c.yaml"]
    assert (out / "a.yaml").read_bytes() == b"kind: New\n"
    assert (out / "sub" / "c.yaml").read_bytes() == b"kind: New\n"


@pytest.mark.parametrize(
    "removal",
    [
        file_entry(".wh.release-manifests", b""),
        file_entry(".wh..wh..opq", b""),
        file_entry("release-manifests", b"a file now\n"),
    ],
)
def test_payload_directory_removed_by_an_upper_layer(
    tmp_path: Path, removal: tuple[tarfile.TarInfo, bytes]
) -> None:
    lower = payload_layer({"image-references": REFS, "b.yaml": b"kind: B\n"})
    middle = tar_bytes([removal])
    upper = tar_bytes([file_entry("release-manifests/image-references", REFS)])
    write_image(tmp_path / "layout", "r", [lower, middle, upper])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    out = tmp_path / "out"
    assert extract_release(repository, reference, str(out)).written == ("image-references",)
    assert tree(out) == ["image-references"]
    with pytest.raises(ReleaseError, match="^image did not contain b.yaml$"):
        read_payload_file(repository, reference, "b.yaml")


def test_existing_hard_link_in_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    lower = payload_layer({"image-references": REFS, "a.yaml": b"kind: A\n"})
    write_image(tmp_path / "layout", "r", [lower])
    repository, reference = open_ref(f"oci:{tmp_path / 'layout'}:r")
    outside = tmp_path / "outside.yaml"
    outside.write_bytes(b"precious\n")
    target = tmp_path / "target"
    target.mkdir()
    (target / "a.yaml").hardlink_to(outside)
    (target / "image-references").symlink_to(tmp_path / "outside-link")
    extract_release(repository, reference, str(target), keep_bytes=True)
    assert outside.read_bytes() == b"precious\n"
    assert not (tmp_path / "outside-link").exists()
    assert (target / "a.yaml").read_bytes() == b"kind: A\n"
    assert not (target / "image-references").is_symlink()
    assert (target / "image-references").read_bytes() == REFS
    assert tree(target) == ["a.yaml", "image-references"]


class _Redirect:
    """An opener serving every component from one layout tag: what a registry answering with other content does."""

    def __init__(self, location: str) -> None:
        self._repository, self._reference = open_ref(location)

    def open(self, location: ImageLocation, create: bool = False) -> tuple[Repository, str | None]:
        return self._repository, self._reference


def test_verify_compares_the_fetched_digest_with_the_pinned_one(tmp_path: Path) -> None:
    actual = write_image(tmp_path / "components", "c", [payload_layer({"x.yaml": b"kind: X\n"})])
    pinned = "sha256:" + "3" * 64
    refs = image_references(
        "4.15.0",
        [("good", f"quay.io/okd/good@{actual}", {}), ("bad", f"quay.io/okd/bad@{pinned}", {})],
    )
    write_image(tmp_path / "layout", "r", [payload_layer({"image-references": refs})])
    info = load_release_from(DefaultTransport(), f"oci:{tmp_path / 'layout'}:r")
    loaded = load_images(
        info, _Redirect(f"oci:{tmp_path / 'components'}:c"), platform=PlatformFilter.from_flag(None)
    )
    assert loaded.images is not None and sorted(loaded.images) == ["bad", "good"]
    assert verify_images(loaded) == [f'tag "bad": quay.io/okd/bad@{pinned} resolved to {actual}']
