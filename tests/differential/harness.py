"""One seed end to end: push, run oc and okdrelease, compare ``new``, then ``info`` and ``extract``.

Areas of a difference: ``new:*`` (okdrelease's ``release new``), ``info``/``extract`` (oc reading
okdrelease's release differently from oc's own: a ``new`` problem too), ``parity:info`` /
``parity:extract`` (okdrelease's ``info``/``extract`` on oc's release printing something else than
oc), ``generator`` (the scenario could not be set up).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import attrs

from .compare import (
    ERROR_RACE,
    Comparison,
    Difference,
    compare_files,
    compare_outcomes,
    q6_check,
    swap_repo,
    swapped_diff_ids,
    text_diff,
)
from .runner import Outcome, Placeholders, Proc, Session, collect, created_of, placeholders, prepare
from .scenario import Scenario, generate

ALL_CHECKS = ("new", "info", "extract", "parity:info", "parity:extract", "parity:views")


@attrs.frozen
class SeedReport:
    """What one seed found."""

    seed: int
    summary: str
    differences: tuple[Difference, ...]
    applied: Counter[str]
    oc_code: int
    #: oc's stderr in ``release new`` (empty when oc did not run it).
    oc_stderr: str = ""
    #: okdrelease's stdout in ``release new``.
    py_stdout: bytes = b""
    #: okdrelease's stderr in ``release new``.
    py_stderr: str = ""


def run_new(
    session: Session,
    scenario: Scenario,
    ph: Placeholders,
    side: str,
    extra: list[str],
    env: dict[str, str] | None,
) -> Outcome:
    """Run ``release new`` with the scenario's arguments on ``side``."""
    args = [ph.fill(a) for a in scenario.args] + extra
    ph.out.mkdir(parents=True, exist_ok=True)
    if side == "oc":
        proc = session.run(session.oc_cmd("adm", "release", "new", *args), env)
    else:
        proc = session.run(session.py_cmd("new", *args), env)
    return collect(session, side, proc, ph)


def run_seed(session: Session, seed: int, checks: tuple[str, ...] = ALL_CHECKS) -> SeedReport:
    """Run ``seed``; return its differences."""
    return run_scenario(session, generate(seed), checks)


def run_scenario(session: Session, scenario: Scenario, checks: tuple[str, ...] = ALL_CHECKS) -> SeedReport:
    """Run ``scenario`` (drawn from a seed or written by hand); return its differences."""
    seed = scenario.seed
    work = session.scratch / f"seed-{seed}"
    repo = prepare(session, scenario, work)
    ph = {side: placeholders(session, scenario, work, repo, side) for side in ("oc", "py", "pq")}
    if scenario.phase1_args:
        phase1 = session.run(
            session.oc_cmd("adm", "release", "new", *[ph["oc"].fill(a) for a in scenario.phase1_args])
        )
        if phase1.code != 0:
            # oc refusing the drawn input release (an invalid manifest, an unresolvable placeholder)
            # leaves nothing to compare; counted as skipped, and a generator problem when no errors
            # were wanted.
            skipped = Counter({"skipped: oc refused the input release": 1})
            diffs: tuple[Difference, ...] = ()
            if "errors-wanted" not in scenario.features and "unknown version reference" in phase1.stderr:
                diffs = (Difference("generator", f"phase 1 failed: {phase1.stderr.strip()}"),)
            return SeedReport(seed, scenario.summary(), diffs, skipped, phase1.code)
    oc = run_new(session, scenario, ph["oc"], "oc", [], None)
    created = created_of(oc)
    env = {"SOURCE_DATE_EPOCH": str(created)} if created is not None else None
    py = run_new(session, scenario, ph["py"], "py", [], env)
    canonical = "canonical-rebuild" in scenario.features
    if "q6-override-existing" in scenario.features:
        compat = run_new(session, scenario, ph["pq"], "pq", ["--duplicate-override-manifests"], env)
        c = compare_outcomes(oc, compat, ph["oc"], ph["pq"], canonical)
        c = error_race(session, scenario, (ph["oc"], ph["pq"]), compat, c, canonical)
        q6_check(c, py, compat)
        py = compat
    else:
        c = compare_outcomes(oc, py, ph["oc"], ph["py"], canonical)
        c = error_race(session, scenario, (ph["oc"], ph["py"]), py, c, canonical)
    if "new" not in checks:
        c.differences = [d for d in c.differences if not d.area.startswith("new")]
    if oc.release and py.release:
        readers(session, c, oc, py, ph, checks)
    return SeedReport(
        seed,
        scenario.summary(),
        tuple(c.differences),
        c.applied,
        oc.proc.code,
        oc.proc.stderr,
        py.proc.stdout,
        py.proc.stderr,
    )


#: How many more times oc runs with its default pool when its serial run does not settle an ERROR-RACE.
ERROR_RACE_RERUNS = 4
#: oc's worker pool is ``--max-per-registry`` wide: one worker visits the components one by one, in the
#: input's tag order, so the first failure it meets is the one okdrelease reports (its first in that order).
SERIAL_OC = ["--max-per-registry=1"]


def error_race(
    session: Session,
    scenario: Scenario,
    sides: tuple[Placeholders, Placeholders],
    py: Outcome,
    c: Comparison,
    canonical: bool,
) -> Comparison:
    """ERROR-RACE: oc loads components in parallel and reports the first failure; with several failing
    components which one comes first is timing. When both fail and only stderr differs, oc runs again with
    one worker (``SERIAL_OC``), which reports the failure okdrelease picks; failing that, with its default
    pool (up to ``ERROR_RACE_RERUNS`` times). okdrelease's output must be one oc itself produces.
    ``sides``: the placeholders of oc's run and of okdrelease's (``py``, or ``pq`` with Q6)."""
    if py.proc.code == 0 or not c.differences or {d.area for d in c.differences} != {"new:stderr"}:
        return c
    for extra in [SERIAL_OC] + [[]] * ERROR_RACE_RERUNS:
        again = run_new(session, scenario, sides[0], "oc", extra, None)
        if again.proc.code == 0:
            return c
        retry = compare_outcomes(again, py, *sides, canonical)
        if not retry.differences:
            retry.applied.update(c.applied)
            retry.applied[ERROR_RACE] += 1
            return retry
    return c


def _ref(session: Session, outcome: Outcome) -> str:
    assert outcome.release is not None
    return f"{session.host}/{outcome.out_repo}@{outcome.release.digest}"


def _info_json(session: Session, outcome: Outcome, text: str) -> str:
    """oc's info JSON of ``outcome``'s release with its GZIP-dependent digests and the config size masked."""
    release = outcome.release
    assert release is not None
    volatile = {release.digest: "<release>"}
    for index, (manifest, _config, _layer) in enumerate(release.children):
        doc = json.loads(manifest or b"{}")
        if "config" in doc:
            from .images import sha256

            volatile[sha256(manifest)] = f"<manifest-{index}>"
            volatile[doc["config"]["digest"]] = f"<config-{index}>"
            volatile[doc["layers"][-1]["digest"]] = f"<payload-{index}>"
    for digest, name in volatile.items():
        text = text.replace(digest, name)
    text = text.replace(outcome.out_repo, "{out_repo}")
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict) and isinstance(doc.get("config"), dict):
        doc["config"].pop("size", None)
    return json.dumps(doc, indent=1, sort_keys=True)


def _tree(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        str(p.relative_to(directory)): (0, 0, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def readers(
    session: Session,
    c: Comparison,
    oc: Outcome,
    py: Outcome,
    ph: dict[str, Placeholders],
    checks: tuple[str, ...],
) -> None:
    """oc's info -o json and extract of both releases compared (``info``, ``extract``); okdrelease's
    info and extract of each release compared with oc's of the same release (``parity:*``)."""
    work = ph["oc"].work
    infos: dict[str, Proc] = {}
    trees: dict[str, dict[str, tuple[int, int, bytes]]] = {}
    extracts: dict[str, Proc] = {}
    for side, outcome in (("oc", oc), ("py", py)):
        ref = _ref(session, outcome)
        if {"info", "parity:info"} & set(checks):
            infos[side] = session.run(
                session.oc_cmd("adm", "release", "info", "--insecure", "-o", "json", ref)
            )
        if {"extract", "parity:extract"} & set(checks):
            target = work / f"x-{side}"
            extracts[side] = session.run(
                session.oc_cmd("adm", "release", "extract", "--insecure", "--to", str(target), ref)
            )
            trees[side] = _tree(target)
        if "parity:info" in checks:
            parity_info(session, c, ref, infos[side])
        if "parity:extract" in checks:
            parity_extract(session, c, ref, work / f"x-ours-{side}", extracts[side], trees[side])
        if "parity:views" in checks and side == "oc":
            parity_views(session, c, ref, infos.get(side))
    if "info" in checks:
        a = _info_json(session, oc, infos["oc"].stdout.decode("utf-8", "replace"))
        b = _info_json(session, py, infos["py"].stdout.decode("utf-8", "replace"))
        if _mirrored(oc) and py.release:
            for old, new in swapped_diff_ids(py.release, py.out_repo, oc.out_repo).items():
                b = b.replace(old, new)  # Q9: the payload diff ID with oc's mirror repository
        c.text("info", a, b)
    if "extract" in checks:
        theirs = trees["py"]
        if _mirrored(oc):  # Q9: the release names each side's mirror repository
            theirs = {n: (m, t, swap_repo(d, py.out_repo, oc.out_repo)) for n, (m, t, d) in theirs.items()}
        compare_files(c, "extract", trees["oc"], theirs)


def _mirrored(oc: Outcome) -> bool:
    return "--mirror" in oc.proc.argv and "info: Mirroring " in oc.proc.stderr


def parity_info(session: Session, c: Comparison, ref: str, oc_json: Proc) -> None:
    """okdrelease's ``info -o json`` and text of ``ref`` against oc's: exit code and stdout."""
    ours = session.run(session.py_cmd("info", "--insecure", "-o", "json", ref))
    if (ours.code, ours.stdout) != (oc_json.code, oc_json.stdout):
        c.add(
            "parity:info",
            f"{ref}: exit {oc_json.code}/{ours.code}\n"
            + text_diff(oc_json.stdout.decode(), ours.stdout.decode()),
        )
    plain_oc = session.run(session.oc_cmd("adm", "release", "info", "--insecure", ref))
    plain_py = session.run(session.py_cmd("info", "--insecure", ref))
    if plain_oc.code != plain_py.code:
        c.add("parity:info-text", f"{ref}: exit {plain_oc.code}/{plain_py.code}")
    c.text("parity:info-text", _no_age(plain_oc.stdout.decode()), _no_age(plain_py.stdout.decode()))


#: ``info`` views both tools have, besides ``-o json`` and the plain text (``parity_info``).
INFO_VIEWS: tuple[tuple[str, ...], ...] = (
    ("--pullspecs",),
    ("--commits",),
    ("--commit-urls",),
    ("--size",),
    ("--verify",),
    ("--contents",),
    ("-o", "name"),
    ("-o", "pullspec"),
    ("-o", "digest"),
    ("--include-images", "-o", "json"),
    ("--image-for", "no-such-component"),
)
#: ``extract --file`` names: the two payload files every release has, and one it has not.
EXTRACT_FILES = ("image-references", "release-metadata", "no-such-file")


def parity_views(session: Session, c: Comparison, ref: str, oc_json: Proc | None) -> None:
    """okdrelease's other ``info`` views (``INFO_VIEWS``, ``--image-for`` the first and last component of
    oc's ``-o json``) and ``extract --file`` (``EXTRACT_FILES``) of ``ref`` against oc's: exit code, stdout
    (ages masked), stderr."""
    views = list(INFO_VIEWS)
    try:
        tags = json.loads(oc_json.stdout)["references"]["spec"]["tags"] if oc_json else []
    except (ValueError, KeyError, TypeError):
        tags = []
    views += [("--image-for", tag["name"]) for tag in (tags[:1] + tags[-1:])[: len(tags)]]
    runs = [(("adm", "release", "info"), ("info",), view) for view in views]
    runs += [(("adm", "release", "extract"), ("extract",), ("--file", name)) for name in EXTRACT_FILES]
    for oc_words, py_words, view in runs:
        theirs = session.run(session.oc_cmd(*oc_words, "--insecure", *view, ref))
        ours = session.run(session.py_cmd(*py_words, "--insecure", *view, ref))
        area = f"parity:{py_words[0]} {' '.join(view)}"
        if theirs.code != ours.code:
            c.add(area, f"{ref}: exit {theirs.code}/{ours.code}\n{ours.stderr}")
        c.text(
            area,
            _no_age(theirs.stdout.decode("utf-8", "replace")),
            _no_age(ours.stdout.decode("utf-8", "replace")),
        )
        c.text(area + " (stderr)", theirs.stderr, ours.stderr)


def parity_extract(
    session: Session,
    c: Comparison,
    ref: str,
    target: Path,
    oc_run: Proc,
    theirs: dict[str, tuple[int, int, bytes]],
) -> None:
    """okdrelease's ``extract`` of ``ref`` against oc's: exit code, stderr (word for word, the YAML parser's
    errors too: extract reads manifests through the go-yaml-compatible decoder of the manifest check), files."""
    ours = session.run(session.py_cmd("extract", "--insecure", "--to", str(target), ref))
    if ours.code != oc_run.code:
        c.add("parity:extract", f"{ref}: exit {oc_run.code}/{ours.code}\n{ours.stderr}")
    c.text("parity:extract-stderr", oc_run.stderr, ours.stderr)
    compare_files(c, "parity:extract", theirs, _tree(target) if target.is_dir() else None)


_AGE = re.compile(r"(Created:\s+\S+ \([^)]*\)|Created:.*)")


def _no_age(text: str) -> str:
    """info text with the relative creation age masked (it depends on the clock)."""
    return _AGE.sub("Created: <masked>", text)
