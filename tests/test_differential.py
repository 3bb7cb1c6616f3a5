"""A bounded run of the differential harness (tests/differential): okdrelease against the real oc.

Each seed draws a payload and a ``release new`` command line, runs it with ``../shared/tools/oc``
and with okdrelease against the session's plain-HTTP registry, and fails with every difference
beyond the documented deviations (named in ``tests/differential/compare.py``). The release
``new`` writes is compared, and oc's own ``info -o json`` and ``extract`` of both releases.
``OKD_DIFF_SEEDS=a-b`` widens the range; ``python -m tests.differential --seeds N`` is the long run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import urllib.parse
import urllib.request
from pathlib import Path

import attrs
import pytest
from differential import cases
from differential.compare import ERROR_RACE, OC_DRYRUN_MIRROR, Comparison, compare_outcomes
from differential.harness import (
    ALL_CHECKS,
    SERIAL_OC,
    SeedReport,
    error_race,
    parity_extract,
    parity_views,
    run_new,
    run_scenario,
    run_seed,
)
from differential.images import sha256
from differential.runner import Proc, Session, oracle_session, placeholders, prepare
from oc_oracle import okd_run, run_oc
from registry_rig import RegistryInfo


def _seeds() -> list[int]:
    first, _, last = os.environ.get("OKD_DIFF_SEEDS", "0-9").partition("-")
    return list(range(int(first), int(last or first) + 1))


#: The areas the recorded cases below are compared in: every area but okdrelease's other ``info`` and
#: ``extract --file`` views (``parity:views``), which the seeded runs (``test_seed_matches_oc``) compare;
#: they would add some 20 tool runs to each case (the suite keeps to its 15-minute budget).
CHECKS = tuple(check for check in ALL_CHECKS if check != "parity:views")


@pytest.fixture(scope="module")
def session(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A harness session on the shared plain-HTTP registry."""
    return oracle_session(registry_http.host, Path(tmp_path_factory.mktemp("differential")))


@pytest.mark.parametrize("seed", _seeds())
def test_seed_matches_oc(session: Session, seed: int) -> None:
    """oc and okdrelease agree on the seed's scenario, up to the documented deviations."""
    _assert_same(run_seed(session, seed, ALL_CHECKS))


def test_mirror_reports_every_input_image_it_cannot_tag_as_oc(session: Session) -> None:
    """Seed 313: ``-f``, ``--mirror`` and a release name with ``+build``, so no mirror tag is valid. oc
    reports ``invalid tag format`` for every input image (it mirrors before pruning); okdrelease, which
    prunes first (PERF P11), reported only the two images its release keeps."""
    _assert_same(run_seed(session, 313, CHECKS))


@pytest.mark.parametrize("seed", [408, 626], ids=["new-name-twice", "mapping-file-and-argument"])
def test_a_component_mapped_twice_is_the_documented_q6(session: Session, seed: int) -> None:
    """Seed 408: ``new-component=A new-component=B``, a name no input has; seed 626: the mapping file's last
    line maps ``cluster-version-operator`` and so does an argument. oc appends the name twice to its
    operators (the second mapping overrides the tag the first added) and emits its manifests twice
    (``_2``), quirk Q6, which okdrelease fixes and reproduces with ``--duplicate-override-manifests``:
    the harness now runs that compat mode for both (it compared the default run before)."""
    _assert_same(run_seed(session, seed, CHECKS))


def test_a_later_yaml_document_after_json_fails_in_its_own_words(session: Session) -> None:
    """Seed 532: a manifest that starts as JSON (``{apiVersion: v1, …}``, no JSON) is read as YAML; its fourth
    document opens with ``--- {…}``. oc's extract reports that separator (``invalid Yaml document
    separator: …``), a later decoder call's error; okdrelease reported the first document's JSON error."""
    _assert_same(run_seed(session, 532, CHECKS))


class _CannedSession:
    """A stand-in for :class:`Session` whose okdrelease prints ``stderr`` and exits 1 (oc: ``oc_out``, exit 0)."""

    def __init__(self, stderr: str, oc_out: bytes = b"") -> None:
        self.stderr = stderr
        self.oc_out = oc_out

    def oc_cmd(self, *args: str) -> list[str]:
        return ["oc", *args]

    def py_cmd(self, *args: str) -> list[str]:
        return list(args)

    def run(self, argv: list[str]) -> Proc:
        if argv[0] == "oc":
            return Proc(tuple(argv), 0, self.oc_out, "")
        return Proc(tuple(argv), 1, b"", self.stderr)


def test_extract_stderr_is_compared_word_for_word(tmp_path: Path) -> None:
    """The YAML parser's message after ``error parsing FILE:`` is compared too (it was masked while extract read
    manifests with PyYAML; it reads them through the manifest check's go-yaml-compatible decoder now, and its
    words were oc's for the 157 refused manifests of test_parity_yaml_check.CASES carried into a release)."""
    oc = "error: error parsing 0000_50_a.yaml: error parsing: error converting YAML to JSON: yaml: line 1: "
    ours = _CannedSession(oc + "found unexpected end of stream\n")
    c = Comparison()
    oc_run = Proc((), 1, b"", oc + "did not find expected node content\n")
    parity_extract(ours, c, "ref", tmp_path / "none", oc_run, None)  # type: ignore[arg-type]
    assert [d.area for d in c.differences] == ["parity:extract-stderr"]


def test_every_view_is_compared() -> None:
    """parity_views runs okdrelease's other info views and extract --file next to oc's, and the ``--image-for``
    of the first and last component oc's ``-o json`` names: each one's exit code, stdout and stderr."""
    session = _CannedSession("error: x\n", b"out\n")
    c = Comparison()
    tags = {"references": {"spec": {"tags": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}}
    oc_json = Proc((), 0, json.dumps(tags).encode(), "")
    parity_views(session, c, "ref", oc_json)  # type: ignore[arg-type]
    areas = [d.area for d in c.differences]
    for view in (
        "info --pullspecs",
        "info --size",
        "info -o name",
        "info --image-for a",
        "info --image-for c",
    ):
        assert f"parity:{view}" in areas
        assert f"parity:{view} (stderr)" in areas
    assert "parity:extract --file image-references" in areas
    assert "parity:info --image-for b" not in areas


def _assert_same(report: SeedReport) -> None:
    details = "\n".join(f"[{d.area}]\n{d.detail}" for d in report.differences)
    assert not report.differences, f"case {report.seed} ({report.summary}):\n{details}"


@pytest.mark.parametrize(
    ("case_id", "output"),
    [
        (900001, ("--to-image", "{registry}/{out_repo}:rel")),
        (900002, ("--to-dir", "{out}/dir")),
        (900003, ("--to-file", "{out}/payload.tar.gz")),
    ],
)
def test_unusual_layer_mtimes_match_oc(session: Session, case_id: int, output: tuple[str, ...]) -> None:
    """Zero, negative, fractional and post-2262 layer mtimes: file entries and the newest-mtime entries as oc."""
    _assert_same(run_scenario(session, cases.unusual_mtimes_in_layers(case_id, output), CHECKS))


@pytest.mark.parametrize(
    "mtimes",
    [(9_223_372_037, 1_700_000_000), (-5, 1_700_000_000.5), (11_810_783_221,)],
    ids=["after-2262", "negative", "only-clamped"],
)
def test_newest_mtime_ignores_times_clamped_by_extraction(
    session: Session, mtimes: tuple[float, ...]
) -> None:
    """The directory/image-references/release-metadata mtime is the newest time after oc's extraction clamp."""
    case_id = 900010 + len(mtimes) * 3 + int(mtimes[0] < 0)
    scenario = cases.unusual_mtimes_in_layers(case_id, ("--to-dir", "{out}/dir"), mtimes)
    _assert_same(run_scenario(session, scenario, CHECKS))


@pytest.mark.parametrize(
    ("case_id", "output"),
    [(900021, ("--to-dir", "{out}/dir")), (900022, ("--to-image", "{registry}/{out_repo}:rel"))],
)
def test_unusual_directory_mtimes_match_oc(session: Session, case_id: int, output: tuple[str, ...]) -> None:
    """--from-dir keeps times oc's layer extraction would clamp (negative, post-2262) and writes them as PAX."""
    _assert_same(run_scenario(session, cases.unusual_mtimes_in_directory(case_id, output), CHECKS))


@pytest.mark.parametrize(
    ("case_id", "output"),
    [
        (900031, ("--to-image", "{registry}/{out_repo}:rel")),
        (900032, ("--dry-run", "--to-image", "{registry}/{out_repo}:rel")),
        (900033, ()),
        (900034, ("--to-file", "{out}/payload.tar.gz")),
    ],
    ids=["push", "dry-run", "dry-run-no-destination", "to-file"],
)
def test_canonical_rebuild_of_an_oc_release_reproduces_its_digest(
    session: Session, case_id: int, output: tuple[str, ...]
) -> None:
    """new --from-release X (no overrides) on a release oc built: exit 0 and X's digest, like oc."""
    scenario = cases.canonical_rebuild(case_id, output)
    report = run_scenario(session, scenario, CHECKS)
    _assert_same(report)
    assert report.oc_code == 0
    if not output or output[0] != "--to-file":
        got = session.pusher.manifest(f"s{case_id}/in-base", "r")
        assert got is not None
        assert report.py_stdout.decode().split(" ")[0] == sha256(got[0])  # the input release's digest
    if output and output[0] == "--to-file":
        work = session.scratch / f"seed-{case_id}"
        assert (work / "py" / "payload.tar.gz").read_bytes() == (work / "oc" / "payload.tar.gz").read_bytes()


def test_bare_name_mapping_is_refused_as_oc_does(session: Session) -> None:
    """A mapping to a bare repository name fails with oc's message, without contacting docker.io."""
    report = run_scenario(session, cases.bare_name_mapping(900041), CHECKS)
    _assert_same(report)
    assert report.oc_code == 1


@pytest.mark.parametrize(
    ("case_id", "output"),
    [
        (900051, ("--to-dir", "{out}/dir")),
        (900052, ("--to-file", "{out}/payload.tar.gz")),
        (900053, ("--to-file", "-")),
        (900054, ("--dry-run",)),
        (900055, ("-o", "json")),
    ],
    ids=["to-dir", "to-file", "to-file-stdout", "dry-run", "json"],
)
def test_no_operator_warning_as_oc(session: Session, case_id: int, output: tuple[str, ...]) -> None:
    """oc's "No operator metadata was found" warning appears for the same destinations."""
    _assert_same(run_scenario(session, cases.no_operators(case_id, output), CHECKS))


@pytest.mark.parametrize(
    ("case_id", "data"),
    [
        (900061, b'{"kind": "A", "apiVersion": "v1", "x": "\\ud83d\\ude80"}'),
        (900062, b'{\n  "kind": "A",\n  "apiVersion": "v1",\n  "x": [\n    "\\ud83d\\ude80"\n  ]\n}\n'),
        (900063, b'kind: A\napiVersion: v1\nx: "\\U00110000"\n'),
        (900064, b'kind: A\napiVersion: v1\nx: "a \\udfff b"\n'),
    ],
    ids=["json-one-line", "json-indented", "past-10ffff", "lone-surrogate"],
)
def test_refused_unicode_escapes_as_oc(session: Session, case_id: int, data: bytes) -> None:
    """go-yaml refuses surrogate and out-of-range escapes (an emoji JSON-escaped); okdrelease says the same."""
    report = run_scenario(session, cases.refused_manifest(case_id, data), CHECKS)
    _assert_same(report)
    assert report.oc_code == 1


@pytest.mark.parametrize(
    ("case_id", "name", "output", "code"),
    [
        (900071, "4.16.0", ("--to-image", "{registry}/{out_repo}:rel"), 0),
        (900072, "4.16.0", ("--to-file", "-"), 0),
        (900073, "4.16.0-rc.1+build.5", ("--to-dir", "{out}/dir"), 1),
        (900074, "4.16.0", ("--dry-run", "--to-dir", "{out}/dir"), 0),
    ],
    ids=["push", "to-file-stdout", "invalid-mirror-tags", "dry-run"],
)
def test_mirror_as_oc_up_to_q9(
    session: Session, case_id: int, name: str, output: tuple[str, ...], code: int
) -> None:
    """--mirror: same release and messages as oc once its stdout report is set aside (Q9, asserted)."""
    report = run_scenario(session, cases.mirror(case_id, name, output), CHECKS)
    _assert_same(report)
    assert report.oc_code == code
    assert report.applied["Q9"] == 1


@pytest.mark.parametrize(
    ("case_id", "output"),
    [
        (900081, ("--to-image", "{registry}/{out_repo}")),
        (900082, ("--to-image", "{registry}/{out_repo}", "--dry-run")),
    ],
    ids=["push", "dry-run"],
)
def test_a_name_that_is_no_tag_is_refused_as_oc_does(
    session: Session, case_id: int, output: tuple[str, ...]
) -> None:
    """--to-image without a tag and a +build --name: oc's error once the operators are loaded, nothing pushed."""
    name = "1.2.3-rc.1+build.5"
    report = run_scenario(session, cases.named_release(case_id, name, output), CHECKS)
    _assert_same(report)
    exact = f"{session.host}/s{case_id}/oc:{name}"
    assert report.oc_code == 1
    assert report.oc_stderr.splitlines()[-1] == (
        f'error: failed to push image {exact}: "{exact}" is not a valid image reference: invalid reference format'
    )
    assert not {f"s{case_id}/oc", f"s{case_id}/py"} & _catalog(session.host)


def _catalog(host: str) -> set[str]:
    """Every repository of the registry (its catalog, page by page)."""
    names: set[str] = set()
    last = ""
    while True:
        url = f"http://{host}/v2/_catalog?n=1000&last={urllib.parse.quote(last)}"
        with urllib.request.urlopen(url) as reply:  # noqa: S310 - the loopback registry
            page = json.load(reply)["repositories"] or []
        names.update(page)
        if len(page) < 1000:
            return names
        last = page[-1]


def test_extract_refuses_the_manifests_oc_refuses(session: Session) -> None:
    """Files that do not parse or whose documents library-go refuses (no name, no kind, a duplicate id, no
    object): extract writes the others and lists each error as oc does (a blank line, ``*`` items)."""
    case_id = 900091
    report = run_scenario(session, cases.unreadable_manifests(case_id), CHECKS)
    _assert_same(report)
    assert report.oc_code == 0
    ref = f"{session.host}/s{case_id}/oc:rel"
    work = session.scratch / f"seed-{case_id}"
    oc = session.run(
        session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(work / "e-oc"), ref)
    )
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(work / "e-py"), ref))
    assert (ours.code, ours.stdout) == (oc.code, oc.stdout)
    prefix = "* error parsing 0000_50_dns-operator_"
    refused = "a-noname c-nokind d-dup f-list g-scalar h-nsdup i-numname j-kindnum k-groups zz-bad-1 zz-bad-2"
    assert [line[len(prefix) :].split(".")[0] for line in oc.stderr.splitlines()[2:-1]] == refused.split()
    # the YAML parser's wording (zz-bad-*) and library-go's messages are oc's, word for word
    assert ours.stderr == oc.stderr
    assert sorted(p.name for p in (work / "e-py").iterdir()) == sorted(
        p.name for p in (work / "e-oc").iterdir()
    )


@pytest.mark.parametrize(
    ("case_id", "output"),
    [(900101, ("--to-image", "{registry}/{out_repo}:rel")), (900102, ("--to-dir", "{out}/dir"))],
    ids=["push", "to-dir"],
)
def test_a_whiteout_removes_its_own_layers_earlier_file_as_in_oc(
    session: Session, case_id: int, output: tuple[str, ...]
) -> None:
    """oc applies an operator layer in order: a file whited out later in its layer is gone, one written after its
    whiteout stays (differential seed 184)."""
    report = run_scenario(session, cases.same_layer_whiteout(case_id, output), CHECKS)
    _assert_same(report)
    assert report.oc_code == 0
    if output[0] == "--to-dir":
        names = {p.name for p in (session.scratch / f"seed-{case_id}" / "py" / "dir").iterdir()}
        assert "0000_50_dns-operator_zz-back.yaml" in names
        assert "0000_50_dns-operator_zz-gone.yaml" not in names


def test_extract_refuses_json_documents_in_oc_words(session: Session) -> None:
    """A document Go's JSON decoder read is refused without sigs.k8s.io/yaml's prefix and quoted as written;
    a list, a string, a BOM-first file is YAML and keeps it; a document read as YAML after the JSON decoder
    failed is refused with that JSON error (``json: offset N: …``): oc's stderr, line for line."""
    case_id = 900092
    report = run_scenario(
        session, cases.unreadable_manifests(case_id, cases.UNREADABLE_JSON_MANIFESTS), CHECKS
    )
    _assert_same(report)
    ref = f"{session.host}/s{case_id}/oc:rel"
    work = session.scratch / f"seed-{case_id}"
    oc = session.run(
        session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(work / "e-oc"), ref)
    )
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(work / "e-py"), ref))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    lines = ours.stderr.splitlines()
    prefix = "* error parsing 0000_50_dns-operator_"
    assert (
        f"{prefix}c-nokind.json: error parsing: unable to decode manifest: Object 'Kind' is missing in "
        + ("""'{"apiVersion": "v1", "metadata": {"name": "c"}}'""")
        in lines
    )
    yaml_prefix = "error parsing: error unmarshaling JSON: while decoding JSON: "
    assert (
        f"{prefix}m-bom.json: {yaml_prefix}unable to decode manifest: Object 'Kind' is missing in "
        + ("""'{"apiVersion":"v1","metadata":{"name":"m"}}'""")
        in lines
    )
    assert (
        f"{prefix}p-spaces.json: error parsing: json: offset 70: invalid character 'k' looking for beginning "
        + ("of object key string")
        in lines
    )
    refused = [line[len(prefix) :].split(":")[0] for line in lines if line.startswith(prefix)]
    assert refused == sorted(cases.UNREADABLE_JSON_MANIFESTS)


def test_extract_refuses_an_earlier_document_before_a_later_ones_parse_error_as_oc(session: Session) -> None:
    """oc decodes a manifest's documents one at a time and checks each as it comes (a missing name or kind, a
    duplicate): an earlier document's refusal is its error, not a later document's parse error, a NUL past
    go-yaml's first 512 bytes or a second JSON value's syntax error; okdrelease parsed the whole file first
    (found by carrying the refused manifests of test_parity_yaml_check.CASES into a release: 4 of 157)."""
    case_id = 900093
    report = run_scenario(session, cases.unreadable_manifests(case_id, cases.ORDERED_MANIFESTS), CHECKS)
    _assert_same(report)  # parity:extract compares okdrelease's extract stderr with oc's, word for word
    ref = f"{session.host}/s{case_id}/oc:rel"
    work = session.scratch / f"seed-{case_id}"
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(work / "e-py"), ref))
    lines = ours.stderr.splitlines()
    prefix = "* error parsing 0000_50_dns-operator_"
    assert [line[len(prefix) :].split(".")[0] for line in lines if line.startswith(prefix)] == sorted(
        name.split(".")[0] for name in cases.ORDERED_MANIFESTS
    )
    assert f'{prefix}o4-dup-then-syntax.yaml: duplicate resource: (Group: "" Kind: "A" Name: "x")' in lines
    assert f"{prefix}o5-dup-then-separator.yaml: error parsing: invalid Yaml document separator: x" in lines


def test_seed_838_a_bom_keeps_the_first_line_from_being_a_separator(session: Session) -> None:
    """Seed 838: a manifest starting with a BOM and ``--- {apiVersion: v1, …`` (a flow mapping on the document
    start line). oc's YAML reader splits on lines starting with ``---``, and the BOM's line does not, so go-yaml
    reads the document (skipping the BOM); okdrelease dropped the BOM first and refused the line as an
    invalid document separator. Both the seed and files with a BOM before other first lines (case 900094)."""
    _assert_same(run_seed(session, 838, CHECKS))
    case_id = 900094
    _assert_same(run_scenario(session, cases.unreadable_manifests(case_id, cases.BOM_MANIFESTS), CHECKS))
    work = session.scratch / f"seed-{case_id}"
    written = {p.name for p in (work / "x-ours-oc").iterdir()}
    assert {
        "0000_50_dns-operator_b1-flow-on-the-separator-line.yaml",
        "0000_50_dns-operator_b2-separator-line.yaml",
    } <= written


#: How oc words a component or base that the registry does not hold (Distribution's MANIFEST_UNKNOWN).
NOT_FOUND = "manifest unknown: manifest unknown"


@pytest.mark.parametrize(
    ("case_id", "base", "output", "error"),
    [
        (
            900131,
            "{registry}/{repo}:no-such-tag",
            ("--to-image", "{registry}/{out_repo}:rel"),
            "failed to push image {registry}/{out_repo}:rel: unable to read image {registry}/{repo}:no-such-tag: "
            + NOT_FOUND,
        ),
        (
            900132,
            "{registry}/{repo}@" + cases.MISSING_DIGEST,
            ("--dry-run", "--to-image", "{registry}/{out_repo}:rel"),
            "failed to push image {registry}/{out_repo}:rel: unable to read image {registry}/{repo}@"
            + cases.MISSING_DIGEST
            + ": "
            + NOT_FOUND,
        ),
        (
            900133,
            "{registry}/no-such/repository:x",
            (),
            "failed to push image release:latest: unable to read image {registry}/no-such/repository:x: "
            + NOT_FOUND,
        ),
        (
            900134,
            "{registry}/{repo}",
            ("--to-image", "{registry}/{out_repo}:rel"),
            "failed to push image {registry}/{out_repo}:rel: --from must point to an image ID or image tag",
        ),
        (
            900135,
            "{registry}/{repo}:Not//A-Tag",
            ("--dry-run",),
            'failed to push image release:latest: "{registry}/{repo}:Not//A-Tag" is not a valid image reference: '
            "invalid reference format",
        ),
    ],
    ids=[
        "missing-tag-push",
        "missing-manifest-dry-run",
        "missing-repository-no-destination",
        "no-tag",
        "no-reference",
    ],
)
def test_an_unreadable_base_is_refused_in_oc_words(
    session: Session, case_id: int, base: str, output: tuple[str, ...], error: str
) -> None:
    """--to-image-base that cannot be read: after the operators load, oc's error naming the destination and the
    base (registry, repository, tag or digest) with the registry's error as Go words it; exit 1, nothing pushed."""
    report = run_scenario(session, cases.unreadable_base(case_id, base, output), CHECKS)
    _assert_same(report)
    assert report.oc_code == 1
    repo = f"s{case_id}/in"
    expected = error.replace("{registry}", session.host).replace("{out_repo}", f"s{case_id}/py")
    assert report.py_stderr.splitlines()[-1] == "error: " + expected.replace("{repo}", repo)
    assert not {f"s{case_id}/oc", f"s{case_id}/py"} & _catalog(session.host)


def test_mirror_dry_run_reads_the_base_oc_cannot_read(session: Session) -> None:
    """--mirror --dry-run --to-image: oc copies nothing yet reads the base from the mirror and fails; okdrelease
    reads the same image by digest and prints the would-be digest (OC-DRYRUN-MIRROR, asserted)."""
    case_id = 900076
    output = ("--dry-run", "--to-image", "{registry}/{out_repo}:rel")
    report = run_scenario(session, cases.mirror(case_id, "4.16.0", output), CHECKS)
    _assert_same(report)
    assert (report.oc_code, report.applied[OC_DRYRUN_MIRROR]) == (1, 1)
    mirror = f"{session.host}/s{case_id}/oc-m"
    assert report.oc_stderr.splitlines()[-1].startswith(
        f"error: failed to push image {session.host}/s{case_id}/oc:rel: unable to read image {mirror}@sha256:"
    )
    assert re.fullmatch(r"sha256:[0-9a-f]{64} 4\.16\.0 \S+\n", report.py_stdout.decode())
    assert not {f"s{case_id}/oc-m", f"s{case_id}/py-m", f"s{case_id}/py"} & _catalog(session.host)


def test_mirror_dry_run_reads_a_kept_base_list_where_it_was_read(session: Session) -> None:
    """Seed 1008: --mirror --dry-run --keep-manifest-list with a manifest-listed base (OC-DRYRUN-MIRROR). okdrelease
    read the base list from the mirror, where the dry run copied nothing, and failed on the child manifest its
    cache did not hold (``reading manifest …-m@sha256:…: HTTP 404``); it reads the base where the components were
    read now, and prints the would-be digest as the deviation documents."""
    report = run_seed(session, 1008, CHECKS)
    _assert_same(report)
    assert (report.oc_code, report.applied[OC_DRYRUN_MIRROR]) == (1, 1)
    assert re.fullmatch(r"sha256:[0-9a-f]{64} \S+ \S+\n", report.py_stdout.decode())


def test_a_base_on_an_unreachable_registry_fails_in_ocs_frame(session: Session) -> None:
    """A registry nobody listens on: the same exit code and oc's message up to the reason, which okdrelease's
    transport words (Go's ``Get "URL": dial tcp …`` is not reproduced; README: CONNECT-WORDING)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"127.0.0.1:{port}/x/y:z"
    case_id = 900137
    report = run_scenario(session, cases.unreadable_base(case_id, base, ("--dry-run",)), CHECKS)
    assert [d.area for d in report.differences] == ["new:stderr"]
    assert report.oc_code == 1
    frame = f"error: failed to push image release:latest: unable to read image {base}: "
    oc_line, py_line = report.oc_stderr.splitlines()[-1], report.py_stderr.splitlines()[-1]
    assert (
        oc_line
        == frame
        + f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )
    assert py_line.startswith(frame) and f"127.0.0.1:{port}" in py_line.removeprefix(frame)


@pytest.mark.parametrize(
    ("case_id", "source"),
    [
        (900141, "{registry}/{repo}@" + cases.MISSING_DIGEST),
        (900142, "{registry}/no-such/r@" + cases.MISSING_DIGEST),
    ],
    ids=["missing-manifest", "missing-repository"],
)
def test_an_unreadable_component_is_worded_as_oc(session: Session, case_id: int, source: str) -> None:
    """A component the registry does not hold: ``image "REF" not found: manifest unknown: manifest unknown``."""
    report = run_scenario(session, cases.missing_components(case_id, (("cli", source),)), CHECKS)
    _assert_same(report)
    assert report.oc_code == 1
    ref = source.replace("{registry}", session.host).replace("{repo}", f"s{case_id}/in")
    assert report.py_stderr.splitlines()[-1] == f'error: image "{ref}" not found: {NOT_FOUND}'


def test_error_race_okdrelease_reports_the_first_failing_tag_which_oc_reports_too(session: Session) -> None:
    """Two components that cannot be read: oc reports whichever of its workers fails first, okdrelease the first
    in the input's tag order ("aa", listed second), as oc does with one worker. The harness sets the race aside
    (ERROR-RACE) only on an oc run that prints exactly okdrelease's output, and keeps any other difference."""
    case_id = 900151
    missing = {tag: f"{{registry}}/no-such/{tag}@{cases.MISSING_DIGEST}" for tag in ("zz", "aa")}
    scenario = cases.missing_components(case_id, tuple(missing.items()))
    report = run_scenario(session, scenario, CHECKS)
    _assert_same(report)
    line = {
        tag: f'error: image "{source.replace("{registry}", session.host)}" not found: {NOT_FOUND}'
        for tag, source in missing.items()
    }
    assert report.py_stderr.splitlines()[-1] == line["aa"]
    assert report.oc_stderr.splitlines()[-1] in line.values()
    # oc's first run reporting the other worker's failure ("zz"), as it may: the harness runs oc again.
    work = session.scratch / f"seed-{case_id}"
    repo = prepare(session, scenario, work)
    ph = {side: placeholders(session, scenario, work, repo, side) for side in ("oc", "py")}
    oc = run_new(session, scenario, ph["oc"], "oc", SERIAL_OC, None)
    py = run_new(session, scenario, ph["py"], "py", [], None)
    assert (
        oc.proc.stderr.splitlines()[-1] == py.proc.stderr.splitlines()[-1] == line["aa"]
    )  # one worker: the same
    other = attrs.evolve(
        oc, proc=attrs.evolve(oc.proc, stderr=oc.proc.stderr.replace(line["aa"], line["zz"]))
    )
    raced = compare_outcomes(other, py, ph["oc"], ph["py"], False)
    assert [d.area for d in raced.differences] == ["new:stderr"]
    settled = error_race(session, scenario, (ph["oc"], ph["py"]), py, raced, False)
    assert (settled.differences, settled.applied[ERROR_RACE]) == ([], 1)
    # a failure oc cannot report (no such component) stays a difference
    alien = attrs.evolve(
        py, proc=attrs.evolve(py.proc, stderr=py.proc.stderr.replace("no-such/aa", "no-such/qq"))
    )
    kept = error_race(
        session,
        scenario,
        (ph["oc"], ph["py"]),
        alien,
        compare_outcomes(oc, alien, ph["oc"], ph["py"], False),
        False,
    )
    assert [d.area for d in kept.differences] == ["new:stderr"] and kept.applied[ERROR_RACE] == 0


def _nested(depth: int) -> bytes:
    return b"kind: A\napiVersion: v1\nx: " + b"[" * depth + b"]" * depth + b"\n"


@pytest.mark.parametrize(
    ("case_id", "data", "code"),
    [
        (900203, _nested(10_001), 1),
        (900204, b'{"kind": "A", "apiVersion": "v1", "x": ' + b"[" * 10_001 + b"]" * 10_001 + b"}", 1),
        (
            900205,
            b"kind: A\napiVersion: v1\nx:\n  y: 1\n  z: {a: "
            + b"{b: " * 10_000
            + b"1"
            + b"}" * 10_001
            + b"\n",
            1,
        ),
    ],
    ids=["past-flow-limit-line-3", "past-flow-limit-first-line", "mapping-line-5"],
)
def test_deep_nesting_as_oc(session: Session, case_id: int, data: bytes, code: int) -> None:
    """Flow nesting past go-yaml's limit (10,000) is refused in go-yaml's words, naming the line."""
    report = run_scenario(session, cases.refused_manifest(case_id, data), CHECKS)
    _assert_same(report)
    assert report.oc_code == code


def test_verify_and_changes_from_read_a_listed_release_as_oc(session: Session) -> None:
    """Differential seed 1090: --keep-manifest-list on a base listed arm64 first, so the release is a list. oc's
    ``info --verify`` prints ``release.Digest``, the linux/amd64 entry it read, and ``--changes-from`` calls two
    releases identical when those entries are (a list and its own entry); okdrelease printed the list digest
    and compared the lists (``Name: … OS/Arch: multi (linux/amd64)  linux/amd64``). Case 900161 reduces it."""
    case_id = 900161
    _assert_same(run_scenario(session, cases.listed_release(case_id), ("new",)))
    release = f"{session.host}/s{case_id}/oc:rel"
    listing = session.pusher.manifest(f"s{case_id}/oc", "rel")
    assert listing is not None
    entries = {m["platform"]["architecture"]: m["digest"] for m in json.loads(listing[0])["manifests"]}
    assert list(entries) == ["arm64", "amd64"]
    both = (release, f"{session.host}/s{case_id}/oc@{entries['amd64']}")
    views = {"verify": ("--verify", release), "list-entry": ("--changes-from", *both)}
    views["entry-list"] = ("--changes-from", *both[::-1])
    ours = {}
    for name, view in views.items():
        theirs = session.run(session.oc_cmd("adm", "release", "info", "--insecure", *view))
        ours[name] = session.run(session.py_cmd("info", "--insecure", *view))
        assert (ours[name].code, ours[name].stdout, ours[name].stderr) == (
            theirs.code,
            theirs.stdout,
            theirs.stderr,
        )
    assert re.fullmatch(f"{entries['amd64']} \\S+ 4\\.16\\.0\n", ours["verify"].stdout.decode())
    assert ours["list-entry"].stdout == ours["entry-list"].stdout == b"Releases are identical\n"


#: ``--metadata`` texts Go's decoder refuses by type, with oc's words after ``error: invalid --metadata: ``
#: (recorded from the real oc): the path names struct fields by the keys as written, map keys (JSON-pointer
#: escaped) and slice indices, and reads ``into S.PATH``, not ``into Go struct field S.PATH``, for a slice
#: element; okdrelease named struct fields alone (``CincinnatiMetadata.previous``) or nothing (``Go value``).
METADATA_TYPE_ERRORS = (
    ('{"previous": [1]}', "number into CincinnatiMetadata.previous.0 of type string"),
    ('{"Previous": ["4.1.0", 5]}', "number into CincinnatiMetadata.Previous.1 of type string"),
    ('{"Next": "4.1.0"}', "string into Go struct field CincinnatiMetadata.Next of type []string"),
    ('{"kind": true}', "bool into Go struct field CincinnatiMetadata.kind of type string"),
    ('{"metadata": {"a": [[1e309]]}}', "number 1e309 into CincinnatiMetadata.metadata.a.0.0 of type float64"),
    ('{"a": 1e400}', "number 1e400 into Go struct field .a of type float64"),
    ('{"d": {"x~/": -1e400}}', "number -1e400 into Go struct field .d.x~0~1 of type float64"),
    ('{"l": [1, {"q": 1e400}]}', "number 1e400 into Go struct field .l.1.q of type float64"),
    ('{"l": [1, 1e400]}', "number 1e400 into .l.1 of type float64"),
    ('"text"', "string into Go value of type release.CincinnatiMetadata"),
)


def test_metadata_type_errors_name_the_path_as_oc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found probing --metadata documents against oc while widening the generator: a value of the wrong
    type is refused with the path oc's Go names (see METADATA_TYPE_ERRORS), oc's line and okdrelease's."""
    source = tmp_path / "in"
    source.mkdir()
    (source / "image-references").write_text(
        '{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": []}}'
    )
    (tmp_path / "home").mkdir()
    for text, words in METADATA_TYPE_ERRORS:
        args = ["--metadata", text, "--from-dir", str(source), "--to-dir", str(tmp_path / "out")]
        oc = run_oc(["adm", "release", "new", *args], tmp_path / "home")
        line = f"error: invalid --metadata: json: cannot unmarshal {words}"
        assert (oc.returncode, oc.stderr.splitlines()[-1]) == (1, line), text
        ours = okd_run(["new", *args], capsys)
        assert (ours.code, ours.err.splitlines()[-1]) == (1, line), text
    assert not (tmp_path / "out").exists()


def test_seeds_from_1300_also_draw_odd_metadata_and_display_names() -> None:
    """tests/differential/wide.py draws from a second random stream from seed 1300 on: the seeds before keep
    their scenarios (and their clean runs), later ones may carry an odd --metadata document or
    --component-versions-display-names right after --insecure, replacing the first stream's --metadata."""
    from differential.scenario import generate
    from differential.wide import WIDE_FROM, widen

    before = ["--insecure", "--metadata", "{}", "--to-dir", "{out}/dir"]
    assert widen(WIDE_FROM - 1, before, set(), True) is before
    drawn = {seed: generate(seed) for seed in range(WIDE_FROM, WIDE_FROM + 30)}
    odd = [s for s in drawn.values() if "odd-metadata" in s.features]
    named = [s for s in drawn.values() if "display-names" in s.features]
    assert odd and named
    for scenario in odd:
        assert scenario.args[:2] == ("--insecure", "--metadata") and scenario.args.count("--metadata") == 1
    assert named[0].args.index("--component-versions-display-names") in (1, 3)
    wide = {"odd-metadata", "display-names"}
    assert not any(wide & generate(seed).features for seed in range(WIDE_FROM - 20, WIDE_FROM))


_STREAM = '"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", '
#: ``-f`` image streams Go's decoder refuses by type, with oc's words after ``error: unable to load input image
#: stream file: `` (recorded from the real oc): sigs.k8s.io/yaml reads JSON as YAML, so its prefix, paths without
#: struct names, a number bound for a string field read as that string (the stream then has no components), but
#: not for TypeMeta's inlined kind; metav1.Time's own decoding names no path. None: oc's "no component images".
STREAM_TYPE_ERRORS = (
    (
        "{" + _STREAM + '"spec": {"tags": 5}}',
        "number into Go struct field .spec.tags of type []v1.TagReference",
    ),
    ("{" + _STREAM + '"spec": {"tags": ["x"]}}', "string into .spec.tags.0 of type v1.TagReference"),
    (
        "{" + _STREAM + '"spec": {"tags": [{"name": "a", "generation": "x"}]}}',
        "string into Go struct field .spec.tags.0.generation of type int64",
    ),
    ("{" + _STREAM + '"spec": {"tags": [{"name": 5}]}}', None),
    ('{"kind": 5}', "number into Go struct field .kind of type string"),
    ("{" + _STREAM + '"metadata": {"creationTimestamp": 5}}', "number into Go value of type string"),
)


def test_image_stream_file_type_errors_as_oc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found probing -f files of the wrong types against oc while widening the generator: okdrelease read a
    JSON stream with Go's JSON decoder alone (struct-named paths, no prefix, a number refused for a string)."""
    (tmp_path / "home").mkdir()
    for text, words in STREAM_TYPE_ERRORS:
        (tmp_path / "is.json").write_text(text)
        args = ["-f", str(tmp_path / "is.json"), "--reference-mode=source", "--to-dir", str(tmp_path / "out")]
        oc = run_oc(["adm", "release", "new", *args], tmp_path / "home")
        line = "error: no component images defined, unable to build a release payload"
        if words is not None:
            line = f"error: unable to load input image stream file: error unmarshaling JSON: json: cannot unmarshal {words}"
        assert (oc.returncode, oc.stderr.splitlines()[-1]) == (1, line), text
        ours = okd_run(["new", *args], capsys)
        assert (ours.code, ours.err.splitlines()[-1]) == (1, line), text
