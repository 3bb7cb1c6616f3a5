"""The one manifest-list entry selector (oci/platform.py) in each of its uses: new, info/extract, copy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from imagegen import build_image, push_image
from oc_oracle import run_oc
from registry_rig import RegistryInfo, RepoNamer
from test_registry import repo_at

from okdrelease.cli import main
from okdrelease.errors import NoMatchingPlatformError, ReleaseError, UsageError
from okdrelease.oci.model import Index, parse_manifest
from okdrelease.oci.platform import PlatformSelector, compile_filter
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient


def _index(*platforms: dict[str, str] | None) -> Index:
    entries: list[dict[str, Any]] = []
    for position, platform in enumerate(platforms):
        entry: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + str(position) * 64,
            "size": 1,
        }
        if platform is not None:
            entry["platform"] = platform
        entries.append(entry)
    body = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    index = parse_manifest(json.dumps(body).encode())
    assert isinstance(index, Index)
    return index


ARM = {"os": "linux", "architecture": "arm64"}
AMD_V2 = {"os": "linux", "architecture": "amd64", "variant": "v2"}


def _position(selector: PlatformSelector, index: Index) -> int:
    return int(selector.select(index).digest[-1])


def test_first_takes_the_first_entry() -> None:
    """new without --filter-by-os: oc takes the first entry."""
    assert _position(PlatformSelector.first(), _index(ARM, AMD_V2)) == 0


def test_filter_matches_os_arch_variant_text() -> None:
    """--filter-by-os is searched in os/arch[/variant]; no match is NoMatchingPlatformError (a ReleaseError)."""
    selector = PlatformSelector(re.compile("amd64/v2"))
    assert _position(selector, _index(ARM, AMD_V2)) == 1
    with pytest.raises(NoMatchingPlatformError) as info:
        PlatformSelector(re.compile("s390x")).select(_index(ARM, AMD_V2))
    assert isinstance(info.value, ReleaseError)
    assert str(info.value) == "filtered all images from manifest list"


def test_copy_prefers_linux_amd64_then_the_first_entry() -> None:
    """copy: linux/amd64 with any variant, else the first entry; no prefix confusion (amd64x, linuxx)."""
    selector = PlatformSelector.preferring("linux", "amd64")
    assert _position(selector, _index(ARM, AMD_V2)) == 1
    assert _position(selector, _index(ARM, None)) == 0
    assert (
        _position(
            selector,
            _index({"os": "linux", "architecture": "amd64x"}, {"os": "linuxx", "architecture": "amd64"}),
        )
        == 0
    )


def test_default_selector_passes_a_single_entry() -> None:
    """info/extract without --filter-by-os: a one-entry list is taken whatever its platform."""
    selector = PlatformSelector.from_flag(None)
    assert selector.is_default
    assert _position(selector, _index({"os": "plan9", "architecture": "mips"})) == 0


def test_bad_filter_raises_the_callers_error_class() -> None:
    """new refuses a bad expression as a usage error, info as a release error (their exit codes differ)."""
    with pytest.raises(UsageError, match="^--filter-by-os was not a valid regular expression: "):
        compile_filter("(", UsageError)
    with pytest.raises(ReleaseError, match="^--filter-by-os was not a valid regular expression: "):
        PlatformSelector.from_flag("(")


@pytest.mark.parametrize(
    ("pattern", "repeat"),
    [
        ("a{99999999999}", "{99999999999}"),  # Python: OverflowError "the repetition number is too large"
        ("linux/(amd64){1001}", "{1001}"),  # Python accepts it
        ("a{2,1}", "{2,1}"),
        ("a{1,99999999999999}", "{1,99999999999999}"),
    ],
)
def test_repeat_counts_are_refused_in_ocs_words(pattern: str, repeat: str) -> None:
    """Hunt #8g: Go's regexp refuses repeat counts past 1000; oc (checked) says so in these words."""
    with pytest.raises(UsageError) as err:
        compile_filter(pattern, UsageError)
    assert str(err.value) == (
        f"--filter-by-os was not a valid regular expression: error parsing regexp: invalid repeat count: `{repeat}`"
    )


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("a{1000}", "a" * 1000),
        ("[a{5000}]", "5"),
        (r"\{5000}", "{5000}"),
        ("[]{5000}]", "]"),
        ("a{3,}", "aaa"),
    ],
)
def test_repeat_counts_go_accepts_compile(pattern: str, text: str) -> None:
    assert compile_filter(pattern, UsageError).fullmatch(text)


#: Expressions Go's regexp/syntax refuses, and the error oc prints after its prefix (each checked against
#: the real oc, ``oc adm release info --filter-by-os=EXPR``, also in test_filter_errors_are_ocs below).
GO_ERRORS = {
    "[": "missing closing ]: `[`",
    "(": "missing closing ): `(`",
    "a**": "invalid nested repetition operator: `**`",
    r"\p{Foo}": r"invalid character class range: `\p{Foo}`",
    "x{2,1}": "invalid repeat count: `{2,1}`",
    ")": "unexpected ): `)`",
    "a(b))": "unexpected ): `a(b))`",
    r"\8": r"invalid escape sequence: `\8`",
    "(?=a)": "invalid or unsupported Perl syntax: `(?=`",
    "(?P<n>a)(?P=n)": "invalid or unsupported Perl syntax: `(?P`",
    "(?i": "invalid or unsupported Perl syntax: `(?i`",
    "(?P<a-b>x)": "invalid named capture: `(?P<a-b>`",
    "[z-a]": "invalid character class range: `z-a`",
    "\\": "trailing backslash at end of expression: ``",
    "[[:foo:]]": "invalid character class range: `[:foo:]`",
    "*": "missing argument to repetition operator: `*`",
    "a|*": "missing argument to repetition operator: `*`",
    "a+*": "invalid nested repetition operator: `+*`",
    "a{2}?{3}": "invalid nested repetition operator: `{2}?{3}`",
    "(a{500}){3}": "invalid repeat count: `{3}`",
    r"\x{110000}": r"invalid escape sequence: `\x{110000`",
    r"\xZ": r"invalid escape sequence: `\xZ`",
    r"[\b]": r"invalid escape sequence: `\b`",
    r"\C": r"invalid escape sequence: `\C`",
    "[a": "missing closing ]: `[a`",
}


@pytest.mark.parametrize("pattern", sorted(GO_ERRORS))
def test_filter_errors_are_worded_as_go(pattern: str) -> None:
    """Go's regexp/syntax wording (Python's re said `missing ), unterminated subpattern at position 0`)."""
    with pytest.raises(UsageError) as err:
        compile_filter(pattern, UsageError)
    assert (
        str(err.value)
        == f"--filter-by-os was not a valid regular expression: error parsing regexp: {GO_ERRORS[pattern]}"
    )


#: Expressions Go accepts (Python's re refused some: ``\pL``, ``[[:alpha:]]``, ``a(?i)b``), with a text each
#: matches as Go matches it and one it does not.
GO_MATCHES = [
    ("a{,5}", "a{,5}", "aaaaa"),  # no repeat count: literal in Go (Python: a repeated 0 to 5 times)
    ("a{01}", "a{01}", "a"),
    (r"^\d$", "7", "\u0663"),  # ASCII digits only
    ("linux$", "linux", "linux\n"),  # $ is the text's end
    ("(?m)x$", "x\n", "xy"),
    ("a(?i)b", "aB", "AB"),  # the flag from there on
    (r"\Qa.b\E", "a.b", "axb"),
    ("^[[:alpha:]]+$", "abc", "ab1"),
    (r"^\pL+$", "\u00e9t\u00e9", "e1"),
    (r"^\p{^Lu}$", "a", "A"),
    ("^(?P<os>linux)/(?<arch>amd64|arm64)$", "linux/arm64", "linux/s390x"),
    (r"\bamd64\b", "linux/amd64", "linux/xamd64"),
    ("^x\\z", "x", "x\n"),
]


@pytest.mark.parametrize(("pattern", "matched", "unmatched"), GO_MATCHES)
def test_filter_means_what_it_means_in_go(pattern: str, matched: str, unmatched: str) -> None:
    compiled = compile_filter(pattern, UsageError)
    assert (bool(compiled.search(matched)), bool(compiled.search(unmatched))) == (True, False)


#: (expression, character, whether Go matches it): Go 1.27's Unicode 17.0 tables (Python's unicodedata is
#: 14.0: it knows neither the Nag Mundari letter of 15.0 nor Sidetic of 17.0), scripts by the Script property
#: (U+0951 is Inherited; only its Script_Extensions name Devanagari), classes in brackets, negation, (?i).
#: Each checked against the real oc in test_unicode_classes_match_as_in_oc below.
UNICODE_CASES = [
    (r"\pL", "\U0001e4d0", True),
    (r"\p{Nag_Mundari}", "\U0001e4d0", True),
    (r"\p{Sidetic}", "\U00010940", True),
    (r"\p{Cn}", "\U00010940", False),
    (r"\p{Assigned}", "\U00010940", True),
    (r"\p{Greek}", "\u0370", True),
    (r"\p{greek}", "a", False),
    (r"\p{Devanagari}", "\u0951", False),
    (r"\p{Inherited}", "\u0951", True),
    (r"\p{Katakana}", "\u30fc", False),
    (r"\p{Common}", "\u30fc", True),
    (r"[\p{Latin}\d]", "7", True),
    (r"[\p{Latin}\d]", "\u0370", False),
    (r"\P{Han}", "\u4e00", False),
    (r"[^\P{Han}]", "\u4e00", True),
    (r"\p{^Greek}", "a", True),
    (r"\p{Lu}", "a", False),
    (r"(?i)\p{Lu}", "a", True),
    (r"\p{Canadian_Aboriginal}", "\u1400", True),
]


@pytest.mark.parametrize(("expression", "char", "matched"), UNICODE_CASES)
def test_unicode_classes_mean_what_they_mean_in_go(expression: str, char: str, matched: bool) -> None:
    r"""Script classes match (before: ``\p{Greek}`` was refused as unsupported) by Unicode 17.0's tables."""
    compiled = compile_filter(f"^linux/(?:{expression})$", UsageError)
    assert bool(compiled.search(f"linux/{char}")) is matched


def test_unicode_classes_match_as_in_oc(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    """oc image info --filter-by-os over a list of two images, linux/CHAR and linux/zz: an expression
    that also matches CHAR selects both (oc: "contains multiple images"), one that does not selects zz's."""
    options = TransportOptions(insecure_registries=frozenset({registry_http.host}))
    name = unique_repo()
    with RegistryClient(options) as client:
        repo = repo_at(client, registry_http.host, name)
        image, other = (build_image(seed=seed, layers=1, layer_size=64) for seed in ("zz", "char"))
        push_image(repo, image)
        push_image(repo, other)  # (a list's entries of one digest count once)
        for position, (_, char, _) in enumerate(UNICODE_CASES):
            entries = [
                {**entry.descriptor(), "platform": {"os": "linux", "architecture": arch}}
                for entry, arch in ((other, char), (image, "zz"))
            ]
            body = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": entries,
            }
            repo.put_manifest(
                json.dumps(body).encode(), "application/vnd.oci.image.index.v1+json", f"c{position}"
            )
    for position, (expression, _, matched) in enumerate(UNICODE_CASES):
        done = run_oc(
            [
                "image",
                "info",
                "--insecure",
                f"--filter-by-os=^linux/(?:(?:{expression})$|zz$)",
                f"{registry_http.host}/{name}:c{position}",
            ],
            tmp_path,
        )
        both = "the image is a manifest list and contains multiple images" in done.stderr
        assert (both, done.returncode == 0, f"Digest:        {image.digest}" in done.stdout) == (
            matched,
            not matched,
            not matched,
        ), (expression, done.stderr)


def test_filter_errors_are_ocs(tmp_path: Path) -> None:
    """The real oc refuses each of GO_ERRORS in the same words and accepts each of GO_MATCHES."""
    for pattern in [*GO_ERRORS, *(case[0] for case in GO_MATCHES)]:
        done = run_oc(["adm", "release", "info", f"--filter-by-os={pattern}", "127.0.0.1:1/x:y"], tmp_path)
        first = done.stderr.splitlines()[0]
        if pattern in GO_ERRORS:
            assert first == (
                "error: --filter-by-os was not a valid regular expression: error parsing regexp: "
                + GO_ERRORS[pattern]
            ), pattern
        else:
            assert "regular expression" not in first and first.startswith("error: unable to read image"), (
                pattern
            )


def test_bad_filter_is_one_usage_line_from_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["new", "--filter-by-os", "a{99999999999}", "-f", "/nonexistent", "--to-file", "/nonexistent"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "error: --filter-by-os was not a valid regular expression: error parsing regexp: invalid repeat count: "
        "`{99999999999}`"
    )
