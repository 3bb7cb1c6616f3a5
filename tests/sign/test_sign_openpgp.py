"""OpenPGP: containers/image fixtures, our own keys and messages, and gpg/skopeo as oracles."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from gpg_support import gpg, kill_agent
from sign_support import FIXTURES, fixture

from okdrelease.errors import SignatureError
from okdrelease.sign import openpgp
from okdrelease.sign.api import Candidate, sign_release, verify_release, verify_signatures
from okdrelease.sign.openpgp import Keyring, generate_key, import_secret_key, sign_message, verify_message
from okdrelease.sign.simple import (
    check_signature_claims,
    parse_signature_payload,
    parse_simple_signing_payload,
)

IMAGE_DIGEST = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"
KEY_FPR = "08CD26E446E2E95249B7A405E932F44B23E8DD43"
SUBKEY_PRIMARY_FPR = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36"
FIXTURE_PASSPHRASE = "WithPassphrase123"  # containers/image's TestPassphrase for secring.gpg


def keyring(name: str) -> Keyring:
    return Keyring.from_bytes(fixture(name), name)


def verify_payload(sig_name: str, key_name: str, digest: str = IMAGE_DIGEST) -> tuple[str, str]:
    message = verify_message(fixture(sig_name), keyring(key_name))
    claim = check_signature_claims(parse_signature_payload(message.content), digest)
    return claim.docker_reference, message.primary_fingerprint


# --------------------------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize(
    ("sig_name", "key_name", "identity", "primary"),
    [
        ("image.signature", "public-key.gpg", "testing/manifest", KEY_FPR),
        ("image.signature", "pubring.gpg", "testing/manifest", KEY_FPR),
        ("no-optional-fields.signature", "public-key.gpg", "testing/manifest", KEY_FPR),
        ("subkey.signature", "public-key-with-subkey.gpg", "testing/manifest:latest", SUBKEY_PRIMARY_FPR),
        ("subkey.signature-v3", "public-key-with-subkey.gpg", "testing/manifest:latest", SUBKEY_PRIMARY_FPR),
    ],
)
def test_valid_fixture_signatures_verify(sig_name: str, key_name: str, identity: str, primary: str) -> None:
    assert verify_payload(sig_name, key_name) == (identity, primary)


def test_subkey_signature_reports_the_signing_subkey() -> None:
    message = verify_message(fixture("subkey.signature"), keyring("public-key-with-subkey.gpg"))
    assert message.key_id == "D75B3109B3BAAEAF"
    assert message.signer_fingerprint.endswith("D75B3109B3BAAEAF")
    assert message.signer_fingerprint != message.primary_fingerprint


@pytest.mark.parametrize(
    ("sig_name", "key_name", "error"),
    [
        ("expired.signature", "public-key.gpg", "signature expired on 2025-06-24 10:00:00 +0000 UTC"),
        (
            "corrupt.signature",
            "public-key.gpg",
            "signature error: verification failure with key E932F44B23E8DD43",
        ),
        (
            "corrupt.signature-v3",
            "public-key.gpg",
            "signature error: verification failure with key E932F44B23E8DD43",
        ),
        (
            "unknown-key.signature",
            "public-key.gpg",
            "invalid signature: unknown signing key 5F9470E3BC6C3B55",
        ),
        (
            "unknown-key.signature-v3",
            "pubring.gpg",
            "invalid signature: unknown signing key 5F9470E3BC6C3B55",
        ),
        ("unsigned-literal.signature", "public-key.gpg", "not signed"),
        ("unsigned-encrypted.signature", "public-key.gpg", "not signed: the message is encrypted"),
        (
            "subkey-revoked.signature",
            "public-key-with-revoked-subkey.gpg",
            "signature error: signing subkey 3EF0F93A1F602997 is revoked",
        ),
        (
            "subkey-revoked.signature-v3",
            "public-key-with-revoked-subkey.gpg",
            "signature error: signing subkey 3EF0F93A1F602997 is revoked",
        ),
        (
            "image.signature",
            "public-key-with-subkey.gpg",
            "invalid signature: unknown signing key E932F44B23E8DD43",
        ),
    ],
)
def test_invalid_fixture_messages_are_refused(sig_name: str, key_name: str, error: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_message(fixture(sig_name), keyring(key_name))
    assert str(info.value) == error


@pytest.mark.parametrize("sig_name", ["invalid-blob.signature", "invalid-blob.signature-v3"])
def test_invalid_blob_signs_but_is_not_an_atomic_signature(sig_name: str) -> None:
    message = verify_message(fixture(sig_name), keyring("public-key.gpg"))
    assert message.content == b"This is not JSON\n"
    with pytest.raises(SignatureError, match=r"^the signature is not valid JSON: "):
        parse_signature_payload(message.content)


def test_invalid_reference_is_refused() -> None:
    with pytest.raises(
        SignatureError, match="^signature identity is not a valid image reference: .*UPPERCASEISINVALID"
    ):
        verify_payload("invalid-reference.signature", "public-key.gpg")


def test_image_signature_for_another_digest_is_refused() -> None:
    other = "sha256:" + "0" * 64
    with pytest.raises(
        SignatureError, match=rf"^signature digest does not match: signed {IMAGE_DIGEST}, expected {other}$"
    ):
        verify_payload("image.signature", "public-key.gpg", other)


def _dir_candidates(directory: str) -> list[Candidate]:
    out = []
    for index in range(1, 10):
        if not (FIXTURES / directory / f"signature-{index}").exists():
            break
        out.append(Candidate(f"{directory}/signature-{index}", fixture(f"{directory}/signature-{index}")))
    return out


def _manifest_digest(directory: str) -> str:
    return "sha256:" + hashlib.sha256(fixture(f"{directory}/manifest.json")).hexdigest()


@pytest.mark.parametrize(
    ("directory", "key_name", "count"),
    [
        ("dir-img-valid", "public-key.gpg", 1),
        ("dir-img-valid-2", "public-key.gpg", 1),
        ("dir-img-mixed", "public-key.gpg", 1),
        ("dir-img-valid-subkey", "public-key-with-subkey.gpg", 1),
    ],
)
def test_valid_fixture_images_verify(directory: str, key_name: str, count: int) -> None:
    digest = _manifest_digest(directory)
    result = verify_signatures(digest, _dir_candidates(directory), {"k": keyring(key_name)})
    assert len(result.signatures) == count
    assert result.signatures[0].claim.manifest_digest == digest


@pytest.mark.parametrize(
    ("directory", "error"),
    [
        ("dir-img-modified-manifest", "signature digest does not match"),
        ("dir-img-manifest-digest-error", "signature digest does not match"),
        ("dir-img-unsigned", "no signatures found"),
    ],
)
def test_invalid_fixture_images_are_refused(directory: str, error: str) -> None:
    digest = _manifest_digest(directory)
    with pytest.raises(SignatureError) as info:
        verify_signatures(digest, _dir_candidates(directory), {"k": keyring("public-key.gpg")})
    text = str(info.value)
    assert text.startswith(f"unable to verify {digest} against keyrings: k\n* ")
    assert error in text


def test_every_keyring_must_be_satisfied() -> None:
    digest = _manifest_digest("dir-img-valid")
    candidates = _dir_candidates("dir-img-valid")
    keyrings = {"skopeo": keyring("public-key.gpg"), "other": keyring("public-key-2.gpg")}
    with pytest.raises(SignatureError, match=rf"^unable to verify {digest} against keyrings: other\n"):
        verify_signatures(digest, candidates, keyrings)


def test_keyring_parsing() -> None:
    ring = keyring("pubring.gpg")
    assert ring.fingerprints == [
        "F2B501009F78B0B340221A12A3CD242DA6028093",
        KEY_FPR,
        SUBKEY_PRIMARY_FPR,
        "6D88C5A1993648A17B2BB0DC6B8499AF63388D63",
    ]
    revoked = keyring("public-key-with-revoked-subkey.gpg").certificates[0].subkeys
    assert [(s.key.key_id, s.revoked) for s in revoked] == [("3EF0F93A1F602997", True)]
    with pytest.raises(
        SignatureError, match="^junk is not a valid OpenPGP keyring: invalid OpenPGP packet header"
    ):
        Keyring.from_bytes(b"junk", "junk")


def test_armored_keyring_with_bad_crc_is_refused() -> None:
    kind, binary = openpgp.dearmor(fixture("public-key.gpg"))
    assert kind == openpgp.ARMOR_PUBLIC
    assert Keyring.from_bytes(binary).fingerprints == [KEY_FPR]
    text = openpgp.armor(binary, openpgp.ARMOR_PUBLIC)
    assert Keyring.from_bytes(text.encode()).fingerprints == [KEY_FPR]
    lines = text.splitlines()
    checksum_line = next(i for i, line in enumerate(lines) if line.startswith("="))
    lines[checksum_line] = "=AAAA"
    with pytest.raises(SignatureError, match="fails its CRC-24 checksum"):
        Keyring.from_bytes("\n".join(lines).encode())


def test_fixture_secret_keys_import_with_and_without_passphrase() -> None:
    data = fixture("secring.gpg")
    protected = import_secret_key(data, FIXTURE_PASSPHRASE)
    assert protected.fingerprint == "F2B501009F78B0B340221A12A3CD242DA6028093"
    with pytest.raises(SignatureError, match="wrong passphrase"):
        import_secret_key(data, "nope")
    with pytest.raises(SignatureError, match="protected by a passphrase; none was given"):
        import_secret_key(data)
    plain = import_secret_key(data, fingerprint=KEY_FPR)
    message = verify_message(sign_message(plain, b"payload"), keyring("public-key.gpg"))
    assert (message.content, message.primary_fingerprint) == (b"payload", KEY_FPR)
    message = verify_message(sign_message(protected, b"other"), keyring("public-key-2.gpg"))
    assert message.primary_fingerprint == "F2B501009F78B0B340221A12A3CD242DA6028093"


# --------------------------------------------------------------------------------------------- our own keys


@pytest.fixture(scope="module")
def our_key() -> openpgp.SecretKey:
    return generate_key("okdrelease test <test@example.com>", bits=2048, created=1700000000)


def test_generated_key_round_trips(our_key: openpgp.SecretKey) -> None:
    public = Keyring.from_bytes(our_key.export_public().encode())
    assert public.fingerprints == [our_key.fingerprint]
    assert public.certificates[0].user_ids == ("okdrelease test <test@example.com>",)
    assert public.certificates[0].flags == openpgp.FLAG_CERTIFY | openpgp.FLAG_SIGN
    again = import_secret_key(our_key.export_secret().encode())
    assert again.fingerprint == our_key.fingerprint
    assert again.private.private_numbers().d == our_key.private.private_numbers().d
    assert again.private.public_key().public_numbers() == our_key.private.public_key().public_numbers()


def test_default_key_is_rsa_4096() -> None:
    key = generate_key("big <big@example.com>")
    assert key.private.key_size == 4096
    assert key.export_public().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n")


def test_signed_message_layout(our_key: openpgp.SecretKey) -> None:
    message = sign_message(our_key, b"hello", created=1700000001)
    packets = openpgp.parse_packets(message)
    assert [p.tag for p in packets] == [openpgp.TAG_ONE_PASS, openpgp.TAG_LITERAL, openpgp.TAG_SIGNATURE]
    assert packets[0].body == bytes([3, 0, 8, 1]) + bytes.fromhex(our_key.public.key_id) + b"\x01"
    assert packets[1].body == b"b\x00" + (1700000001).to_bytes(4, "big") + b"hello"
    signature = openpgp.parse_signature(packets[2].body)
    assert (signature.version, signature.sig_type, signature.hash_algorithm, signature.created) == (
        4,
        0,
        8,
        1700000001,
    )
    assert signature.issuer_ids == [our_key.public.key_id]


def test_tampered_message_is_refused(our_key: openpgp.SecretKey) -> None:
    message = sign_message(our_key, b'{"a": 1}')
    tampered = message.replace(b'{"a": 1}', b'{"a": 2}')
    with pytest.raises(
        SignatureError,
        match=rf"^signature error: (hash tag doesn't match|verification failure with key {our_key.public.key_id})$",
    ):
        verify_message(tampered, our_key.keyring())


def test_wrong_key_is_refused(our_key: openpgp.SecretKey) -> None:
    message = sign_message(our_key, b"x")
    with pytest.raises(
        SignatureError, match=rf"^invalid signature: unknown signing key {our_key.public.key_id}$"
    ):
        verify_message(message, keyring("public-key.gpg"))


def test_compressed_and_armored_messages_are_read(our_key: openpgp.SecretKey) -> None:
    import zlib

    inner = sign_message(our_key, b"compressed")
    for algorithm, data in ((1, zlib.compress(inner)[2:-4]), (2, zlib.compress(inner)), (0, inner)):
        wrapped = openpgp.encode_packet(openpgp.TAG_COMPRESSED, bytes([algorithm]) + data)
        assert verify_message(wrapped, our_key.keyring()).content == b"compressed"
    armored = openpgp.armor(inner, openpgp.ARMOR_MESSAGE).encode()
    assert verify_message(armored, our_key.keyring()).content == b"compressed"


def test_sign_release_then_verify_release(our_key: openpgp.SecretKey, tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    result = sign_release(
        f"quay.io/okd/release:4.99@{digest}", our_key, signature_dir=tmp_path, timestamp=1700000002
    )
    assert result.identity == f"quay.io/okd/release@{digest}"
    assert result.signature_path == tmp_path / f"sha256={'ab' * 32}" / "signature-1"
    verified = verify_release(
        f"example.com/mirror@{digest}", {"ours": our_key.keyring()}, signature_dirs=[tmp_path]
    )
    assert [(v.keyring, v.claim.docker_reference, v.claim.timestamp) for v in verified.signatures] == [
        ("ours", f"quay.io/okd/release@{digest}", 1700000002)
    ]
    other = "sha256:" + "cd" * 32
    (tmp_path / f"sha256={'cd' * 32}").mkdir()
    shutil.copy(result.signature_path, tmp_path / f"sha256={'cd' * 32}" / "signature-1")
    with pytest.raises(SignatureError, match="signature digest does not match"):
        verify_release(other, {"ours": our_key.keyring()}, signature_dirs=[tmp_path])


def test_unknown_fields_in_signed_payload_are_refused(our_key: openpgp.SecretKey, tmp_path: Path) -> None:
    digest = "sha256:" + "ef" * 32
    document = {
        "critical": {
            "type": "atomic container signature",
            "image": {"docker-manifest-digest": digest},
            "identity": {"docker-reference": "quay.io/a/b"},
            "extra": True,
        },
        "optional": {},
    }
    candidate = Candidate("mem", sign_message(our_key, json.dumps(document).encode()))
    with pytest.raises(
        SignatureError, match='the signature is not valid JSON: unknown field "extra" in critical'
    ):
        verify_signatures(digest, [candidate], {"ours": our_key.keyring()})


# --------------------------------------------------------------------------------------------- gpg and skopeo


@pytest.fixture
def gnupghome(tmp_path: Path) -> Path:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home
    kill_agent(home)


@pytest.mark.parametrize("passphrase", ["", "s3cret pass"])
def test_gpg_generated_key_imported_and_used_by_okdrelease(
    gnupghome: Path, tmp_path: Path, passphrase: str
) -> None:
    made = gpg(
        gnupghome,
        "--passphrase",
        passphrase,
        "--quick-gen-key",
        "Gpg Key <gpg@example.com>",
        "rsa2048",
        "sign",
        "never",
    )
    assert made.returncode == 0, made.stderr.decode()
    exported = gpg(
        gnupghome, "--passphrase", passphrase, "--armor", "--export-secret-keys", "gpg@example.com"
    )
    assert exported.returncode == 0 and exported.stdout.startswith(b"-----BEGIN PGP PRIVATE KEY BLOCK-----")
    key = import_secret_key(exported.stdout, passphrase or None)
    digest = "sha256:" + "12" * 32
    result = sign_release(f"quay.io/okd/scos-release@{digest}", key, signature_dir=tmp_path / "sigs")
    checked = gpg(gnupghome, "--status-fd", "1", "--verify", str(result.signature_path))
    assert checked.returncode == 0, checked.stderr.decode()
    assert f"[GNUPG:] VALIDSIG {key.fingerprint} ".encode() in checked.stdout
    assert b'Good signature from "Gpg Key <gpg@example.com>"' in checked.stderr
    decrypted = gpg(gnupghome, "--decrypt", str(result.signature_path))
    assert decrypted.stdout == result.payload


def test_okdrelease_key_imported_bygpg(gnupghome: Path, our_key: openpgp.SecretKey, tmp_path: Path) -> None:
    imported = gpg(gnupghome, "--import", data=our_key.export_public().encode())
    assert imported.returncode == 0, imported.stderr.decode()
    secret = gpg(gnupghome, "--import", data=our_key.export_secret().encode())
    assert secret.returncode == 0 and b"secret keys imported: 1" in secret.stderr, secret.stderr.decode()
    digest = "sha256:" + "34" * 32
    result = sign_release(f"quay.io/okd/scos-release@{digest}", our_key, signature_dir=tmp_path)
    checked = gpg(gnupghome, "--status-fd", "1", "--verify", str(result.signature_path))
    assert checked.returncode == 0, checked.stderr.decode()
    assert (
        f"[GNUPG:] GOODSIG {our_key.public.key_id} okdrelease test <test@example.com>".encode()
        in checked.stdout
    )
    # and gpg's own signature with our (imported) secret key verifies with our code
    signed = gpg(gnupghome, "--sign", "--local-user", our_key.fingerprint, data=b"from gpg")
    assert signed.returncode == 0, signed.stderr.decode()
    assert verify_message(signed.stdout, our_key.keyring()).content == b"from gpg"


def test_skopeo_standalone_verify(gnupghome: Path, our_key: openpgp.SecretKey, tmp_path: Path) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    assert gpg(gnupghome, "--import", data=our_key.export_public().encode()).returncode == 0
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {},
                "layers": [],
            }
        ).encode()
    )
    digest = "sha256:" + hashlib.sha256(manifest.read_bytes()).hexdigest()
    result = sign_release(f"quay.io/okd/scos-release@{digest}", our_key, signature_dir=tmp_path / "sigs")
    env = dict(os.environ, GNUPGHOME=str(gnupghome))

    def skopeo(manifest_path: Path, reference: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "skopeo",
                "standalone-verify",
                str(manifest_path),
                reference,
                our_key.fingerprint,
                str(result.signature_path),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )

    good = skopeo(manifest, result.identity)
    assert good.returncode == 0, good.stderr
    assert good.stdout == f"Signature verified, digest {digest}\n"
    other_manifest = tmp_path / "other.json"
    other_manifest.write_bytes(manifest.read_bytes() + b" ")
    wrong_digest = skopeo(other_manifest, result.identity)
    assert (
        wrong_digest.returncode != 0
        and digest in wrong_digest.stderr
        and "does not match" in wrong_digest.stderr
    )
    wrong_identity = skopeo(manifest, f"quay.io/someone/else@{digest}")
    assert wrong_identity.returncode != 0
    assert (
        f"Docker reference {result.identity} does not match quay.io/someone/else@{digest}"
        in wrong_identity.stderr
    )


@pytest.mark.parametrize(
    ("timestamp", "containers_image", "library_go"),
    [((1 << 63) - 1, False, True), (1 << 63, False, False), (-(1 << 63) - 1, True, False)],
)
def test_timestamps_a_reader_refuses_are_never_written(
    timestamp: int,
    containers_image: bool,
    library_go: bool,
    gnupghome: Path,
    our_key: openpgp.SecretKey,
    tmp_path: Path,
) -> None:
    """optional.timestamp is read by skopeo (containers/image) as a float64 that must convert to an int64
    and back, by library-go as an int64: the largest timestamp both take is signed and accepted by
    skopeo; ``timestamp`` (refused by one of them) is refused when signing, and a signature holding it
    (made by hand) is read by our parsers as by skopeo and by library-go."""
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    assert gpg(gnupghome, "--import", data=our_key.export_public().encode()).returncode == 0
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(b'{"schemaVersion":2,"config":{},"layers":[]}')
    digest = "sha256:" + hashlib.sha256(manifest.read_bytes()).hexdigest()
    identity = f"quay.io/okd/scos-release@{digest}"
    env = dict(os.environ, GNUPGHOME=str(gnupghome))

    def skopeo(signature: Path) -> subprocess.CompletedProcess[str]:
        argv = ["skopeo", "standalone-verify", str(manifest), identity, our_key.fingerprint, str(signature)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=60)

    largest = sign_release(identity, our_key, signature_dir=tmp_path / "sigs", timestamp=(1 << 63) - 513)
    assert largest.signature_path is not None
    good = skopeo(largest.signature_path)
    assert (good.returncode, good.stdout) == (0, f"Signature verified, digest {digest}\n"), good.stderr
    with pytest.raises(SignatureError) as info:
        sign_release(identity, our_key, signature_dir=tmp_path / "sigs2", timestamp=timestamp)
    assert str(info.value) == (
        f"timestamp {timestamp} is out of range: a signature's timestamp is -9223372036854775808 to "
        "9223372036854775295 (a 64-bit integer that containers/image can read as a float64)"
    )
    assert not (tmp_path / "sigs2").exists()
    payload = json.dumps(
        {
            "critical": {
                "type": "atomic container signature",
                "image": {"docker-manifest-digest": digest},
                "identity": {"docker-reference": identity},
            },
            "optional": {"timestamp": timestamp},
        }
    ).encode()
    beyond = tmp_path / "beyond"
    beyond.write_bytes(sign_message(our_key, payload))
    read = skopeo(beyond)
    if containers_image:  # -2**63 - 1 is the float -2**63, an int64
        assert (read.returncode, read.stdout) == (0, f"Signature verified, digest {digest}\n"), read.stderr
        assert parse_simple_signing_payload(payload).timestamp == -(1 << 63)
    else:
        assert read.returncode == 1 and "Field optional.timestamp is not is not an integer" in read.stderr
        with pytest.raises(SignatureError) as info:
            parse_simple_signing_payload(payload)
        assert str(info.value) == "invalid signature: Field optional.timestamp is not an integer"
    if library_go:
        assert parse_signature_payload(payload).timestamp == timestamp
    else:
        with pytest.raises(SignatureError) as info:
            parse_signature_payload(payload)
        assert str(info.value) == (
            'the signature is not valid JSON: field "timestamp" in optional has the wrong type'
        )


@pytest.mark.parametrize("algorithm", ["nistp256", "nistp384", "ed25519", "dsa2048", "rsa2048"])
def test_gpg_signatures_with_other_key_algorithms_verify(gnupghome: Path, algorithm: str) -> None:
    made = gpg(
        gnupghome,
        "--passphrase",
        "",
        "--quick-gen-key",
        f"{algorithm} <{algorithm}@example.com>",
        algorithm,
        "sign",
        "never",
    )
    assert made.returncode == 0, made.stderr.decode()
    public = gpg(gnupghome, "--export", f"{algorithm}@example.com")
    signed = gpg(gnupghome, "--sign", "--local-user", f"{algorithm}@example.com", data=b"payload")
    assert signed.returncode == 0, signed.stderr.decode()
    ring = Keyring.from_bytes(public.stdout)
    message = verify_message(signed.stdout, ring)
    assert (message.content, message.primary_fingerprint) == (b"payload", ring.fingerprints[0])
    tampered = bytearray(signed.stdout)
    tampered[-3] ^= 0x01
    with pytest.raises(SignatureError):
        verify_message(bytes(tampered), ring)


def test_signature_after_key_expiry_is_refused(gnupghome: Path) -> None:
    three_days_ago = int(time.time()) - 3 * 86400
    made = gpg(
        gnupghome,
        "--faked-system-time",
        f"{three_days_ago}!",
        "--passphrase",
        "",
        "--quick-gen-key",
        "Short <short@example.com>",
        "rsa2048",
        "sign",
        "1d",
    )
    assert made.returncode == 0, made.stderr.decode()
    exported = gpg(
        gnupghome,
        "--faked-system-time",
        f"{three_days_ago}!",
        "--passphrase",
        "",
        "--export-secret-keys",
        "short@example.com",
    )
    key = import_secret_key(exported.stdout)
    ring = key.keyring()
    assert ring.certificates[0].expires is not None
    fresh = sign_message(key, b"in time", created=three_days_ago + 3600)
    assert verify_message(fresh, ring).content == b"in time"
    with pytest.raises(
        SignatureError,
        match=rf"^signature error: key {key.public.key_id} had expired when the signature was made$",
    ):
        verify_message(sign_message(key, b"late"), ring)


def test_gpg_text_mode_signature_verifies(gnupghome: Path) -> None:
    assert (
        gpg(
            gnupghome,
            "--passphrase",
            "",
            "--quick-gen-key",
            "Text <text@example.com>",
            "rsa2048",
            "sign",
            "never",
        ).returncode
        == 0
    )
    signed = gpg(gnupghome, "--textmode", "--sign", data=b"line one\nline two\n")
    assert signed.returncode == 0, signed.stderr.decode()
    ring = Keyring.from_bytes(gpg(gnupghome, "--export", "text@example.com").stdout)
    assert verify_message(signed.stdout, ring).content.replace(b"\r\n", b"\n") == b"line one\nline two\n"
