"""The sign, verify and keys commands end to end (cli.main with only these subcommands registered)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from bounded_run import run_bounded
from sign_support import run_cli as run

from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "containers-image-signature"
HEX = "5e" * 32
DIGEST = f"sha256:{HEX}"
IMAGE = f"quay.io/okd/scos-release:4.99@{DIGEST}"


pytestmark = pytest.mark.usefixtures("signature_commands_only")


@pytest.fixture
def pgp_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    keys = tmp_path / "keys"
    code, out, _ = run(
        capsys,
        "keys",
        "generate",
        "--pgp",
        "--name",
        "OKD CLI <cli@example.com>",
        "--out",
        str(keys),
        "--bits",
        "2048",
    )
    assert code == 0
    assert out.startswith("Generated OpenPGP key ")
    assert stat.S_IMODE((keys / "secret.asc").stat().st_mode) == 0o600
    return keys


def test_sign_and_verify_store_dir_and_configmap(
    pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sigs, cms = tmp_path / "sigs", tmp_path / "cms"
    code, out, err = run(
        capsys,
        "sign",
        "--key",
        str(pgp_keys / "secret.asc"),
        "--signature-dir",
        str(sigs),
        "--configmap-dir",
        str(cms),
        IMAGE,
    )
    assert code == 0, err
    configmap = cms / "signature-sha256-5e5e5e5e5e5e5e5e.json"
    assert out.splitlines()[1:] == [
        f"Signature written to {sigs / f'sha256={HEX}' / 'signature-1'}",
        f"Configmap signature file {configmap} created",
    ]
    assert out.startswith(f"Signed quay.io/okd/scos-release@{DIGEST} with key ")
    code, out, err = run(
        capsys,
        "sign",
        "--key",
        str(pgp_keys / "secret.asc"),
        "--signature-dir",
        str(sigs),
        "--timestamp",
        "1700000000",
        IMAGE,
    )
    assert code == 0 and (sigs / f"sha256={HEX}" / "signature-2").is_file()

    code, out, err = run(
        capsys, "verify", "--keyring", str(pgp_keys / "public.asc"), "--signature-dir", str(sigs), IMAGE
    )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Verified {DIGEST} with keyring public: signed by ")
    assert lines[0].endswith(
        f"identity quay.io/okd/scos-release@{DIGEST}, from {sigs}/sha256={HEX}/signature-1"
    )

    code, out, err = run(
        capsys, "verify", "--keyring", f"okd={pgp_keys / 'public.asc'}", "--configmap", str(configmap), DIGEST
    )
    assert code == 0, err
    assert out.startswith(f"Verified {DIGEST} with keyring okd: ")


def test_verify_failures_exit_1_with_reason(
    pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sigs = tmp_path / "sigs"
    assert (
        run(capsys, "sign", "--key", str(pgp_keys / "secret.asc"), "--signature-dir", str(sigs), IMAGE)[0]
        == 0
    )
    other = "sha256:" + "7" * 64
    code, out, err = run(
        capsys, "verify", "--keyring", str(pgp_keys / "public.asc"), "--signature-dir", str(sigs), other
    )
    assert (code, out) == (1, "")
    assert err == f"error: unable to verify {other} against keyrings: public\n* no signatures found\n"

    signature = sigs / f"sha256={HEX}" / "signature-1"
    data = bytearray(signature.read_bytes())
    data[data.index(b"quay.io")] ^= 0x20  # tamper with the signed payload
    signature.write_bytes(bytes(data))
    code, _, err = run(
        capsys, "verify", "--keyring", str(pgp_keys / "public.asc"), "--signature-dir", str(sigs), IMAGE
    )
    assert code == 1
    assert err.startswith(f"error: unable to verify {DIGEST} against keyrings: public\n* ")
    assert "signature error: " in err

    code, _, err = run(
        capsys, "verify", "--keyring", str(FIXTURES / "public-key.gpg"), "--signature-dir", str(sigs), IMAGE
    )
    assert code == 1 and "invalid signature: unknown signing key" in err


def test_usage_errors_exit_2(pgp_keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sign", IMAGE)
    assert (code, err) == (2, "error: give exactly one of --key or --sign-by-gpg (OpenPGP) or --cosign-key\n")
    code, _, err = run(capsys, "sign", "--key", str(pgp_keys / "secret.asc"), IMAGE)
    assert code == 2 and "--signature-dir" in err
    code, _, err = run(capsys, "verify", "--keyring", str(pgp_keys / "public.asc"), IMAGE)
    assert (code, err) == (
        2,
        "error: give at least one of --signature-dir, --lookaside, --store or --configmap\n",
    )


@pytest.mark.parametrize("timestamp", [str((1 << 63) - 512), str(1 << 63), str(-(1 << 63) - 1)])
def test_timestamp_a_reader_refuses_is_a_usage_error(
    timestamp: str, pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--timestamp must be one every reader takes (a 64-bit integer that is also one as a float64, as
    containers/image reads it): exit 2, nothing written."""
    store = tmp_path / "store"
    key = str(pgp_keys / "secret.asc")
    code, out, err = run(
        capsys, "sign", "--key", key, "--signature-dir", str(store), "--timestamp", timestamp, IMAGE
    )
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        f"error: argument --timestamp: {timestamp} is out of range: a signature's timestamp is "
        "-9223372036854775808 to 9223372036854775295 (a 64-bit integer that containers/image can read as a float64)"
    )
    assert not store.exists()


def test_an_unusable_directory_is_refused_before_any_signature_is_written(
    pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sign --signature-dir OK --configmap-dir FILE: refused naming the flag, and signature-dir stays empty."""
    (tmp_path / "file").write_text("x\n")
    key, store = str(pgp_keys / "secret.asc"), tmp_path / "store"
    argv = [
        "--key",
        key,
        "--signature-dir",
        str(store),
        "--configmap-dir",
        str(tmp_path / "file" / "cm"),
        IMAGE,
    ]
    code, out, err = run(capsys, "sign", *argv)
    assert (code, out, err) == (
        1,
        "",
        f"error: --configmap-dir {tmp_path}/file/cm: {tmp_path}/file is not a directory\n",
    )
    assert not store.exists()


def test_a_store_that_fails_after_another_was_written_undoes_it(
    pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that passes the checks but cannot be written (here a file where the lookaside's repository
    directory goes) failed after --signature-dir had its new signature-1: the run failed, one store
    signed (the CLI sweep's full-device pass found the same). Now every store is written or none is."""
    lookaside = tmp_path / "lookaside"
    lookaside.mkdir()
    (lookaside / "okd").write_text("in the way\n")
    store = tmp_path / "store"
    argv = [
        "--key",
        str(pgp_keys / "secret.asc"),
        "--signature-dir",
        str(store),
        "--lookaside",
        str(lookaside),
    ]
    code, out, err = run(capsys, "sign", *argv, IMAGE)
    where = lookaside / "okd" / f"scos-release@sha256={HEX}"
    assert (code, out, err) == (1, "", f"error: cannot write signature to {where}: Not a directory\n")
    assert not store.exists()


def test_a_signature_the_disk_cannot_take_is_not_left_half_written(pgp_keys: Path, tmp_path: Path) -> None:
    """``signature-N`` was created and then written: a disk that filled (here a file-size limit) left an
    empty or partial signature file in the store, which readers then take for a signature."""
    from bounded_run import run_file_size_limited

    store = tmp_path / "store"
    argv = ["sign", "--key", str(pgp_keys / "secret.asc"), "--signature-dir", str(store), IMAGE]
    done = run_file_size_limited(*argv, limit=50)
    where = store / f"sha256={HEX}"
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: cannot write signature to {where}: File too large\n",
    )
    assert not store.exists()


@pytest.mark.parametrize("empty", ["--configmap-dir", "--lookaside"])
def test_an_empty_directory_value_is_no_directory(
    empty: str,
    pgp_keys: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--configmap-dir ""`` wrote the ConfigMap into the working directory (``--lookaside ""`` the
    lookaside tree), while the checks before took an empty value for no directory (the CLI sweep's
    empty values). Now an empty value is no directory: only --signature-dir is written."""
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    code, _, err = run(
        capsys, "sign", "--key", str(pgp_keys / "secret.asc"), "--signature-dir", str(store), empty, "", IMAGE
    )
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "store"]


def test_sign_with_passphrase_protected_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    passphrase = tmp_path / "pass"
    passphrase.write_text("WithPassphrase123\n")  # containers/image's test passphrase of secring.gpg
    sigs = tmp_path / "sigs"
    code, _, err = run(
        capsys,
        "sign",
        "--key",
        str(FIXTURES / "secring.gpg"),
        "--passphrase-file",
        str(passphrase),
        "--signature-dir",
        str(sigs),
        IMAGE,
    )
    assert code == 0, err
    code, out, err = run(
        capsys, "verify", "--keyring", str(FIXTURES / "public-key-2.gpg"), "--signature-dir", str(sigs), IMAGE
    )
    assert code == 0, err
    assert "signed by " in out and "(key F2B501009F78B0B340221A12A3CD242DA6028093)" in out
    passphrase.write_text("wrong\n")
    code, _, err = run(
        capsys,
        "sign",
        "--key",
        str(FIXTURES / "secring.gpg"),
        "--passphrase-file",
        str(passphrase),
        "--signature-dir",
        str(sigs),
        IMAGE,
    )
    assert code == 1 and "wrong passphrase" in err


def test_keys_configmap_then_verify_with_it(
    pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sigs = tmp_path / "sigs"
    assert (
        run(capsys, "sign", "--key", str(pgp_keys / "secret.asc"), "--signature-dir", str(sigs), IMAGE)[0]
        == 0
    )
    code, out, err = run(
        capsys, "keys", "configmap", "--keyring", str(pgp_keys / "public.asc"), "--store", sigs.as_uri()
    )
    assert code == 0, err
    document = yaml.safe_load(out)
    assert document["metadata"]["annotations"]["release.openshift.io/verification-config-map"] == ""
    assert document["data"]["store-okdrelease"] == sigs.as_uri()
    assert document["data"]["verifier-public-key-okdrelease"] == (pgp_keys / "public.asc").read_text()
    manifest = tmp_path / "0000_90_cluster-update-keys_configmap.yaml"
    code, out, _ = run(
        capsys,
        "keys",
        "configmap",
        "--keyring",
        f"mine={pgp_keys / 'public.asc'}",
        "--store",
        f"mine={sigs.as_uri()}",
        "-o",
        str(manifest),
    )
    assert (code, out) == (0, f"Wrote {manifest}\n")
    code, out, err = run(capsys, "verify", "--verification-configmap", str(manifest), IMAGE)
    assert code == 0, err
    assert out.startswith(f"Verified {DIGEST} with keyring mine: ")
    code, _, err = run(
        capsys, "keys", "configmap", "--keyring", str(pgp_keys / "secret.asc"), "--store", sigs.as_uri()
    )
    assert code == 1 and "is a secret key; give the public key" in err


def test_keys_configmap_output_dash_is_stdout(
    pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-o -`` prints the manifest, as ``new --to-file -`` does; before, it wrote a file named ``-``."""
    monkeypatch.chdir(tmp_path)
    args = (
        "keys",
        "configmap",
        "--keyring",
        str(pgp_keys / "public.asc"),
        "--store",
        "https://example.com/s",
    )
    code, printed, err = run(capsys, *args)
    assert (code, err) == (0, "")
    assert run(capsys, *args, "-o", "-") == (0, printed, "")
    assert sorted(os.listdir(tmp_path)) == ["keys"]


BAD_CONFIGMAPS = {
    "binary-not-base64": (
        "binaryData:\n  verifier-public-key-x: abc\n",
        "binaryData key 'verifier-public-key-x' is not base64: Incorrect padding",
    ),
    "binary-number": (
        "binaryData:\n  store-x: 5\n",
        "binaryData key 'store-x' has a value that is not a string",
    ),
    "data-number": (
        "data:\n  verifier-public-key-x: 5\n",
        "data key 'verifier-public-key-x' has a value that is not a string",
    ),
    "data-list": ("data: [1]\n", "data is not a map"),
    "binary-list": ("binaryData: [1]\n", "binaryData is not a map"),
    "data-int-key": ("data:\n  1: x\n", "data key 1 is not a string"),
    "not-a-key": (
        "data:\n  verifier-public-key-x: not a key\n  store-x: https://example.com\n",
        "verifier-public-key-x is not a valid OpenPGP keyring: invalid OpenPGP packet header byte 0x6e at offset 0",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGMAPS))
def test_bad_verification_configmap_values_name_the_file_and_key(
    case: str, pgp_keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """verify --verification-configmap (and --configmap) with values Kubernetes would refuse: exit 1,
    an error naming the file and the key, never an internal error."""
    text, message = BAD_CONFIGMAPS[case]
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: release-verification\n{text}")
    code, out, err = run(capsys, "verify", "--verification-configmap", str(manifest), IMAGE)
    assert (code, out, err) == (1, "", f"error: {manifest}: {message}\n")
    if case in ("binary-number", "binary-list"):  # the signature ConfigMap reader checks binaryData too
        keyring = str(pgp_keys / "public.asc")
        code, out, err = run(capsys, "verify", "--keyring", keyring, "--configmap", str(manifest), IMAGE)
        assert (code, out) == (1, "") and f"error: {manifest}: {message}\n" in err


def test_cosign_keys_generate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from okdrelease.sign import cosign

    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    code, out, err = run(capsys, "keys", "generate", "--cosign", "--out", str(tmp_path))
    assert code == 0, err
    assert (
        out
        == f"Private key written to {tmp_path / 'cosign.key'}\nPublic key written to {tmp_path / 'cosign.pub'}\n"
    )
    private = cosign.decrypt_private_key((tmp_path / "cosign.key").read_bytes(), "pw")
    assert (
        cosign.load_public_key((tmp_path / "cosign.pub").read_bytes()).public_numbers()
        == private.public_key().public_numbers()
    )
    code, _, err = run(capsys, "keys", "generate", "--cosign", "--out", str(tmp_path))
    assert code == 1 and "already exists; not overwriting a key" in err


def test_keys_generate_refuses_a_user_id_that_is_not_utf8_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes of another encoding in ``--name`` (the CLI sweep's non-UTF-8 argument) were an internal
    error (UnicodeEncodeError) after ``--out`` had been created."""
    out = tmp_path / "new" / "keys"
    code, stdout, err = run(
        capsys, "keys", "generate", "--pgp", "--name", os.fsdecode(b"\xffOKD"), "--out", str(out)
    )
    assert (code, stdout, err) == (1, "", "error: the user id '\\udcffOKD' is not valid UTF-8\n")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("kind", "second"), [("--pgp", "public.asc"), ("--cosign", "cosign.pub")])
def test_keys_generate_writes_both_files_or_neither(
    kind: str,
    second: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A second key file that cannot be created (here a dangling link in its place) left the first one,
    half a key pair, behind."""
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    (tmp_path / second).symlink_to(tmp_path / "nowhere")
    code, stdout, err = run(
        capsys, "keys", "generate", kind, "--name", "OKD <o@example.com>", "--algorithm", "ed25519",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert (code, stdout, err) == (
        1,
        "",
        f"error: {tmp_path / second} already exists; not overwriting a key\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [second]


def _push_image(repository: object) -> str:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    repository.put_blob(config, sha256_digest(config), len(config))  # type: ignore[attr-defined]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
            "layers": [],
        }
    ).encode()
    return repository.put_manifest(manifest, mt.OCI_MANIFEST, "4.99")  # type: ignore[attr-defined,no-any-return]


def test_cosign_sign_and_verify_against_a_registry(
    registry_http,
    unique_repo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    open_module = pytest.importorskip("okdrelease.transport.open")
    from okdrelease.reference import parse_location
    from okdrelease.sign import cosign
    from okdrelease.transport.base import TransportOptions

    repo_name = f"{registry_http.host}/{unique_repo()}"
    repository, _ = open_module.open_location(parse_location(repo_name), TransportOptions(insecure=True))
    digest = _push_image(repository)
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    assert run(capsys, "keys", "generate", "--cosign", "--out", str(tmp_path))[0] == 0
    image = f"{repo_name}@{digest}"
    code, out, err = run(capsys, "sign", "--cosign-key", str(tmp_path / "cosign.key"), "--insecure", image)
    assert code == 0, err
    tag = f"sha256-{digest.split(':')[1]}.sig"
    assert out.startswith(f"Pushed signature of {digest} to ") and f":{tag} (sha256:" in out
    signature_manifest = repository.get_manifest(tag)
    assert [layer.media_type for layer in signature_manifest.layers] == [cosign.SIMPLESIGNING_MEDIA_TYPE]
    assert cosign.SIGNATURE_ANNOTATION in (signature_manifest.layers[0].annotations or {})
    code, out, err = run(capsys, "verify", "--cosign-key", str(tmp_path / "cosign.pub"), "--insecure", image)
    assert code == 0, err
    assert (
        out
        == f"Verified cosign signature of {digest} (identity {repo_name}, payload {signature_manifest.layers[0].digest})\n"
    )
    code, _, err = run(capsys, "verify", "--cosign-key", str(FIXTURES / "cosign.pub"), "--insecure", image)
    assert code == 1 and "cryptographic signature verification failed" in err


def _verify_in_subprocess(*argv: str) -> subprocess.CompletedProcess[str]:
    return run_bounded("verify", *argv)


def test_store_signatures_are_read_bounded_and_never_waited_on(pgp_keys: Path, tmp_path: Path) -> None:
    """--signature-dir: a FIFO or device named signature-1 is refused at once; an 8 GiB (sparse) one is
    read up to 50 KiB, as the HTTP store reads one, and is an invalid signature, not exhausted memory."""
    store = tmp_path / "store"
    signature = store / f"sha256={HEX}" / "signature-1"
    signature.parent.mkdir(parents=True)
    keyring = str(pgp_keys / "public.asc")
    argv = ("--keyring", keyring, "--signature-dir", str(store), IMAGE)
    os.mkfifo(signature)
    done = _verify_in_subprocess(*argv)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: cannot read signature {signature}: not a regular file\n",
    )
    signature.unlink()
    signature.symlink_to("/dev/zero")
    done = _verify_in_subprocess(*argv)
    assert (done.returncode, done.stderr) == (
        1,
        f"error: cannot read signature {signature}: not a regular file\n",
    )
    signature.unlink()
    with open(signature, "wb") as handle:
        handle.truncate(8 << 30)
    done = _verify_in_subprocess(*argv)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines()[1:] == [
        f"* {signature} (keyring public): could not read the message: invalid OpenPGP packet header byte 0x00 at offset 0"
    ]


@pytest.mark.parametrize("flag", ["--keyring", "--verification-configmap"])
def test_a_key_file_without_end_is_an_error_naming_it(flag: str, tmp_path: Path) -> None:
    """A keyring or ConfigMap named as /dev/zero: read up to 16 MiB, then an error naming it (exit 1)."""
    argv = (
        [flag, "/dev/zero", IMAGE]
        if flag != "--keyring"
        else [flag, "/dev/zero", "--signature-dir", str(tmp_path), IMAGE]
    )
    done = _verify_in_subprocess(*argv)
    what = "keyring /dev/zero" if flag == "--keyring" else "/dev/zero"
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: {what} is larger than 16777216 bytes\n",
    )
