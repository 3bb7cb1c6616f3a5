"""Subcommand modules of the CLI; each defines ``register(subparsers)`` and sets ``func``."""
