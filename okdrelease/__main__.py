"""Entry point for ``python -m okdrelease``."""

from okdrelease.cli import run

run()
