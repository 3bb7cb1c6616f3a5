"""Signature stores: directories, HTTP(S) lookaside on loopback, signature and verification ConfigMaps."""

from __future__ import annotations

import base64
import http.server
import json
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sign_support import StoreHandler

from okdrelease.errors import SignatureError
from okdrelease.sign import store
from okdrelease.sign.api import sign_release, verify_release
from okdrelease.sign.openpgp import Keyring, SecretKey, generate_key

HEX = "1a2b3c4d5e6f7a8b" + "0" * 48
DIGEST = f"sha256:{HEX}"


def test_dir_store_next_free_n_and_reading(tmp_path: Path) -> None:
    paths = [store.write_signature_to_dir(tmp_path, DIGEST, f"sig{i}".encode()) for i in range(1, 4)]
    assert paths == [tmp_path / f"sha256={HEX}" / f"signature-{i}" for i in range(1, 4)]
    assert store.write_signature_to_dir(tmp_path, DIGEST, b"sig2") == paths[1]  # same bytes: not duplicated
    assert store.read_signatures_from_dir(tmp_path, DIGEST) == [b"sig1", b"sig2", b"sig3"]
    paths[1].unlink()
    assert store.read_signatures_from_dir(tmp_path, DIGEST) == [b"sig1"]  # stops at the first gap
    assert store.write_signature_to_dir(tmp_path, DIGEST, b"new") == paths[1]


def test_dir_store_holds_at_most_nine(tmp_path: Path) -> None:
    for i in range(9):
        store.write_signature_to_dir(tmp_path, DIGEST, bytes([i]))
    assert len(store.read_signatures_from_dir(tmp_path, DIGEST)) == 9
    (tmp_path / f"sha256={HEX}" / "signature-10").write_bytes(b"never read")
    assert len(store.read_signatures_from_dir(tmp_path, DIGEST)) == 9
    with pytest.raises(SignatureError, match="already holds 9 signatures"):
        store.write_signature_to_dir(tmp_path, DIGEST, b"tenth")


class _Handler(StoreHandler):
    pass


@pytest.fixture
def http_store() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"responses": {}, "seen": [], "authorization": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sigs", handler
    finally:
        server.shutdown()
        server.server_close()


def test_http_store_404_stops_errors_continue_empty_skipped(http_store: tuple[str, type[_Handler]]) -> None:
    url, handler = http_store
    base = f"/sigs/sha256={HEX}"
    handler.responses.update(
        {
            f"{base}/signature-1": (200, b"one"),
            f"{base}/signature-2": (500, b"boom"),
            f"{base}/signature-3": (200, b""),
            f"{base}/signature-4": (200, b"x" * (60 * 1024)),
        }
    )
    result = store.read_signatures_from_url(url + "/", DIGEST)
    assert result.signatures == (b"one", b"x" * (50 * 1024))
    assert result.errors == (f"{url}{base[len('/sigs') :]}/signature-2: HTTP 500",)
    assert handler.seen == [f"{base}/signature-{i}" for i in range(1, 6)]


def test_http_store_probes_only_one_to_nine(http_store: tuple[str, type[_Handler]]) -> None:
    url, handler = http_store
    handler.responses.update({f"/sigs/sha256={HEX}/signature-{i}": (200, b"s%d" % i) for i in range(1, 12)})
    assert len(store.read_signatures_from_url(url, DIGEST).signatures) == 9
    assert handler.seen[-1] == f"/sigs/sha256={HEX}/signature-9"


def test_file_url_and_bad_scheme(tmp_path: Path) -> None:
    store.write_signature_to_dir(tmp_path, DIGEST, b"sig")
    assert store.read_signatures_from_url(tmp_path.as_uri(), DIGEST).signatures == (b"sig",)
    with pytest.raises(SignatureError, match="must be a URL with scheme file://, http://, or https://"):
        store.read_signatures_from_url("ftp://example.com/x", DIGEST)


def test_signature_configmap_file_exact(tmp_path: Path) -> None:
    path = store.write_signature_configmap(tmp_path / "config", DIGEST, [b"\x01\x02", b"\x03"])
    assert path == tmp_path / "config" / "signature-sha256-1a2b3c4d5e6f7a8b.json"
    name = f"sha256-{HEX}"
    expected = (
        '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"NAME","namespace":"openshift-config-managed",'
        '"labels":{"release.openshift.io/verification-signatures":""}},"binaryData":{"NAME-1":"AQI=","NAME-2":"Aw=="}}\n'
    )
    assert path.read_bytes() == expected.replace("NAME", name).encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert store.read_signature_configmap(path.read_bytes(), DIGEST) == [b"\x01\x02", b"\x03"]


def test_signature_configmap_reader_accepts_any_suffix() -> None:
    name = f"sha256-{HEX}"
    document = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "signatures-managed", "namespace": "openshift-config-managed"},
        "binaryData": {
            f"{name}-10": base64.b64encode(b"ten").decode(),
            f"{name}-0": base64.b64encode(b"zero").decode(),
            f"{name}-2": base64.b64encode(b"two").decode(),
            "sha256-" + "f" * 64 + "-1": base64.b64encode(b"other").decode(),
        },
    }
    assert store.read_signature_configmap(yaml.safe_dump(document).encode(), DIGEST) == [
        b"zero",
        b"two",
        b"ten",
    ]
    with pytest.raises(SignatureError, match="^x is not a ConfigMap$"):
        store.read_signature_configmap(b"kind: Secret\n", DIGEST, "x")


@pytest.fixture(scope="module")
def key() -> SecretKey:
    return generate_key("store test <store@example.com>", bits=2048)


def test_verification_configmap_yaml(key: SecretKey) -> None:
    text = store.verification_configmap_yaml(
        {"okd": key.export_public()}, {"okd": "https://example.com/sigs"}
    )
    document = yaml.safe_load(text)
    assert document["kind"] == "ConfigMap" and document["apiVersion"] == "v1"
    assert document["metadata"]["name"] == "release-verification"
    assert document["metadata"]["namespace"] == "openshift-config-managed"
    assert document["metadata"]["annotations"]["release.openshift.io/verification-config-map"] == ""
    assert document["data"] == {
        "verifier-public-key-okd": key.export_public(),
        "store-okd": "https://example.com/sigs",
    }
    assert "verifier-public-key-okd: |\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n" in text
    config = store.read_verification_configmap(text.encode())
    assert Keyring.from_bytes(config.keyrings["okd"]).fingerprints == [key.fingerprint]
    assert config.stores == {"okd": "https://example.com/sigs"}


def test_verification_configmap_errors(key: SecretKey) -> None:
    with pytest.raises(
        SignatureError, match='has an invalid key "store-x": must be a valid URL with scheme file://'
    ):
        store.verification_configmap({"k": key.export_public()}, {"x": "quay.io/no-scheme"})
    only_key = {
        "kind": "ConfigMap",
        "metadata": {"name": "v", "namespace": "n"},
        "data": {"verifier-public-key-a": "x"},
    }
    with pytest.raises(
        SignatureError,
        match=r"^configmap n/v \(f\) did not provide any signature stores to read from and cannot be used$",
    ):
        store.read_verification_configmap(json.dumps(only_key).encode(), "f")
    only_store = {
        "kind": "ConfigMap",
        "metadata": {"name": "v", "namespace": "n"},
        "data": {"store-a": "file:///x"},
    }
    with pytest.raises(SignatureError, match="did not provide any GPG public keys to verify signatures from"):
        store.read_verification_configmap(json.dumps(only_store).encode(), "f")


def test_verify_from_http_store_and_configmap(
    key: SecretKey, tmp_path: Path, http_store: tuple[str, type[_Handler]]
) -> None:
    url, handler = http_store
    result = sign_release(
        f"quay.io/okd/scos-release@{DIGEST}", key, signature_dir=tmp_path / "s", configmap_dir=tmp_path / "c"
    )
    handler.responses[f"/sigs/sha256={HEX}/signature-1"] = (200, result.signature)
    via_http = verify_release(DIGEST, {"k": key.keyring()}, store_urls=[url])
    assert [s.source for s in via_http.signatures] == [f"{url}/sha256={HEX}/signature-1"]
    assert result.configmap_path is not None
    via_cm = verify_release(
        f"quay.io/x/y@{DIGEST}", {"k": key.keyring()}, configmap_files=[result.configmap_path]
    )
    assert via_cm.signatures[0].signer_fingerprint == key.fingerprint
    with pytest.raises(
        SignatureError,
        match=r"unable to verify sha256:[0-9a-f]+ against keyrings: k\n\* no signatures found$",
    ):
        verify_release("sha256:" + "9" * 64, {"k": key.keyring()}, store_urls=[url])


def test_library_store_warning_prints_nothing_without_a_handler(
    http_store: tuple[str, type[_Handler]],
) -> None:
    """A library caller that configured no logging gets the store's error in the result and nothing on
    stderr (before, logging's last resort printed ``signature store: …`` there)."""
    url, handler = http_store
    handler.responses[f"/sigs/sha256={HEX}/signature-1"] = (500, b"boom")
    code = (
        "import sys\n"
        "from okdrelease.sign import store\n"
        f"result = store.read_signatures_from_url({url!r}, {DIGEST!r})\n"
        "print(result.errors)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == repr((f"{url}/sha256={HEX}/signature-1: HTTP 500",)) + "\n"
