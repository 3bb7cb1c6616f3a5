"""Names in ``keys configmap`` and ``verify``: no key or store is ever dropped by a name clash, and
ConfigMap names Kubernetes would refuse are refused (hunt2 #6)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sign_support import run_cli as run

from okdrelease.sign.api import sign_release
from okdrelease.sign.openpgp import SecretKey, generate_key

HEX = "3d" * 32
DIGEST = f"sha256:{HEX}"
IMAGE = f"quay.io/okd/scos-release@{DIGEST}"


pytestmark = pytest.mark.usefixtures("signature_commands_only")


@pytest.fixture(scope="module")
def keys() -> tuple[SecretKey, SecretKey]:
    return (
        generate_key("one <one@example.com>", algorithm="ed25519"),
        generate_key("two <two@example.com>", algorithm="ed25519"),
    )


@pytest.fixture
def public_files(keys: tuple[SecretKey, SecretKey], tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "k1.asc", tmp_path / "k2.asc"
    first.write_text(keys[0].export_public())
    second.write_text(keys[1].export_public())
    return first, second


@pytest.mark.parametrize(
    ("first", "second", "name"),
    [("a", "a", "a"), ("a b", "a-b", "a-b"), ("x/y", "x?y", "x-y")],
)
def test_keys_configmap_refuses_two_keyrings_of_one_name(
    public_files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    first: str,
    second: str,
    name: str,
) -> None:
    """Before: rc 0 and only ``verifier-public-key-NAME`` of the second file in ``data``."""
    k1, k2 = public_files
    code, out, err = run(
        capsys,
        "keys",
        "configmap",
        "--keyring",
        f"{first}={k1}",
        "--keyring",
        f"{second}={k2}",
        "--store",
        "https://x",
    )
    assert (code, out) == (2, "")
    assert err == (
        f"error: --keyring '{first}={k1}' and --keyring '{second}={k2}' both get the name '{name}'; give each"
        " its own NAME= (a ConfigMap holds one entry per name)\n"
    )


def test_keys_configmap_refuses_two_stores_of_one_name(
    public_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "keys",
        "configmap",
        "--keyring",
        str(public_files[0]),
        "--store",
        "s=https://a",
        "--store",
        "s=https://b",
    )
    assert (code, out) == (2, "")
    assert err == (
        "error: --store 's=https://a' and --store 's=https://b' both get the name 's'; give each its own NAME="
        " (a ConfigMap holds one entry per name)\n"
    )
    # unnamed ones are numbered, and distinct names are all kept
    k1, k2 = public_files
    code, out, err = run(
        capsys, "keys", "configmap", "--keyring", str(k1), "--keyring", str(k2), "--store", "https://a"
    )
    assert (code, err) == (0, "")
    data = yaml.safe_load(out)["data"]
    assert data == {
        "verifier-public-key-okdrelease-1": k1.read_text(),
        "verifier-public-key-okdrelease-2": k2.read_text(),
        "store-okdrelease": "https://a",
    }


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--name",
            "Bad Name!",
            "invalid ConfigMap name 'Bad Name!': lower case letters, digits, '-' and '.', starting and ending with"
            " a letter or digit, at most 253 characters (a Kubernetes object name)",
        ),
        (
            "--namespace",
            "",
            "invalid namespace '': lower case letters, digits and '-', starting and ending with a letter or"
            " digit, at most 63 characters (a Kubernetes namespace)",
        ),
        (
            "--namespace",
            "a.b",
            "invalid namespace 'a.b': lower case letters, digits and '-', starting and ending with a letter or"
            " digit, at most 63 characters (a Kubernetes namespace)",
        ),
    ],
)
def test_keys_configmap_refuses_names_kubernetes_refuses(
    public_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    """Before: accepted, a manifest the API server rejects."""
    code, out, err = run(
        capsys, "keys", "configmap", "--keyring", str(public_files[0]), "--store", "https://a", flag, value
    )
    assert (code, out, err) == (2, "", f"error: {message}\n")


def test_verify_numbers_a_name_met_again_and_drops_no_keyring(
    keys: tuple[SecretKey, SecretKey],
    public_files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: ``--keyring a=K1 --keyring a=K2 --keyring a-2=K1`` named K2 ``a-2`` and then replaced
    it by the third: K2 was no longer required. And a --verification-configmap key of the same name
    replaced a --keyring."""
    k1, k2 = public_files
    sigs = tmp_path / "sigs"
    sign_release(IMAGE, keys[0], signature_dir=sigs)
    code, out, err = run(
        capsys,
        "verify",
        "--keyring",
        f"a={k1}",
        "--keyring",
        f"a={k2}",
        "--keyring",
        f"a-2={k1}",
        "--signature-dir",
        str(sigs),
        IMAGE,
    )
    assert (code, out) == (1, "")
    assert err.startswith(f"error: unable to verify {DIGEST} against keyrings: a-2\n")
    configmap = tmp_path / "cm.yaml"
    assert (
        run(
            capsys,
            "keys",
            "configmap",
            "--keyring",
            f"a={k2}",
            "--store",
            sigs.as_uri(),
            "-o",
            str(configmap),
        )[0]
        == 0
    )
    code, out, err = run(
        capsys, "verify", "--keyring", f"a={k1}", "--verification-configmap", str(configmap), IMAGE
    )
    assert (code, out) == (1, "")
    assert err.startswith(f"error: unable to verify {DIGEST} against keyrings: a-2\n")
