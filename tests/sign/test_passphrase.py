"""The one passphrase reader (``okdrelease.sign.keys.read_passphrase``) as new, sign and keys use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from okdrelease._cli.new import options_from_args
from okdrelease.cli import build_parser, main
from okdrelease.sign.keys import PASSPHRASE_ENV, read_passphrase

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "containers-image-signature"
IMAGE = "quay.io/okd/release@sha256:" + "a" * 64


def test_file_first_line_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKDRELEASE_SIGN_PASSPHRASE", "from-env")
    path = tmp_path / "pass"
    path.write_text("from-file\nsecond line\n")
    assert read_passphrase(path, PASSPHRASE_ENV) == "from-file"
    path.write_text("")
    assert read_passphrase(path, PASSPHRASE_ENV) == ""


def test_first_variable_set_even_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKDRELEASE_SIGN_PASSPHRASE", raising=False)
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    assert read_passphrase(None, PASSPHRASE_ENV) is None
    monkeypatch.setenv("COSIGN_PASSWORD", "cosign")
    assert read_passphrase(None, PASSPHRASE_ENV) == "cosign"
    monkeypatch.setenv("OKDRELEASE_SIGN_PASSPHRASE", "")
    assert read_passphrase(None, PASSPHRASE_ENV) == ""
    assert read_passphrase(None) is None  # no variables asked for: none read


def test_new_reads_the_passphrase_through_the_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OKDRELEASE_SIGN_PASSPHRASE", raising=False)
    monkeypatch.setenv("COSIGN_PASSWORD", "cosign")
    args = build_parser().parse_args(["new", "--to-file", str(tmp_path / "x"), "a=b:1"])
    assert options_from_args(args).sign_passphrase == "cosign"
    monkeypatch.setenv("OKDRELEASE_SIGN_PASSPHRASE", "")
    assert options_from_args(args).sign_passphrase == ""  # set and empty: the empty passphrase
    path = tmp_path / "pass"
    path.write_text("file\n")
    args = build_parser().parse_args(["new", "--sign-passphrase-file", str(path), "a=b:1"])
    assert options_from_args(args).sign_passphrase == "file"


def test_sign_takes_an_openpgp_key_passphrase_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    argv = ["sign", "--key", str(FIXTURES / "secring.gpg"), "--signature-dir", str(tmp_path / "sigs"), IMAGE]
    monkeypatch.setenv("OKDRELEASE_SIGN_PASSPHRASE", "WithPassphrase123")  # secring.gpg's passphrase
    assert main(argv) == 0, capsys.readouterr().err
    monkeypatch.setenv("OKDRELEASE_SIGN_PASSPHRASE", "wrong")
    assert main(argv) == 1
    assert "wrong passphrase" in capsys.readouterr().err
