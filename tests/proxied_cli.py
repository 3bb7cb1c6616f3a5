"""The command line run in-process, and through a fault proxy (``faultproxy.FaultProxy``) in front
of the real registry: the set-up the fault matrix (``test_faults.py``) and the odd answers
(``test_odd_answers.py``) share, as the ``proxied`` fixture (``conftest.py``)."""

from __future__ import annotations

import attrs
import pytest
from faultproxy import FaultProxy

from okdrelease.cli import main


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``okdrelease ARGV`` in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@attrs.frozen
class ProxiedCli:
    """Runs of the CLI that reach the registry through ``proxy`` (marked insecure: it speaks plain HTTP)."""

    proxy: FaultProxy
    capsys: pytest.CaptureFixture[str]

    def image(self, name: str, tag: str = "v1") -> str:
        """The registry's ``NAME:TAG``, named through the proxy."""
        return f"{self.proxy.host}/{name}:{tag}"

    def run(self, command: str, *argv: str) -> tuple[int, str, str]:
        """``okdrelease COMMAND --insecure-registry PROXY ARGV``: (exit code, stdout, stderr)."""
        return cli(self.capsys, command, "--insecure-registry", self.proxy.host, *argv)

    def copy(self, source: str, target: str, *flags: str) -> tuple[int, str, str]:
        """``copy FLAGS SOURCE TARGET`` (one of them, or both, named through the proxy)."""
        return self.run("copy", *flags, source, target)
