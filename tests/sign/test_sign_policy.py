"""containers-policy.json evaluation (issue 12 item 4): parsing, scopes, identities, signatures."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from imagegen import make_image
from sign_support import FIXTURES, fixture

from okdrelease import cli
from okdrelease.errors import SignatureError
from okdrelease.sign import cosign
from okdrelease.sign.api import sign_release, sign_release_cosign, verify_release
from okdrelease.sign.lookaside import DockerName, load_registries_d
from okdrelease.sign.openpgp import generate_key
from okdrelease.sign.policy import (
    IdentityMatch,
    ImageSignatures,
    Policy,
    PolicyFormatError,
    PolicyRejectedError,
    PolicyVerdict,
    Reject,
    SignedBy,
    parse_policy,
    require_image_allowed,
    verify_image_against_policy,
)
from okdrelease.sign.simple import parse_simple_signing_payload
from okdrelease.transport.registry import RegistryRepository


def policy_of(document: object) -> bytes:
    return json.dumps(document).encode()


# --------------------------------------------------------------------------------------------- parsing


def test_containers_image_fixture_policy_parses() -> None:
    policy = parse_policy(fixture("policy.json"), "policy.json")
    assert policy.default == (Reject(),)
    production = policy.transports["docker"]["example.com/production"]
    assert production == (SignedBy("GPGKeys", production[0].keys, IdentityMatch("matchRepoDigestOrExact")),)  # type: ignore[union-attr]
    assert production[0].keys.paths == ("/keys/employee-gpg-keyring",)  # type: ignore[union-attr]
    hardened = policy.transports["docker"]["example.com/hardened"]
    assert [type(r).__name__ for r in hardened] == ["SignedBy", "SignedBy", "SignedBaseLayer"]
    assert hardened[1].identity == IdentityMatch("matchExact")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"transports": {}}, 'policy: "default" is missing'),
        ({"default": [], "x": 1}, 'policy: unknown key "x"'),
        ({"default": []}, "policy: default: list of verification policy requirements must not be empty"),
        ({"default": [{"type": "reject", "extra": 1}]}, 'policy: default[0]: unknown key "extra"'),
        ({"default": [{"type": "nope"}]}, "policy: default[0]: unknown policy requirement type 'nope'"),
        (
            {"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "keyData": ""}]},
            "policy: default[0]: exactly one of keyPath, keyPaths and keyData must be specified",
        ),
        ({"default": [{"type": "signedBy", "keyPath": "/a"}]}, "policy: default[0]: invalid keyType ''"),
        (
            {"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "not base64!"}]},
            "policy: default[0].keyData is not base64",
        ),
        (
            {
                "default": [
                    {
                        "type": "signedBy",
                        "keyType": "GPGKeys",
                        "keyPath": "/a",
                        "signedIdentity": {"type": "exactReference", "dockerReference": "quay.io/a/b"},
                    }
                ]
            },
            "policy: default[0].signedIdentity: dockerReference 'quay.io/a/b' contains neither a tag nor digest",
        ),
        (
            {"default": [{"type": "sigstoreSigned", "keyPath": "/a", "keyData": ""}]},
            "policy: default[0]: exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified",
        ),
        (
            {"default": [{"type": "reject"}], "transports": {"docker": {"quay.io/x": []}}},
            'policy: transports.docker["quay.io/x"]: list of verification policy requirements must not be empty',
        ),
    ],
)
def test_invalid_policies_are_refused(document: object, error: str) -> None:
    with pytest.raises(PolicyFormatError) as caught:
        parse_policy(policy_of(document))
    assert str(caught.value).startswith(error)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(PolicyFormatError, match='duplicate field "default"'):
        parse_policy(b'{"default": [{"type": "reject"}], "default": [{"type": "insecureAcceptAnything"}]}')


def test_most_specific_docker_scope_wins() -> None:
    accept = [{"type": "insecureAcceptAnything"}]
    policy = parse_policy(
        policy_of(
            {
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": {
                        "": accept,
                        "*.example.com": accept,
                        "reg.example.com": accept,
                        "reg.example.com/ns": accept,
                        "reg.example.com/ns/repo": accept,
                        "reg.example.com/ns/repo:v1": accept,
                    },
                    "oci": {"": accept},
                },
            }
        )
    )

    def scope(text: str) -> str:
        return policy.requirements_for("docker", DockerName.parse(text))[0]

    assert scope("reg.example.com/ns/repo:v1") == 'transports.docker["reg.example.com/ns/repo:v1"]'
    assert scope("reg.example.com/ns/repo:v2") == 'transports.docker["reg.example.com/ns/repo"]'
    assert scope("reg.example.com/ns/other:v1") == 'transports.docker["reg.example.com/ns"]'
    assert scope("reg.example.com/x:v1") == 'transports.docker["reg.example.com"]'
    assert scope("other.example.com/x:v1") == 'transports.docker["*.example.com"]'
    assert scope("quay.io/x:v1") == 'transports.docker[""]'
    assert policy.requirements_for("dir", DockerName.parse("quay.io/x:1"))[0] == "default"


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("match", "intended", "signed", "expected"),
    [
        (IdentityMatch("matchExact"), "quay.io/a/b:1", "quay.io/a/b:1", True),
        (IdentityMatch("matchExact"), "quay.io/a/b:1", "quay.io/a/b:2", False),
        (IdentityMatch("matchExact"), f"quay.io/a/b@{DIGEST}", f"quay.io/a/b@{DIGEST}", True),
        (IdentityMatch(), "quay.io/a/b:1", "quay.io/a/b:1", True),
        (IdentityMatch(), "quay.io/a/b:1", f"quay.io/a/b@{DIGEST}", False),
        (IdentityMatch(), f"quay.io/a/b@{DIGEST}", "quay.io/a/b:anything", True),
        (IdentityMatch(), f"quay.io/a/b@{DIGEST}", "quay.io/a/b", False),
        (IdentityMatch(), f"quay.io/a/b@{DIGEST}", "quay.io/a/c:1", False),
        (IdentityMatch(), "busybox:1", "docker.io/library/busybox:1", True),
        (IdentityMatch("matchRepository"), "quay.io/a/b:1", f"quay.io/a/b@{DIGEST}", True),
        (IdentityMatch("matchRepository"), "quay.io/a/b:1", "quay.io/a/c:1", False),
        (IdentityMatch("exactReference", "quay.io/x/y:2"), "quay.io/a/b:1", "quay.io/x/y:2", True),
        (IdentityMatch("exactReference", "quay.io/x/y:2"), "quay.io/a/b:1", "quay.io/x/y:3", False),
        (IdentityMatch("exactRepository", "quay.io/x/y"), "quay.io/a/b:1", "quay.io/x/y:3", True),
        (IdentityMatch("exactRepository", "quay.io/x/y"), "quay.io/a/b:1", "quay.io/x/z:3", False),
        (
            IdentityMatch("remapIdentity", prefix="mirror.example.com/okd", signed_prefix="quay.io/okd"),
            "mirror.example.com/okd/scos-release:4",
            "quay.io/okd/scos-release:4",
            True,
        ),
        (
            IdentityMatch("remapIdentity", prefix="mirror.example.com/okd", signed_prefix="quay.io/okd"),
            "mirror.example.com/okdx/scos-release:4",
            "quay.io/okd/scos-release:4",
            False,
        ),
        (IdentityMatch("matchRepository"), "quay.io/a/b:1", "not a reference!", False),
    ],
)
def test_signed_identity_matches(match: IdentityMatch, intended: str, signed: str, expected: bool) -> None:
    assert match.matches(DockerName.parse(intended), signed) is expected


# --------------------------------------------------------------------------------------------- evaluation


@attrs.frozen
class FixedSignatures:
    """A SignatureSource with given signatures (test double)."""

    simple: tuple[bytes, ...] = ()
    sigstore: tuple[cosign.CosignSignature, ...] = ()

    def simple_signatures(self, name: DockerName, digest: str) -> list[bytes]:
        return list(self.simple)

    def sigstore_signatures(self, name: DockerName, digest: str) -> list[cosign.CosignSignature]:
        return list(self.sigstore)


def _fixture_policy(requirement: dict[str, object]) -> bytes:
    return policy_of(
        {"default": [{"type": "reject"}], "transports": {"docker": {"docker.io/testing": [requirement]}}}
    )


def test_fixture_images_against_signed_by_policies() -> None:
    manifest = fixture("dir-img-valid/manifest.json")
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    key_data = base64.b64encode(fixture("public-key.gpg")).decode()
    policy = parse_policy(_fixture_policy({"type": "signedBy", "keyType": "GPGKeys", "keyData": key_data}))
    valid = FixedSignatures((fixture("dir-img-valid/signature-1"),))
    verdict = verify_image_against_policy(policy, "testing/manifest:latest", digest, valid)
    assert verdict == PolicyVerdict(
        "docker://docker.io/testing/manifest:latest", digest, True, 'transports.docker["docker.io/testing"]'
    )
    # the signed identity is testing/manifest:latest; another tag is refused (matchRepoDigestOrExact)
    other_tag = verify_image_against_policy(policy, "testing/manifest:v2", digest, valid)
    assert other_tag.reasons == ('Signature for identity "testing/manifest:latest" is not accepted',)
    by_digest = verify_image_against_policy(policy, f"testing/manifest@{digest}", digest, valid)
    assert by_digest.allowed
    other_digest = "sha256:" + "00" * 32
    wrong = verify_image_against_policy(policy, "testing/manifest:latest", other_digest, valid)
    assert wrong.reasons == (f"Signature for digest {digest} does not match",)
    unsigned = verify_image_against_policy(policy, "testing/manifest:latest", digest, FixedSignatures())
    assert unsigned.reasons == ("A signature was required, but no signature exists",)
    mixed = FixedSignatures((fixture("unknown-key.signature"), fixture("dir-img-valid/signature-1")))
    assert verify_image_against_policy(policy, "testing/manifest:latest", digest, mixed).allowed
    bad = FixedSignatures((fixture("unknown-key.signature"), fixture("corrupt.signature")))
    reasons = verify_image_against_policy(policy, "testing/manifest:latest", digest, bad).reason
    assert reasons.startswith(
        "None of the signatures were accepted, reasons: invalid signature: unknown signing key"
    )
    with pytest.raises(PolicyRejectedError) as caught:
        require_image_allowed(policy, "quay.io/elsewhere/x:1", digest, valid)
    assert str(caught.value) == (
        "docker://quay.io/elsewhere/x:1: rejected by policy default: "
        "Running image docker://quay.io/elsewhere/x:1 is rejected by policy."
    )


def test_fixture_cosign_images_against_sigstore_policies() -> None:
    manifest = fixture("dir-img-cosign-valid/manifest.json")
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    signature = cosign.CosignSignature.from_sigstore_json(fixture("dir-img-cosign-valid/signature-1"))
    identity = json.loads(signature.payload)["critical"]["identity"]["docker-reference"]
    requirement = {
        "type": "sigstoreSigned",
        "keyPath": str(FIXTURES / "cosign.pub"),
        "signedIdentity": {"type": "matchRepository"},
    }

    def policy(**changes: object) -> Policy:
        return parse_policy(policy_of({"default": [{**requirement, **changes}]}))

    ref = f"{identity}@{digest}"
    signatures = FixedSignatures(sigstore=(signature,))
    assert verify_image_against_policy(policy(), ref, digest, signatures).allowed
    # cosign signs the bare repository: the default matchRepoDigestOrExact refuses a name-only identity
    default_identity = parse_policy(
        policy_of({"default": [{"type": "sigstoreSigned", "keyPath": str(FIXTURES / "cosign.pub")}]})
    )
    refused = verify_image_against_policy(default_identity, ref, digest, signatures)
    assert refused.reasons == (f'Signature for identity "{identity}" is not accepted',)
    refused = verify_image_against_policy(
        policy(keyPath=str(FIXTURES / "cosign2.pub")), ref, digest, signatures
    )
    assert refused.reason.startswith("cryptographic signature verification failed")
    rekor = policy(rekorPublicKeyPath=str(FIXTURES / "rekor.pub"))
    refused = verify_image_against_policy(rekor, ref, digest, signatures)
    assert refused.reasons == ("okdrelease does not verify sigstoreSigned with rekorPublicKeyPath",)
    elsewhere = verify_image_against_policy(policy(), f"quay.io/else/where@{digest}", digest, signatures)
    assert elsewhere.reasons == (f'Signature for identity "{identity}" is not accepted',)
    # a simple signature is not a sigstore signature
    assert verify_image_against_policy(policy(), ref, digest, FixedSignatures((b"x",))).reasons == (
        "A signature was required, but no signature exists",
    )


def test_missing_policy_key_file_is_named(tmp_path: Path) -> None:
    policy = parse_policy(
        _fixture_policy({"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(tmp_path / "nokey")})
    )
    verdict = verify_image_against_policy(
        policy, "testing/manifest:latest", DIGEST, FixedSignatures((fixture("dir-img-valid/signature-1"),))
    )
    assert verdict.reasons == (f"cannot read policy key {tmp_path / 'nokey'}: No such file or directory",)


# --------------------------------------------------------------------------------------------- registry


def test_components_in_a_registry_against_a_policy(
    loopback_repo: tuple[str, RegistryRepository],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's cases: signed passes; unsigned, another key and another digest are refused, each named."""
    name, repository = loopback_repo
    ours = generate_key("ours <ours@example.com>", algorithm="ed25519")
    theirs = generate_key("theirs <theirs@example.com>", algorithm="ed25519")
    images = {
        tag: make_image(repository, tag, seed=f"{name}-{tag}")
        for tag in ("good", "unsigned", "other-key", "moved", "cosign")
    }
    store = tmp_path / "lookaside"
    sign_release(f"{name}@{images['good'].digest}", ours, lookaside=store)
    sign_release(f"{name}@{images['other-key'].digest}", theirs, lookaside=store)
    moved = sign_release(f"{name}@{images['good'].digest}", ours)
    moved_dir = store / f"{name.partition('/')[2]}@sha256={images['moved'].digest.split(':')[1]}"
    moved_dir.mkdir(parents=True)
    (moved_dir / "signature-1").write_bytes(moved.signature)  # a signature of another digest
    cosign_key = cosign.generate_private_key()
    sign_release_cosign(repository, f"{name}@{images['cosign'].digest}", cosign_key)
    (tmp_path / "ours.asc").write_text(ours.export_public())
    (tmp_path / "cosign.pub").write_bytes(cosign.public_key_pem(cosign_key))
    registries_d = tmp_path / "registries.d"
    registries_d.mkdir()
    (registries_d / "okd.yaml").write_text(
        f"docker:\n  {name}:\n    lookaside: {store.as_uri()}\n    use-sigstore-attachments: true\n"
    )
    # okdrelease signs REPO@DIGEST (oc's identity): matchRepository lets pulls by tag through too
    signed_by = {
        "type": "signedBy",
        "keyType": "GPGKeys",
        "keyPath": str(tmp_path / "ours.asc"),
        "signedIdentity": {"type": "matchRepository"},
    }
    sigstore = {
        "type": "sigstoreSigned",
        "keyPath": str(tmp_path / "cosign.pub"),
        "signedIdentity": {"type": "matchRepository"},
    }
    policy_path = tmp_path / "policy.json"
    policy_path.write_bytes(
        policy_of(
            {
                "default": [{"type": "reject"}],
                "transports": {"docker": {name: [signed_by], f"{name}:cosign": [sigstore]}},
            }
        )
    )
    policy = parse_policy(policy_path.read_bytes())
    source = ImageSignatures(load_registries_d(registries_d), repository)
    good = verify_image_against_policy(
        policy, f"{name}@{images['good'].digest}", images["good"].digest, source
    )
    assert good.allowed, good.reason
    refused = {
        tag: verify_image_against_policy(policy, f"{name}@{images[tag].digest}", images[tag].digest, source)
        for tag in ("unsigned", "other-key", "moved")
    }
    assert refused["unsigned"].reasons == ("A signature was required, but no signature exists",)
    assert refused["other-key"].reason.startswith("invalid signature: unknown signing key ")
    assert refused["moved"].reasons == (f"Signature for digest {images['good'].digest} does not match",)
    assert all(verdict.image == f"docker://{name}@{images[tag].digest}" for tag, verdict in refused.items())

    # the CLI: by tag (the manifest is read from the registry for its digest) and by digest
    monkeypatch.setenv("HOME", str(tmp_path))
    base = ["verify", "--policy", str(policy_path), "--registries.d", str(registries_d), "--insecure"]
    assert cli.main([*base, f"{name}:good"]) == 0
    assert capsys.readouterr().out == (
        f'Allowed docker://{name}:good ({images["good"].digest}) by policy transports.docker["{name}"]\n'
    )
    assert cli.main([*base, f"{name}:cosign"]) == 0
    assert capsys.readouterr().out.startswith(f"Allowed docker://{name}:cosign ({images['cosign'].digest})")
    assert cli.main([*base, f"{name}@{images['moved'].digest}"]) == 1
    assert capsys.readouterr().err == (
        f'error: docker://{name}@{images["moved"].digest}: rejected by policy transports.docker["{name}"]: '
        f"Signature for digest {images['good'].digest} does not match\n"
    )
    with pytest.raises(SignatureError):
        require_image_allowed(policy, f"{name}:unsigned", images["unsigned"].digest, source)


def test_verify_policy_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"default": [{"type": "reject"}]}')
    image = "quay.io/okd/scos-release:4"
    assert cli.main(["verify", "--policy", str(policy), "--keyring", "k.asc", image]) == 2
    assert (
        capsys.readouterr().err
        == "error: --policy takes its keys and stores from the policy and registries.d\n"
    )
    assert cli.main(["verify", "--registries.d", str(tmp_path), "--keyring", "k.asc", image]) == 2
    assert capsys.readouterr().err == "error: --registries.d goes with --policy\n"
    assert cli.main(["verify", "--policy", str(policy), f"oci:{tmp_path}@{DIGEST}"]) == 2
    assert "a policy is checked for registry images (docker://)" in capsys.readouterr().err
    policy.write_text('{"default": []}')
    assert cli.main(["verify", "--policy", str(policy), image]) == 1
    assert capsys.readouterr().err == (
        f"error: policy {policy}: default: list of verification policy requirements must not be empty\n"
    )


@pytest.fixture
def http_lookaside(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A loopback HTTP server publishing a lookaside directory; yields the directory and its URL."""
    import functools
    import http.server
    import threading

    root = tmp_path / "published"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/sigs"
    finally:
        server.shutdown()
        server.server_close()


def test_signatures_read_from_an_http_lookaside(http_lookaside: tuple[Path, str], tmp_path: Path) -> None:
    root, url = http_lookaside
    ours = generate_key("ours <ours@example.com>", algorithm="nistp256")
    image = f"quay.io/okd/scos-release@{DIGEST}"
    sign_release(image, generate_key("other <o@example.com>", algorithm="ed25519"), lookaside=root / "sigs")
    sign_release(image, ours, lookaside=root / "sigs")  # signature-2
    registries_d = tmp_path / "registries.d"
    registries_d.mkdir()
    (registries_d / "okd.yaml").write_text(f"default-docker:\n  lookaside: {url}\n")
    source = ImageSignatures(load_registries_d(registries_d))
    assert len(source.simple_signatures(DockerName.parse(image), DIGEST)) == 2
    key_data = base64.b64encode(ours.export_public().encode()).decode()
    policy = parse_policy(
        policy_of({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": key_data}]})
    )
    assert verify_image_against_policy(policy, image, DIGEST, source).allowed
    other = "sha256:" + "cd" * 32
    assert verify_image_against_policy(
        policy, f"quay.io/okd/scos-release@{other}", other, source
    ).reasons == ("A signature was required, but no signature exists",)
    verified = verify_release(image, {"ours": ours.keyring()}, lookaside_dirs=[url])
    assert [s.source for s in verified.signatures] == [
        f"{url}/okd/scos-release@sha256={'ab' * 32}/signature-2"
    ]
    (registries_d / "okd.yaml").write_text("default-docker:\n  lookaside: ftp://example.com/sigs\n")
    with pytest.raises(
        SignatureError, match="unsupported scheme when reading signatures from ftp://example.com/sigs"
    ):
        ImageSignatures(load_registries_d(registries_d)).simple_signatures(DockerName.parse(image), DIGEST)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"critical": {}}', "the signature has the wrong fields (missing optional)"),
        (b'{"critical": {}, "optional": null}', "optional is not a JSON object"),
        (
            b'{"critical": {"type": "atomic container signature"}, "optional": {}}',
            "critical has the wrong fields",
        ),
        (b'{"critical": {}, "optional": {"timestamp": 1.5}}', "Field optional.timestamp is not an integer"),
    ],
)
def test_containers_image_payload_rules(payload: bytes, error: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(error)):
        parse_simple_signing_payload(payload)


def test_containers_image_payload_ignores_unknown_optional_fields() -> None:
    payload = json.dumps(
        {
            "critical": {
                "type": "atomic container signature",
                "image": {"docker-manifest-digest": DIGEST},
                "identity": {"docker-reference": "quay.io/a/b:1"},
            },
            "optional": {"creator": "x", "timestamp": 5.0, "extra": [1]},
        }
    ).encode()
    claim = parse_simple_signing_payload(payload)
    assert (claim.docker_reference, claim.manifest_digest, claim.creator, claim.timestamp) == (
        "quay.io/a/b:1",
        DIGEST,
        "x",
        5,
    )
