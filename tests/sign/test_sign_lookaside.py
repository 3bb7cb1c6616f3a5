"""Signatures where containers/image looks: okdrelease sign --lookaside, then skopeo copy under a policy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from gpg_support import gpg, kill_agent
from imagegen import make_image

from okdrelease import cli
from okdrelease.errors import SignatureError
from okdrelease.sign.lookaside import (
    DockerName,
    LookasideNamespace,
    RegistriesConfig,
    load_registries_d,
    lookaside_signature_url,
)
from okdrelease.sign.openpgp import Keyring
from okdrelease.sign.policy import PolicyChecker, parse_policy
from okdrelease.transport.registry import RegistryRepository


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------- rules


def test_docker_names_expand_as_containers_image_does() -> None:
    busybox = DockerName.parse("busybox:1")
    assert (busybox.name, str(busybox), busybox.policy_identity()) == (
        "docker.io/library/busybox",
        "docker.io/library/busybox:1",
        "docker.io/library/busybox:1",
    )
    assert DockerName.parse("index.docker.io/okd/x@sha256:" + "1" * 64).name == "docker.io/okd/x"
    assert DockerName.parse("quay.example.com:5000/okd/release:4").policy_namespaces() == [
        "quay.example.com:5000/okd/release",
        "quay.example.com:5000/okd",
        "quay.example.com:5000",
        "*.example.com",
        "*.com",
    ]
    with pytest.raises(SignatureError, match="both a tag and a digest"):
        DockerName.parse("quay.io/a/b:1@sha256:" + "1" * 64).policy_identity()


def test_lookaside_path_has_the_repository_path_without_the_host() -> None:
    name = DockerName.parse("quay.io/okd/scos-release:4.99")
    assert (
        lookaside_signature_url("file:///srv/sigs/", name, "sha256:" + "ab" * 32, 2)
        == f"file:///srv/sigs/okd/scos-release@sha256={'ab' * 32}/signature-2"
    )
    hub = DockerName.parse("busybox")
    assert lookaside_signature_url("https://x", hub, "sha256:" + "cd" * 32, 1) == (
        f"https://x/library/busybox@sha256={'cd' * 32}/signature-1"
    )


def test_registries_d_most_specific_entry_wins(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "default-docker:\n  lookaside: file:///default\n"
        "docker:\n  quay.io/okd:\n    lookaside: https://okd.example/sigs\n    lookaside-staging: file:///stage\n"
        "    use-sigstore-attachments: true\n"
    )
    (tmp_path / "b.yaml").write_text(
        "docker:\n  quay.io/okd/scos-release:4.99:\n    sigstore: https://tag.example\n"
        "  '*.example.com':\n    lookaside: https://wild.example\n"
    )
    (tmp_path / "ignored.yml").write_text("docker: [not read]\n")
    config = load_registries_d(tmp_path)
    tagged = DockerName.parse("quay.io/okd/scos-release:4.99")
    other = DockerName.parse("quay.io/okd/other@sha256:" + "1" * 64)
    assert config.lookaside_base(tagged) == "https://tag.example"
    assert config.lookaside_base(other) == "https://okd.example/sigs"
    assert config.lookaside_base(other, write=True) == "file:///stage"
    assert config.lookaside_base(DockerName.parse("reg.example.com/x:1")) == "https://wild.example"
    assert config.lookaside_base(DockerName.parse("elsewhere.io/x:1")) == "file:///default"
    assert config.use_sigstore_attachments(other) is True
    assert config.use_sigstore_attachments(DockerName.parse("elsewhere.io/x:1")) is False
    (tmp_path / "c.yaml").write_text("docker:\n  quay.io/okd:\n    lookaside: file:///again\n")
    with pytest.raises(
        SignatureError, match=r'"docker" namespace \'quay.io/okd\' defined both in .*a.yaml and .*c.yaml'
    ):
        load_registries_d(tmp_path)


def test_no_registries_d_means_the_builtin_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_registries_d(tmp_path / "missing")
    assert config == RegistriesConfig()
    expected = (
        "file:///var/lib/containers/sigstore"
        if os.geteuid() == 0
        else (tmp_path / ".local/share/containers/sigstore").as_uri()
    )
    assert config.lookaside_base(DockerName.parse("quay.io/a/b:1")) == expected
    assert LookasideNamespace(lookaside="x").top_level(write=True) == "x"


# --------------------------------------------------------------------------------------------- skopeo


def _keys(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, algorithm: str) -> Path:
    out = tmp_path / name
    code, _, err = run(
        capsys, "keys", "generate", "--pgp", "--name", f"{name} <{name}@example.com>",
        "--algorithm", algorithm, "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    return out


def _skopeo_copy(source: str, config: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "skopeo",
            "--registries.d",
            str(config / "registries.d"),
            "--policy",
            str(config / "policy.json"),
            "copy",
            "--src-tls-verify=false",
            f"docker://{source}",
            f"dir:{dest}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, HOME=str(config)),
    )


def _split_config(out: str) -> tuple[list[str], str, str]:
    """The result lines, the registries.d file and the policy.json that ``sign --lookaside`` printed."""
    result, _, rest = out.partition("# registries.d file")
    registries, _, policy = rest.partition("\n# policy.json")
    return result.splitlines(), registries.partition("\n")[2], policy.partition("\n")[2]


def test_skopeo_pulls_only_what_the_policy_key_signed(
    loopback_repo: tuple[str, RegistryRepository], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, repository = loopback_repo
    path = name.partition("/")[2]
    signed = make_image(repository, "4.99", seed=f"{name}-signed", labels={"io.openshift.release": "4.99"})
    unsigned = make_image(repository, "unsigned", seed=f"{name}-unsigned")
    foreign = make_image(repository, "foreign", seed=f"{name}-foreign")
    ours, theirs = _keys(tmp_path, capsys, "ours", "ed25519"), _keys(tmp_path, capsys, "theirs", "nistp256")
    lookaside = tmp_path / "lookaside"
    code, out, err = run(
        capsys,
        "sign",
        "--key",
        str(ours / "secret.asc"),
        "--lookaside",
        str(lookaside),
        f"{name}@{signed.digest}",
    )
    assert code == 0, err
    lines, registries_d, policy = _split_config(out)
    signature = lookaside / f"{path}@sha256={signed.digest.split(':')[1]}" / "signature-1"
    assert lines[1:] == [f"Lookaside signature written to {signature}"]
    assert yaml.safe_load(registries_d) == {
        "docker": {name: {"lookaside": lookaside.as_uri(), "lookaside-staging": lookaside.as_uri()}}
    }
    requirement = json.loads(policy)["transports"]["docker"][name][0]
    assert (requirement["type"], requirement["keyType"], requirement["signedIdentity"]) == (
        "signedBy",
        "GPGKeys",
        {"type": "matchRepository"},
    )
    assert json.loads(policy)["default"] == [{"type": "reject"}]
    code, _, err = run(
        capsys,
        "sign",
        "--key",
        str(theirs / "secret.asc"),
        "--lookaside",
        str(lookaside),
        f"{name}@{foreign.digest}",
    )
    assert code == 0, err
    config = tmp_path / "containers"
    (config / "registries.d").mkdir(parents=True)
    (config / "registries.d" / "okdrelease.yaml").write_text(registries_d)
    (config / "policy.json").write_text(policy)

    for source in (f"{name}@{signed.digest}", f"{name}:4.99"):
        pulled = _skopeo_copy(source, config, tmp_path / source.replace("/", "_"))
        assert pulled.returncode == 0, pulled.stderr
        assert (tmp_path / source.replace("/", "_") / "manifest.json").read_bytes() == signed.manifest
    refused = _skopeo_copy(f"{name}:unsigned", config, tmp_path / "unsigned")
    assert refused.returncode != 0
    assert "A signature was required, but no signature exists" in refused.stderr
    refused = _skopeo_copy(f"{name}:foreign", config, tmp_path / "foreign")
    assert refused.returncode != 0
    theirs_fingerprint = Keyring.from_bytes((theirs / "public.asc").read_bytes()).fingerprints[0]
    assert "Source image rejected: Invalid GPG signature" in refused.stderr
    assert theirs_fingerprint in refused.stderr
    assert not (tmp_path / "unsigned" / "manifest.json").exists()

    # okdrelease reads the same store back.
    code, out, err = run(
        capsys,
        "verify",
        "--keyring",
        str(ours / "public.asc"),
        "--lookaside",
        str(lookaside),
        f"{name}@{signed.digest}",
    )
    assert code == 0, err
    assert out.endswith(f"from {signature}\n")
    code, _, err = run(
        capsys,
        "verify",
        "--keyring",
        str(ours / "public.asc"),
        "--lookaside",
        str(lookaside),
        f"{name}@{foreign.digest}",
    )
    assert code == 1 and "invalid signature: unknown signing key" in err
    del unsigned


def test_lookaside_url_and_key_path_in_the_printed_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = _keys(tmp_path, capsys, "ours", "ed25519")
    digest = "sha256:" + "4d" * 32
    code, out, err = run(
        capsys, "sign", "--key", str(ours / "secret.asc"), "--lookaside", str(tmp_path / "store"),
        "--lookaside-url", "https://sigs.example.com/okd", "--policy-key-path", "/etc/pki/okd.gpg",
        f"quay.io/okd/scos-release@{digest}",
    )  # fmt: skip
    assert code == 0, err
    _, registries_d, policy = _split_config(out)
    assert yaml.safe_load(registries_d) == {
        "docker": {
            "quay.io/okd/scos-release": {
                "lookaside": "https://sigs.example.com/okd",
                "lookaside-staging": (tmp_path / "store").as_uri(),
            }
        }
    }
    assert json.loads(policy) == {
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {
                "quay.io/okd/scos-release": [
                    {
                        "type": "signedBy",
                        "keyType": "GPGKeys",
                        "keyPath": "/etc/pki/okd.gpg",
                        "signedIdentity": {"type": "matchRepository"},
                    }
                ]
            }
        },
    }
    code, _, err = run(capsys, "sign", "--key", str(ours / "secret.asc"), "--lookaside-url", "https://x",
                       "--signature-dir", str(tmp_path / "s"), f"quay.io/okd/scos-release@{digest}")  # fmt: skip
    assert (code, err) == (2, "error: --lookaside-url and --policy-key-path go with --lookaside\n")


def test_okdrelease_reads_what_skopeo_sign_by_writes(
    loopback_repo: tuple[str, RegistryRepository], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other direction: skopeo copy --sign-by (gpgme) writes a lookaside; okdrelease finds and verifies it."""
    name, repository = loopback_repo
    image = make_image(repository, "src", seed=f"{name}-skopeo-signed")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    uid = "Skopeo Signer <skopeo@example.com>"
    try:
        made = gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
        assert made.returncode == 0, made.stderr.decode()
        public = tmp_path / "skopeo.gpg"
        public.write_bytes(gpg(home, "--export", uid).stdout)
        fingerprint = Keyring.from_bytes(public.read_bytes()).fingerprints[0]
        store = tmp_path / "staging"
        registries_d = tmp_path / "registries.d"
        registries_d.mkdir()
        (registries_d / "t.yaml").write_text(f"docker:\n  {name}:\n    lookaside: {store.as_uri()}\n")
        copied = subprocess.run(
            [
                "skopeo", "--registries.d", str(registries_d), "--insecure-policy", "copy",
                "--src-tls-verify=false", "--dest-tls-verify=false", "--sign-by", fingerprint,
                f"docker://{name}:src", f"docker://{name}:signed",
            ],
            capture_output=True, text=True, timeout=120, check=False,
            env=dict(os.environ, GNUPGHOME=str(home)),
        )  # fmt: skip
        assert copied.returncode == 0, copied.stderr
    finally:
        kill_agent(home)
    signature = store / f"{name.partition('/')[2]}@sha256={image.digest.split(':')[1]}" / "signature-1"
    assert signature.is_file()
    code, out, err = run(
        capsys, "verify", "--keyring", str(public), "--lookaside", str(store), f"{name}@{image.digest}"
    )
    assert code == 0, err
    assert f"(key {fingerprint}), identity {name}:signed, from {signature}\n" in out
    checker = PolicyChecker(
        parse_policy(
            json.dumps(
                {"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(public)}]}
            ).encode()
        ),
        load_registries_d(registries_d),
    )
    assert checker.verdict(f"{name}:signed", image.digest).allowed
    assert checker.verdict(f"{name}:src", image.digest).reasons == (
        f'Signature for identity "{name}:signed" is not accepted',
    )
