"""``okdrelease copy`` with skopeo's flags, checked against skopeo 1.9 on the loopback registry rig."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from imagegen import OCI, GeneratedIndex, make_image, make_index
from registry_rig import RegistryInfo, RepoNamer

from okdrelease.cli import main
from okdrelease.oci.platform import runtime_platform
from okdrelease.transport.layout import LayoutRepository

sys.path.insert(0, str(Path(__file__).parent / "sign"))
from gpg_support import gpg, kill_agent, new_signing_key  # noqa: E402


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``okdrelease ARGV`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def skopeo(*argv: str) -> subprocess.CompletedProcess[str]:
    """skopeo 1.9 with a private auth file, so no user's credentials leak in."""
    env = dict(os.environ, REGISTRY_AUTH_FILE="/nonexistent/auth.json")
    return subprocess.run(
        ["skopeo", *argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def layout_index(path: Path) -> dict[str, str]:
    """ref name → digest of a layout's index.json."""
    index = json.loads((path / "index.json").read_text())
    return {d["annotations"]["org.opencontainers.image.ref.name"]: d["digest"] for d in index["manifests"]}


def cert_dir(tmp_path: Path, registry: RegistryInfo) -> Path:
    """A certificate directory trusting ``registry``'s CA (``ca.crt``)."""
    certs = tmp_path / "certs"
    certs.mkdir(exist_ok=True)
    (certs / "ca.crt").write_bytes(Path(registry.ca_file).read_bytes())
    return certs


def blob_names(path: Path) -> set[str]:
    return {"sha256:" + p.name for p in (path / "blobs" / "sha256").iterdir()}


@pytest.fixture
def multi(tmp_path: Path) -> Iterator[tuple[Path, GeneratedIndex]]:
    """An OCI layout (``multi``: a two-platform OCI index, ``single``: an image) skopeo 1.9 reads."""
    path = tmp_path / "src"
    repo = LayoutRepository(path, create=True)
    index = make_index(repo, "multi", seed="cli-copy", flavour=OCI)
    make_image(repo, "single", seed="cli-copy-single", flavour=OCI)
    yield path, index


# --------------------------------------------------------------------------------------------
# A failed copy leaves no new layout behind


def test_failed_copy_into_a_new_layout_leaves_no_directory(
    multi: tuple[Path, GeneratedIndex], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, index = multi
    target = tmp_path / "new" / "parent" / "layout"
    code, out, err = run(capsys, "copy", f"oci:{src}:missing", f"oci:{target}:x")
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and "missing" in err
    assert not (tmp_path / "new").exists()
    # A blob that does not match its digest fails the copy half-way: still nothing left.
    layer = index.children[-1].blobs[-1].digest
    (src / "blobs/sha256" / layer[7:]).write_bytes(b"not the layer")
    code, _, err = run(capsys, "copy", f"oci:{src}:multi", f"oci:{target}:x")
    assert code == 1 and layer in err
    assert not (tmp_path / "new").exists()


def test_failed_copy_never_removes_what_was_there(
    multi: tuple[Path, GeneratedIndex], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = multi
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "keep.txt").write_text("mine")
    assert run(capsys, "copy", f"oci:{src}:missing", f"oci:{empty}:x")[0] == 1
    assert sorted(os.listdir(empty)) == ["keep.txt"]
    existing = tmp_path / "existing"
    assert run(capsys, "copy", f"oci:{src}:single", f"oci:{existing}:single")[0] == 0
    before = {p: p.read_bytes() for p in existing.rglob("*") if p.is_file()}
    assert run(capsys, "copy", f"oci:{src}:missing", f"oci:{existing}:x")[0] == 1
    assert {p: p.read_bytes() for p in existing.rglob("*") if p.is_file()} == before
    a_file = tmp_path / "a-file"
    a_file.write_text("not a layout")
    code, _, err = run(capsys, "copy", f"oci:{src}:single", f"oci:{a_file}:x")
    assert (code, err) == (1, f"error: cannot create OCI layout {a_file}: it exists and is not a directory\n")
    assert a_file.read_text() == "not a layout"


def _on_first_blob(monkeypatch: pytest.MonkeyPatch, target: Path, act: Callable[[], None]) -> None:
    """Run ``act`` once, when the copy first stores or links a blob into the layout at ``target``."""
    done = threading.Event()
    guard = threading.Lock()

    def first(self: LayoutRepository) -> None:
        if os.path.abspath(self.path) == str(target):
            with guard:
                if not done.is_set():
                    done.set()
                    act()

    for name in ("put_blob", "mount_blob"):
        original = getattr(LayoutRepository, name)

        def hooked(self: LayoutRepository, *args: object, _original: Any = original, **kwargs: object) -> Any:
            first(self)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(LayoutRepository, name, hooked)


def test_failed_copy_keeps_what_others_wrote_meanwhile(
    multi: tuple[Path, GeneratedIndex],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another job's files in the directories the copy created survive its failure (before, the whole
    top directory it created was removed with them); what the copy wrote there is gone."""
    src, index = multi
    top, target = tmp_path / "new", tmp_path / "new" / "parent" / "layout"

    def others_write() -> None:
        (top / "important.txt").write_text("precious")
        (top / "parent" / "other").mkdir()
        (top / "parent" / "other" / "file").write_text("theirs")

    _on_first_blob(monkeypatch, target, others_write)
    layer = index.children[-1].blobs[-1].digest
    (src / "blobs/sha256" / layer[7:]).write_bytes(b"not the layer")
    code, _, err = run(capsys, "copy", f"oci:{src}:multi", f"oci:{target}:x")
    assert code == 1 and layer in err
    found = sorted(str(p.relative_to(tmp_path)) for p in top.rglob("*"))
    assert found == ["new/important.txt", "new/parent", "new/parent/other", "new/parent/other/file"]


def test_failed_copy_keeps_an_image_another_run_finished_in_the_new_layout(
    multi: tuple[Path, GeneratedIndex],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two copies into one new layout, the first to start fails after the other finished: the layout,
    with the other's image, stays readable (before, the failing copy removed the layout)."""
    src, index = multi
    target = tmp_path / "shared"

    def another_run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "okdrelease", "copy", f"oci:{src}:single", f"oci:{target}:a"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    _on_first_blob(monkeypatch, target, another_run)
    layer = index.children[-1].blobs[-1].digest
    (src / "blobs/sha256" / layer[7:]).write_bytes(b"not the layer")
    code, _, err = run(capsys, "copy", f"oci:{src}:multi", f"oci:{target}:x")
    assert code == 1 and layer in err
    assert list(layout_index(target)) == ["a"]
    inspected = skopeo("inspect", "--raw", f"oci:{target}:a")
    assert inspected.returncode == 0, inspected.stderr
    assert run(capsys, "copy", f"oci:{target}:a", f"oci:{tmp_path / 'again'}:a")[0] == 0


# --------------------------------------------------------------------------------------------
# --multi-arch, --all, --preserve-digests, --remove-signatures


def test_multi_arch_system_all_and_index_only_match_skopeo(
    multi: tuple[Path, GeneratedIndex], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, index = multi
    os_name, arch = runtime_platform()
    system = next(
        c
        for c, d in zip(index.children, json.loads(index.raw)["manifests"], strict=True)
        if (d["platform"]["os"], d["platform"]["architecture"]) == (os_name, arch)
    )
    for mode, digest in (("system", system.digest), ("all", index.digest)):
        ours, theirs = tmp_path / f"ours-{mode}", tmp_path / f"skopeo-{mode}"
        code, out, err = run(capsys, "copy", "--multi-arch", mode, f"oci:{src}:multi", f"oci:{ours}:x")
        assert (code, out) == (0, digest + "\n"), err
        done = skopeo("copy", "-q", "--multi-arch", mode, f"oci:{src}:multi", f"oci:{theirs}:x")
        assert done.returncode == 0, done.stderr
        assert layout_index(ours) == layout_index(theirs) == {"x": digest}
        assert blob_names(ours) == blob_names(theirs), mode
    # index-only: skopeo writes the list alone even where its images are missing (a layout nothing
    # can read); okdrelease's layout refuses that as a registry does, and leaves no layout behind.
    done = skopeo("copy", "-q", "--multi-arch", "index-only", f"oci:{src}:multi", f"oci:{tmp_path}/s-io:x")
    assert done.returncode == 0 and blob_names(tmp_path / "s-io") == {index.digest}
    code, _, err = run(
        capsys, "copy", "--multi-arch", "index-only", f"oci:{src}:multi", f"oci:{tmp_path}/io:x"
    )
    missing = index.children[0].digest
    assert code == 1 and f"it references {missing}, which is not in the layout" in err
    assert not (tmp_path / "io").exists()
    # Where the images are, the list alone is written (a new ref name for the same index).
    ours = tmp_path / "ours-all"
    code, out, _ = run(capsys, "copy", "--multi-arch", "index-only", f"oci:{src}:multi", f"oci:{ours}:list")
    assert (code, out) == (0, index.digest + "\n")
    assert layout_index(ours) == {"x": index.digest, "list": index.digest}
    # The default stays "all" (a release index keeps its digest); --all says so explicitly.
    assert (
        run(capsys, "copy", "--all", f"oci:{src}:multi", f"oci:{tmp_path / 'a'}:x")[1] == index.digest + "\n"
    )
    code, _, err = run(
        capsys, "copy", "--all", "--multi-arch", "all", f"oci:{src}:multi", f"oci:{tmp_path}/b:x"
    )
    assert (code, err) == (2, "error: --all and --multi-arch cannot be used together\n")
    code, _, err = run(capsys, "copy", "--multi-arch", "some", f"oci:{src}:multi", f"oci:{tmp_path}/b:x")
    assert code == 2 and "invalid choice: 'some'" in err
    assert not (tmp_path / "b").exists()


@attrs.frozen
class TlsCopy:
    """A copy from the ``multi`` layout to a new repository of the TLS registry, as skopeo is given it."""

    src: Path  # the layout
    index: GeneratedIndex  # its ``multi`` index
    host: str  # the TLS registry
    certs: Path  # a certificate directory trusting it
    dst: str  # docker://HOST/REPOSITORY:x


@pytest.fixture
def tls_copy(
    multi: tuple[Path, GeneratedIndex], registry_tls: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> TlsCopy:
    """The layout, and a destination on ``registry_tls`` with a certificate directory for it."""
    src, index = multi
    dst = f"docker://{registry_tls.host}/{unique_repo()}:x"
    return TlsCopy(src, index, registry_tls.host, cert_dir(tmp_path, registry_tls), dst)


def test_index_only_into_a_registry_without_the_images_fails_as_skopeo_does(
    tls_copy: TlsCopy, capsys: pytest.CaptureFixture[str]
) -> None:
    src, index, dst = tls_copy.src, tls_copy.index, tls_copy.dst
    ca = ["--dest-cert-dir", str(tls_copy.certs)]
    done = skopeo("copy", "-q", "--multi-arch", "index-only", *ca, f"oci:{src}:multi", dst)
    assert done.returncode == 1 and "manifest blob unknown" in done.stderr
    code, _, err = run(capsys, "copy", "--multi-arch", "index-only", *ca, f"oci:{src}:multi", dst)
    assert code == 1 and "MANIFEST_BLOB_UNKNOWN" in err and f"{tls_copy.host}/" in err
    # With the images there, the list alone goes: the registry then holds the whole index.
    assert (
        run(capsys, "copy", "--multi-arch", "all", *ca, f"oci:{src}:multi", dst.replace(":x", ":y"))[0] == 0
    )
    assert (
        run(capsys, "copy", "--multi-arch", "index-only", *ca, f"oci:{src}:multi", dst)[1]
        == index.digest + "\n"
    )


def test_preserve_digests_refuses_a_conversion_before_writing(
    multi: tuple[Path, GeneratedIndex], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, index = multi
    target = tmp_path / "pd"
    code, out, err = run(
        capsys, "copy", "--preserve-digests", "--format", "v2s2", f"oci:{src}:multi", f"oci:{target}:x"
    )
    assert (code, out) == (2, "")
    assert err.startswith(
        f"error: manifest {index.children[0].digest} (application/vnd.oci.image.manifest.v1+json)"
    )
    assert err.endswith(
        "must be converted to write it as v2s2, which changes its digest, but --preserve-digests was given\n"
    )
    assert not target.exists()
    assert (
        skopeo(
            "copy",
            "--preserve-digests",
            "--format",
            "v2s2",
            "--all",
            f"oci:{src}:multi",
            f"oci:{tmp_path}/s:x",
        ).returncode
        == 1
    )
    # Nothing to convert: the digests are kept, as without --preserve-digests.
    code, out, _ = run(
        capsys, "copy", "--preserve-digests", "--format", "oci", f"oci:{src}:multi", f"oci:{target}:x"
    )
    assert (code, out) == (0, index.digest + "\n")
    code, out, _ = run(capsys, "copy", "--remove-signatures", f"oci:{src}:multi", f"oci:{tmp_path}/rs:x")
    assert (code, out) == (0, index.digest + "\n")
    assert blob_names(tmp_path / "rs") == blob_names(target)


# --------------------------------------------------------------------------------------------
# --src-no-creds/--dest-no-creds and --src-cert-dir/--dest-cert-dir


def test_no_creds_sends_no_credentials_whatever_the_auth_file_holds(
    multi: tuple[Path, GeneratedIndex],
    registry_basic: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, _ = multi
    auth = tmp_path / "auth.json"
    pair = base64.b64encode(f"alice:{registry_basic.users['alice']}".encode()).decode()
    auth.write_text(json.dumps({"auths": {registry_basic.host: {"auth": pair}}}))
    ca = ["--certificate-authority", str(registry_basic.ca_file), "--authfile", str(auth)]
    dst = f"docker://{registry_basic.host}/{unique_repo()}:x"
    assert run(capsys, "copy", *ca, f"oci:{src}:single", dst)[0] == 0
    code, _, err = run(capsys, "copy", *ca, "--dest-no-creds", f"oci:{src}:single", dst)
    assert code == 1 and "HTTP 401" in err
    assert err.rstrip().endswith(f"no credentials sent to {registry_basic.host}: --dest-no-creds was given")
    code, _, err = run(capsys, "copy", *ca, "--src-no-creds", dst, f"oci:{tmp_path}/back:x")
    assert code == 1 and "--src-no-creds was given" in err
    assert not (tmp_path / "back").exists()
    assert run(capsys, "copy", *ca, dst, f"oci:{tmp_path}/back:x")[0] == 0
    code, _, err = run(
        capsys, "copy", "--dest-creds", "alice:pw", "--dest-no-creds", f"oci:{src}:single", dst
    )
    assert (code, err) == (2, "error: --dest-creds and --dest-no-creds cannot be given together\n")


def test_cert_dir_trusts_its_cas_as_skopeo_does(
    tls_copy: TlsCopy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, certs, dst = tls_copy.src, tls_copy.certs, tls_copy.dst
    code, _, err = run(capsys, "copy", f"oci:{src}:single", dst)
    assert code == 1 and "TLS verification failed" in err
    assert skopeo("copy", "-q", f"oci:{src}:single", dst).returncode == 1
    assert skopeo("copy", "-q", "--dest-cert-dir", str(certs), f"oci:{src}:single", dst).returncode == 0
    code, out, _ = run(capsys, "copy", "--dest-cert-dir", str(certs), f"oci:{src}:single", dst)
    assert code == 0
    assert skopeo("inspect", "--raw", "--cert-dir", str(certs), dst).stdout.encode() == (
        (src / "blobs/sha256" / out.strip()[7:]).read_bytes()
    )
    code, _, err = run(capsys, "copy", "--src-cert-dir", str(certs), dst, f"oci:{tmp_path}/back:x")
    assert code == 0, err
    # A client key without its certificate is refused by name, as containers/image refuses it.
    (certs / "client.key").write_text("key")
    assert (
        "missing client certificate"
        in skopeo("copy", "--dest-cert-dir", str(certs), f"oci:{src}:single", dst).stderr
    )
    code, _, err = run(capsys, "copy", "--dest-cert-dir", str(certs), f"oci:{src}:single", dst)
    assert code == 1
    assert err.endswith(
        f": key {certs / 'client.key'} for registry {tls_copy.host} has no client certificate\n"
    )
    # A directory that does not exist is an error (skopeo ignores it, and then fails TLS verification).
    code, _, err = run(capsys, "copy", "--dest-cert-dir", str(tmp_path / "typo"), f"oci:{src}:single", dst)
    assert code == 1
    assert err.endswith(
        f": certificate directory {tmp_path / 'typo'} for registry {tls_copy.host} does not exist\n"
    )


# --------------------------------------------------------------------------------------------
# --sign-by (gpg, to a lookaside and a store) and --sign-by-sigstore-private-key (cosign)


@pytest.fixture
def gpg_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A throwaway GNUPGHOME with one ed25519 signing key; (exported public key file, fingerprint)."""
    home = tmp_path / "gnupg"
    fingerprint = new_signing_key(home, "copy signer <copy@example.com>")
    public = tmp_path / "public.asc"
    public.write_bytes(gpg(home, "--armor", "--export", fingerprint).stdout)
    monkeypatch.setenv("GNUPGHOME", str(home))
    try:
        yield public, fingerprint
    finally:
        kill_agent(home)


def test_sign_by_gpg_signs_the_copy_for_the_destination_repository(
    multi: tuple[Path, GeneratedIndex],
    gpg_key: tuple[Path, str],
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, index = multi
    public, fingerprint = gpg_key
    repository = f"{registry_http.host}/{unique_repo()}"
    lookaside, store = tmp_path / "lookaside", tmp_path / "store"
    signing = ["--sign-by", fingerprint, "--lookaside", str(lookaside), "--signature-dir", str(store)]
    code, out, err = run(
        capsys, "copy", "--dest-tls-verify=false", *signing, f"oci:{src}:multi", f"{repository}:x"
    )
    assert (code, out) == (0, index.digest + "\n"), err
    signed = f"{repository}@{index.digest}"
    assert (
        f"info: Signed {signed} with key {fingerprint}: {store}/sha256={index.digest[7:]}/signature-1\n"
        in err
    )
    for flag, where in (("--lookaside", lookaside), ("--signature-dir", store)):
        code, out, err = run(capsys, "verify", "--keyring", str(public), flag, str(where), signed)
        assert code == 0 and f"identity {signed}, from " in out, err
    # Refused before anything is copied: nowhere to write, an OCI layout without an identity.
    target = tmp_path / "layout"
    code, _, err = run(capsys, "copy", "--sign-by", fingerprint, f"oci:{src}:multi", f"oci:{target}:x")
    assert (code, err) == (
        2,
        "error: --sign-by needs --lookaside DIR and/or --signature-dir DIR to write the signature to\n",
    )
    code, _, err = run(capsys, "copy", *signing, f"oci:{src}:multi", f"oci:{target}:x")
    assert code == 2 and err.endswith("needs --sign-identity REPOSITORY for the signature\n")
    code, _, err = run(capsys, "copy", "--lookaside", str(lookaside), f"oci:{src}:multi", f"oci:{target}:x")
    assert code == 2 and "say where --sign-by writes its signature" in err
    # A signature directory that cannot be written into (sign.store.check_output_dir, as new's).
    (tmp_path / "file").write_text("x")
    for flag in ("--lookaside", "--signature-dir"):
        unwritable = [
            "--sign-by",
            fingerprint,
            "--sign-identity",
            repository,
            flag,
            str(tmp_path / "file" / "sigs"),
        ]
        code, out, err = run(capsys, "copy", *unwritable, f"oci:{src}:multi", f"oci:{target}:x")
        assert (code, out, err) == (
            1,
            "",
            f"error: {flag} {tmp_path}/file/sigs: {tmp_path}/file is not a directory\n",
        )
    # An identity that is no reference (before: refused when signing, after the copy).
    code, out, err = run(
        capsys, "copy", *signing, "--sign-identity", "BAD", f"oci:{src}:multi", f"oci:{target}:x"
    )
    assert (code, out, err) == (
        2,
        "",
        "error: --sign-identity: invalid image reference 'BAD': repository name must be lowercase alphanumeric "
        "components\n",
    )
    assert not target.exists()
    code, out, err = run(
        capsys, "copy", *signing, "--sign-identity", repository, f"oci:{src}:single", f"oci:{target}:x"
    )
    assert code == 0, err
    assert f"info: Signed {repository}@{out.strip()} with key {fingerprint}: " in err


def test_sign_by_sigstore_private_key_pushes_a_cosign_signature(
    multi: tuple[Path, GeneratedIndex],
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, index = multi
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    assert run(capsys, "keys", "generate", "--cosign", "--out", str(tmp_path))[0] == 0
    repository = f"{registry_http.host}/{unique_repo()}"
    key = ["--sign-by-sigstore-private-key", str(tmp_path / "cosign.key")]
    code, out, err = run(
        capsys, "copy", "--dest-tls-verify=false", *key, f"oci:{src}:multi", f"{repository}:x"
    )
    assert (code, out) == (0, index.digest + "\n"), err
    tag = f"sha256-{index.digest[7:]}.sig"
    assert f"info: Pushed signature of {index.digest} to {repository}:{tag}\n" in err
    image = f"{repository}@{index.digest}"
    code, out, err = run(capsys, "verify", "--insecure", "--cosign-key", str(tmp_path / "cosign.pub"), image)
    assert code == 0 and out.startswith(
        f"Verified cosign signature of {index.digest} (identity {repository}, "
    )
    code, _, err = run(capsys, "copy", *key, f"oci:{src}:multi", f"oci:{tmp_path}/l:x")
    assert code == 2 and "pushes the signature to a registry, and oci:" in err


def _image_summary(layout: Path, digest: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Per image of the list ``digest`` in ``layout``: (manifest type, config digest, [(layer type, tar digest)])."""
    from okdrelease.oci.layerread import open_layer

    blobs = layout / "blobs" / "sha256"
    index = json.loads((blobs / digest[7:]).read_bytes())
    out = []
    for entry in index["manifests"]:
        manifest = json.loads((blobs / entry["digest"][7:]).read_bytes())
        layers = []
        for layer in manifest["layers"]:
            with open_layer((blobs / layer["digest"][7:]).open("rb")) as tar:
                layers.append((layer["mediaType"], "sha256:" + hashlib.sha256(tar.read()).hexdigest()))
        out.append((manifest["mediaType"], manifest["config"]["digest"], layers))
    return out


def test_dest_compress_format_recompresses_layers_as_skopeo_does(
    multi: tuple[Path, GeneratedIndex], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, index = multi
    ours, theirs = tmp_path / "ours", tmp_path / "skopeo"
    code, out, err = run(
        capsys, "copy", "--dest-compress-format", "zstd", f"oci:{src}:multi", f"oci:{ours}:x"
    )
    assert code == 0, err
    digest = out.strip()
    assert digest != index.digest and "Compressing blob " in err
    done = skopeo(
        "copy", "-q", "--all", "--dest-compress-format", "zstd", f"oci:{src}:multi", f"oci:{theirs}:x"
    )
    assert done.returncode == 0, done.stderr
    summary = _image_summary(ours, digest)
    # The same images: OCI manifests, the same configs, zstd layers holding the same tars.
    assert summary == _image_summary(theirs, layout_index(theirs)["x"])
    assert {t for _, _, layers in summary for t, _ in layers} == {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    }
    assert [tars for _, _, tars in summary] == [
        [(t.replace("gzip", "zstd"), d) for t, d in tars] for _, _, tars in _image_summary(src, index.digest)
    ]
    # skopeo reads what okdrelease wrote (every blob checked against its digest on the way).
    assert skopeo("copy", "-q", "--all", f"oci:{ours}:x", f"oci:{tmp_path}/check:x").returncode == 0
    # Back to gzip, and --preserve-digests keeps everything as it is (as skopeo does).
    code, out, _ = run(
        capsys, "copy", "--dest-compress-format", "gzip", f"oci:{ours}:x", f"oci:{tmp_path}/gz:x"
    )
    assert code == 0 and {t for _, _, ls in _image_summary(tmp_path / "gz", out.strip()) for t, _ in ls} == {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    }
    code, out, _ = run(
        capsys,
        "copy",
        "--preserve-digests",
        "--dest-compress-format",
        "zstd",
        f"oci:{src}:multi",
        f"oci:{tmp_path}/pd:x",
    )
    assert (code, out) == (0, index.digest + "\n")
