"""Reading containers/image's signature fixtures (../shared, never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "containers-image-signature"


def fixture(name: str) -> bytes:
    """Read a containers/image fixture; the copy turned its symlinks into files holding the link target."""
    path = FIXTURES / name
    data = path.read_bytes()
    while len(data) < 100 and data.startswith(b"../"):
        path = path.parent / data.decode().strip()
        data = path.read_bytes()
    return data
