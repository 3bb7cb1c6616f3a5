"""Entry point for ``python -m okdrelease``."""

from okdrelease.cli import main

raise SystemExit(main())
