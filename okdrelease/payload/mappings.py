"""``SRC=DST`` image mappings from arguments and ``--mapping-file`` files (spec §2.2)."""

from __future__ import annotations

from collections.abc import Sequence

from okdrelease.errors import ReleaseError
from okdrelease.gocompat.strconv import go_trim_space
from okdrelease.regularfile import FileTooLarge, read_capped, read_failure

__all__ = ["combine_mappings", "parse_mapping_args", "parse_mapping_file"]

Mapping = tuple[str, str]
_INVALID = "all arguments must be valid SRC=DST mappings"


def _parse(args: Sequence[str], seen_destinations: set[str]) -> list[Mapping]:
    """Parse ``args``, applying oc's duplicate rule (Q3) against ``seen_destinations``."""
    mappings: list[Mapping] = []
    for arg in args:
        src, sep, dst = arg.partition("=")
        if not sep or not src or not dst:
            raise ReleaseError(_INVALID)
        # Q3: the table is keyed by destination but looked up with the source.
        if src in seen_destinations:
            raise ReleaseError(f"each source tag may only be specified once: {dst}")
        seen_destinations.add(dst)
        mappings.append((src, dst))
    return mappings


def parse_mapping_args(args: Sequence[str]) -> list[Mapping]:
    """Parse positional ``SRC=DST`` arguments into (src, dst) pairs."""
    return _parse(args, set())


def _read_mapping_file(path: str, seen_destinations: set[str]) -> list[Mapping]:
    """Read one mapping file: ``#`` comments, trimmed lines, mappings separated by single spaces.

    Read up to ``MAX_USER_FILE_BYTES``: ``/dev/zero`` or a huge file is refused, a FIFO nobody writes
    to is refused rather than waited on (``regularfile.read_capped``)."""
    try:
        data = read_capped(path)
    except FileTooLarge as err:
        raise ReleaseError(f"mapping file {err}") from err
    except OSError as err:  # (Go's words, as oc's: 'read PATH: input/output error')
        raise ReleaseError(read_failure(path, err)) from err
    mappings: list[Mapping] = []
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        line = go_trim_space(line.split("#", 1)[0])
        if not line:
            continue
        try:
            mappings.extend(_parse(line.split(" "), seen_destinations))
        except ReleaseError as err:
            raise ReleaseError(f"file {path}, line {number}: {err}") from err
    return mappings


def parse_mapping_file(path: str) -> list[Mapping]:
    """Parse one ``--mapping-file``; errors are prefixed ``file <path>, line <n>: ``."""
    return _read_mapping_file(path, set())


def combine_mappings(files: Sequence[str], args: Sequence[str]) -> list[Mapping]:
    """Return the mappings of all files (in order) followed by the positional arguments."""
    seen: set[str] = set()
    mappings: list[Mapping] = []
    for path in files:
        mappings.extend(_read_mapping_file(path, seen))
    mappings.extend(_parse(args, seen))
    return mappings
