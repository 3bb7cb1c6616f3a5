"""Files the signing commands read whole (keys, keyrings, policies, ConfigMaps, signatures), each read
up to a bound: a wrong path (``/dev/zero``, a huge file) is an error naming it, not exhausted memory."""

from __future__ import annotations

import os
from pathlib import Path

from okdrelease.errors import SignatureError
from okdrelease.regularfile import (
    MAX_USER_FILE_BYTES,
    FileTooLarge,
    NotRegularFile,
    open_regular,
    read_capped,
    read_open,
)

#: Keys, keyrings, policies, registries.d files, ConfigMaps: far more than any real one holds.
MAX_FILE_BYTES = MAX_USER_FILE_BYTES


def read_bounded(path: str | os.PathLike[str], what: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the file a user named (a pipe such as ``<(gpg --export)`` too); more than
    ``max_bytes`` is an error naming ``what`` and the path, as is one that cannot be read or a FIFO
    nobody writes to (``regularfile.read_capped``: never waited on)."""
    name = f"{what} {path}" if what else str(path)
    try:
        return read_capped(path, max_bytes)
    except FileTooLarge:
        raise SignatureError(f"{name} is larger than {max_bytes} bytes") from None
    except OSError as err:
        raise SignatureError(f"cannot read {name}: {err.strerror or err}") from err


def read_stored_signature(path: Path, max_bytes: int, *, refuse_larger: bool) -> bytes:
    """A ``signature-N`` file of a store directory: a regular file (links followed; a FIFO or device
    is refused without waiting on it), read up to ``max_bytes``; beyond it the signature is refused
    (``refuse_larger``, as containers/image refuses a lookaside signature over its limit) or cut there
    (as library-go and the HTTP store read a store's signature). FileNotFoundError when it is missing."""
    try:
        fd = open_regular(path)
    except NotRegularFile:
        raise SignatureError(f"cannot read signature {path}: not a regular file") from None
    try:
        data = read_open(fd, max_bytes)
    finally:
        os.close(fd)
    if len(data) > max_bytes and refuse_larger:
        raise SignatureError(f"signature {path} is larger than {max_bytes} bytes")
    return data[:max_bytes]
