"""Hostile-input corpus, part 2 (issue 11.3): the signature, policy, layout and mirror readers are bounded.

An alias bomb and 100,000-deep nesting into each reader of YAML or JSON that is not parsed the Go way
(verification and signature ConfigMaps, registries.d, policy.json, an OCI layout's index.json, a
release's manifests read by ``mirror``) end in one error line naming the file, exit 1, no traceback;
the same cases run again in one child process under a 1 GiB address-space limit.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_hostile_inputs import DEEP, DEEP_JSON, DEEP_YAML_FLOW, alias_bomb, run_limited
from test_release_extract import image_references, payload_layer, write_image

from okdrelease import cli
from okdrelease.gocompat.yamlbounds import EXCESSIVE_ALIASING, MAX_DEPTH, json_loads, safe_load, safe_load_all

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "containers-image-signature"
DIGEST = "sha256:" + "5e" * 32
TOO_DEEP = f"exceeded max depth of {MAX_DEPTH}"
CONFIGMAP = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x, namespace: y}\n"
BOMBS = {
    # The bomb sits where the readers walk: a ConfigMap's data, a registries.d namespace.
    "alias-bomb": (CONFIGMAP + alias_bomb() + "data: *a8\ndocker: {x: *a8}\n", EXCESSIVE_ALIASING),
    "deep-flow": (DEEP_YAML_FLOW, TOO_DEEP),
    "deep-block": ("- " * DEEP + "x\n", TOO_DEEP),
    "deep-json": (DEEP_JSON, TOO_DEEP),
}
POLICY = '{"default": [{"type": "insecureAcceptAnything"}]}'
Case = tuple[list[str], str]


def _verification_configmap(path: Path, text: str) -> Case:
    path.write_text(text)
    return (
        ["verify", "--verification-configmap", str(path), DIGEST],
        f"error: {path} is not valid JSON or YAML: ",
    )


def _signature_configmap(path: Path, text: str) -> Case:
    path.write_text(text)
    keyring = str(FIXTURES / "public-key.gpg")
    return (
        ["verify", "--keyring", keyring, "--configmap", str(path), DIGEST],
        f"error: {path} is not valid JSON or YAML: ",
    )


def _registries_d(path: Path, text: str) -> Case:
    path.mkdir()
    (path / "hostile.yaml").write_text(text)
    (path.parent / "policy.json").write_text(POLICY)
    return (
        [
            "verify",
            "--policy",
            str(path.parent / "policy.json"),
            "--registries.d",
            str(path),
            "quay.io/x/y:1",
        ],
        f"error: {path / 'hostile.yaml'} is not valid YAML: ",
    )


READERS: dict[str, Callable[[Path, str], Case]] = {
    "verification-configmap": _verification_configmap,
    "signature-configmap": _signature_configmap,
    "registries.d": _registries_d,
}
CASES = [(reader, bomb) for reader in READERS for bomb in BOMBS]


def _case(tmp_path: Path, reader: str, bomb: str) -> tuple[list[str], str]:
    text, why = BOMBS[bomb]
    argv, prefix = READERS[reader](tmp_path / f"{reader}-{bomb}", text)
    return argv, prefix + why


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("reader", "bomb"), CASES)
def test_signature_readers_refuse_bombs(reader: str, bomb: str, tmp_path: Path) -> None:
    argv, expected = _case(tmp_path, reader, bomb)
    assert _run(argv) == (1, "", expected + "\n")


@pytest.mark.parametrize(
    "text", [DEEP_JSON, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)], ids=["deep", "201"]
)
def test_policy_json_refuses_deep_nesting(text: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(text)
    argv = ["verify", "--policy", str(policy), "--registries.d", str(tmp_path), "quay.io/x/y:1"]
    assert _run(argv) == (1, "", f"error: policy {policy} is not valid JSON: {TOO_DEEP}\n")


def _layout_with_index(root: Path, index: str) -> Path:
    root.mkdir()
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(index)
    return root


def test_layout_index_refuses_deep_nesting(tmp_path: Path) -> None:
    root = _layout_with_index(tmp_path / "layout", DEEP_JSON)
    assert _run(["info", f"oci:{root}:x"]) == (
        1,
        "",
        f"error: malformed {root / 'index.json'}: {TOO_DEEP}\n",
    )


def _mirror_case(root: Path, text: str) -> Case:
    refs = image_references("4.99.0", [])
    digest = write_image(
        root, "r", [payload_layer({"image-references": refs, "0000_90_hostile.yaml": text.encode()})]
    )
    return (
        ["mirror", "--from", f"oci:{root}:r", "--to-dir", str(root.parent / "out"), "--dry-run"],
        "warning: No release authenticity verification is configured, signatures are carried unverified\n"
        f"error: no signatures of the release {digest} found "
        "(no signature store given (--signature-dir, --signature-store))",
    )


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_mirror_passes_over_a_hostile_release_manifest(bomb: str, tmp_path: Path) -> None:
    """oc collects manifest parse errors without failing; mirror passes over the file (no verifier in it)."""
    argv, expected = _mirror_case(tmp_path / "layout", BOMBS[bomb][0])
    assert _run(argv) == (1, "", expected + "\n")
    assert not (tmp_path / "out").exists()


def test_bounded_helpers_read_what_the_plain_ones_do() -> None:
    text = "a: &x {b: [1, 2.5, yes, null, '2024-01-01']}\nc: *x\n"
    assert safe_load(text) == {
        "a": {"b": [1, 2.5, True, None, "2024-01-01"]},
        "c": {"b": [1, 2.5, True, None, "2024-01-01"]},
    }
    assert safe_load_all("a: 1\n---\n- 2\n---\n") == [{"a": 1}, [2], None]
    assert json_loads(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    with pytest.raises(ValueError, match=TOO_DEEP):
        json_loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


_CHILD = """
import contextlib, io, json, sys
from okdrelease import cli
results = []
for argv in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    results.append([code, out.getvalue(), err.getvalue()])
json.dump(results, sys.stdout)
"""


def run_under_one_gib(argvs: list[list[str]]) -> list[tuple[int, str, str]]:
    """Run ``cli.main`` on each argv in one child process limited to 1 GiB of address space: (exit, stdout, stderr)."""
    done = run_limited(["-c", _CHILD], timeout=300, stdin=json.dumps(argvs))
    assert (done.returncode, done.stderr) == (0, "")
    return [(code, out, err) for code, out, err in json.loads(done.stdout)]


def test_every_reader_under_one_gib(tmp_path: Path) -> None:
    """All of the above in one child process limited to 1 GiB of address space: the same exact errors."""
    cases = [_case(tmp_path, reader, bomb) for reader, bomb in CASES]
    policy = tmp_path / "deep-policy.json"
    policy.write_text(DEEP_JSON)
    cases.append(
        (
            ["verify", "--policy", str(policy), "--registries.d", str(tmp_path), "quay.io/x/y:1"],
            f"error: policy {policy} is not valid JSON: {TOO_DEEP}",
        )
    )
    root = _layout_with_index(tmp_path / "deep-layout", DEEP_JSON)
    cases.append((["info", f"oci:{root}:x"], f"error: malformed {root / 'index.json'}: {TOO_DEEP}"))
    cases += [_mirror_case(tmp_path / f"mirror-{bomb}", BOMBS[bomb][0]) for bomb in BOMBS]
    results = run_under_one_gib([argv for argv, _ in cases])
    assert results == [(1, "", expected + "\n") for _, expected in cases]
