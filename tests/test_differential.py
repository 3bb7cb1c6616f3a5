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
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from differential import cases
from differential.harness import ALL_CHECKS, SeedReport, run_scenario, run_seed
from differential.images import sha256
from differential.runner import OC_WRAPPER, Session, oc_binary
from registry_rig import RegistryInfo


def _seeds() -> list[int]:
    first, _, last = os.environ.get("OKD_DIFF_SEEDS", "0-9").partition("-")
    return list(range(int(first), int(last or first) + 1))


#: Every area, okdrelease's own info and extract of both releases included.
CHECKS = ALL_CHECKS


@pytest.fixture(scope="module")
def session(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A harness session on the shared plain-HTTP registry."""
    if not OC_WRAPPER.is_file():
        pytest.skip(f"the real oc is not at {OC_WRAPPER}")
    oc = oc_binary()
    assert oc is not None
    yield Session(registry_http.host, oc, Path(tmp_path_factory.mktemp("differential")))


@pytest.mark.parametrize("seed", _seeds())
def test_seed_matches_oc(session: Session, seed: int) -> None:
    """oc and okdrelease agree on the seed's scenario, up to the documented deviations."""
    _assert_same(run_seed(session, seed, CHECKS))


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
    # the parser's own wording (zz-bad-*) differs; library-go's messages are oc's, word for word
    assert [line for line in ours.stderr.splitlines() if "zz-bad" not in line] == [
        line for line in oc.stderr.splitlines() if "zz-bad" not in line
    ]
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
