"""Running the real gpg against a throwaway home in tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def gpg(home: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``gpg --batch`` with loopback pinentry in ``home``; the caller checks the result."""
    env = dict(os.environ, GNUPGHOME=str(home), LC_ALL="C")
    return subprocess.run(
        ["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", *args],
        input=data,
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )


def kill_agent(home: Path) -> None:
    """Stop the gpg-agent a test started for ``home``."""
    subprocess.run(["gpgconf", "--kill", "all"], env=dict(os.environ, GNUPGHOME=str(home)), check=False)


def new_signing_key(home: Path, uid: str) -> str:
    """Make ``home`` a gpg home holding one ed25519 signing key (no passphrase) for ``uid``; its fingerprint."""
    home.mkdir(mode=0o700, exist_ok=True)
    made = gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    assert made.returncode == 0, made.stderr
    listed = gpg(home, "--with-colons", "--list-keys", uid).stdout.decode()
    return next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))
