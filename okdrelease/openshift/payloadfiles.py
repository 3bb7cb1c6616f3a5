"""The payload file-name rule (spec §3.11.2) and its inverse: which operator a payload file came from."""

from __future__ import annotations

import re

__all__ = ["operator_of", "payload_name"]


def payload_name(operator: str, filename: str) -> str:
    """Return the payload file name: kept if it starts with ``0000_``, else ``0000_50_<op>_<file>``."""
    return filename if filename.startswith("0000_") else f"0000_50_{operator}_{filename}"


_RUN_LEVEL = re.compile(r"^(?:\d+_)+")


def operator_of(filename: str) -> str:
    """The operator a payload file belongs to, from its name (``0000_50_<operator>_<file>``)."""
    rest = _RUN_LEVEL.sub("", filename)
    head, sep, _tail = rest.partition("_")
    if sep:
        return head
    return rest.rsplit(".", 1)[0] if "." in rest else rest
