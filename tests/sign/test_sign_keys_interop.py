"""Keys people have: gpg-made ed25519/ECDSA/RSA keys in okdrelease, okdrelease keys in gpg, --sign-by-gpg."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpg_support import gpg, kill_agent

from okdrelease import cli
from okdrelease.errors import SignatureError
from okdrelease.sign import openpgp
from okdrelease.sign.api import CVO_EDDSA_WARNING, sign_release, verify_release
from okdrelease.sign.openpgp import Keyring, import_secret_key

HEX = "7a" * 32
DIGEST = f"sha256:{HEX}"
IMAGE = f"quay.io/okd/scos-release@{DIGEST}"
#: gpg's names -> (OpenPGP public-key algorithm, hash algorithm) of the signatures made with them.
ALGORITHMS = {"ed25519": (22, 8), "nistp256": (19, 8), "nistp384": (19, 9), "rsa3072": (1, 8)}


def _new_home(path: Path) -> Path:
    path.mkdir(mode=0o700)
    # No passphrase caching: a test that gives the wrong passphrase must see gpg refuse it.
    (path / "gpg-agent.conf").write_text("default-cache-ttl 0\nmax-cache-ttl 0\n")
    return path


@pytest.fixture(scope="module")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A gpg home with one signing key per algorithm (no passphrase); yields the home and fingerprints."""
    if shutil.which("gpg") is None:
        pytest.fail("gpg is not installed (tests/run.sh installs it)")
    home = _new_home(tmp_path_factory.mktemp("gpgkeys") / "home")
    fingerprints: dict[str, str] = {}
    for algorithm in ALGORITHMS:
        uid = f"{algorithm} <{algorithm}@example.com>"
        made = gpg(home, "--passphrase", "", "--quick-gen-key", uid, algorithm, "sign", "never")
        assert made.returncode == 0, made.stderr.decode()
        fingerprints[algorithm] = Keyring.from_bytes(gpg(home, "--export", uid).stdout).fingerprints[0]
    yield home, fingerprints
    kill_agent(home)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_gpg_verifies_signatures_made_with_gpg_keys(
    gpg_keys: tuple[Path, dict[str, str]], algorithm: str, tmp_path: Path
) -> None:
    home, fingerprints = gpg_keys
    exported = gpg(home, "--armor", "--export-secret-keys", fingerprints[algorithm])
    key = import_secret_key(exported.stdout)
    assert key.fingerprint == fingerprints[algorithm]
    result = sign_release(IMAGE, key, signature_dir=tmp_path / "sigs")
    assert result.signature_path is not None
    packets = openpgp.parse_packets(result.signature)
    signature = openpgp.parse_signature(packets[-1].body)
    assert (signature.pub_algorithm, signature.hash_algorithm) == ALGORITHMS[algorithm]
    checked = gpg(home, "--status-fd", "1", "--verify", str(result.signature_path))
    assert checked.returncode == 0, checked.stderr.decode()
    pub, hashing = ALGORITHMS[algorithm]
    assert f"[GNUPG:] VALIDSIG {key.fingerprint} ".encode() in checked.stdout
    assert f" 0 4 0 {pub} {hashing} 00 {key.fingerprint}\n".encode() in checked.stdout
    assert gpg(home, "--decrypt", str(result.signature_path)).stdout == result.payload


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_okdrelease_verifies_gpg_signatures(
    gpg_keys: tuple[Path, dict[str, str]], algorithm: str, tmp_path: Path
) -> None:
    home, fingerprints = gpg_keys
    payload = (
        b'{"critical":{"identity":{"docker-reference":"quay.io/okd/scos-release"},"image":'
        b'{"docker-manifest-digest":"' + DIGEST.encode() + b'"},"type":"atomic container signature"},'
        b'"optional":{"creator":"gpg"}}'
    )
    signed = gpg(home, "--sign", "--local-user", fingerprints[algorithm], data=payload)
    assert signed.returncode == 0, signed.stderr.decode()
    store = tmp_path / f"sha256={HEX}"
    store.mkdir()
    (store / "signature-1").write_bytes(signed.stdout)
    ring = Keyring.from_bytes(gpg(home, "--export", fingerprints[algorithm]).stdout)
    result = verify_release(DIGEST, {"gpg": ring}, signature_dirs=[tmp_path])
    assert [(s.primary_fingerprint, s.claim.creator) for s in result.signatures] == [
        (fingerprints[algorithm], "gpg")
    ]
    other = Keyring.from_bytes(
        gpg(home, "--export", fingerprints["rsa3072" if algorithm != "rsa3072" else "ed25519"]).stdout
    )
    with pytest.raises(SignatureError, match="invalid signature: unknown signing key"):
        verify_release(DIGEST, {"other": other}, signature_dirs=[tmp_path])


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa2048"])
def test_generated_protected_keys_are_read_by_gpg_and_okdrelease(
    algorithm: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passphrase = tmp_path / "pass"
    passphrase.write_text("correct horse\n")
    keys = tmp_path / "keys"
    code, out, err = _cli(
        capsys, "keys", "generate", "--pgp", "--name", "Gen <gen@example.com>", "--algorithm", algorithm,
        "--out", str(keys), "--passphrase-file", str(passphrase),
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[1] == f"Secret key: {keys / 'secret.asc'} (protected by the passphrase)"
    data = (keys / "secret.asc").read_bytes()
    packet = openpgp.parse_packets(openpgp.dearmor(data)[1])[0]
    public = Keyring.from_bytes((keys / "public.asc").read_bytes()).certificates[0].primary
    end = len(public.body)
    # S2K usage 254 (SHA-1 check), AES-256 (9), iterated+salted (3) SHA-256 (8), count byte 0xFF
    assert (packet.body[:end], packet.body[end : end + 4], packet.body[end + 12]) == (
        public.body,
        b"\xfe\x09\x03\x08",
        0xFF,
    )
    with pytest.raises(SignatureError, match="is protected by a passphrase; none was given"):
        import_secret_key(data)
    with pytest.raises(SignatureError, match="wrong passphrase"):
        import_secret_key(data, "wrong")
    key = import_secret_key(data, "correct horse")
    home = _new_home(tmp_path / "gnupg")
    try:
        imported = gpg(home, "--import", data=data)
        assert imported.returncode == 0 and b"secret keys imported: 1" in imported.stderr, imported.stderr
        sign = ("--sign", "--local-user", key.fingerprint)
        refused = gpg(home, "--passphrase", "wrong", *sign, data=b"hi")
        assert refused.returncode != 0 and b"Bad passphrase" in refused.stderr, refused.stderr
        signed = gpg(home, "--passphrase", "correct horse", *sign, data=b"hi")
        assert signed.returncode == 0, signed.stderr.decode()
        assert openpgp.verify_message(signed.stdout, key.keyring()).content == b"hi"
    finally:
        kill_agent(home)


def test_generate_refuses_an_empty_passphrase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    code, out, err = _cli(
        capsys, "keys", "generate", "--pgp", "--name", "X <x@example.com>", "--out", str(tmp_path / "k"),
        "--passphrase-file", str(empty),
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert err == "error: the passphrase is empty; give a non-empty passphrase or none\n"
    assert not (tmp_path / "k" / "secret.asc").exists()


@pytest.mark.parametrize("algorithm", ["nistp256", "nistp384", "nistp521"])
def test_protected_ecdsa_keys_round_trip(algorithm: str) -> None:
    key = openpgp.generate_key("EC <ec@example.com>", algorithm=algorithm)
    again = import_secret_key(key.export_secret("pw").encode(), "pw")
    assert again.fingerprint == key.fingerprint
    assert openpgp.verify_message(again.sign(b"x"), key.keyring()).content == b"x"


@pytest.fixture(scope="module")
def protected_gpg_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A passphrase-protected ed25519 key that exists only in a temporary gpg home."""
    home = _new_home(tmp_path_factory.mktemp("protected") / "gnupg")
    uid = "Agent Key <agent@example.com>"
    made = gpg(home, "--passphrase", "agent pass", "--quick-gen-key", uid, "ed25519", "sign", "never")
    assert made.returncode == 0, made.stderr.decode()
    yield home, Keyring.from_bytes(gpg(home, "--export", uid).stdout).fingerprints[0]
    kill_agent(home)


def _sign_by_gpg(
    capsys: pytest.CaptureFixture[str], fingerprint: str, passphrase: str, tmp_path: Path
) -> tuple[int, str, str, Path]:
    secret = tmp_path / "pass"
    secret.write_text(passphrase + "\n")
    sigs = tmp_path / "sigs"
    argv = [
        "sign",
        "--sign-by-gpg",
        fingerprint,
        "--passphrase-file",
        str(secret),
        "--signature-dir",
        str(sigs),
        IMAGE,
    ]
    return (*_cli(capsys, *argv), sigs)


def test_sign_by_gpg_with_a_key_only_in_a_gpg_home(
    protected_gpg_key: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home, fingerprint = protected_gpg_key
    monkeypatch.setenv("GNUPGHOME", str(home))
    code, out, err, sigs = _sign_by_gpg(capsys, fingerprint, "agent pass", tmp_path)
    assert code == 0, err
    assert out == (
        f"Signed quay.io/okd/scos-release@{DIGEST} with key {fingerprint}\n"
        f"Signature written to {sigs / f'sha256={HEX}' / 'signature-1'}\n"
    )
    public = tmp_path / "public.gpg"
    public.write_bytes(gpg(home, "--export", fingerprint).stdout)
    code, out, err = _cli(capsys, "verify", "--keyring", str(public), "--signature-dir", str(sigs), IMAGE)
    assert code == 0, err
    assert f"(key {fingerprint}), identity quay.io/okd/scos-release@{DIGEST}" in out
    # gpg made a normal (not detached) signed message of the payload, as skopeo's --sign-by does.
    checked = gpg(home, "--status-fd", "1", "--verify", str(sigs / f"sha256={HEX}" / "signature-1"))
    assert checked.returncode == 0 and b"[GNUPG:] VALIDSIG " in checked.stdout


def test_sign_by_gpg_failures_name_the_key(
    protected_gpg_key: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home, fingerprint = protected_gpg_key
    monkeypatch.setenv("GNUPGHOME", str(home))
    code, out, err, sigs = _sign_by_gpg(capsys, fingerprint, "not it", tmp_path)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: gpg could not sign with key {fingerprint}: ")
    assert "Bad passphrase" in err
    assert not sigs.exists() or not any(sigs.rglob("signature-*"))
    missing = "0123456789ABCDEF0123456789ABCDEF01234567"
    code, _, err = _cli(capsys, "sign", "--sign-by-gpg", missing, "--signature-dir", str(sigs), IMAGE)
    assert (code, err) == (1, f"error: gpg has no key {missing} (gpg home {home})\n")
    code, _, err = _cli(
        capsys, "sign", "--sign-by-gpg", "someone@example.com", "--signature-dir", str(sigs), IMAGE
    )
    assert (code, err) == (
        1,
        "error: --sign-by-gpg needs a key fingerprint (40 hex digits), not 'someone@example.com'\n",
    )


def test_gpg_signer_library_with_an_explicit_homedir(
    gpg_keys: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """The library call ``new``'s signing uses: openpgp_signer(gpg_key=..., gpg_homedir=...), no GNUPGHOME."""
    from okdrelease.sign.keys import openpgp_signer

    home, fingerprints = gpg_keys
    signer = openpgp_signer(gpg_key=fingerprints["nistp384"], gpg_homedir=str(home))
    result = sign_release(IMAGE, signer, lookaside=tmp_path / "lookaside", timestamp=1700000000)
    assert result.lookaside_path == tmp_path / "lookaside" / f"okd/scos-release@sha256={HEX}" / "signature-1"
    ring = Keyring.from_bytes(signer.export_public().encode())
    assert ring.fingerprints == [fingerprints["nistp384"]]
    verified = verify_release(IMAGE, {"gpg": ring}, lookaside_dirs=[tmp_path / "lookaside"])
    assert [(s.primary_fingerprint, s.claim.timestamp) for s in verified.signatures] == [
        (fingerprints["nistp384"], 1700000000)
    ]
    with pytest.raises(SignatureError, match="give exactly one OpenPGP key"):
        openpgp_signer(key_file="secret.asc", gpg_key=fingerprints["nistp384"])


def test_eddsa_signatures_for_the_cluster_are_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for algorithm in ("ed25519", "nistp256"):
        keys = tmp_path / algorithm
        assert _cli(capsys, "keys", "generate", "--pgp", "--name", "W <w@example.com>", "--algorithm", algorithm,
                    "--out", str(keys))[0] == 0  # fmt: skip
        code, _, err = _cli(
            capsys, "sign", "--key", str(keys / "secret.asc"), "--signature-dir", str(tmp_path / "s"), IMAGE
        )
        assert code == 0
        assert err == ("" if algorithm == "nistp256" else f"warning: {CVO_EDDSA_WARNING}\n")
        code, _, err = _cli(
            capsys, "sign", "--key", str(keys / "secret.asc"), "--lookaside", str(tmp_path / "l"), IMAGE
        )
        assert (code, err) == (0, "")
