"""Property-based tests (issue 11): reference parsing, component versions, manifest rewriting, the tar reader.

Each property is checked against a model of the grammar, not against the implementation: the
strategies build valid inputs from their parts (so the expected parse is known), and arbitrary text
checks that nothing but the documented error escapes. The ``ci`` profile (the default) is
derandomized with a modest number of examples so the suite is fast and repeatable; set
``HYPOTHESIS_PROFILE=dev`` to search harder with fresh randomness.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_release_extract import file_entry, image_references, payload_layer, write_image

from okdrelease.errors import InvalidReferenceError, OkdReleaseError, ReleaseError
from okdrelease.gocompat import semver
from okdrelease.gocompat.gotar import GoTarWriter, go_mtime
from okdrelease.gocompat.yamlbounds import YAMLLimitError, check_text
from okdrelease.oci.layerread import read_entries
from okdrelease.oci.layerwrite import TarEntry, write_tar
from okdrelease.openshift.versions import (
    ComponentVersion,
    format_component_versions,
    parse_component_versions,
)
from okdrelease.payload.mapper import ImageMapper
from okdrelease.reference import ImageReference, parse_location
from okdrelease.release.extract import extract_release
from okdrelease.transport.layout import LayoutRepository

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
ALNUM = LOWER_ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _hex(length: int) -> st.SearchStrategy[str]:
    """``length`` lower-case hex digits (drawn as bytes: far cheaper than text or a regex)."""
    return st.binary(min_size=length // 2, max_size=length // 2).map(bytes.hex)


def _joined(
    part: st.SearchStrategy[str], separator: st.SearchStrategy[str], most: int
) -> st.SearchStrategy[str]:
    """``part (separator part){0,most}``, built from parts (``from_regex`` is slow to draw from)."""
    rest = st.lists(st.tuples(separator, part).map("".join), max_size=most).map("".join)
    return st.tuples(part, rest).map("".join)


# --------------------------------------------------------------------------------------------
# Image references: registry/path[:tag][@digest]

_PATH_COMPONENT = _joined(
    st.text(LOWER_ALNUM, min_size=1, max_size=8), st.sampled_from([".", "_", "__", "-", "--"]), 2
)
_LABEL = _joined(st.text(ALNUM, min_size=1, max_size=5), st.sampled_from(["-", "--"]), 1)
_PORT = st.integers(1, 65535).map(lambda p: f":{p}")
# A first component is a registry only when it has a "." or ":" or is "localhost" (Docker's rule):
# every registry drawn here is one, and without a registry the first path component is none.
_REGISTRY = st.one_of(
    st.tuples(st.lists(_LABEL, min_size=2, max_size=4).map(".".join), st.one_of(st.just(""), _PORT)).map(
        "".join
    ),
    st.tuples(_LABEL, _PORT).map("".join),
    st.tuples(st.just("localhost"), st.one_of(st.just(""), _PORT)).map("".join),
)
_TAG = st.tuples(
    st.sampled_from(ALNUM + "_"),
    st.one_of(st.text(ALNUM + "_.-", max_size=20), st.text(ALNUM + "_.-", min_size=127, max_size=127)),
).map("".join)
_DIGEST = st.one_of(_hex(64).map(lambda h: f"sha256:{h}"), _hex(128).map(lambda h: f"sha512:{h}"))


@st.composite
def _reference_parts(draw: st.DrawFn) -> tuple[str, str, str | None, str | None]:
    registry = draw(st.one_of(st.just(""), _REGISTRY))
    path = draw(st.lists(_PATH_COMPONENT, min_size=1, max_size=4))
    if not registry and len(path) > 1:
        assume("." not in path[0] and path[0] != "localhost")
    tag = draw(st.one_of(st.none(), _TAG))
    digest = draw(st.one_of(st.none(), _DIGEST))
    return registry, "/".join(path), tag, digest


def _compose(registry: str, path: str, tag: str | None, digest: str | None) -> str:
    text = f"{registry}/{path}" if registry else path
    return text + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


@given(_reference_parts())
def test_reference_parses_into_its_parts_and_prints_back(
    parts: tuple[str, str, str | None, str | None],
) -> None:
    registry, path, tag, digest = parts
    text = _compose(*parts)
    domain = registry or "docker.io"
    full_path = f"library/{path}" if domain == "docker.io" and "/" not in path else path
    if len(domain) + 1 + len(full_path) > 255 or re.fullmatch(r"[a-f0-9]{64}", text):
        with pytest.raises(InvalidReferenceError):
            ImageReference.parse(text)
        return
    ref = ImageReference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, path, tag, digest)
    assert str(ref) == text
    assert ImageReference.parse(str(ref)) == ref
    assert ref.name == (f"{registry}/{path}" if registry else path)
    assert ref.exact() == (f"{ref.name}@{digest}" if digest else f"{ref.name}:{tag}" if tag else ref.name)
    assert parse_location(f"docker://{text}") == parse_location(text)
    assert ImageReference.parse(ref.exact()).exact() == ref.exact()


@given(_reference_parts(), _DIGEST, _TAG)
def test_reference_with_digest_and_with_tag(
    parts: tuple[str, str, str | None, str | None], digest: str, tag: str
) -> None:
    try:
        ref = ImageReference.parse(_compose(*parts))
    except InvalidReferenceError:
        assume(False)
        raise
    pinned = ref.with_digest(digest)
    assert (pinned.tag, pinned.digest, str(pinned)) == (None, digest, f"{ref.name}@{digest}")
    tagged = pinned.with_tag(tag)
    assert (tagged.tag, tagged.digest, str(tagged)) == (tag, None, f"{ref.name}:{tag}")
    assert ImageReference.parse(str(tagged)) == tagged


_REFERENCE_CHARS = "abcAB09._-/:@" + "sha256" + "\u00e9 \t"


@given(st.one_of(st.text(_REFERENCE_CHARS, max_size=40), st.text(max_size=40)))
def test_any_text_parses_or_is_an_invalid_reference(text: str) -> None:
    """Nothing but InvalidReferenceError escapes, and whatever parses prints back as written."""
    try:
        ref = ImageReference.parse(text)
    except InvalidReferenceError:
        return
    assert str(ref) == text
    assert ImageReference.parse(str(ref)) == ref


# --------------------------------------------------------------------------------------------
# Component versions: io.openshift.build.versions "name=semver,..." and display names

_NUMBER = st.integers(0, 2**64 - 1).map(str)
_ALNUM_ID = st.tuples(
    st.text(ALNUM + "-", max_size=5), st.sampled_from("aZ-"), st.text(ALNUM + "-", max_size=5)
).map("".join)
_PRE_ID = st.one_of(st.integers(0, 10**6).map(str), _ALNUM_ID)
_BUILD_ID = st.text(ALNUM + "-", min_size=1, max_size=8)


@st.composite
def _semver_text(draw: st.DrawFn) -> str:
    text = ".".join(draw(st.tuples(_NUMBER, _NUMBER, _NUMBER)))
    pre = draw(st.lists(_PRE_ID, max_size=3))
    build = draw(st.lists(_BUILD_ID, max_size=2))
    return text + ("-" + ".".join(pre) if pre else "") + ("+" + ".".join(build) if build else "")


_KEY = _joined(st.text(LOWER_ALNUM, min_size=1, max_size=6), st.sampled_from(["-", "--"]), 2).filter(
    lambda k: len(k) >= 2
)
_DISPLAY = _joined(st.text(ALNUM + "():.-", min_size=1, max_size=8), st.just(" "), 2)
_SPACE = st.text(" \t\n", max_size=2)


@given(_semver_text())
def test_semver_prints_back_and_drops_only_build_metadata(text: str) -> None:
    version = semver.parse(text)
    assert str(version) == text
    assert str(version.without_build()) == text.partition("+")[0]


@given(_semver_text(), _semver_text())
def test_semver_order_is_antisymmetric_and_matches_its_sort_key(a_text: str, b_text: str) -> None:
    a, b = semver.parse(a_text), semver.parse(b_text)
    assert a.compare(b) == -b.compare(a)
    by_key = (a.sort_key() > b.sort_key()) - (a.sort_key() < b.sort_key())
    assert a.compare(b) == by_key
    if a_text.partition("+")[0] == b_text.partition("+")[0]:
        assert a.compare(b) == 0


@given(
    st.lists(st.tuples(_KEY, _semver_text(), _SPACE, _SPACE), min_size=1, max_size=5),
    st.dictionaries(_KEY, _DISPLAY, max_size=3),
)
def test_component_versions_parse_as_modelled(
    pairs: list[tuple[str, str, str, str]], names: dict[str, str]
) -> None:
    label = ",".join(f"{before}{key}={version}{after}" for key, version, before, after in pairs)
    display = ",".join(f"{key}={name}" for key, name in names.items())
    expected: dict[str, ComponentVersion] = {}
    for key, version, _before, _after in pairs:  # a later pair of the same name wins
        expected[key] = ComponentVersion(version.partition("+")[0], names.get(key, ""))
    parsed = parse_component_versions(label, display)
    assert parsed == expected
    assert parse_component_versions(format_component_versions(parsed)) == {
        key: ComponentVersion(value.version) for key, value in expected.items()
    }
    assert format_component_versions(parsed) == ",".join(
        f"{k}={expected[k].version}" for k in sorted(expected)
    )


@given(
    st.text(st.sampled_from("aZ09-_. \u00e9"), min_size=1, max_size=8).filter(
        lambda k: k.strip(" \t\n") == k and not re.fullmatch(r"[a-z0-9]+[\-a-z0-9]*[a-z0-9]+", k)
    ),
    _semver_text(),
)
def test_component_version_names_outside_the_grammar_are_refused(key: str, version: str) -> None:
    with pytest.raises(ReleaseError) as caught:
        parse_component_versions(f"ok={version},{key}={version}")
    assert str(caught.value).startswith("the version name ")


@given(st.text(max_size=60), st.text(max_size=30))
def test_any_label_parses_or_is_a_release_error(label: str, names: str) -> None:
    try:
        parsed = parse_component_versions(label, names)
    except ReleaseError:
        return
    for key, value in parsed.items():
        assert re.fullmatch(r"[a-z0-9]+[\-a-z0-9]*[a-z0-9]+", key)
        assert "+" not in value.version
        assert str(semver.parse(value.version)) == value.version


# --------------------------------------------------------------------------------------------
# Rewriting of image references in operator manifests (oc's ImageMapper rule)

_NAME = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
_SUFFIX = st.one_of(
    st.just(""),
    _TAG.map(lambda t: f":{t}"),
    _hex(64).map(lambda h: f"@sha256:{h}"),
)
_FRAMES = ("  image: {}\n", '  - "{}"\n', "  - '{}'\n", "  - --image={}\n", "    value: {}\n")


@st.composite
def _manifest(draw: st.DrawFn) -> tuple[dict[str, tuple[str, str]], bytes, bytes]:
    """(references, document, the document as rewritten by the model)."""
    names = draw(st.lists(_NAME, min_size=1, max_size=4, unique=True))
    sources = {name: f"quay.io/src/{name}" for name in names}
    targets = {name: f"registry.example.com/release@sha256:{draw(_hex(64))}" for name in names}
    given_lines: list[str] = ["kind: Deployment\nspec:\n"]
    expected_lines: list[str] = list(given_lines)
    for _ in range(draw(st.integers(0, 8))):
        frame = draw(st.sampled_from(_FRAMES))
        name = draw(st.sampled_from(names))
        kind = draw(st.sampled_from(("source", "other-repository", "longer-name", "port-and-path")))
        if kind == "source":
            value = sources[name] + draw(_SUFFIX)
            given_lines.append(frame.format(value))
            expected_lines.append(frame.format(targets[name]))
            continue
        if kind == "other-repository":
            value = f"quay.io/other/{name}" + draw(_SUFFIX)
        elif kind == "longer-name":
            value = sources[name] + "-" + draw(_NAME)
            assume(value not in sources.values())
        else:
            value = f"https://{sources[name]}:{draw(st.integers(1, 65535))}/{draw(_NAME)}"
        given_lines.append(frame.format(value))
        expected_lines.append(frame.format(value))
    references = {name: (sources[name], targets[name]) for name in names}
    return references, "".join(given_lines).encode(), "".join(expected_lines).encode()


@given(_manifest())
def test_rewriting_replaces_every_source_reference_and_nothing_else(
    case: tuple[dict[str, tuple[str, str]], bytes, bytes],
) -> None:
    references, document, expected = case
    mapper = ImageMapper(references)
    rewritten = mapper(document)
    assert rewritten == expected
    assert mapper(rewritten) == rewritten  # idempotent: targets name no source
    for source, target in references.values():
        remaining = re.findall(
            rb"[\s\"'=]" + re.escape(source.encode()) + rb"(?:[:@][^\s\"']*)?[\s\"']", rewritten
        )
        assert remaining == [], (source, target)


@given(st.binary(max_size=200))
def test_rewriting_leaves_text_without_sources_alone(data: bytes) -> None:
    mapper = ImageMapper({"a": ("quay.io/src/a", "registry.example.com/release@sha256:" + "0" * 64)})
    assume(b"quay.io/src/a" not in data)
    assert mapper(data) == data


# --------------------------------------------------------------------------------------------
# The raw-text depth scan: refuses a line starting with 10,000 block indicators, and nothing else

_PRESCAN_DEPTH = 10_000
_INDENTED_LINE = st.tuples(
    st.sampled_from([0, 7, _PRESCAN_DEPTH - 1, _PRESCAN_DEPTH, _PRESCAN_DEPTH + 1]),
    st.sampled_from([" ", "- ", "? ", "-", "?- ", "  -"]),
    st.text(alphabet="x ?-\ré\U0001f600", max_size=4),
    st.sampled_from(["\n", "\r", "\r\n", "\u2028"]),
)


def _model_too_deep(text: str) -> bool:
    """The rule: some line (split at line feeds only) starts with 10,000 spaces, ``-`` or ``?``."""
    lines = text.split("\n")
    return len(text) > _PRESCAN_DEPTH and any(
        len(line) - len(line.lstrip(" -?")) >= _PRESCAN_DEPTH for line in lines
    )


@given(st.lists(_INDENTED_LINE, max_size=4), st.booleans())
def test_depth_prescan_refuses_exactly_the_deeply_indented_lines(
    lines: list[tuple[int, str, str, str]], as_bytes: bool
) -> None:
    text = "".join((unit * (width // len(unit) + 1))[:width] + tail + end for width, unit, tail, end in lines)
    try:
        check_text(text.encode() if as_bytes else text)
    except YAMLLimitError as err:
        assert str(err) == "exceeded max depth of 200"
        assert _model_too_deep(text)
    else:
        assert not _model_too_deep(text)


# --------------------------------------------------------------------------------------------
# The tar reader: what is written reads back identically; no entry ends up outside the target

_NAME_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0")
_TAR_COMPONENT = st.text(_NAME_CHAR, min_size=1, max_size=12).filter(lambda c: c not in (".", ".."))
_TAR_PATH = st.lists(_TAR_COMPONENT, min_size=1, max_size=4).map("/".join)
_MODE = st.integers(0, 0o7777)


@st.composite
def _tar_entries(draw: st.DrawFn) -> list[TarEntry]:
    paths = draw(st.lists(_TAR_PATH, min_size=1, max_size=8, unique=True))
    entries: list[TarEntry] = []
    files: list[str] = []
    for path in paths:
        kind = draw(
            st.sampled_from(("file", "dir", "symlink", "hardlink") if files else ("file", "dir", "symlink"))
        )
        mtime = draw(st.one_of(st.integers(0, 2**33 - 1), st.integers(-(2**40), 2**40)))
        common = {"path": path, "mode": draw(_MODE), "mtime": mtime, "type": kind}
        if kind == "file":
            entries.append(TarEntry(data=draw(st.binary(max_size=1500)), **common))  # type: ignore[arg-type]
            files.append(path)
        elif kind == "symlink":
            link = draw(st.text(_NAME_CHAR | st.just("/"), min_size=1, max_size=30))
            entries.append(TarEntry(linkname=link, **common))  # type: ignore[arg-type]
        elif kind == "hardlink":
            entries.append(TarEntry(linkname=draw(st.sampled_from(files)), **common))  # type: ignore[arg-type]
        else:
            entries.append(TarEntry(**common))  # type: ignore[arg-type]
    return entries


@given(_tar_entries(), st.booleans())
def test_written_tar_reads_back_identically(entries: list[TarEntry], gzipped: bool) -> None:
    buffer = io.BytesIO()
    write_tar(entries, buffer)
    blob = buffer.getvalue()
    if gzipped:
        import gzip

        blob = gzip.compress(blob, mtime=0)
    read = [
        (e.path, e.type, e.mode, e.mtime, e.read(), e.linkname if e.type in ("symlink", "hardlink") else "")
        for e in read_entries(io.BytesIO(blob))
    ]
    assert read == [
        (e.path, e.type, e.mode, float(e.mtime), e.data if e.type == "file" else b"", e.linkname)
        for e in entries
    ]


@given(
    st.lists(
        st.tuples(_TAR_PATH, st.booleans(), st.binary(max_size=700), _MODE, st.floats(-1e10, 1e10)),
        min_size=1,
        max_size=6,
        unique_by=lambda item: item[0],
    )
)
def test_go_tar_writer_output_reads_back(items: list[tuple[str, bool, bytes, int, float]]) -> None:
    buffer = io.BytesIO()
    writer = GoTarWriter(buffer)
    for path, is_dir, data, mode, mtime in items:
        if is_dir:
            writer.add_dir(path, mode, mtime)
        else:
            writer.add_file(path, data, mode, mtime)
    writer.close()
    read = [(e.path, e.type, e.mode, e.mtime, e.read()) for e in read_entries(io.BytesIO(buffer.getvalue()))]
    assert read == [
        (path, "dir" if is_dir else "file", mode, float(go_mtime(mtime)), b"" if is_dir else data)
        for path, is_dir, data, mode, mtime in items
    ]


_HOSTILE_PART = st.sampled_from(
    ["..", ".", "", "a", "b.yaml", "c.json", "sub", "/", "x" * 120, "\u00e9.yaml"]
)
_HOSTILE_NAME = st.lists(_HOSTILE_PART, min_size=1, max_size=4).map("/".join)
_LINK_TARGET = st.sampled_from(
    [
        "a",
        "../a",
        "../../x",
        "/etc/passwd",
        "sub/../../..",
        "release-manifests/a",
        "release-manifests/../x",
        ".",
    ]
)
_ENTRY_KIND = st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "char", "block"])
_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
}


def _hostile_entry(prefix: str, name: str, kind: str, link: str) -> tuple[tarfile.TarInfo, bytes | None]:
    if kind == "file":
        return file_entry(prefix + name, b"kind: X\napiVersion: v1\n")
    info = tarfile.TarInfo(prefix + name)
    info.type = _TAR_TYPES[kind]
    info.mode = 0o755
    info.linkname = link if kind in ("symlink", "hardlink") else ""
    return info, None


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every path below ``root`` (links not followed): its mode and, for a regular file, its bytes."""
    found: dict[str, tuple[int, bytes]] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            info = path.lstat()
            data = path.read_bytes() if stat.S_ISREG(info.st_mode) else b""
            found[str(path.relative_to(root))] = (stat.S_IFMT(info.st_mode), data)
    return found


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["release-manifests/", "", "/", "./release-manifests/"]),
            _HOSTILE_NAME,
            _ENTRY_KIND,
            _LINK_TARGET,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_extract_never_writes_outside_its_target(entries: list[tuple[str, str, str, str]]) -> None:
    """Whatever names, types and link targets a release layer holds, extract writes regular files inside --to or fails."""
    with tempfile.TemporaryDirectory() as temp:
        box = Path(temp)
        refs = image_references("4.99.0", [])
        layer = payload_layer({"image-references": refs}, [_hostile_entry(*entry) for entry in entries])
        write_image(box / "layout", "r", [layer])
        (box / "outside.yaml").write_bytes(b"untouched\n")
        target = box / "work" / "to"
        before = _snapshot(box)
        try:
            extract_release(LayoutRepository(box / "layout"), "r", str(target))
        except OkdReleaseError:
            assert _snapshot(box) == before
            return
        after = _snapshot(box)
        created = {path: value for path, value in after.items() if path not in before}
        assert {path: value for path, value in after.items() if path in before} == before
        for path, (kind, _data) in created.items():
            assert path.startswith("work"), path
            assert kind in (stat.S_IFREG, stat.S_IFDIR), path
