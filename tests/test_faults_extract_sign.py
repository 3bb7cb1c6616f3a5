"""Fault matrix, second half: ``extract``, and ``sign``/``verify`` with the registry signature store.

okdrelease's signature store in a registry is cosign's: the signatures of ``REPO@sha256:HEX`` live
in the manifest tagged ``sha256-HEX.sig`` beside the image (payload blob, config blob, manifest).
Each transient fault (one occurrence) ends in the exact result of a clean run; each permanent
fault (every occurrence) in exit 1 and one ``error:`` line naming what failed, after retries + 1
attempts of the failing request and within ``PERMANENT_BOUND`` seconds, with nothing half-written
(no files extracted, no ``.sig`` tag). Same flags as ``test_faults``: ``--retry-times 2``,
``--timeout 20s`` (1 s against a 6 s stall).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import build_image, push_image
from registry_rig import RegistryInfo, RepoNamer
from test_faults import (
    RELEASE,
    RETRIES,
    cli,
    flags,
    new_args,
    one_error_line,
    rule,
)
from test_faults_refetch import PERMANENT_BOUND, tree
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.errors import NotFoundError
from okdrelease.oci.digest import sha256_digest
from okdrelease.sign import cosign
from okdrelease.transport.client import RegistryClient

# --------------------------------------------------------------------------------------------
# extract


@pytest.fixture(scope="module")
def extract_release(registry_http: RegistryInfo) -> str:
    """The sample release pushed straight to the registry as okd/faults-extract:TAG."""
    host = registry_http.host
    assert main([*new_args(f"{host}/okd/faults-extract:{RELEASE}"), "--insecure-registry", host, "-q"]) == 0
    return f"okd/faults-extract:{RELEASE}"


def _extract(
    capsys: pytest.CaptureFixture[str], proxy: FaultProxy, image: str, fault: str, out: Path
) -> tuple[int, str, str]:
    return cli(
        capsys,
        "extract",
        *flags(fault),
        "--insecure-registry",
        proxy.host,
        "--to",
        str(out),
        f"{proxy.host}/{image}",
    )


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("/manifests/", "reset-body"),
        ("/manifests/", "flip"),
        ("/manifests/", "503"),
        ("/blobs/", "reset"),
        ("/blobs/", "reset-body"),
        ("/blobs/", "truncate"),
        ("/blobs/", "flip"),
        ("/blobs/", "stall"),
        ("/blobs/", "429"),
    ],
)
def test_extract_survives_one_fault(
    proxy: FaultProxy,
    extract_release: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: str,
    fault: str,
) -> None:
    code, clean, err = _extract(capsys, proxy, extract_release, fault, tmp_path / "clean")
    assert code == 0, err
    proxy.clear()
    injected = proxy.add(rule("GET", path, fault)).rules[0]
    code, out, err = _extract(capsys, proxy, extract_release, fault, tmp_path / "faulted")
    assert (code, out) == (0, clean), err
    assert injected.injected == 1
    assert tree(tmp_path / "faulted") == tree(tmp_path / "clean") != {}
    first = proxy.seen("GET", path)[0].path
    assert proxy.count("GET", re.escape(first) + "$") == 2


@pytest.mark.parametrize(
    ("path", "fault", "expected"),
    [
        ("/manifests/", "503", "HTTP 503 (FAULT: injected)"),
        ("/blobs/", "flip", "does not match its digest"),
        ("/blobs/", "reset", "Connection reset by peer"),
        ("/blobs/", "stall", "timed out"),
    ],
)
def test_extract_permanent_fault_is_one_clear_line(
    proxy: FaultProxy,
    extract_release: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: str,
    fault: str,
    expected: str,
) -> None:
    proxy.add(rule("GET", path, fault, times=None))
    started = time.monotonic()
    code, out, err = _extract(capsys, proxy, extract_release, fault, tmp_path / "out")
    assert time.monotonic() - started < PERMANENT_BOUND
    assert (code, out) == (1, "")
    line = one_error_line(err)
    first = proxy.seen("GET", path)[0].path
    assert first.rsplit("/", 1)[1] in line and expected in line
    if path == "/blobs/":
        assert f"{proxy.host}/okd/faults-extract" in line
    assert proxy.count("GET", re.escape(first) + "$") == RETRIES + 1
    assert not (tmp_path / "out").exists() or tree(tmp_path / "out") == {}


# --------------------------------------------------------------------------------------------
# sign and verify: cosign signatures in the registry (sha256-<hex>.sig beside the image)


@pytest.fixture(scope="module")
def cosign_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(encrypted private key, public key, passphrase file)."""
    root = tmp_path_factory.mktemp("cosign-keys")
    key = cosign.generate_private_key()
    (root / "cosign.key").write_bytes(cosign.encrypt_private_key(key, "pw"))
    (root / "cosign.pub").write_bytes(cosign.public_key_pem(key))
    (root / "pass").write_text("pw")
    return root / "cosign.key", root / "cosign.pub", root / "pass"


def _image(info: RegistryInfo, name: str, seed: str) -> str:
    """A small image pushed straight to the registry as NAME:v1; its digest."""
    image = build_image(seed=seed, layers=1, layer_size=256)
    with RegistryClient(options_for(info)) as client:
        return push_image(repo_at(client, info.host, name), image, "v1")


def _sig_tag(digest: str) -> str:
    return f"sha256-{digest.split(':')[1]}.sig"


def _signatures(info: RegistryInfo, name: str, digest: str) -> list[cosign.CosignSignature]:
    """The signatures the registry holds for ``name@digest`` (read straight, not through a proxy)."""
    with RegistryClient(options_for(info)) as client:
        return cosign.read_signatures(repo_at(client, info.host, name), digest)


def _sign(
    capsys: pytest.CaptureFixture[str], keys: tuple[Path, Path, Path], image: str, *extra: str
) -> tuple[int, str, str]:
    key, _pub, passphrase = keys
    return cli(capsys, "sign", *extra, "--cosign-key", str(key), "--passphrase-file", str(passphrase), image)


def _verify(
    capsys: pytest.CaptureFixture[str], keys: tuple[Path, Path, Path], image: str, *extra: str
) -> tuple[int, str, str]:
    return cli(capsys, "verify", *extra, "--cosign-key", str(keys[1]), image)


SIGN_FAULTS = [
    ("HEAD", "/manifests/sha256:", "503"),
    ("GET", r"/manifests/sha256-.*\.sig$", "reset"),
    ("POST", "/blobs/uploads/$", "503"),
    ("PUT", "/blobs/uploads/", "429"),
    ("PUT", "/blobs/uploads/", "reset"),
    ("PUT", "/manifests/sha256-", "503"),
    ("PUT", "/manifests/sha256-", "reset"),
]


@pytest.mark.parametrize(("method", "path", "fault"), SIGN_FAULTS)
def test_sign_survives_one_fault(
    proxy: FaultProxy,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    cosign_keys: tuple[Path, Path, Path],
    capsys: pytest.CaptureFixture[str],
    method: str,
    path: str,
    fault: str,
) -> None:
    name = unique_repo()
    digest = _image(registry_http, name, f"sign-{method}-{fault}")
    injected = proxy.add(rule(method, path, fault)).rules[0]
    image = f"{proxy.host}/{name}@{digest}"
    code, out, err = _sign(capsys, cosign_keys, image, *flags(fault), "--insecure-registry", proxy.host)
    assert code == 0, err
    assert injected.injected == 1
    signatures = _signatures(registry_http, name, digest)
    assert len(signatures) == 1  # a retried push does not add the signature twice
    with RegistryClient(options_for(registry_http)) as client:
        pushed = repo_at(client, registry_http.host, name).resolve(_sig_tag(digest)).digest
    assert out == f"Pushed signature of {digest} to {proxy.host}/{name}:{_sig_tag(digest)} ({pushed})\n"
    claim = cosign.parse_cosign_payload(signatures[0].payload)
    assert (claim.docker_reference, claim.manifest_digest) == (f"{proxy.host}/{name}", digest)
    # The faulted request once more; two blobs (payload, config) go up, one manifest.
    assert proxy.count(method, path) == (3 if path.startswith("/blobs/uploads/") else 2)


def test_sign_permanent_fault_pushes_no_signature_tag(
    proxy: FaultProxy,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    cosign_keys: tuple[Path, Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique_repo()
    digest = _image(registry_http, name, "sign-permanent")
    proxy.add(rule("PUT", "/manifests/sha256-", "503", times=None))
    started = time.monotonic()
    code, out, err = _sign(
        capsys, cosign_keys, f"{proxy.host}/{name}@{digest}", *flags("503"), "--insecure-registry", proxy.host
    )
    assert time.monotonic() - started < PERMANENT_BOUND
    assert (code, out) == (1, "")
    assert one_error_line(err) == (
        f"error: pushing manifest {proxy.host}/{name}:{_sig_tag(digest)}: HTTP 503 (FAULT: injected)"
    )
    assert proxy.count("PUT", "/manifests/sha256-") == RETRIES + 1
    with RegistryClient(options_for(registry_http)) as client, pytest.raises(NotFoundError):
        repo_at(client, registry_http.host, name).resolve(_sig_tag(digest))


@pytest.fixture(scope="module")
def signed(registry_http: RegistryInfo, cosign_keys: tuple[Path, Path, Path]) -> tuple[str, str]:
    """A small image signed straight in the registry: (repository name, digest).

    One per module: the verify tests only read it, through their own proxy.
    """
    name = RepoNamer("verify")()
    digest = _image(registry_http, name, f"verify-{name}")
    host = registry_http.host
    key, _pub, passphrase = cosign_keys
    image = f"{host}/{name}@{digest}"
    argv = [
        "sign",
        "--insecure-registry",
        host,
        "--cosign-key",
        str(key),
        "--passphrase-file",
        str(passphrase),
    ]
    assert main([*argv, image]) == 0
    return name, digest


def _verify_through_fault(
    proxy: FaultProxy,
    signed: tuple[str, str],
    keys: tuple[Path, Path, Path],
    capsys: pytest.CaptureFixture[str],
    fault: tuple[str, str, int | None],
) -> tuple[str, int, str, str]:
    """``verify`` of ``signed`` through ``proxy`` with ``fault`` (path, fault, times) injected into
    GETs: (the signature's payload digest, exit code, stdout, stderr)."""
    name, digest = signed
    payload = _signatures_digest(proxy, name, digest)
    path, kind, times = fault
    proxy.add(rule("GET", path, kind, times=times))
    image = f"{proxy.host}/{name}@{digest}"
    code, out, err = _verify(capsys, keys, image, *flags(kind), "--insecure-registry", proxy.host)
    return payload, code, out, err


VERIFY_FAULTS = [
    (r"/manifests/sha256-.*\.sig$", "reset-body"),
    (r"/manifests/sha256-.*\.sig$", "flip"),
    (r"/manifests/sha256-.*\.sig$", "503"),
    (r"/manifests/sha256-.*\.sig$", "stall"),
    ("/blobs/", "reset"),
    ("/blobs/", "truncate"),
    ("/blobs/", "flip"),
    ("/blobs/", "429"),
]


@pytest.mark.parametrize(("path", "fault"), VERIFY_FAULTS)
def test_verify_survives_one_fault(
    proxy: FaultProxy,
    signed: tuple[str, str],
    cosign_keys: tuple[Path, Path, Path],
    capsys: pytest.CaptureFixture[str],
    path: str,
    fault: str,
) -> None:
    name, digest = signed
    payload, code, out, err = _verify_through_fault(proxy, signed, cosign_keys, capsys, (path, fault, 1))
    assert (code, err) == (0, "")
    assert (
        out
        == f"Verified cosign signature of {digest} (identity {proxy.target.host}/{name}, payload {payload})\n"
    )
    assert [r.injected for r in proxy.rules] == [1]
    assert proxy.count("GET", path) == 2


def _signatures_digest(proxy: FaultProxy, name: str, digest: str) -> str:
    """The payload digest of the one signature of ``name@digest``."""
    (signature,) = _signatures(proxy.target, name, digest)
    return sha256_digest(signature.payload)


@pytest.mark.parametrize(
    ("path", "fault", "expected"),
    [
        (r"/manifests/sha256-.*\.sig$", "503", "HTTP 503 (FAULT: injected)"),
        (r"/manifests/sha256-.*\.sig$", "flip", "does not match the registry's digest"),
        ("/blobs/", "flip", "does not match its digest"),
        ("/blobs/", "reset-body", "connection broken"),
    ],
)
def test_verify_permanent_fault_is_one_clear_line(
    proxy: FaultProxy,
    signed: tuple[str, str],
    cosign_keys: tuple[Path, Path, Path],
    capsys: pytest.CaptureFixture[str],
    path: str,
    fault: str,
    expected: str,
) -> None:
    name, digest = signed
    started = time.monotonic()
    payload, code, out, err = _verify_through_fault(proxy, signed, cosign_keys, capsys, (path, fault, None))
    assert time.monotonic() - started < PERMANENT_BOUND
    assert (code, out) == (1, "")
    line = one_error_line(err)
    assert expected in line
    named = (
        f"{proxy.host}/{name}:{_sig_tag(digest)}" if "manifests" in path else f"{proxy.host}/{name}@{payload}"
    )
    assert named in line
    assert proxy.count("GET", path) == RETRIES + 1


# --------------------------------------------------------------------------------------------
# 401 in the middle of a run (the token expired or was revoked): a new token, and on


def _token_flags(registry_token: RegistryInfo, proxy: FaultProxy, tmp_path: Path) -> tuple[str, ...]:
    auth = tmp_path / "auth.json"
    entry = registry_token.docker_config("alice")["auths"][registry_token.host]
    auth.write_text(json.dumps({"auths": {proxy.host: entry}}))
    return (
        *flags("401"),
        "--insecure-registry",
        proxy.host,
        "--certificate-authority",
        str(registry_token.ca_file),
        "--authfile",
        str(auth),
    )


def test_extract_sign_and_verify_survive_unauthorized_mid_run(
    token_proxy: FaultProxy,
    registry_token: RegistryInfo,
    unique_repo: RepoNamer,
    cosign_keys: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique_repo("alice")
    common = _token_flags(registry_token, token_proxy, tmp_path)
    target = f"{token_proxy.host}/{name}:{RELEASE}"
    code, out, err = cli(capsys, *new_args(target), *common)
    assert code == 0, err
    digest = out.split()[0]
    token_proxy.add(
        Rule("GET", "/blobs/", "unauthorized"),
        Rule("PUT", "/blobs/uploads/", "unauthorized"),
        Rule("PUT", "/manifests/sha256-", "unauthorized"),
        Rule("GET", r"/manifests/sha256-.*\.sig$", "unauthorized", nth=2),
    )
    code, out, err = cli(capsys, "extract", *common, "--to", str(tmp_path / "out"), target)
    assert (code, out) == (
        0,
        f"Extracted release payload from digest {digest} created at 2024-05-01T00:00:00Z\n",
    ), err
    assert (tmp_path / "out" / "image-references").is_file()
    image = f"{token_proxy.host}/{name}@{digest}"
    code, out, err = _sign(capsys, cosign_keys, image, *common)
    assert code == 0, err
    code, out, err = _verify(capsys, cosign_keys, image, *common)
    assert (code, err) == (0, "")
    assert out.startswith(f"Verified cosign signature of {digest} (identity {token_proxy.host}/{name}, ")
    assert [r.injected for r in token_proxy.rules] == [1, 1, 1, 1]


# --------------------------------------------------------------------------------------------
# --retry-times and --timeout are checked by every command that talks to a registry


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (("--retry-times", "-5"), "error: --retry-times must not be negative (got -5)"),
        (
            ("--timeout", "0s"),
            'error: invalid argument "0s" for "--timeout" flag: the duration must be positive',
        ),
        (
            ("--timeout", "soon"),
            'error: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"',
        ),
    ],
)
def test_every_command_refuses_bad_retry_and_timeout_flags(
    cosign_keys: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bad: tuple[str, str],
    message: str,
) -> None:
    key, pub, passphrase = cosign_keys
    digest = "sha256:" + "0" * 64
    commands = [
        [*new_args(f"oci:{tmp_path / 'new'}:{RELEASE}")],
        ["extract", "--to", str(tmp_path / "extract"), "127.0.0.1:1/x/y:z"],
        ["info", "127.0.0.1:1/x/y:z"],
        ["copy", "127.0.0.1:1/x/y:z", f"oci:{tmp_path / 'copy'}:z"],
        ["sign", "--cosign-key", str(key), "--passphrase-file", str(passphrase), f"127.0.0.1:1/x/y@{digest}"],
        ["verify", "--cosign-key", str(pub), f"127.0.0.1:1/x/y@{digest}"],
        ["mirror", "--from", "127.0.0.1:1/x/y:z", "--to", "127.0.0.1:1/x/w"],
    ]
    for argv in commands:
        assert cli(capsys, *argv, *bad) == (2, "", message + "\n"), argv
    assert list(tmp_path.iterdir()) == []
