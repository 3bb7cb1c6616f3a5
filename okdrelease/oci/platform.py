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


def compile_filter(text: str, error: type[OkdReleaseError]) -> re.Pattern[str]:
    """Compile ``--filter-by-os`` as oc's Go ``regexp`` reads it (``gocompat.goregexp``); a bad expression
    raises ``error`` (commands differ in exit code) in oc's words: ``--filter-by-os was not a valid regular
    expression: error parsing regexp: missing closing ]: `[```."""
    from okdrelease.gocompat.goregexp import GoRegexpError, UnsupportedGoRegexp, compile_go

    try:
        return compile_go(text)
    except GoRegexpError as err:
        raise error(f"--filter-by-os was not a valid regular expression: {err}") from None
    except UnsupportedGoRegexp as err:
        raise error(f"--filter-by-os {text}: {err}") from None


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
