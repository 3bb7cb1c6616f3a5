"""The one platform selector: which entry of a manifest list an image reference means."""

from __future__ import annotations

import platform as _platform
import re

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import NoMatchingPlatformError, OkdReleaseError, ReleaseError
from okdrelease.oci.model import Descriptor, Index

__all__ = ["KEEP_LIST_PLATFORM", "PlatformSelector", "compile_filter", "platform_text", "runtime_platform"]

#: ``new --keep-manifest-list``: oc reads component images for linux/amd64.
KEEP_LIST_PLATFORM = re.compile("linux/amd64")

_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
}


def runtime_platform() -> tuple[str, str]:
    """The running OS and architecture in Go's names (``linux``, ``amd64``)."""
    system = _platform.system().lower() or "linux"
    machine = _platform.machine().lower()
    return ("darwin" if system == "darwin" else system), _GO_ARCH.get(machine, machine)


def platform_text(desc: Descriptor) -> str:
    """``os/architecture[/variant]`` of a list entry; ``/`` when the entry has no platform."""
    plat = desc.platform
    return str(plat) if plat is not None else "/"


#: Go's regexp/syntax refuses a repeat count above 1000 (``invalid repeat count``).
_GO_MAX_REPEAT = 1000
_REPEAT = re.compile(r"\{(\d+)(?:(,)(\d*))?\}")


def _bad_repeat(text: str) -> str | None:
    """The first ``{n}``, ``{n,}`` or ``{n,m}`` outside a character class that Go refuses (count past
    1000, or m < n), as written; None when there is none."""
    pos, in_class = 0, False
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            pos += 2 if text[pos + 1 : pos + 2] == "]" else 3 if text[pos + 1 : pos + 3] == "^]" else 1
            continue
        elif char == "{" and (found := _REPEAT.match(text, pos)):
            low = int(found.group(1)) if len(found.group(1)) <= 5 else _GO_MAX_REPEAT + 1
            high = found.group(3) or (found.group(1) if not found.group(2) else "")
            high_n = (int(high) if len(high) <= 5 else _GO_MAX_REPEAT + 1) if high else None
            if low > _GO_MAX_REPEAT or (high_n is not None and (high_n > _GO_MAX_REPEAT or high_n < low)):
                return found.group(0)
        pos += 1
    return None


def compile_filter(text: str, error: type[OkdReleaseError]) -> re.Pattern[str]:
    """Compile ``--filter-by-os``; a bad expression raises ``error`` (commands differ in exit code).

    Repeat counts are checked as Go checks them, in oc's words (``error parsing regexp: invalid
    repeat count: `{1001}```), before Python could overflow on them; other syntax errors keep
    Python's wording after the same prefix.
    """
    prefix = "--filter-by-os was not a valid regular expression"
    repeat = _bad_repeat(text)
    if repeat is not None:
        raise error(f"{prefix}: error parsing regexp: invalid repeat count: `{repeat}`")
    try:
        return re.compile(text)
    except (re.error, OverflowError, RecursionError) as err:
        raise error(f"{prefix}: {err}") from err


@attrs.frozen
class PlatformSelector:
    """How an entry of a manifest list is chosen.

    ``pattern`` None takes the first entry (oc ``new``); ``is_default`` is the runtime platform of
    ``info``/``extract``, bypassed for one-entry lists and falling back to ``linux/<arch>``;
    ``preferring`` is ``copy``'s choice (linux/amd64, else the first entry).
    """

    __repr__ = value_repr

    pattern: re.Pattern[str] | None = None
    is_default: bool = False
    #: When no entry passes, take the first one instead of failing (``copy``).
    fallback_first: bool = False

    @classmethod
    def first(cls) -> PlatformSelector:
        """The first entry, unfiltered."""
        return cls(None, False)

    @classmethod
    def preferring(cls, os_name: str, architecture: str) -> PlatformSelector:
        """The entry for ``os_name/architecture`` (any variant), else the first entry."""
        pattern = re.compile(f"^{re.escape(os_name)}/{re.escape(architecture)}(?:/|$)")
        return cls(pattern, False, fallback_first=True)

    @classmethod
    def from_flag(
        cls, filter_by_os: str | None, error: type[OkdReleaseError] = ReleaseError
    ) -> PlatformSelector:
        """``--filter-by-os REGEX``, or the runtime platform (info, extract, diff)."""
        if filter_by_os:
            return cls(compile_filter(filter_by_os, error), False)
        os_name, arch = runtime_platform()
        return cls(re.compile(re.escape(f"{os_name}/{arch}")), True)

    def select(self, index: Index) -> Descriptor:
        """Return the first list entry that passes; NoMatchingPlatformError when none does."""
        entries = index.manifests
        if self.pattern is None and entries:
            return entries[0]
        if self.is_default and len(entries) == 1:
            return entries[0]
        for desc in self.matching(index):
            return desc
        if self.fallback_first and entries:
            return entries[0]
        if self.is_default:
            fallback = re.compile(re.escape(f"linux/{runtime_platform()[1]}"))
            for desc in entries:
                if fallback.search(platform_text(desc)):
                    return desc
        raise NoMatchingPlatformError()

    def matching(self, index: Index) -> list[Descriptor]:
        """All entries that pass (the default selector passes a single entry)."""
        entries = index.manifests
        if self.pattern is None or (self.is_default and len(entries) == 1):
            return list(entries)
        pattern = self.pattern
        return [desc for desc in entries if pattern.search(platform_text(desc))]
