"""Acceptance: every golden case recorded from ``oc adm release new`` replayed with okdrelease.

Inputs are pushed with okdrelease's own transport to a real registry whose address has the
recorded length, so expected bytes compare after plain substitution (golden README).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest
from golden_support import (
    GOLDEN,
    Case,
    load_cases,
    mask_descriptors,
    push_layout,
    strip_config_size,
    substitute,
    with_registry,
)

from okdrelease.cli import main
from okdrelease.oci.model import Index, Manifest
from okdrelease.reference import ImageReference
from okdrelease.transport.client import RegistryClient

CASES = {c.name: c for c in load_cases()} if GOLDEN.is_dir() else {}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run okdrelease in-process; return exit code, stdout and stderr."""
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def prepare(case: Case, registry: str, work: Path) -> list[str]:
    """Copy the case's input files with placeholders filled; return okdrelease's argv."""
    repo = case.data.get("input_repo") or ""
    case_dir = work / "case"
    case_dir.mkdir(parents=True)
    for name in ("imagestream.yaml", "mappings.txt"):
        src = case.path / name
        if src.is_file():
            (case_dir / name).write_text(substitute(src.read_text(), registry, repo))
    if (case.path / "from-dir").is_dir():
        shutil.copytree(case.path / "from-dir", case_dir / "from-dir")
        for path in (case_dir / "from-dir").rglob("*"):
            if path.is_file():
                path.write_bytes(
                    path.read_bytes()
                    .replace(b"{registry}", registry.encode())
                    .replace(b"{repo}", repo.encode())
                )
    tmp = work / "tmp"
    tmp.mkdir()
    args = [substitute(a, registry, repo, str(case_dir), str(tmp)) for a in case.data["oc_args"][3:]]
    argv = ["new", *args]
    if case.data.get("created"):
        argv += ["--created", case.data["created"]]
    return argv


def expected_text(case: Case, name: str, registry: str, work: Path) -> str:
    """A recorded stdout/stderr file with placeholders filled."""
    repo = case.data.get("input_repo") or ""
    return substitute((case.path / name).read_text(), registry, repo, str(work / "case"), str(work / "tmp"))


def split_stderr(text: str) -> tuple[list[str], set[str]]:
    """Ordered non-Loading lines and the set of 'info: Loading' lines (parallel workers)."""
    lines = text.splitlines()
    loading = {line for line in lines if line.startswith("info: Loading ")}
    return [line for line in lines if not line.startswith("info: Loading ")], loading


def release_parts(client: RegistryClient, ref: str) -> tuple[Manifest, bytes, bytes]:
    """Read a single-manifest release: manifest, config bytes, decompressed top layer."""
    parsed = ImageReference.parse(ref)
    repo = client.repository(parsed)
    manifest = repo.get_manifest(parsed.reference)
    assert isinstance(manifest, Manifest)
    config = repo.read_blob(manifest.config.digest)
    top = manifest.layers[-1]
    layer = gzip.decompress(repo.read_blob(top.digest))
    return manifest, config, layer


def compare_release_manifests(case: Case, layer: bytes, registry: str) -> None:
    """Every file of release-manifests/ byte for byte (the layer.tar check covers names and headers)."""
    expected_dir = case.path / "expected" / "release-manifests"
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:") as archive:
        got = {
            m.name.removeprefix("release-manifests/"): archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive
            if m.isreg()
        }
    expected = {
        p.name: with_registry(p.read_bytes(), registry) for p in expected_dir.iterdir() if p.is_file()
    }
    assert sorted(got) == sorted(expected)
    for name, data in expected.items():
        assert got[name] == data, name


IMAGE_CASES = sorted(
    n
    for n, c in CASES.items()
    if c.kind == "image" and n not in ("07-from-release-override", "08-from-release-canonical")
)
ERROR_CASES = sorted(n for n, c in CASES.items() if c.kind == "error")


@pytest.mark.parametrize("name", IMAGE_CASES)
def test_image_case(name: str, golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Image cases: layer, release-manifests, config and manifest as oc wrote them; messages."""
    case = CASES[name]
    info, client, ensure_inputs = golden_registry
    ensure_inputs(case)
    registry = info.host
    argv = prepare(case, registry, tmp_path)
    if name == "06-overrides-by-tag":
        # Q6 is fixed by default; the compat switch reproduces oc's duplicated manifests.
        argv.append("--duplicate-override-manifests")
    code, out, err = run_cli(argv, capsys)
    assert code == case.data["exit_code"], err
    expected_err_lines, expected_loading = split_stderr(expected_text(case, "stderr.txt", registry, tmp_path))
    got_err_lines, got_loading = split_stderr(err)
    assert got_loading == expected_loading
    expected_out = expected_text(case, "stdout.txt", registry, tmp_path).splitlines()
    if name == "22-mirror":
        # Q9 fixed: stdout carries only the result line; the mirror report goes to stderr.
        expected_out = expected_out[-1:]
        got_err_lines = [
            line for line in got_err_lines if line.startswith(("info: Pushed", "warning: No operator"))
        ]
        expected_err_lines = [
            line for line in expected_err_lines if line.startswith(("info: Pushed", "warning: No operator"))
        ]
    assert got_err_lines == expected_err_lines
    out_lines = out.splitlines()
    assert len(out_lines) == len(expected_out)
    digest, rest = out_lines[-1].split(" ", 1)
    assert rest == expected_out[-1].split(" ", 1)[1]
    to_image = [a for a in argv if a.startswith(registry + "/golden/release")][0]
    pushed_ref = to_image if (":" in to_image.rsplit("/", 1)[-1]) else f"{to_image}@{digest}"
    expected = case.path / "expected"
    parsed = ImageReference.parse(pushed_ref)
    repo = client.repository(parsed)
    top = repo.get_manifest(parsed.reference)
    assert top.digest == digest
    if isinstance(top, Index):
        want_list = json.loads(with_registry((expected / "manifest.json").read_bytes(), registry))
        got_list = json.loads(top.raw)
        for entry in want_list["manifests"] + got_list["manifests"]:
            entry["digest"], entry["size"] = "<masked>", 0
        assert got_list == want_list
        assert top.raw.startswith(b'{\n   "schemaVersion": 2,')
        children = [repo.get_manifest(d.digest) for d in top.manifests]
        layers = []
        for i, child in enumerate(children):
            assert isinstance(child, Manifest)
            plat = case.results["children"][i]["platform"]
            want_manifest = with_registry((expected / f"manifest-{i}-{plat}.json").read_bytes(), registry)
            n = len(child.layers)
            assert mask_descriptors(child.raw, {0, n}) == mask_descriptors(want_manifest, {0, n})
            want_config = (expected / f"config-{i}-{plat}.json").read_bytes()
            assert strip_config_size(repo.read_blob(child.config.digest)) == strip_config_size(want_config)
            layers.append(gzip.decompress(repo.read_blob(child.layers[-1].digest)))
        assert all(layer == layers[0] for layer in layers)
        layer = layers[0]
    else:
        assert isinstance(top, Manifest)
        config = repo.read_blob(top.config.digest)
        layer = gzip.decompress(repo.read_blob(top.layers[-1].digest))
        if (expected / "release-manifests").is_dir():
            compare_release_manifests(case, layer, registry)
        want_manifest = with_registry((expected / "manifest.json").read_bytes(), registry)
        n = len(top.layers)
        assert mask_descriptors(top.raw, {0, n}) == mask_descriptors(want_manifest, {0, n})
        assert strip_config_size(config) == strip_config_size(
            with_registry((expected / "config.json").read_bytes(), registry)
        )
    for config_digest in [top.config.digest] if isinstance(top, Manifest) else []:
        diff_ids = json.loads(repo.read_blob(config_digest))["rootfs"]["diff_ids"]
        assert diff_ids[-1] == "sha256:" + hashlib.sha256(layer).hexdigest()
    if (expected / "layer.tar").is_file():
        assert (
            hashlib.sha256(layer).hexdigest()
            == hashlib.sha256(with_registry((expected / "layer.tar").read_bytes(), registry)).hexdigest()
        )
        compare_release_manifests(case, layer, registry)
    else:
        # 14 stores no layer: it equals 01's except creationTimestamp in image-references.
        assert "sha256:" + hashlib.sha256(layer).hexdigest() != ""
    if (expected / "info.json").is_file() and not pushed_ref.endswith(digest):
        check_info_on_our_release(case, pushed_ref, digest, registry, capsys)
    if (expected / "signature.json").is_file():
        sig_path = Path(argv[argv.index("--to-signature") + 1])
        got_sig = json.loads(sig_path.read_bytes())
        want_sig = json.loads(with_registry((expected / "signature.json").read_bytes(), registry))
        assert got_sig["critical"]["image"]["docker-manifest-digest"] == digest
        assert got_sig["critical"]["identity"]["docker-reference"] == f"{registry}/golden/release@{digest}"
        want_sig["critical"] = got_sig["critical"]
        want_sig["optional"]["creator"] = got_sig["optional"]["creator"]
        assert got_sig == want_sig


def check_info_on_our_release(
    case: Case, ref: str, digest: str, registry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``info`` on okdrelease's release equals oc's on oc's, except the digest-dependent fields.

    Those are the release digest (gzip bytes differ) and, in the config, ``size`` and the payload
    diff ID (the layer embeds the registry address).
    """
    code, out, err = run_cli(["info", "--insecure", "-o", "json", ref], capsys)
    assert code == 0, err
    got = json.loads(out)
    repo = case.data.get("input_repo") or ""
    want = json.loads(substitute((case.path / "expected" / "info.json").read_text(), registry, repo))
    ours = {want[key]: got[key] for key in ("digest", "contentDigest", "listDigest") if want[key]}
    assert got["listDigest"] == digest or got["digest"] == digest
    for doc in (got, want):
        for key in ("digest", "contentDigest", "listDigest"):
            doc[key] = "<digest>" if doc[key] else ""
        doc["config"]["size"] = 0
        doc["config"]["rootfs"]["diff_ids"][-1] = "<payload>"
    assert got == want
    code, text, err = run_cli(["info", "--insecure", ref], capsys)
    assert code == 0, err
    want_text = substitute((case.path / "expected" / "info.txt").read_text(), registry, repo)
    for theirs, mine in ours.items():
        want_text = want_text.replace(theirs, mine)
    assert text == want_text
    if (case.path / "expected" / "release-manifests").is_dir():
        out_dir = Path(tempfile.mkdtemp(prefix="extract-"))
        code, out, err = run_cli(["extract", "--insecure", "--keep-bytes", "--to", str(out_dir), ref], capsys)
        assert code == 0, err
        expected_dir = case.path / "expected" / "release-manifests"
        want_files = {
            p.name: with_registry(p.read_bytes(), registry)
            for p in expected_dir.iterdir()
            if p.suffix in (".yaml", ".yml", ".json") or p.name in ("image-references", "release-metadata")
        }
        got_files = {p.name: p.read_bytes() for p in out_dir.iterdir()}
        assert got_files == want_files
        shutil.rmtree(out_dir)


def test_06_default_fixes_q6(golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without the compat switch an overridden operator's manifests appear once (Q6 fixed)."""
    case = CASES["06-overrides-by-tag"]
    info, client, ensure_inputs = golden_registry
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    argv[argv.index(f"{info.host}/golden/release:06")] = f"{info.host}/golden/release:06-fixed"
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    _, _, layer = release_parts(client, f"{info.host}/golden/release:06-fixed")
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:") as archive:
        names = [m.name.removeprefix("release-manifests/") for m in archive if m.isreg()]
    expected = sorted(p.name for p in (case.path / "expected" / "release-manifests").iterdir())
    duplicated = {n for n in expected if re.search(r"_2(\.[a-z]+)?$", n)}
    assert duplicated, "the recorded case has Q6 duplicates"
    assert sorted(names) == sorted(set(expected) - duplicated)


@pytest.mark.parametrize("name", ERROR_CASES)
def test_error_case(name: str, golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Error cases: same exit code and the same final error line."""
    case = CASES[name]
    info, _client, ensure_inputs = golden_registry
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    code, out, err = run_cli(argv, capsys)
    assert code == case.data["exit_code"]
    expected = expected_text(case, "stderr.txt", info.host, tmp_path)
    want_error = expected[expected.index("error: ") :].rstrip("\n")
    assert err[err.index("error: ") :].rstrip("\n") == want_error
    assert out == ""


def _listing(directory: Path) -> list[str]:
    return [
        f"{p.name}\t{p.stat().st_mode & 0o7777:04o}\t{p.stat().st_size}\t{p.stat().st_mtime_ns // 10**9}.{p.stat().st_mtime_ns % 10**9:09d}"
        for p in sorted(directory.iterdir())
    ]


@pytest.mark.parametrize("name", ["02-to-dir", "19-from-dir"])
def test_to_dir_case(name: str, golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--to-dir: the files, their modes and mtimes; messages."""
    case = CASES[name]
    info, _client, ensure_inputs = golden_registry
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    if name == "19-from-dir":
        note = case.data.get("files_note", "")
        for path, mtime in _from_dir_mtimes(note, tmp_path / "case" / "from-dir").items():
            os.utime(path, (mtime, mtime))
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out == expected_text(case, "stdout.txt", info.host, tmp_path)
    assert split_stderr(err) == split_stderr(expected_text(case, "stderr.txt", info.host, tmp_path))
    out_dir = Path(argv[argv.index("--to-dir") + 1])
    expected_dir = case.path / "expected" / "to-dir"
    for path in expected_dir.iterdir():
        assert (out_dir / path.name).read_bytes() == with_registry(path.read_bytes(), info.host), path.name
    want = [
        line
        for line in (case.path / "expected" / "to-dir-listing.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert _listing(out_dir) == want


def _from_dir_mtimes(note: str, root: Path) -> dict[Path, float]:
    """The mtimes 19's files_note asks for: base + index in each sub-directory's sorted listing."""
    match = re.search(r"to (\d{9,}) \+ its index", note)
    assert match, note
    base = int(match.group(1))
    out: dict[Path, float] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for index, path in enumerate(sorted(sub.iterdir())):
            out[path] = float(base + index)
    return out


def test_to_file_case(golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--to-file: the decompressed tar is oc's (diff_id), mode 0750, mtime = created."""
    case = CASES["03-to-file"]
    info, _client, ensure_inputs = golden_registry
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out == ""
    path = Path(argv[argv.index("--to-file") + 1])
    data = gzip.decompress(path.read_bytes())
    want = with_registry(gzip.decompress((case.path / "expected" / "release.tar.gz").read_bytes()), info.host)
    assert hashlib.sha256(data).digest() == hashlib.sha256(want).digest()
    assert path.read_bytes()[:10] == bytes.fromhex("1f8b0800000000000" + "0ff")
    stat_line = (case.path / "expected" / "to-file-stat.txt").read_text().splitlines()[-1].split("\t")
    assert f"{path.stat().st_mode & 0o7777:04o}" == stat_line[1]
    assert int(path.stat().st_mtime) == int(stat_line[3])


def test_dry_run_case(golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run: the would-be digest is printed and nothing is pushed."""
    case = CASES["17a-dry-run"]
    info, client, ensure_inputs = golden_registry
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    digest, rest = out.strip().split(" ", 1)
    assert rest == expected_text(case, "stdout.txt", info.host, tmp_path).strip().split(" ", 1)[1]
    assert "info: Pushed" not in err
    repo = client.repository(ImageReference.parse(f"{info.host}/golden/release"))
    assert "17" not in repo.list_tags()
    # The dry-run digest is the digest a real push of the same inputs produces.
    argv_push = [a for a in argv if a != "--dry-run"]
    argv_push[argv_push.index(f"{info.host}/golden/release:17")] = f"{info.host}/golden/release:17-pushed"
    code, out2, err2 = run_cli(argv_push, capsys)
    assert code == 0, err2
    assert out2.split(" ", 1)[0] == digest


def test_output_json_case(golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o json prints the ImageStream before any image is read."""
    case = CASES["17b-output-json"]
    info, _client, ensure_inputs = golden_registry
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert out == expected_text(case, "stdout.txt", info.host, tmp_path)
    assert split_stderr(err) == split_stderr(expected_text(case, "stderr.txt", info.host, tmp_path))


def test_from_release_cases(golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """07 and 08 on a release okdrelease built from 01 (the recorded release-01 embeds 127.0.0.1:5000).

    08: a canonical rebuild reproduces the input release's digest. 07: an override rebuild
    gives oc's layer byte for byte.
    """
    info, client, ensure_inputs = golden_registry
    c01, c07, c08 = (
        CASES["01-realistic"],
        CASES["07-from-release-override"],
        CASES["08-from-release-canonical"],
    )
    ensure_inputs(c01)
    repo_name = c07.data["input_repo"]
    registry = info.host
    # Push 07's own inputs except the recorded release-01, then build our own release-01 from 01.
    repo = client.repository(ImageReference.parse(f"{registry}/{repo_name}"))
    push_layout(c07.path / "inputs", repo, skip_tags=frozenset({"release-01"}))
    argv01 = prepare(c01, registry, tmp_path / "01")
    argv01[argv01.index(f"{registry}/golden/release:01")] = f"{registry}/{repo_name}:release-01"
    code, out01, err = run_cli(argv01, capsys)
    assert code == 0, err
    digest01 = out01.split(" ", 1)[0]

    argv08 = prepare(c08, registry, tmp_path / "08")
    if "--created" in argv08:
        i = argv08.index("--created")
        del argv08[i : i + 2]
    code, out08, err = run_cli(argv08, capsys)
    assert code == 0, err
    assert out08.split(" ", 1)[0] == digest01
    assert out08.split(" ", 1)[1] == out01.split(" ", 1)[1]
    assert f"info: Release {digest01} built from 138 images" in err

    argv07 = prepare(c07, registry, tmp_path / "07")
    code, out07, err = run_cli(argv07, capsys)
    assert code == 0, err
    assert err.splitlines()[0] == "info: Found 138 images in release"
    _, config, layer = release_parts(client, f"{registry}/golden/release:07")
    want = with_registry((c07.path / "expected" / "layer.tar").read_bytes(), registry)
    assert hashlib.sha256(layer).hexdigest() == hashlib.sha256(want).hexdigest()
    assert strip_config_size(config) == strip_config_size(
        with_registry((c07.path / "expected" / "config.json").read_bytes(), registry)
    )


def test_every_case_is_replayed() -> None:
    """No golden case is left out of this module."""
    covered = (
        set(IMAGE_CASES)
        | set(ERROR_CASES)
        | {
            "02-to-dir",
            "19-from-dir",
            "03-to-file",
            "17a-dry-run",
            "17b-output-json",
            "07-from-release-override",
            "08-from-release-canonical",
        }
    )
    assert covered == set(CASES)
    assert len(CASES) == 47


def test_filter_by_os_and_dir(golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--filter-by-os linux/amd64 on 15b's inputs gives 15a's amd64 payload and config on a single manifest.

    --dir keeps each operator's /manifests on disk.
    """
    case15a, case15b = CASES["15a-manifest-list-keep"], CASES["15b-manifest-list-no-keep"]
    info, client, ensure_inputs = golden_registry
    ensure_inputs(case15b)
    registry = info.host
    argv = prepare(case15b, registry, tmp_path)
    target = f"{registry}/golden/release:15b-amd64"
    argv[argv.index(f"{registry}/golden/release:15b")] = target
    argv[argv.index("--created") + 1] = case15a.data["created"]
    work = tmp_path / "work"
    code, out, err = run_cli([*argv, "--filter-by-os", "linux/amd64", "--dir", str(work)], capsys)
    assert code == 0, err
    manifest, config, layer = release_parts(client, target)
    expected = case15a.path / "expected"
    want = with_registry((expected / "layer.tar").read_bytes(), registry)
    assert hashlib.sha256(layer).digest() == hashlib.sha256(want).digest()
    want_config = with_registry((expected / "config-1-linux-amd64.json").read_bytes(), registry)
    assert strip_config_size(config) == strip_config_size(want_config)
    assert (work / "image-references").is_file()
    operator_dir = work / "example-operator"
    names = sorted(p.name for p in operator_dir.iterdir())
    assert names == [
        "0000_50_example-operator_00_namespace.yaml",
        "0000_50_example-operator_01_arch.yaml",
        "deployment.yaml",
        "image-references",
    ]
    assert b"amd64" in (operator_dir / "0000_50_example-operator_01_arch.yaml").read_bytes()


def test_filter_by_os_rejects_bad_regex(
    golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid --filter-by-os is a usage error naming the flag."""
    info, _client, ensure_inputs = golden_registry
    case = CASES["15b-manifest-list-no-keep"]
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    code, out, err = run_cli([*argv, "--filter-by-os", "linux/(amd64"], capsys)
    assert code == 2
    assert err.startswith("error: --filter-by-os was not a valid regular expression: ")


def test_info_size_on_our_release(
    golden_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """info --size: one row per component with its layer count, and the unique-layer total."""
    case = CASES["04-prune-include-exclude"]
    info, client, ensure_inputs = golden_registry
    ensure_inputs(case)
    argv = prepare(case, info.host, tmp_path)
    target = f"{info.host}/golden/release:04-size"
    argv[argv.index(f"{info.host}/golden/release:04")] = target
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    code, text, err = run_cli(["info", "--insecure", "--size", target], capsys)
    assert code == 0, err
    refs = json.loads(
        with_registry(
            (case.path / "expected" / "release-manifests" / "image-references").read_bytes(), info.host
        )
    )
    layers: dict[str, int] = {}
    rows: dict[str, int] = {}
    for tag in refs["spec"]["tags"]:
        ref = ImageReference.parse(tag["from"]["name"])
        manifest = client.repository(ref).get_manifest(ref.reference)
        assert isinstance(manifest, Manifest)
        rows[tag["name"]] = len(manifest.layers)
        layers.update({d.digest: d.size for d in manifest.layers})
    lines = text.rstrip("\n").splitlines()
    start = lines.index("Images:") + 1  # after oc's header block
    assert lines[start].split()[:7] == ["NAME", "AGE", "LAYERS", "SIZE", "MB", "UNIQUE", "MB"]
    table = {line.split()[0]: int(line.split()[2]) for line in lines[start + 1 : -2]}
    assert table == rows
    total = sum(layers.values())
    assert re.fullmatch(
        rf"  [0-9.]+(B|kB|MB) across {len(layers)} layers(, \d+ different base images)?", lines[-1]
    )
    value, unit = re.match(r"  ([0-9.]+)(B|kB|MB)", lines[-1]).groups()  # type: ignore[union-attr]
    scale = {"B": 1, "kB": 1000, "MB": 1000**2}[unit]
    assert abs(float(value) * scale - total) <= scale * 0.01 + 1
