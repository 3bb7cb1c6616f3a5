"""How many requests ``new`` keeps in flight per registry: 32 by default, ``--max-per-registry`` exactly."""

from __future__ import annotations

import pytest

from okdrelease._cli.common import transport_options
from okdrelease.cli import build_parser

NEW = ["new", "--from-image-stream-file", "is.json", "--to-image", "example.com/r:x"]


@pytest.mark.parametrize(
    ("given", "expected"), [([], 32), (["--max-per-registry", "3"], 3), (["--max-per-registry=48"], 48)]
)
def test_max_per_registry_default_and_given(given: list[str], expected: int) -> None:
    args = build_parser().parse_args([*NEW, *given])
    assert transport_options(args).max_per_registry == expected


def test_help_names_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["new", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--max-per-registry N concurrent requests per registry (default 32)" in help_text
