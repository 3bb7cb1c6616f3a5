"""CA files and client certificates a user names: a device or an oversized file is refused by name
before OpenSSL reads it (``/dev/zero`` read without end)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from registry_rig import RegistryInfo, RepoNamer

from tests.test_cli import ROOT, run_python

SAMPLE = ROOT / "testdata" / "sample-payload"


def _info(*flags: str) -> tuple[int, str]:
    done = run_python("-m", "okdrelease", "info", "--retry-times", "0", *flags, "127.0.0.1:1/x:y")
    return done.returncode, done.stderr


def test_a_device_as_ca_file_is_refused_at_once() -> None:
    code, err = _info("--certificate-authority", "/dev/zero")
    assert (code, err.splitlines()[-1]) == (
        1,
        "error: unable to read image 127.0.0.1:1/x:y: reading manifest 127.0.0.1:1/x:y: "
        "cannot load CA file /dev/zero for registry 127.0.0.1:1: /dev/zero: not a regular file",
    )


def test_an_oversized_ca_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.crt"
    with big.open("wb") as handle:
        handle.truncate((16 << 20) + 1)
    code, err = _info("--certificate-authority", str(big))
    assert (code, err.splitlines()[-1]) == (
        1,
        "error: unable to read image 127.0.0.1:1/x:y: reading manifest 127.0.0.1:1/x:y: "
        f"cannot load CA file {big} for registry 127.0.0.1:1: {big} is larger than 16777216 bytes",
    )


def test_a_device_as_client_certificate_is_refused(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    os.symlink("/dev/zero", certs / "client.cert")
    (certs / "client.key").write_text("key")
    done = run_python(
        "-m", "okdrelease", "copy", "--retry-times", "0", "--src-cert-dir", str(certs),
        "docker://127.0.0.1:1/x:y", f"oci:{tmp_path / 'out'}:y",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].endswith(
        f"cannot load client certificate {certs / 'client.cert'} for registry 127.0.0.1:1: "
        f"{certs / 'client.cert'}: not a regular file"
    ), done.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_ssl_cert_dir_is_read_whole_as_go_reads_it(
    registry_tls: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CA in SSL_CERT_DIR as a plain ``ca.crt`` (no hash links) is trusted, as oc trusts it (Go reads
    every file of the directory; OpenSSL looks certificates up by hash only): before, the TLS
    registry failed verification. A file there that is no certificate is passed over."""
    assert registry_tls.ca_file is not None
    trust = tmp_path / "trust"
    trust.mkdir()
    shutil.copy(registry_tls.ca_file, trust / "ca.crt")
    (trust / "README").write_text("not a certificate")
    target = f"docker://{registry_tls.host}/{unique_repo()}:x"
    args = [
        "-m",
        "okdrelease",
        "copy",
        "--retry-times",
        "0",
        f"oci:{SAMPLE}:cluster-version-operator",
        target,
    ]
    refused = run_python(*args)
    assert refused.returncode == 1 and "TLS verification failed" in refused.stderr
    monkeypatch.setenv("SSL_CERT_DIR", str(trust))
    done = run_python(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sha256:")
    (trust / "0123abcd.0").symlink_to(trust / "README")  # a hash-linked directory: left to OpenSSL's lookup
    refused = run_python(*args)
    assert refused.returncode == 1 and "TLS verification failed" in refused.stderr
