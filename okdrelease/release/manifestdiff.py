"""Payload-file differences between two releases, with image-digest and version churn told apart.

When a component image changes, every operator manifest that names it changes too (the release
rewrites image references to digests, and version placeholders to versions). Those edits follow
from the component change and say nothing new. A ``ChurnFolder`` replaces, on each side, the
pull specs and digests of the components and the versions that differ between the two releases
with the same placeholder; files equal after that differ only by churn, and in the others the
unified diff shows only the lines that really changed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping

import attrs

from okdrelease._repr import value_repr

#: What a file's churn consists of.
CHURN_DIGESTS = "image digests"
CHURN_VERSIONS = "versions"
CHURN_BOTH = "image digests and versions"
#: Components that moved to another repository with the same digest: their pull specs changed only.
CHURN_REFERENCES = "image references"
CHURN_REFERENCES_BOTH = "image references and versions"

Substitute = Callable[[str], str]


def _identity(text: str) -> str:
    return text


def substituter(tokens: Mapping[str, str]) -> Substitute:
    """Replace each whole token (not part of a longer name or version) by its placeholder."""
    if not tokens:
        return _identity
    alternatives = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.-])(?:{alternatives})(?![\w.-])")
    return lambda text: pattern.sub(lambda match: tokens[match.group(0)], text)


@attrs.frozen
class Side:
    """What differs on one side: component pull specs and digests, and version strings."""

    __repr__ = value_repr

    images: Mapping[str, str]
    versions: Mapping[str, str]


def side_tokens(
    pullspecs: Mapping[str, str], digests: Mapping[str, str], versions: Mapping[str, str]
) -> Side:
    """Tokens of one side: ``pullspecs``/``digests`` by component name, ``versions`` by version key.

    Placeholders name the components (or version keys) that share a token, so a reference that
    moved from one component to another is still a real change.
    """
    by_image: dict[str, set[str]] = {}
    for source in (pullspecs, digests):
        for name, token in source.items():
            if token:
                by_image.setdefault(token, set()).add(name)
    by_version: dict[str, set[str]] = {}
    for key, version in versions.items():
        if version:
            by_version.setdefault(version, set()).add(key)
    return Side(
        images={t: "\0image " + ",".join(sorted(n)) + "\0" for t, n in by_image.items()},
        versions={t: "\0version " + ",".join(sorted(n)) + "\0" for t, n in by_version.items()},
    )


@attrs.frozen
class ChurnFolder:
    """Normalises both sides of a changed file so that churn compares equal."""

    __repr__ = value_repr

    old_images: Substitute = _identity
    new_images: Substitute = _identity
    old_versions: Substitute = _identity
    new_versions: Substitute = _identity
    #: The old digests of the components whose digest changed, when some only moved repository
    #: (None: every folded image changed digest).
    old_digests: frozenset[str] | None = None

    @classmethod
    def between(cls, old: Side, new: Side) -> ChurnFolder:
        """A folder for two sides' tokens."""
        return cls(
            substituter(old.images),
            substituter(new.images),
            substituter(old.versions),
            substituter(new.versions),
        )

    def old(self, text: str) -> str:
        """``text`` of the old release with its churn tokens replaced."""
        return self.old_versions(self.old_images(text))

    def new(self, text: str) -> str:
        """``text`` of the new release with its churn tokens replaced."""
        return self.new_versions(self.new_images(text))

    def churn(self, old: bytes, new: bytes) -> str:
        """What the difference between ``old`` and ``new`` consists of, or "" for a real change."""
        if b"\0" in old or b"\0" in new:
            return ""
        a, b = _text(old), _text(new)
        if self.old(a) != self.new(b):
            return ""
        digests = self.old_digests is None or any(digest in a for digest in self.old_digests)
        if self.old_images(a) == self.new_images(b):
            return CHURN_DIGESTS if digests else CHURN_REFERENCES
        if self.old_versions(a) == self.new_versions(b):
            return CHURN_VERSIONS
        return CHURN_BOTH if digests else CHURN_REFERENCES_BOTH


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _lines(data: bytes | None) -> list[str]:
    return _text(data).splitlines(keepends=True) if data is not None else []


def _range(start: int, length: int) -> str:
    """difflib's unified range: ``start,length`` (1-based; an empty range names the line before)."""
    first = start + 1 if length else start
    return str(first) if length == 1 else f"{first},{length}"


def _emit(prefix: str, lines: Iterable[str]) -> list[str]:
    out = []
    for line in lines:
        out.append(prefix + (line[:-1] if line.endswith("\n") else line))
        if not line.endswith("\n"):
            out.append("\\ No newline at end of file")
    return out


def unified_diff(
    name: str,
    old: bytes | None,
    new: bytes | None,
    *,
    context: int = 3,
    folder: ChurnFolder | None = None,
) -> list[str]:
    """``diff -u`` of a payload file, lines without newlines; churn lines are no hunks with ``folder``.

    Lines are matched on their normalised text and printed as they are (context lines as in the
    new release), so a hunk shows real edits with the surrounding text the user will find.
    """
    if (old is not None and b"\0" in old) or (new is not None and b"\0" in new):
        return [f"Binary file {name} differs"]
    fold = folder or ChurnFolder()
    a, b = _lines(old), _lines(new)
    matcher = difflib.SequenceMatcher(
        None, [fold.old(x) for x in a], [fold.new(x) for x in b], autojunk=False
    )
    groups = list(matcher.get_grouped_opcodes(context))
    if not groups:
        return []
    out = [f"--- a/{name}" if old is not None else "--- /dev/null"]
    out.append(f"+++ b/{name}" if new is not None else "+++ /dev/null")
    for group in groups:
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(_emit(" ", b[b1:b2]))
                continue
            out.extend(_emit("-", a[a1:a2]))
            out.extend(_emit("+", b[b1:b2]))
    return out
