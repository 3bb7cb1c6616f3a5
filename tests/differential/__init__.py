"""Differential harness: seeded payloads, built by the real oc and by okdrelease, compared.

``python -m tests.differential --seeds N`` runs seeds 0..N-1 (``--start`` shifts them) against a
fresh loopback registry and prints every difference with the seed that reproduces it; exit status
1 when there is any. ``tests/test_differential.py`` runs a bounded set in the test command.
Needs ``../shared/tools/oc`` and Debian's ``docker-registry``.
"""
