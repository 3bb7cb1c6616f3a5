"""Files the signing commands read: passphrase files and policies bounded like key files, a FIFO
nobody writes to never waited on (hunt2 #10), and odd values refused in words (hunt2 #13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bounded_run import ROOT, run_bounded

from okdrelease.errors import SignatureError
from okdrelease.sign.files import read_bounded
from okdrelease.sign.keys import read_passphrase
from okdrelease.sign.openpgp import generate_key

IMAGE = "quay.io/okd/scos-release@sha256:" + "ab" * 32
NO_WRITER = "a FIFO with no writer (it is not waited for)"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["verify", "--policy", "{fifo}", "quay.io/okd/x:1"], "policy"),
        (["verify", "--keyring", "{fifo}", "--signature-dir", "{tmp}", IMAGE], "keyring"),
        (
            ["keys", "generate", "--cosign", "--out", "{tmp}/k", "--passphrase-file", "{fifo}"],
            "passphrase file",
        ),
        (
            [
                "sign",
                "--key",
                "{tmp}/none.asc",
                "--passphrase-file",
                "{fifo}",
                "--signature-dir",
                "{tmp}",
                IMAGE,
            ],
            "passphrase file",
        ),
    ],
)
def test_a_fifo_without_a_writer_is_an_error_at_once(
    fifo: Path, tmp_path: Path, argv: list[str], what: str
) -> None:
    """Before: each of these waited forever for a writer."""
    done = run_bounded(*(a.format(fifo=fifo, tmp=tmp_path) for a in argv), timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: cannot read {what} {fifo}: {NO_WRITER}\n",
    )


def test_a_passphrase_file_without_end_is_an_error_naming_it(tmp_path: Path) -> None:
    """Before: ``internal error: MemoryError`` (read whole)."""
    done = run_bounded(
        "keys", "generate", "--cosign", "--out", str(tmp_path / "k"), "--passphrase-file", "/dev/zero"
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "error: passphrase file /dev/zero is larger than 16777216 bytes\n",
    )
    assert not (tmp_path / "k").exists()
    # ``--passphrase-file <(…)``: a pipe whose writer comes late is waited for, as before
    script = (
        "import os, subprocess, sys, threading, time\n"
        "from okdrelease.sign.keys import read_passphrase\n"
        "r, w = os.pipe()\n"
        "def write():\n"
        "    time.sleep(0.3)\n"
        "    os.write(w, b'late secret\\nmore\\n')\n"
        "    os.close(w)\n"
        "threading.Thread(target=write).start()\n"
        "print(read_passphrase(f'/dev/fd/{r}'))\n"
        "from okdrelease.sign.files import read_bounded\n"
        "r, w = os.pipe()\n"
        "def write_blocks():\n"
        "    for _ in range(8):\n"
        "        os.write(w, b'k' * 50000)\n"
        "        time.sleep(0.02)\n"
        "    os.close(w)\n"
        "threading.Thread(target=write_blocks).start()\n"
        "print(len(read_bounded(f'/dev/fd/{r}', 'keyring')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "late secret\n400000\n", "")
    # other failures keep their words (a FIFO is tried in child processes only: a regression must
    # not stall the suite)
    with pytest.raises(SignatureError) as caught:
        read_bounded(tmp_path, "policy")
    assert str(caught.value) == f"cannot read policy {tmp_path}: Is a directory"
    with pytest.raises(SignatureError) as caught:
        read_passphrase(tmp_path / "missing")
    assert (
        str(caught.value) == f"cannot read passphrase file {tmp_path / 'missing'}: No such file or directory"
    )


def test_keys_generate_cosign_without_a_password_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: exit 1, as if something had failed (a missing input is a usage error, exit 2)."""
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    env = {k: v for k, v in os.environ.items() if k != "COSIGN_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "okdrelease", "keys", "generate", "--cosign", "--out", str(tmp_path / "k")],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(env, PYTHONPATH=str(ROOT)),
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        "error: a cosign key needs a password: give --passphrase-file or set COSIGN_PASSWORD\n",
    )


@pytest.mark.parametrize(
    ("digest", "detail"),
    [
        ("sha256:abc", "sha256 takes 64 lower case hex digits"),
        ("sha256:" + "AB" * 32, "sha256 takes 64 lower case hex digits"),
        ("sha512:" + "ab" * 32, "sha512 takes 128 lower case hex digits"),
    ],
)
def test_verify_refuses_a_digest_of_the_wrong_size(tmp_path: Path, digest: str, detail: str) -> None:
    """Before: ``* no signatures found`` for a digest no image can have."""
    keyring = tmp_path / "public.asc"
    keyring.write_text(generate_key("digest test <d@example.com>", algorithm="ed25519").export_public())
    done = run_bounded("verify", "--keyring", str(keyring), "--signature-dir", str(tmp_path), digest)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f'error: the provided release image digest has an invalid format: "{digest}" ({detail})\n',
    )
