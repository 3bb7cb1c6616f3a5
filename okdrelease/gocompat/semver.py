"""Strict semantic versions with the parse rules and error texts of blang/semver v3 (spec §4)."""

from __future__ import annotations

import functools

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat.strconv import go_quote

__all__ = ["SemverError", "Version", "go_quote", "parse"]

_NUMBERS = frozenset("0123456789")
_ALPHANUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_MAX_UINT64 = (1 << 64) - 1


class SemverError(ReleaseError):
    """A string is not a strict semantic version; the message is blang/semver's."""


def _contains_only(text: str, allowed: frozenset[str]) -> bool:
    """Return whether every character of ``text`` is in ``allowed`` (true for "")."""
    return all(ch in allowed for ch in text)


def _has_leading_zeroes(text: str) -> bool:
    """Return whether a numeric string has more than one digit and starts with 0."""
    return len(text) > 1 and text[0] == "0"


def _parse_uint(text: str) -> int:
    """Parse a base-10 uint64 like strconv.ParseUint, with Go's error texts."""
    if not text or not _contains_only(text, _NUMBERS):
        raise SemverError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if value > _MAX_UINT64:
        raise SemverError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return value


def _parse_number(text: str, what: str) -> int:
    """Parse the major, minor or patch number ``text``."""
    if not _contains_only(text, _NUMBERS):
        raise SemverError(f"Invalid character(s) found in {what} number {go_quote(text)}")
    if _has_leading_zeroes(text):
        raise SemverError(f"{what.capitalize()} number must not contain leading zeroes {go_quote(text)}")
    return _parse_uint(text)


def _parse_prerelease(text: str) -> str | int:
    """Parse one dot-separated pre-release identifier (int when numeric)."""
    if not text:
        raise SemverError("Prerelease is empty")
    if _contains_only(text, _NUMBERS):
        if _has_leading_zeroes(text):
            raise SemverError(f"Numeric PreRelease version must not contain leading zeroes {go_quote(text)}")
        return _parse_uint(text)
    if _contains_only(text, _ALPHANUM):
        return text
    raise SemverError(f"Invalid character(s) found in prerelease {go_quote(text)}")


def _compare_pre(a: str | int, b: str | int) -> int:
    """Compare two pre-release identifiers: numeric < alphanumeric, numbers by value, strings bytewise."""
    a_num, b_num = isinstance(a, int), isinstance(b, int)
    if a_num != b_num:
        return -1 if a_num else 1
    if a == b:
        return 0
    return -1 if a < b else 1  # type: ignore[operator]


@functools.total_ordering
@attrs.frozen
class Version:
    """A parsed strict semantic version; ordering is semver precedence (build metadata ignored)."""

    __repr__ = value_repr

    major: int
    minor: int
    patch: int
    pre: tuple[str | int, ...] = ()
    build: tuple[str, ...] = ()

    def __str__(self) -> str:
        """Render like blang/semver ``Version.String()``."""
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(p) for p in self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def without_build(self) -> Version:
        """Return this version with its build metadata removed."""
        return attrs.evolve(self, build=())

    def compare(self, other: Version) -> int:
        """Return -1, 0 or 1 comparing semver precedence like blang ``Compare``."""
        for mine, theirs in ((self.major, other.major), (self.minor, other.minor), (self.patch, other.patch)):
            if mine != theirs:
                return 1 if mine > theirs else -1
        if not self.pre and not other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        for mine_pre, theirs_pre in zip(self.pre, other.pre, strict=False):
            result = _compare_pre(mine_pre, theirs_pre)
            if result:
                return result
        if len(self.pre) == len(other.pre):
            return 0
        return -1 if len(self.pre) < len(other.pre) else 1

    def __lt__(self, other: object) -> bool:
        """Order by semver precedence."""
        if not isinstance(other, Version):
            return NotImplemented
        return self.compare(other) < 0

    def sort_key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """Return a key whose natural order is semver precedence (build metadata ignored)."""
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)


def parse(text: str) -> Version:
    """Parse ``text`` as a strict semantic version exactly like blang/semver v3 ``Parse``."""
    if not text:
        raise SemverError("Version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise SemverError("No Major.Minor.Patch elements found")
    major = _parse_number(parts[0], "major")
    minor = _parse_number(parts[1], "minor")
    rest = parts[2]
    build: list[str] = []
    prerelease: list[str] = []
    if "+" in rest:
        rest, build_text = rest.split("+", 1)
        build = build_text.split(".")
    if "-" in rest:
        rest, pre_text = rest.split("-", 1)
        prerelease = pre_text.split(".")
    patch = _parse_number(rest, "patch")
    pre = tuple(_parse_prerelease(p) for p in prerelease)
    for item in build:
        if not item:
            raise SemverError("Build meta data is empty")
        if not _contains_only(item, _ALPHANUM):
            raise SemverError(f"Invalid character(s) found in build meta data {go_quote(item)}")
    return Version(major, minor, patch, pre, tuple(build))
