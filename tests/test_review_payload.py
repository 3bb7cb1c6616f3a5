"""Review pass over ``new``: sinks, -o, base fallback (Q7), content verification, one compression per run."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import attrs
import pytest

from okdrelease.cli import main
from okdrelease.errors import NotFoundError, ReleaseError, UsageError
from okdrelease.oci.digest import sha256_digest
from okdrelease.payload.compose import FROM_RELEASE_ANNOTATION
from okdrelease.payload.context import Run
from okdrelease.payload.operators import Payload
from okdrelease.payload.pipeline import new_release
from okdrelease.payload.plan import NewOptions, parse_created
from okdrelease.payload.sinks import Delivery, ImageSink
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.open import DefaultTransport
from okdrelease.transport.overlay import LayoutContentTransport

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
REPO = "quay.io/okd/scos-content"
NAME = "4.16.0-okd.sample"
CREATED = "2024-05-01T00:00:00Z"


def sample_options(**changes: Any) -> NewOptions:
    """``new`` on the sample payload (layout in, names in quay.io)."""
    base = NewOptions(
        from_oci_layout=str(SAMPLE),
        layout_repository=REPO,
        name=NAME,
        created=parse_created(CREATED),
    )
    return attrs.evolve(base, **changes)


def layout_digest(layout: Path, tag: str) -> str:
    """The manifest digest of ``tag`` in an OCI layout's index.json."""
    for entry in json.loads((layout / "index.json").read_bytes())["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return str(entry["digest"])
    raise AssertionError(f"{tag} not in {layout}")


def payload_names(blob: bytes) -> list[str]:
    """Entry names of a gzipped payload tar."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as archive:
        return archive.getnames()


def test_to_file_dash_returns_the_bytes_and_the_library_prints_nothing(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """``--to-file -``: the library hands the gzip stream back; it never writes to stdout itself."""
    result = new_release(sample_options(to_file="-"))
    out, err = capsysbinary.readouterr()
    assert out == b"" and err == b""
    assert result.output is not None
    names = payload_names(result.output)
    assert names[:3] == [
        "release-manifests",
        "release-manifests/image-references",
        "release-manifests/release-metadata",
    ]
    assert result.diff_id == "sha256:" + sha256_digest(gzip.decompress(result.output)).split(":")[1]


def test_cli_to_file_dash_writes_the_gzip_stream_to_stdout(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """The CLI writes the payload bytes unchanged to stdout and nothing else."""
    argv = ["new", "--from-oci-layout", str(SAMPLE), "--layout-repository", REPO, "--name", NAME]
    code = main([*argv, "--created", CREATED, "--to-file", "-"])
    out, err = capsysbinary.readouterr()
    assert code == 0, err
    expected = new_release(sample_options(to_file="-")).output
    assert out == expected


def test_unknown_output_format_is_a_usage_error_in_the_library() -> None:
    """Q17 (README): unknown -o values are refused by the library call too, before any work."""
    with pytest.raises(UsageError, match="--output must be json, got 'yaml'"):
        new_release(sample_options(output="yaml", to_file="-"))


def test_payload_is_compressed_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Image mode gzips the payload layer once (it used to compress it again for the result's diff ID),
    while the tar is written, and keeps no uncompressed copy of it."""
    from okdrelease.oci.layerwrite import PayloadGzip

    streams: list[object] = []
    original = PayloadGzip.__init__

    def counting(self: PayloadGzip) -> None:
        streams.append(self)
        original(self)

    assembled: list[Payload] = []
    deliver = ImageSink.deliver

    def delivering(self: ImageSink, payload: Payload, run: Run) -> Delivery:
        assembled.append(payload)
        return deliver(self, payload, run)

    monkeypatch.setattr(PayloadGzip, "__init__", counting)
    monkeypatch.setattr(ImageSink, "deliver", delivering)
    result = new_release(sample_options(to_image=f"oci:{tmp_path / 'out'}:{NAME}"))
    assert result.digest is not None
    assert len(streams) == 1
    (payload,) = assembled
    assert payload.tar is None and payload.gzipped is not None
    assert result.diff_id == payload.gzipped().diff_id


def test_to_dir_on_a_file_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --to-dir that cannot be created gives oc-style ``error:`` naming it, not an internal error."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["new", "--from-oci-layout", str(SAMPLE), "--layout-repository", REPO, "--name", NAME]
    code = main([*argv, "--created", CREATED, "--to-dir", str(blocker / "sub")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.splitlines()[-1] == f"error: unable to write --to-dir {blocker / 'sub'}: Not a directory"


def test_to_file_in_a_missing_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    """--to-file into a missing directory: ReleaseError naming the path."""
    target = tmp_path / "missing" / "payload.tar.gz"
    with pytest.raises(ReleaseError) as info:
        new_release(sample_options(to_file=str(target)))
    assert str(info.value) == f"unable to write --to-file {target}: No such file or directory"


def _layout_transport() -> LayoutContentTransport:
    """A transport reading quay.io/okd/scos-content@digest from the sample layout."""
    return LayoutContentTransport(DefaultTransport(TransportOptions()), REPO, str(SAMPLE))


def test_from_release_keep_manifest_list_fallback_counts_as_overridden(tmp_path: Path) -> None:
    """§3.3.1 step 7 / Q7: no image matches the base digest, so the input release is the base and the
    build is overridden: "Found N images in release", the from-release annotation, the given time, no
    reproduction check (before, it failed with "could not be reproduced")."""
    tests_digest = layout_digest(SAMPLE, "tests")  # pruned from the release: nothing else names it
    first = tmp_path / "first"
    built = new_release(
        sample_options(to_image=f"oci:{first}:{NAME}", to_image_base=f"{REPO}@{tests_digest}")
    )
    assert "tests" in built.pruned
    source = f"oci:{first}:{NAME}"
    lines: list[str] = []
    transport = _layout_transport()
    try:
        result = new_release(
            NewOptions(
                from_release=source,
                keep_manifest_list=True,
                created=parse_created("2024-06-01T00:00:00Z"),
                to_image=f"oci:{tmp_path / 'second'}:{NAME}",
            ),
            transport=transport,
            progress=lines.append,
        )
    finally:
        transport.close()
    count = len(built.components)
    assert lines[0].startswith("warning: no image in the release matches its base image digest")
    assert lines[1] == f"info: Found {count} images in release"
    assert result.created == "2024-06-01T00:00:00Z"
    refs = json.loads(result.image_references or b"{}")
    assert refs["metadata"]["annotations"][FROM_RELEASE_ANNOTATION] == source
    assert result.digest is not None and result.digest != built.digest


def _tamper(layout: Path, digest: str) -> None:
    """Change one byte of a blob so its content no longer matches its digest."""
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_tampered_component_manifest_gives_ocs_content_verification_error(tmp_path: Path) -> None:
    """§3.7.6: a component manifest whose bytes do not match its digest fails with oc's wording."""
    layout = tmp_path / "payload"
    shutil.copytree(SAMPLE, layout)
    digest = layout_digest(layout, "cli")
    _tamper(layout, digest)
    with pytest.raises(ReleaseError) as info:
        new_release(
            NewOptions(
                from_oci_layout=str(layout),
                layout_repository=REPO,
                name=NAME,
                created=parse_created(CREATED),
                dry_run=True,
            )
        )
    message = str(info.value)
    assert message.startswith(
        "one or more input images failed content verification and may have been tampered with: "
        f"{REPO}@{digest}: "
    )
    assert digest in message.split(": ", 2)[2]


def test_tampered_base_fails_before_anything_is_written(tmp_path: Path) -> None:
    """Q32 fixed: a base whose config does not match its digest fails before the destination exists."""
    layout = tmp_path / "payload"
    shutil.copytree(SAMPLE, layout)
    cvo = layout_digest(layout, "cluster-version-operator")
    manifest = json.loads((layout / "blobs" / "sha256" / cvo.split(":")[1]).read_bytes())
    _tamper(layout, manifest["config"]["digest"])
    dest = tmp_path / "out"
    with pytest.raises(ReleaseError) as info:
        new_release(
            NewOptions(
                from_oci_layout=str(layout),
                layout_repository=REPO,
                name=NAME,
                created=parse_created(CREATED),
                to_image=f"oci:{dest}:{NAME}",
                to_image_base=f"{REPO}@{cvo}",
                exclude=("cluster-version-operator",),  # the base only, not also a component
                allow_missing_images=True,
            )
        )
    assert str(info.value).startswith(
        f"the base image failed content verification and may have been tampered with: {REPO}@{cvo}: "
    )
    assert not dest.exists()


def test_to_image_without_tag_or_name_is_pushed_untagged(registry_http: Any) -> None:
    """Q2 replicated (README): no tag in --to-image and no --name → the release is pushed by digest only."""
    from okdrelease.reference import parse_location

    repository = f"{registry_http.host}/review/untagged"
    options = sample_options(name="", to_image=repository)
    transport = DefaultTransport(TransportOptions(insecure=True))
    try:
        result = new_release(options, transport=transport)
        assert result.name == "0.0.1-2024-05-01-000000"
        repo, _ = transport.open(parse_location(repository))
        with pytest.raises(NotFoundError):
            repo.get_manifest(result.name)
        assert result.digest is not None
        assert repo.get_manifest(result.digest).digest == result.digest
    finally:
        transport.close()


def test_to_layout_without_ref_or_name_is_tagged_with_the_computed_name(tmp_path: Path) -> None:
    """An OCI layout keeps only what index.json names, so there the default name is the ref name."""
    result = new_release(sample_options(name="", to_image=f"oci:{tmp_path / 'out'}"))
    assert result.digest == layout_digest(tmp_path / "out", "0.0.1-2024-05-01-000000")


def test_extract_into_a_path_below_a_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """extract --to below a regular file: oc's ``error: mkdir FILE: not a directory``, exit 1."""
    release = f"oci:{tmp_path / 'release'}:{NAME}"
    new_release(sample_options(to_image=release))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["extract", "--to", str(blocker / "sub"), release])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines()[-1] == f"error: mkdir {blocker}: not a directory"


def test_image_stream_url_that_cannot_be_reached_is_an_error_naming_it() -> None:
    """-f http://…: a refused connection is oc's ``unable to read input image stream file`` with the URL."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/is.yaml"
    with pytest.raises(ReleaseError) as info:
        new_release(NewOptions(from_image_stream_file=url, dry_run=True))
    assert str(info.value).startswith(f"unable to read input image stream file: {url}: ")


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every entry below ``root``: a file's bytes, a directory None."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("flag", ["--to-file", "--to-dir", "--dir"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_new_outputs_are_written_whole_or_not_at_all(flag: str, existing: bool, tmp_path: Path) -> None:
    """A disk that fills midway (here a file-size limit) left a partial --to-file (an earlier file
    truncated) and the files and directories of --to-dir and --dir written before the failure (the CLI
    sweep's full-device pass). Into an existing directory, a failure midway (a directory where a later
    file goes) left the files written before it, earlier ones replaced. Now the run fails naming the
    flag and leaves the target as it found it."""
    from bounded_run import run_file_size_limited

    target = tmp_path / "target" / ("p.tgz" if flag == "--to-file" else "out")
    target.parent.mkdir()
    limit: int | None = 700  # a write past 700 bytes fails (EFBIG), as on a full disk
    reason = "File too large"
    if existing and flag == "--to-file":
        target.write_bytes(b"an earlier payload")
    elif existing:
        target.mkdir()
        (target / "keep.txt").write_text("not ours")
        (target / "image-references").write_text("an earlier image-references")
        # written after others: --to-dir's first payload file after image-references, --dir's last file
        late = (
            "0000_03_cluster-config-operator_00_namespace.yaml" if flag == "--to-dir" else "image-references"
        )
        if flag == "--dir":
            (target / late).unlink()
        (target / late).mkdir()
        (target / late / "x").write_text("in the way")
        limit, reason = None, "Is a directory"
    before = _tree(tmp_path)
    argv = ["new", "--from-oci-layout", str(SAMPLE), "--layout-repository", REPO, "--name", NAME]
    argv += ["--created", CREATED, "--no-cache", flag, str(target)]
    if flag == "--dir":
        argv += ["--to-image", f"oci:{tmp_path / 'layout'}:{NAME}"]
    done = run_file_size_limited("-q", *argv, limit=limit)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: unable to write {flag} {target}: {reason}\n",
    )
    assert _tree(tmp_path) == before


def test_new_signing_with_an_empty_directory_value_writes_nothing_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``new --sign-by K --signature-dir S --lookaside "" --signature-configmap-dir ""`` wrote the
    lookaside tree and the ConfigMap into the working directory (the checks before take an empty value
    for no directory)."""
    from okdrelease.sign.openpgp import generate_key

    key = tmp_path / "secret.asc"
    key.write_text(generate_key("T <t@example.com>", algorithm="ed25519").export_secret(None))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = ["new", "--from-oci-layout", str(SAMPLE), "--layout-repository", REPO, "--name", NAME]
    argv += ["--created", CREATED, "--no-cache", "--to-image", f"oci:{tmp_path / 'layout'}:{NAME}"]
    argv += [
        "--sign-by",
        str(key),
        "--sign-identity",
        "quay.io/okd/release",
        "--signature-dir",
        str(tmp_path / "s"),
    ]
    code = main([*argv, "--lookaside", "", "--signature-configmap-dir", ""])
    assert code == 0, capsys.readouterr().err
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        f"sha256={layout_digest(tmp_path / 'layout', NAME)[7:]}"
    ]


def test_a_to_signature_name_too_long_is_refused_before_the_push(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --to-signature name longer than the file system takes ended in ``internal error: OSError:
    [Errno 36] File name too long`` (the CLI sweep's 100 KB value): pathlib's is_dir lets that error
    through. Now it is refused naming the flag, before anything is pushed."""
    target = tmp_path / ("x" * 300)
    argv = ["new", "--from-oci-layout", str(SAMPLE), "--layout-repository", REPO, "--name", NAME]
    code = main(
        [
            *argv,
            "--no-cache",
            "--to-image",
            f"oci:{tmp_path / 'layout'}:{NAME}",
            "--to-signature",
            str(target),
        ]
    )
    out, err = capsys.readouterr()
    assert (code, out, err.splitlines()[-1]) == (1, "", f"error: --to-signature {target}: File name too long")
    assert not (tmp_path / "layout").exists()


def test_release_that_is_not_reproduced_is_not_written(tmp_path: Path) -> None:
    """A canonical rebuild (--from-release, nothing overridden) whose digest is not the input's fails
    before anything is pushed: the input release's manifest here carries one more annotation than a
    rebuild gives it. Before, the check ran after the push, so the failed rebuild stayed in the layout."""
    first = tmp_path / "first"
    new_release(sample_options(to_image=f"oci:{first}:{NAME}"))
    index = json.loads((first / "index.json").read_bytes())
    (entry,) = [
        e for e in index["manifests"] if e["annotations"]["org.opencontainers.image.ref.name"] == NAME
    ]
    manifest = json.loads((first / "blobs" / "sha256" / entry["digest"][7:]).read_bytes())
    manifest.setdefault("annotations", {})["example.com/extra"] = "x"
    raw = json.dumps(manifest).encode()
    digest = sha256_digest(raw)
    (first / "blobs" / "sha256" / digest[7:]).write_bytes(raw)
    entry.update(digest=digest, size=len(raw))
    (first / "index.json").write_text(json.dumps(index))
    second = tmp_path / "second"
    options = NewOptions(from_release=f"oci:{first}:{NAME}", to_image=f"oci:{second}:{NAME}")
    transport = _layout_transport()
    try:
        with pytest.raises(ReleaseError) as info:
            new_release(options, transport=transport)
    finally:
        transport.close()
    assert str(info.value) == "the release could not be reproduced from its inputs"
    assert not second.exists()
