"""``okdrelease new`` end to end beyond the golden cases: signing, auth, independent readers, library API."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import attrs
import pytest

from okdrelease.cli import main
from okdrelease.errors import NotFoundError
from okdrelease.payload.pipeline import new_release
from okdrelease.payload.plan import NewOptions, parse_created
from okdrelease.reference import ImageReference
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
NAME = "4.16.0-okd.sample"
CREATED = "2024-05-01T00:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sample_args(to_image: str, *extra: str) -> list[str]:
    """``new`` on the sample payload, named for quay.io so signatures have a registry identity."""
    return [
        "new",
        "--from-oci-layout",
        str(SAMPLE),
        "--layout-repository",
        "quay.io/okd/scos-content",
        "--name",
        NAME,
        "--created",
        CREATED,
        "--to-image",
        to_image,
        *extra,
    ]


def test_library_call_returns_typed_result_and_is_reproducible(tmp_path: Path) -> None:
    """The library call gives the same digest twice and names every component with its digest."""
    options = NewOptions(
        from_oci_layout=str(SAMPLE),
        layout_repository="quay.io/okd/scos-content",
        name=NAME,
        created=parse_created(CREATED),
        to_image=f"oci:{tmp_path / 'a'}:{NAME}",
    )
    lines: list[str] = []
    first = new_release(options, progress=lines.append)
    second = new_release(attrs.evolve(options, to_image=f"oci:{tmp_path / 'b'}:{NAME}"))
    assert first.digest == second.digest
    assert first.digest and first.digest.startswith("sha256:")
    assert first.name == NAME and first.created == CREATED
    assert "cluster-version-operator" in {c.name for c in first.components}
    assert all(c.pullspec == f"quay.io/okd/scos-content@{c.digest}" for c in first.components)
    assert len(first.operators) == 40
    assert f"info: Pushed to oci:{tmp_path / 'a'}:{NAME}" in lines
    refs = json.loads(first.image_references or b"{}")
    assert refs["metadata"]["name"] == NAME
    assert [t["name"] for t in refs["spec"]["tags"]] == sorted(c.name for c in first.components)


@pytest.fixture
def pgp_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A fresh OpenPGP secret key file (``keys generate --pgp``)."""
    keys = tmp_path / "keys"
    code, _, err = run(
        capsys, "keys", "generate", "--pgp", "--name", "OKD test <okd@example.test>", "--out", str(keys)
    )
    assert code == 0, err
    return keys / "secret.asc"


def test_sign_by_writes_store_and_configmap_that_verify_accepts(
    registry_http, pgp_secret: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """new --sign-by: a signature store directory and a ConfigMap, both accepted by okdrelease verify."""
    keys = pgp_secret.parent
    to_image = f"{registry_http.host}/okd/release:{NAME}"
    store, configmaps = tmp_path / "store", tmp_path / "configmaps"
    code, out, err = run(
        capsys,
        *sample_args(to_image, "--insecure"),
        "--sign-by",
        str(keys / "secret.asc"),
        "--signature-dir",
        str(store),
        "--signature-configmap-dir",
        str(configmaps),
    )
    assert code == 0, err
    digest = out.split()[0]
    hex_part = digest.split(":")[1]
    assert (store / f"sha256={hex_part}" / "signature-1").is_file()
    configmap = configmaps / f"signature-sha256-{hex_part[:16]}.json"
    assert configmap.is_file()
    image = f"{registry_http.host}/okd/release@{digest}"
    code, out, err = run(
        capsys, "verify", "--keyring", str(keys / "public.asc"), "--signature-dir", str(store), image
    )
    assert code == 0, err
    code, out, err = run(
        capsys, "verify", "--keyring", str(keys / "public.asc"), "--configmap", str(configmap), image
    )
    assert code == 0, err
    # gpg agrees: the store's signature is a good signature by the generated key.
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--import", str(keys / "public.asc")],
        check=True,
        capture_output=True,
    )
    verified = subprocess.run(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--status-fd",
            "2",
            "--decrypt",
            str(store / f"sha256={hex_part}" / "signature-1"),
        ],
        capture_output=True,
    )
    # gpg started an agent for this home: stop it (it would outlive the test run).
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True)
    assert b"[GNUPG:] GOODSIG" in verified.stderr
    payload = json.loads(verified.stdout)
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest


def test_signing_into_a_layout_without_identity_writes_nothing(
    pgp_secret: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A release for a layout cannot be signed without --sign-identity: refused before the layout is written."""
    layout, store = tmp_path / "release", tmp_path / "store"
    code, out, err = run(
        capsys,
        *sample_args(f"oci:{layout}:{NAME}", "--sign-by", str(pgp_secret), "--signature-dir", str(store)),
    )
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "error: signing a release written to an OCI layout needs --sign-identity REPOSITORY"
    )
    assert not layout.exists() and not store.exists()


def test_failed_push_into_a_new_layout_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A push into a layout the run creates that fails half-way (a base layer that does not match its
    digest) removes what it wrote, missing parents too, as copy and mirror do (before: a layout with
    ``oci-layout``, an empty ``index.json`` and three blobs was left); files others put there stay."""
    source = tmp_path / "source"
    shutil.copytree(SAMPLE, source)
    index = json.loads((source / "index.json").read_text())
    cvo = next(
        m["digest"]
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "cluster-version-operator"
    )
    layers = json.loads((source / "blobs/sha256" / cvo[7:]).read_text())["layers"]
    bad = layers[-1]["digest"]
    (source / "blobs/sha256" / bad[7:]).write_bytes(b"not the layer")
    args = ["new", "--from-oci-layout", str(source), "--name", NAME]
    target = tmp_path / "new" / "release"
    code, out, err = run(capsys, *args, "--to-image", f"oci:{target}:x")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1].startswith(f"error: failed to push image oci:{target}:x: ")
    assert bad in err.splitlines()[-1]
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    assert run(capsys, *args, "--to-image", f"oci:{existing}:x")[0] == 1
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--signature-dir", "{file}"], "--signature-dir {file} is not a directory"),
        (["--signature-dir", "{file}/sigs"], "--signature-dir {file}/sigs: {file} is not a directory"),
        (
            ["--signature-configmap-dir", "{file}/cm"],
            "--signature-configmap-dir {file}/cm: {file} is not a directory",
        ),
        (["--lookaside", "{file}"], "--lookaside {file} is not a directory"),
        (["--signature-dir", "{tmp}/sigs", "--to-signature", "{tmp}"], "--to-signature {tmp} is a directory"),
        (
            ["--signature-dir", "{tmp}/sigs", "--to-signature", "{tmp}/no/sig.json"],
            "--to-signature {tmp}/no/sig.json: directory {tmp}/no does not exist",
        ),
    ],
)
def test_unwritable_signature_paths_are_refused_before_the_push(
    flags: list[str],
    message: str,
    registry_http,
    unique_repo,
    pgp_secret: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Where signatures go is checked before anything is pushed, with the flag and path in the error."""
    (tmp_path / "file").write_text("not a directory\n")
    names = {"file": str(tmp_path / "file"), "tmp": str(tmp_path)}
    repository = f"{registry_http.host}/{unique_repo()}"
    argv = [f.format(**names) for f in flags]
    code, out, err = run(
        capsys, *sample_args(f"{repository}:{NAME}", "--insecure", "--sign-by", str(pgp_secret), *argv)
    )
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "error: " + message.format(**names)
    client = RegistryClient(TransportOptions(insecure=True))
    with pytest.raises(NotFoundError):
        client.repository(ImageReference.parse(repository)).list_tags()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "keys"]


def test_cosign_signature_pushed_next_to_release(
    registry_http, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """new --sign-by-sigstore-private-key pushes sha256-<hex>.sig that verify --cosign-key accepts."""
    monkeypatch.setenv("COSIGN_PASSWORD", "hunter2")
    keys = tmp_path / "cosign"
    code, _, err = run(capsys, "keys", "generate", "--cosign", "--out", str(keys))
    assert code == 0, err
    to_image = f"{registry_http.host}/okd/release-cosign:{NAME}"
    code, out, err = run(
        capsys,
        *sample_args(to_image, "--insecure"),
        "--sign-by-sigstore-private-key",
        str(keys / "cosign.key"),
    )
    assert code == 0, err
    digest = out.split()[0]
    client = RegistryClient(TransportOptions(insecure=True))
    repo = client.repository(ImageReference.parse(f"{registry_http.host}/okd/release-cosign"))
    assert f"sha256-{digest.split(':')[1]}.sig" in repo.list_tags()
    code, out, err = run(
        capsys,
        "verify",
        "--insecure",
        "--cosign-key",
        str(keys / "cosign.pub"),
        f"{registry_http.host}/okd/release-cosign@{digest}",
    )
    assert code == 0, err


def push_as_alice(
    registry_token, to_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, tuple[int, str, str]]:
    """``new`` on the sample pushed to the token registry with alice's auth file; (authfile, result)."""
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps(registry_token.docker_config("alice")))
    args = ["--authfile", str(authfile), "--certificate-authority", str(registry_token.ca_file)]
    return authfile, run(capsys, *sample_args(to_image), *args)


def test_push_behind_per_repository_tokens_and_skopeo_umoci_read_it(
    registry_token, token_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A release pushed to a token-auth registry with an auth file; skopeo and umoci read it back."""
    to_image = f"{registry_token.host}/alice/release:{NAME}"
    authfile, (code, out, err) = push_as_alice(registry_token, to_image, tmp_path, capsys)
    assert code == 0, err
    digest = out.split()[0]
    assert any("alice/release" in str(r.scopes) for r in token_server.requests)
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(registry_token.ca_file, certs / "ca.crt")
    inspect = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--authfile",
            str(authfile),
            "--cert-dir",
            str(certs),
            f"docker://{to_image}",
        ],
        capture_output=True,
        check=True,
    )
    import hashlib

    assert "sha256:" + hashlib.sha256(inspect.stdout).hexdigest() == digest
    if not shutil.which("umoci"):
        pytest.fail("umoci is not installed (tests/run.sh installs it)")
    layout = tmp_path / "oci"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--authfile",
            str(authfile),
            "--src-cert-dir",
            str(certs),
            f"docker://{to_image}",
            f"oci:{layout}:release",
        ],
        check=True,
        capture_output=True,
    )
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{layout}:release", str(bundle)],
        check=True,
        capture_output=True,
    )
    refs = json.loads((bundle / "rootfs" / "release-manifests" / "image-references").read_bytes())
    assert refs["metadata"]["name"] == NAME
    assert (bundle / "rootfs" / "manifests").is_dir()


def test_pushing_to_a_repository_without_grant_fails_naming_it(
    registry_token, token_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """alice may not push to bob/: a clear error naming the registry and repository, and no tag."""
    to_image = f"{registry_token.host}/bob/release:{NAME}"
    _, (code, out, err) = push_as_alice(registry_token, to_image, tmp_path, capsys)
    assert code == 1
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert "bob/release" in last and registry_token.host in last
    assert "Traceback" not in err
    assert registry_token.password not in err if registry_token.password else True


def _layout_digest(tag: str) -> str:
    index = json.loads((SAMPLE / "index.json").read_bytes())
    for entry in index["manifests"]:
        if entry["annotations"]["org.opencontainers.image.ref.name"] == tag:
            return str(entry["digest"])
    raise AssertionError(tag)


def test_info_extract_and_diff_on_releases_built_from_the_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two releases from the sample: one component changed, one added, one removed; diff says exactly that.

    info and extract read okdrelease's own release from a layout.
    """
    old = f"oci:{tmp_path / 'old'}:{NAME}"
    code, out, err = run(capsys, *sample_args(old, "--include", "tools,tests"))
    assert code == 0, err
    tests_digest = _layout_digest("tests")
    new = f"oci:{tmp_path / 'new'}:{NAME}"
    argv = sample_args(new, "--include", "tools", "--include", "must-gather")
    code, out, err = run(capsys, *argv, f"tools=quay.io/okd/scos-content@{tests_digest}")
    assert code == 0, err

    code, out, err = run(capsys, "diff", "-o", "json", old, new)
    assert code == 0, err
    report = json.loads(out)
    assert [c["name"] for c in report["added"]] == ["must-gather"]
    assert [c["name"] for c in report["removed"]] == ["tests"]
    assert [c["name"] for c in report["changed"]] == ["tools"]
    assert report["changed"][0]["to"] == f"quay.io/okd/scos-content@{tests_digest}"
    assert report["changed"][0]["digestChanged"] is True
    assert report["manifests"] == []

    code, out, err = run(capsys, "info", "-o", "json", new)
    assert code == 0, err
    info = json.loads(out)
    assert info["metadata"]["version"] == NAME
    tags = {t["name"]: t["from"]["name"] for t in info["references"]["spec"]["tags"]}
    assert tags["tools"] == f"quay.io/okd/scos-content@{tests_digest}"
    assert "tests" not in tags and "must-gather" in tags

    target = tmp_path / "extracted"
    code, out, err = run(capsys, "extract", "--keep-bytes", "--to", str(target), new)
    assert code == 0, err
    refs = json.loads((target / "image-references").read_bytes())
    assert refs["metadata"]["name"] == NAME
    assert (target / "release-metadata").is_file()
    code, text, err = run(capsys, "info", new)
    assert code == 0, err
    manifests = int(re.search(r"^Manifests: +(\d+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert len([p for p in target.iterdir() if p.suffix in (".yaml", ".yml", ".json")]) == manifests


def test_quiet_after_the_subcommand_silences_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-q works after the subcommand as before it: stdout keeps the result, stderr stays empty."""
    for argv in (
        ["-q", *sample_args(f"oci:{tmp_path / 'a'}:{NAME}")],
        [*sample_args(f"oci:{tmp_path / 'b'}:{NAME}"), "-q"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0
        assert err == ""
        assert re.fullmatch(rf"sha256:[0-9a-f]{{64}} {re.escape(NAME)} {CREATED}\n", out)


def test_signature_that_cannot_be_written_leaves_the_release_untagged(
    registry_http, unique_repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--to-signature is written once the release is pushed by digest and before its tag, so a write
    that fails (a full disk: /dev/full) leaves no release tag (before: exit 1 with the tag pushed).
    The same run with a writable path pushes the tag, and the signature names the digest printed."""
    repository = f"{registry_http.host}/{unique_repo()}"
    code, out, err = run(
        capsys, *sample_args(f"{repository}:{NAME}", "--insecure", "--to-signature", "/dev/full")
    )
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "error: unable to write signature file /dev/full: No space left on device"
    client = RegistryClient(TransportOptions(insecure=True))
    repo = client.repository(ImageReference.parse(repository))
    with pytest.raises(NotFoundError):  # (Distribution: a repository with no tag is an unknown name)
        repo.list_tags()
    signature = tmp_path / "sig.json"
    code, out, err = run(
        capsys, *sample_args(f"{repository}:{NAME}", "--insecure", "--to-signature", str(signature))
    )
    assert code == 0
    digest = out.split()[0]
    assert repo.list_tags() == [NAME]
    assert repo.resolve(NAME).digest == digest
    body = json.loads(signature.read_bytes())
    assert body["critical"]["image"]["docker-manifest-digest"] == digest


def test_sign_identity_that_is_no_reference_is_refused_before_the_push(
    registry_http, unique_repo, pgp_secret: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --sign-identity that is no image reference is refused (exit 2, naming the flag) before anything
    is read or pushed; before, the release was pushed and signing failed with 'failed to push image'."""
    repository = f"{registry_http.host}/{unique_repo()}"
    store = tmp_path / "sigs"
    code, out, err = run(
        capsys,
        *sample_args(
            f"{repository}:{NAME}", "--insecure", "--sign-by", str(pgp_secret), "--signature-dir", str(store)
        ),
        "--sign-identity",
        "BAD",
    )
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "error: --sign-identity: invalid image reference 'BAD': repository name must be lowercase alphanumeric components"
    )
    client = RegistryClient(TransportOptions(insecure=True))
    with pytest.raises(NotFoundError):
        client.repository(ImageReference.parse(repository)).list_tags()
    assert not store.exists()


def test_to_signature_names_the_identitys_repository_without_its_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--to-signature names REPOSITORY@DIGEST, the repository of --sign-identity with a tag given dropped,
    as the OpenPGP signatures and copy's name it (before: 'quay.io/okd/release:4.16@sha256:…')."""
    signature = tmp_path / "sig.json"
    code, out, err = run(
        capsys,
        *sample_args(f"oci:{tmp_path / 'release'}:{NAME}", "--to-signature", str(signature)),
        "--sign-identity",
        "quay.io/okd/release:4.16",
    )
    assert code == 0, err
    digest = out.split()[0]
    body = json.loads(signature.read_bytes())
    assert body["critical"]["identity"]["docker-reference"] == f"quay.io/okd/release@{digest}"
