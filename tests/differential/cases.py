"""Hand-written scenarios pinning differences the seeded runs found (each was a bug of okdrelease).

They run through the same harness as the seeds (``harness.run_scenario``), so oc stays the oracle.
Scenario ids start at 900000 to keep their repositories apart from the seeds'.
"""

from __future__ import annotations

import json

import attrs

from .images import Entry, ImageSpec, build
from .scenario import CVO, InputFile, Scenario

#: Normal, fractional (.5 rounds up, .4999 down), zero, negative, after 2242 (PAX), after 2262 (clamped when extracted).
UNUSUAL_MTIMES = (
    1_700_000_000,
    1_700_000_100.5,
    1_700_000_200.4999,
    0,
    -86_400,
    8_589_934_592,
    9_223_372_036,
    11_810_783_221,
)
OPERATOR = "dns-operator"
DEPLOYMENT = b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dns\nspec:\n  image: quay.io/openshift/dns:latest\n"


def _operator_entries(mtimes: tuple[float, ...]) -> tuple[Entry, ...]:
    refs = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "spec": {
            "tags": [
                {"name": OPERATOR, "from": {"kind": "DockerImage", "name": "quay.io/openshift/dns:latest"}}
            ]
        },
    }
    entries = [Entry("manifests", None, 1_600_000_000, 0o755)]
    entries += [Entry(f"manifests/{i:02d}-file.yaml", DEPLOYMENT, mtime) for i, mtime in enumerate(mtimes)]
    entries.append(Entry("manifests/image-references", json.dumps(refs).encode(), 1_500_000_000))
    return tuple(entries)


def _images(
    mtimes: tuple[float, ...], extra: tuple[Entry, ...] = ()
) -> tuple[tuple[ImageSpec, ...], dict[str, str]]:
    label = {"io.openshift.release.operator": "true"}
    cvo = ImageSpec(CVO, ((Entry("bin/cvo", b"cvo", 1_700_000_000, 0o755),),), {})
    top = _operator_entries(mtimes) + extra
    operator = ImageSpec(OPERATOR, ((Entry("bin/dns", b"dns", 0, 0o755),), top), label)
    specs = (cvo, operator)
    digests = {spec.tag: build(spec).digest for spec in specs}
    return specs, digests


def _stream(digests: dict[str, str]) -> bytes:
    tags = [
        {"name": t, "from": {"kind": "DockerImage", "name": "{registry}/{repo}@" + d}}
        for t, d in sorted(digests.items())
    ]
    return json.dumps(
        {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": tags}}
    ).encode()


def unusual_mtimes_in_layers(
    case_id: int, output: tuple[str, ...], mtimes: tuple[float, ...] = UNUSUAL_MTIMES
) -> Scenario:
    """An operator layer whose manifests carry every kind of unusual mtime, built from an image stream."""
    specs, digests = _images(mtimes)
    files = (InputFile("is.json", _stream(digests)),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--name", "4.16.0", *output)
    return Scenario(case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-mtimes"}))


def unusual_mtimes_in_directory(case_id: int, output: tuple[str, ...]) -> Scenario:
    """The same manifests read with ``--from-dir`` (file times set on disk, not clamped by extraction)."""
    specs, digests = _images(UNUSUAL_MTIMES)
    files = [
        InputFile(f"fromdir/{OPERATOR}/{e.path.removeprefix('manifests/')}", e.data or b"", e.mtime)
        for e in _operator_entries(UNUSUAL_MTIMES)
        if e.data is not None
    ]
    files.append(InputFile("fromdir/image-references", _stream(digests)))
    args = ("--insecure", "--from-dir", "{work}/fromdir", "--name", "4.16.0", *output)
    return Scenario(
        case_id, tuple((s, build(s)) for s in specs), tuple(files), args, (), frozenset({"case-mtimes-dir"})
    )


def canonical_rebuild(case_id: int, output: tuple[str, ...]) -> Scenario:
    """``--from-release`` without overrides on a release oc built: the digest must be oc's (and the input's)."""
    specs, digests = _images((1_700_000_000, 1_700_000_100.5))
    files = (InputFile("is.json", _stream(digests)),)
    phase1: tuple[str, ...] = (
        "--insecure",
        "-f",
        "{work}/is.json",
        "--reference-mode=source",
        "--name",
        "4.16.0",
    )
    phase1 += ("--to-image", "{registry}/{repo}-base:r")
    args = ("--insecure", "--from-release", "{release}", *output)
    features = frozenset({"canonical-rebuild", "case-canonical"})
    return Scenario(case_id, tuple((s, build(s)) for s in specs), files, args, phase1, features)


def bare_name_mapping(case_id: int) -> Scenario:
    """``cli=busybox`` (no tag, no digest): oc refuses it before fetching anything; never docker.io."""
    specs, digests = _images((1_700_000_000,))
    args = ["--insecure", "--to-dir", "{out}/dir"]
    args += [f"{tag}={{registry}}/{{repo}}@{digest}" for tag, digest in sorted(digests.items())]
    args.append("cli=busybox")
    return Scenario(
        case_id, tuple((s, build(s)) for s in specs), (), tuple(args), (), frozenset({"case-bare-name"})
    )


def no_operators(case_id: int, output: tuple[str, ...]) -> Scenario:
    """No operator contributes files (an empty --from-dir): oc's closing warning, whatever the destination."""
    specs, digests = _images((1_700_000_000,))
    files = (InputFile("fromdir/image-references", _stream(digests)),)
    args = ("--insecure", "--from-dir", "{work}/fromdir", "--name", "4.16.0", *output)
    return Scenario(
        case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-no-operators"})
    )


def refused_manifest(case_id: int, data: bytes) -> Scenario:
    """An operator file oc's manifest check refuses: the same message (file, line, problem)."""
    specs, digests = _images((1_700_000_000,), (Entry("manifests/zz-bad.yaml", data, 1_700_000_000),))
    files = (InputFile("is.json", _stream(digests)),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--to-dir", "{out}/dir")
    return Scenario(case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-check"}))


def mirror(case_id: int, name: str, output: tuple[str, ...]) -> Scenario:
    """``--mirror`` from a public image stream: oc's report on stdout is Q9; a ``+build`` name makes invalid tags."""
    specs, digests = _images((1_700_000_000,))
    stream = json.loads(_stream(digests))
    stream["status"] = {"publicDockerImageRepository": "{registry}/{repo}"}
    files = (InputFile("is.json", json.dumps(stream).encode()),)
    args = (
        "--insecure",
        "-f",
        "{work}/is.json",
        "--name",
        name,
        "--mirror",
        "{registry}/{out_repo}-m",
        *output,
    )
    return Scenario(case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-mirror"}))


def listed_release(case_id: int) -> Scenario:
    """A release kept as a manifest list (``--keep-manifest-list``) of a base listed arm64 first, pushed."""
    specs, _ = _images((1_700_000_000,))
    cvo = attrs.evolve(specs[0], platforms=(("linux", "arm64"), ("linux", "amd64")))
    listed = (cvo, specs[1])
    files = (InputFile("is.json", _stream({s.tag: build(s).digest for s in listed})),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--name", "4.16.0")
    args += ("--keep-manifest-list", "--to-image", "{registry}/{out_repo}:rel")
    return Scenario(case_id, tuple((s, build(s)) for s in listed), files, args, (), frozenset({"case-list"}))


def named_release(case_id: int, name: str, output: tuple[str, ...]) -> Scenario:
    """An image stream built into a release named ``name`` (a ``+build`` name is no valid tag for ``--to-image R``)."""
    specs, digests = _images((1_700_000_000,))
    files = (InputFile("is.json", _stream(digests)),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--name", name, *output)
    return Scenario(case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-name"}))


#: Operator files extract refuses (oc lists each under ``Errors:`` and writes the others): two that no
#: decoder reads, then documents library-go refuses by their identity.
UNREADABLE_MANIFESTS = {
    "zz-bad-1.yaml": b"kind: [unclosed\n",
    "zz-bad-2.json": b'{"kind": "A", "apiVersion": "v1",}\n',
    "a-noname.yaml": b"apiVersion: v1\nkind: A\nmetadata:\n  namespace: x\n",
    "b-noapi.yaml": b"kind: A\nmetadata:\n  name: b\n",
    "c-nokind.yaml": b"apiVersion: v1\nmetadata:\n  name: c\n",
    "d-dup.yaml": b"kind: A\napiVersion: v1\nmetadata:\n  name: x\n---\nkind: A\napiVersion: v2\nmetadata:\n  name: x\n",
    "e-items.yaml": b"kind: AList\napiVersion: v1\nmetadata:\n  name: e\nitems: [{kind: B, apiVersion: v1}]\n",
    "f-list.yaml": b"- a\n- b\n",
    "g-scalar.yaml": b"hello\n",
    "h-nsdup.yaml": b"kind: A\napiVersion: g/v1\nmetadata:\n  name: x\n  namespace: n\n---\n"
    b"kind: A\napiVersion: g/v2\nmetadata:\n  name: x\n  namespace: n\n",
    "i-numname.yaml": b"kind: A\napiVersion: v1\nmetadata:\n  name: 12\n",
    "j-kindnum.yaml": b"kind: 5\napiVersion: v1\nmetadata:\n  name: j\n",
    "k-groups.yaml": b"kind: A\napiVersion: a/b/c\nmetadata:\n  name: k\n",
}


#: The same refusals in JSON documents: Go's JSON decoder hands the document's own text to library-go, whose
#: errors then lack sigs.k8s.io/yaml's ``error unmarshaling JSON: while decoding JSON:`` and quote the text as
#: written; a stream not starting with ``{`` (a list, a string, a BOM first) is read as YAML. Then JSON that
#: does not parse, with Go's scanner errors.
UNREADABLE_JSON_MANIFESTS = {
    "a-noname.json": b'{"apiVersion": "v1", "kind": "A", "metadata": {"namespace": "x"}}\n',
    "c-nokind.json": b'{"apiVersion": "v1", "metadata": {"name": "c"}}\n',
    "c2-nokind.json": b'  \n{\n  "apiVersion": "v1",\n  "metadata": {"name": "c", "z": [1, {"b": 2, "a": 1}]}\n}\n',
    "d-dup.json": b'{"kind": "A", "apiVersion": "v1", "metadata": {"name": "x"}}\n'
    b'{"kind": "A", "apiVersion": "v2", "metadata": {"name": "x"}}\n',
    "e-second.json": b'{"kind": "A", "apiVersion": "v1", "metadata": {"name": "e"}} {"kind": "B", "apiVersion": "v1"}',
    "f-list.json": b'["a", "b"]\n',
    "g-scalar.json": b'"hello"\n',
    "i-numname.json": b'{"kind": "A", "apiVersion": "v1", "metadata": {"name": 12}}\n',
    "j-kindnum.json": b'{"kind": 5, "apiVersion": "v1", "metadata": {"name": "j"}}\n',
    "j2-apibool.json": b'{"kind": "A", "apiVersion": true, "metadata": {"name": "j"}}\n',
    "k-groups.json": b'{"kind": "A", "apiVersion": "a/b/c", "metadata": {"name": "k"}}\n',
    "m-bom.json": b'\xef\xbb\xbf{"apiVersion": "v1", "metadata": {"name": "m"}}\n',
    "n-flow.yaml": b"{apiVersion: v1, metadata: {name: n}}\n",
    # read as YAML after the JSON decoder failed: a refused document is reported with that JSON error
    "p-flow-two.yaml": b"{apiVersion: v1, kind: A, metadata: {name: p}}\n---\n{apiVersion: v1, kind: A, metadata: {name: n}}\n",
    "p-json-then-yaml.json": b'{"apiVersion": "v1", "kind": "A", "metadata": {"name": "p"}}\n---\napiVersion: v1\nkind: A\n',
    "p-spaces.json": b'  {"kind": "A", "apiVersion": "v1", "metadata": {"name": "x"}}  \n\n  {kind: [}\n',
    # after two JSON values no YAML: the scanner's own error; a value cut short
    "q-third.json": b'{"kind": "A", "apiVersion": "v1", "metadata": {"name": "x"}}\n'
    b'{"kind": "A", "apiVersion": "v1", "metadata": {"name": "y"}}\n{kind: B}\n',
    "q-cut.json": b'{"kind": "A", "apiVersion": "v1", "metadata": {"name": "x"}',
}


_NAMED = b"apiVersion: v1\nkind: A\nmetadata:\n  name: x\n"
_PADDED = b"apiVersion: v1\nkind: ConfigMap\n#" + b"x" * 478 + b"\n"
#: Files whose earlier document oc refuses (or finds a duplicate) before a later one fails to parse: each
#: document is decoded and checked in turn, so the earlier refusal is oc's error; a bad ``---`` line is read
#: with the document it ends, so it comes first.
ORDERED_MANIFESTS = {
    "o1-json-value-then-yaml.yaml": b"{}: c\napiVersion: v1\nkind: ConfigMap\n",
    "o2-nul-after-separator.yaml": _PADDED + b"---\n\x00\n",
    "o3-nul-past-512.yaml": b"apiVersion: v1\nkind: ConfigMap\n---\n" + b"a" * 476 + b"\x00\n",
    "o4-dup-then-syntax.yaml": _NAMED + b"---\n" + _NAMED + b"---\nkind: [\n",
    "o5-dup-then-separator.yaml": _NAMED + b"---\n" + _NAMED + b"--- x\n",
    "o6-noname-then-syntax.yaml": b"apiVersion: v1\nkind: A\n---\nkind: [\n",
    "o7-noname-then-separator.yaml": b"apiVersion: v1\nkind: A\n--- x\n",
    "o8-json-noname-then-cut.json": b'{"apiVersion": "v1", "kind": "A"}\n{"kind": [\n',
    "o9-json-dup-then-cut.json": b'{"apiVersion": "v1", "kind": "A", "metadata": {"name": "x"}}\n' * 2
    + b'{"kind": [\n',
    "oa-json-noname-then-third-bad.json": b'{"apiVersion": "v1", "kind": "A", "metadata": {"name": "x"}}\n'
    b'{"apiVersion": "v1", "kind": "A"}\n{kind: B}\n',
    "ob-json-noname-then-separator.yaml": b'{"apiVersion": "v1", "kind": "A"}\n---\nkind: [\n',
    "oc-json-nokind-then-yaml.json": b'{"apiVersion": "v1"} x: [\n',
    "od-dup-then-noname.yaml": _NAMED + b"---\n" + _NAMED + b"---\napiVersion: v1\nkind: A\n",
    "oe-null-then-syntax.yaml": b"null\n---\nkind: [\n",
    "of-comment-noname-then-nul.yaml": b"# c\n---\napiVersion: v1\nkind: A\n---\n\x00\n",
}


_BOM = b"\xef\xbb\xbf"
#: Files starting with a BOM: their first line is no ``---`` separator (differential seed 838: a BOM, then
#: ``--- {apiVersion: v1, …}`` on the first line, which oc reads as a document).
BOM_MANIFESTS = {
    "b1-flow-on-the-separator-line.yaml": _BOM
    + b"--- {apiVersion: v1, kind: A, metadata: {\n    name: a}}\n---\n"
    + _NAMED,
    "b2-separator-line.yaml": _BOM + b"---\napiVersion: v1\nkind: A\nmetadata: {name: b}\n",
    "b3-two-separators-then-bad.yaml": _BOM
    + b"---\n---\napiVersion: v1\nkind: A\nmetadata: {name: c}\n---\nkind: [\n",
    "b4-bad-separator.yaml": _BOM + b"--- x\n",
    "b5-separator-comment.yaml": _BOM + b"--- # c\napiVersion: v1\nkind: A\nmetadata: {name: e}\n",
    "b6-separator-then-syntax.yaml": _BOM + b"---\nkind: [\n",
    "b7-crlf.yaml": _BOM + b"--- {apiVersion: v1, kind: A,\r\n metadata: {name: g}}\r\n---\r\nkind: [\r\n",
    "b8-scalar-then-object.yaml": _BOM + b"--- x\n---\napiVersion: v1\nkind: A\nmetadata: {name: h}\n",
    "b9-document-end.yaml": _BOM + b"...\napiVersion: v1\nkind: A\nmetadata: {name: i}\n",
}


def unreadable_manifests(case_id: int, manifests: dict[str, bytes] | None = None) -> Scenario:
    """The files of ``manifests`` (``UNREADABLE_MANIFESTS``) carried with --skip-manifest-check into a release
    pushed as ``:rel``."""
    chosen = UNREADABLE_MANIFESTS if manifests is None else manifests
    extra = tuple(Entry(f"manifests/{n}", d, 1_700_000_000) for n, d in chosen.items())
    specs, digests = _images((1_700_000_000,), extra)
    files = (InputFile("is.json", _stream(digests)),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--skip-manifest-check")
    args += ("--name", "4.16.0", "--to-image", "{registry}/{out_repo}:rel")
    return Scenario(
        case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-unreadable"})
    )


def same_layer_whiteout(case_id: int, output: tuple[str, ...]) -> Scenario:
    """An operator layer that writes a manifest and then whites it out (and one it writes again after its whiteout)."""
    extra = (
        Entry("manifests/zz-gone.yaml", DEPLOYMENT.replace(b"name: dns", b"name: gone"), 1_700_000_000),
        Entry("manifests/.wh.zz-gone.yaml", b"", 1_700_000_000),
        Entry("manifests/.wh.zz-back.yaml", b"", 1_700_000_000),
        Entry("manifests/zz-back.yaml", DEPLOYMENT.replace(b"name: dns", b"name: back"), 1_700_000_000),
    )
    specs, digests = _images((1_700_000_000,), extra)
    files = (InputFile("is.json", _stream(digests)),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--name", "4.16.0", *output)
    return Scenario(
        case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-whiteout"})
    )


#: A digest no registry holds.
MISSING_DIGEST = "sha256:" + "0" * 64


def unreadable_base(case_id: int, base: str, output: tuple[str, ...]) -> Scenario:
    """An image stream built on a ``--to-image-base`` that cannot be read (the operators load first)."""
    specs, digests = _images((1_700_000_000,))
    files = (InputFile("is.json", _stream(digests)),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--name", "4.16.0")
    args += ("--to-image-base", base, *output)
    return Scenario(case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-base"}))


def missing_components(case_id: int, sources: tuple[tuple[str, str], ...], *extra: str) -> Scenario:
    """An image stream with extra components (tag, source) that cannot be read, after the readable ones."""
    specs, digests = _images((1_700_000_000,))
    stream = json.loads(_stream(digests))
    for tag, source in sources:
        stream["spec"]["tags"].append({"name": tag, "from": {"kind": "DockerImage", "name": source}})
    files = (InputFile("is.json", json.dumps(stream).encode()),)
    args = ("--insecure", "-f", "{work}/is.json", "--reference-mode=source", "--to-dir", "{out}/dir", *extra)
    return Scenario(
        case_id, tuple((s, build(s)) for s in specs), files, args, (), frozenset({"case-missing-component"})
    )
