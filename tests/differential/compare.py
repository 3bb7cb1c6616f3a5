"""Comparing what oc and okdrelease produced, with the documented deviations named and asserted.

Documented deviations (README "Compatibility with oc"), each applied by a named function here and
counted in the report, never silently:

* ``GZIP``: Go's deflate bytes cannot be reproduced with zlib, so the payload layer's compressed
  digest and size, the config's top-level ``size``, the config digest and the release digest
  differ. Masked in the manifest (config and payload descriptors), the config (``size``) and the
  printed digest, after checking that the printed digest is the digest of the pushed manifest. A
  canonical ``--from-release`` rebuild is exempt: there the digest must be reproduced exactly.
* ``Q6``: an override of an operator tag emits the operator's manifests once (oc: twice).
  Asserted by running okdrelease again with ``--duplicate-override-manifests``, which must equal
  oc exactly, and by checking the default run only lacks ``_N`` duplicates.
* ``SIGNATURE-CREATOR``: ``--to-signature`` writes ``okdrelease/<version>`` as the creator.
* ``OC-DRYRUN-LIST``: oc's ``--dry-run`` with ``--keep-manifest-list`` and a manifest-listed base
  still PUTs the new manifest list, whose children it never pushed, and fails ("unable to push
  manifestlist"); okdrelease's dry run pushes nothing and prints the would-be digest. Asserted by
  the exact oc error and okdrelease's success; nothing else is compared.
* ``OC-DRYRUN-MIRROR``: ``--mirror --dry-run`` with an image destination: oc's dry run copies nothing
  but still points the image stream at the mirror repository, then reads the release base (the
  cluster-version-operator) from there and fails (``failed to push image D: unable to read image
  MIRROR@DIGEST: manifest unknown: manifest unknown``); okdrelease reads the same image by its digest
  (already read from its source) and prints the would-be digest. Asserted by oc's exact error and
  okdrelease's success; nothing else is compared.
* ``LOADING-RACE``: when a component fails, oc's parallel workers have printed a timing-dependent
  set of ``info: Loading`` lines before the error ends the process (Appendix C: no fixed order).
  When both tools fail, those lines are left out of the stderr comparison; every other line,
  the error included, must be identical.
* ``ERROR-RACE``: with several failing components, which failure oc reports is the first of its
  parallel workers to fail; okdrelease reports the first failing component in the input's tag order,
  which is what oc reports with one worker (``--max-per-registry=1``). When both tools fail and only
  stderr differs, oc runs again with one worker, then (if that still differs) up to four times with
  its default pool; the difference is set aside only when one of those runs prints exactly
  okdrelease's output.
* ``Q9``: with ``--mirror`` oc writes the mirrored images and a ``Success / Update image / Mirror
  prefix`` block on stdout before the result line, and its mirror plan and timings on stderr;
  okdrelease prints only the result line on stdout and a short report on stderr (and, pruning
  first, may mirror fewer images: the count is masked when okdrelease's is not larger). Asserted: the
  result lines match, oc's ``Update image`` and ``Mirror prefix`` values are in okdrelease's
  report, and every line outside the two reports is identical. The release (whose pull specs
  name each side's mirror repository, of equal length) is compared with the repositories swapped.
* ``Q7-WARNING``: ``--from-release --keep-manifest-list`` with no image matching the base digest
  keeps the old release as base like oc, and okdrelease says so in one extra ``warning:`` line.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import tarfile
from collections import Counter

import attrs

from .runner import Outcome, Placeholders, Release

GZIP = "GZIP"
Q6 = "Q6"
SIGNATURE_CREATOR = "SIGNATURE-CREATOR"
Q7_WARNING = "Q7-WARNING"
OC_DRYRUN_LIST = "OC-DRYRUN-LIST"
OC_DRYRUN_MIRROR = "OC-DRYRUN-MIRROR"
LOADING_RACE = "LOADING-RACE"
ERROR_RACE = "ERROR-RACE"


def drop_racing_loads(c: Comparison, oc: str, py: str) -> tuple[str, str]:
    """LOADING-RACE: both failed; compare without the ``info: Loading`` lines (counted when they differ)."""

    def strip(text: str) -> str:
        return "\n".join(line for line in text.split("\n") if not line.startswith("info: Loading "))

    if strip(oc) != oc or strip(py) != py:
        if oc != py:
            c.applied[LOADING_RACE] += 1
        return strip(oc), strip(py)
    return oc, py


def oc_dry_run_list(c: Comparison, oc: Outcome, py: Outcome) -> bool:
    """OC-DRYRUN-LIST: True (and counted) when oc failed pushing a list in a dry run and okdrelease succeeded."""
    if "--dry-run" not in oc.proc.argv and "--to-image" in oc.proc.argv:
        return False
    if oc.proc.code == 0 or "unable to push manifestlist" not in oc.proc.stderr:
        return False
    if py.proc.code != 0 or printed_digest(py) is None:
        c.add("new:exit", f"{OC_DRYRUN_LIST}: oc failed pushing the list, okdrelease exit {py.proc.code}")
    c.applied[OC_DRYRUN_LIST] += 1
    return True


def oc_dry_run_mirror(c: Comparison, oc: Outcome, py: Outcome) -> bool:
    """OC-DRYRUN-MIRROR: True (and counted) when oc's ``--mirror`` dry run failed reading the base from the
    mirror it did not fill; okdrelease must have succeeded with a digest."""
    argv = oc.proc.argv
    if "--mirror" not in argv or oc.proc.code == 0 or not ("--dry-run" in argv or _no_destination(argv)):
        return False
    mirror = argv[argv.index("--mirror") + 1]
    last = oc.proc.stderr.rstrip("\n").rpartition("\n")[2]
    if not re.fullmatch(
        rf"error: failed to push image \S+: unable to read image {re.escape(mirror)}@sha256:[0-9a-f]{{64}}: "
        "manifest unknown: manifest unknown",
        last,
    ):
        return False
    if py.proc.code != 0 or printed_digest(py) is None:
        c.add(
            "new:exit",
            f"{OC_DRYRUN_MIRROR}: oc failed reading the base from the mirror, okdrelease exit {py.proc.code}",
        )
    c.applied[OC_DRYRUN_MIRROR] += 1
    return True


def _no_destination(argv: tuple[str, ...]) -> bool:
    return not {"--to-image", "--to-dir", "--to-file"} & {a.partition("=")[0] for a in argv}


Q7_LINE = "warning: no image in the release matches its base image digest; the input release is the base"


Q9 = "Q9"
_OC_MIRROR_NOISE = (
    "warning: No release authenticity verification is configured",
    "warning: An image was retrieved that failed verification",
    "info: Planning completed in ",
    "info: Mirroring completed in ",
)


def q9_mirror(
    c: Comparison, oc: tuple[str, str], py: tuple[str, str]
) -> tuple[tuple[str, str], tuple[str, str]]:
    """Q9: (stdout, stderr) of both sides with their mirror reports taken out and checked."""
    c.applied[Q9] += 1
    oc_out = [line for line in oc[0].split("\n") if line]
    report = {
        k: v
        for k, _, v in (
            line.partition(":  ") if line.startswith("Update image:") else line.partition(": ")
            for line in oc_out
        )
        if v
    }
    ours = {
        line.removeprefix("info: ").partition(": ")[0]: line.partition(": ")[2].partition(": ")[2].strip()
        for line in py[1].split("\n")
        if line.startswith(("info: Update image:", "info: Mirror prefix:"))
    }
    for key in ("Update image", "Mirror prefix"):
        theirs, mine = (
            _DEFAULT_NAME.sub("<default-name>", v) for v in (report.get(key, "").strip(), ours.get(key, ""))
        )
        if theirs != mine:
            c.add("new:q9", f"{key}: oc {report.get(key)!r}, okdrelease {ours.get(key)!r}")
    last = oc_out[-1].split(" ") if oc_out else []
    oc_result = oc_out[-1] + "\n" if len(last) == 3 and last[0].startswith(("sha256:", "<release")) else ""
    oc_err: list[str] = []
    in_plan = False
    for line in oc[1].split("\n"):
        if line.startswith(_OC_MIRROR_NOISE):
            continue
        if line.startswith("info: Mirroring ") and " images to " in line:
            in_plan = True
            oc_err.append(line)
            continue
        if in_plan and not line.startswith(("info: ", "warning: ", "error: ")):
            continue
        oc_err.append(line)
    py_err = [
        line
        for line in py[1].split("\n")
        if not line.startswith(("info: mirrored ", "info: Update image:", "info: Mirror prefix:"))
    ]
    # okdrelease prunes before mirroring (README, performance): it may copy fewer images than oc.
    counts = [_mirror_count(lines) for lines in (oc_err, py_err)]
    if counts[0] is not None and counts[1] is not None and counts[1] <= counts[0]:
        oc_err = [_MIRRORING.sub("info: Mirroring <n> images", line) for line in oc_err]
        py_err = [_MIRRORING.sub("info: Mirroring <n> images", line) for line in py_err]
    return (oc_result, "\n".join(oc_err).rstrip("\n")), (py[0], "\n".join(py_err).rstrip("\n"))


_MIRRORING = re.compile(r"^info: Mirroring \d+ images")


def _mirror_count(lines: list[str]) -> int | None:
    for line in lines:
        match = re.match(r"info: Mirroring (\d+) images", line)
        if match:
            return int(match.group(1))
    return None


def swap_repo(data: bytes, py_repo: str, oc_repo: str) -> bytes:
    """Q9: okdrelease's output with its mirror repository named as oc's (same length, so tar headers hold)."""
    return data.replace(py_repo.encode(), oc_repo.encode())


def drop_q7_warning(c: Comparison, stderr: str) -> str:
    """Q7-WARNING: okdrelease's stderr without its one documented extra line."""
    lines = stderr.split("\n")
    kept = [line for line in lines if not line.startswith(Q7_LINE)]
    if len(kept) != len(lines):
        c.applied[Q7_WARNING] += 1
    return "\n".join(kept)


@attrs.frozen
class Difference:
    """One difference between oc and okdrelease; ``area`` says whose code it concerns."""

    area: str
    detail: str


@attrs.define
class Comparison:
    """Differences found and documented deviations applied."""

    differences: list[Difference] = attrs.field(factory=list)
    applied: Counter[str] = attrs.field(factory=Counter)

    def add(self, area: str, detail: str) -> None:
        self.differences.append(Difference(area, detail))

    def text(self, area: str, oc: str, py: str) -> None:
        """Record a unified diff of two texts when they differ."""
        if oc != py:
            self.add(area, text_diff(oc, py))


def text_diff(oc: str, py: str, limit: int = 30) -> str:
    """A short unified diff (oc first)."""
    lines = list(difflib.unified_diff(oc.splitlines(), py.splitlines(), "oc", "okdrelease", lineterm="", n=1))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


#: Lines oc prints from parallel workers, in no fixed order: sorted within each run of them.
_PARALLEL = ("info: Loading ", "error: unable to push manifest to ")


def normalise_messages(text: str, ph: Placeholders, digest: str | None) -> str:
    """Messages with the side's paths, repositories and (GZIP) release digest replaced; ``info: Loading`` sorted."""
    text = text.replace(str(ph.out), "{out}").replace(str(ph.work), "{work}")
    text = text.replace(ph.out_repo, "{out_repo}").replace(ph.registry, "{registry}")
    if digest:
        text = text.replace(digest, "<release-digest>")
    lines = text.split("\n")
    out: list[str] = []
    block: list[str] = []
    for line in lines:
        if line.startswith(_PARALLEL):
            block.append(line)
            continue
        out += sorted(block) + [line]
        block = []
    return "\n".join(out + sorted(block))


def printed_digest(outcome: Outcome) -> str | None:
    """The digest on the ``<digest> <name> <created>`` stdout line (the last line), if any."""
    lines = outcome.proc.stdout.strip().split(b"\n")
    parts = lines[-1].split(b" ") if lines else []
    return parts[0].decode() if len(parts) == 3 and parts[0].startswith(b"sha256:") else None


def tar_entries(tar: bytes) -> list[tuple[str, str, int, int, int, bytes]]:
    """(name, type, mode, mtime, size, data) of every entry, in order."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive:
            handle = archive.extractfile(member) if member.isfile() else None
            data = handle.read() if handle else b""
            out.append((member.name, member.type.decode(), member.mode, int(member.mtime), member.size, data))
    return out


def layer_diff(oc: bytes, py: bytes) -> str:
    """Describe how two payload tars differ (first differing entries)."""
    try:
        a, b = tar_entries(oc), tar_entries(py)
    except tarfile.TarError as err:
        return f"tar unreadable: {err}"
    notes = []
    if [e[0] for e in a] != [e[0] for e in b]:
        notes.append(text_diff("\n".join(e[0] for e in a), "\n".join(e[0] for e in b)))
    for ea, eb in zip(a, b, strict=False):
        if ea != eb and ea[0] == eb[0]:
            fields = [
                n
                for n, x, y in zip(("name", "type", "mode", "mtime", "size", "data"), ea, eb, strict=True)
                if x != y
            ]
            detail = f"entry {ea[0]!r}: {', '.join(fields)} differ"
            if "mtime" in fields:
                detail += f" (oc {ea[3]}, okdrelease {eb[3]})"
            if "data" in fields:
                detail += "\n" + text_diff(
                    ea[5].decode("utf-8", "replace"), eb[5].decode("utf-8", "replace"), 12
                )
            notes.append(detail)
        if len(notes) >= 4:
            break
    if not notes:
        notes.append(f"same entries, raw tar bytes differ (oc {len(oc)} bytes, okdrelease {len(py)} bytes)")
    return "\n".join(notes)


_DESC = re.compile(rb'"digest": "sha256:[0-9a-f]{64}",\n(\s+)"size": \d+')


def mask_manifest(raw: bytes, payload_index: int | None) -> bytes:
    """GZIP: mask the config descriptor (first) and the payload layer (``payload_index``) of a manifest,
    or every entry of a list when ``payload_index`` is None."""
    count = -1

    def repl(match: re.Match[bytes]) -> bytes:
        nonlocal count
        count += 1
        if payload_index is None or count in (0, payload_index):
            return b'"digest": "<masked>",\n' + match.group(1) + b'"size": 0'
        return match.group(0)

    return _DESC.sub(repl, raw)


def strip_size(config: bytes) -> bytes:
    """GZIP: the config without its non-standard top-level ``size``."""
    return re.sub(rb',"size":\d+,"rootfs"', b',"rootfs"', config)


def compare_release(c: Comparison, oc: Release, py: Release, exact: bool) -> None:
    """Manifest (masked unless ``exact``), config (without size) and decompressed payload layer."""
    if exact:
        if oc.raw != py.raw:
            c.add("new:manifest", text_diff(oc.raw.decode(), py.raw.decode()))
        return
    c.applied[GZIP] += 1
    if oc.media_type != py.media_type:
        c.add("new:manifest", f"media type {oc.media_type} vs {py.media_type}")
    if len(oc.children) != len(py.children):
        c.add("new:manifest", f"{len(oc.children)} vs {len(py.children)} images")
        return
    if "manifests" in json.loads(oc.raw):
        c.text(
            "new:manifest-list", mask_manifest(oc.raw, None).decode(), mask_manifest(py.raw, None).decode()
        )
    for (om, ocfg, olayer), (pm, pcfg, player) in zip(oc.children, py.children, strict=True):
        index = len(json.loads(om).get("layers", [])) if om else 0
        c.text("new:manifest", mask_manifest(om, index).decode(), mask_manifest(pm, index).decode())
        c.text("new:config", strip_size(ocfg).decode(), strip_size(pcfg).decode())
        if olayer != player:
            c.add("new:layer", layer_diff(olayer, player))


def compare_files(
    c: Comparison,
    area: str,
    oc: dict[str, tuple[int, int, bytes]] | None,
    py: dict[str, tuple[int, int, bytes]] | None,
) -> None:
    """Two directory listings (mode, mtime, bytes per file)."""
    if oc is None or py is None:
        if (oc is None) != (py is None):
            c.add(area, f"directory present: oc {oc is not None}, okdrelease {py is not None}")
        return
    if sorted(oc) != sorted(py):
        c.add(area, text_diff("\n".join(sorted(oc)), "\n".join(sorted(py))))
    for name in sorted(set(oc) & set(py)):
        (om, ot, od), (pm, pt, pd) = oc[name], py[name]
        if (om, ot) != (pm, pt):
            c.add(area, f"{name}: mode/mtime oc {om:o}/{ot}, okdrelease {pm:o}/{pt}")
        if od != pd:
            c.add(
                area,
                f"{name}:\n" + text_diff(od.decode("utf-8", "replace"), pd.decode("utf-8", "replace"), 12),
            )


def compare_signature(c: Comparison, oc: Outcome, py: Outcome) -> None:
    """SIGNATURE-CREATOR: the --to-signature files, digest and creator masked."""
    paths = (oc.out_dir / "sig.json", py.out_dir / "sig.json")
    if not paths[0].exists() and not paths[1].exists():
        return
    if not (paths[0].exists() and paths[1].exists()):
        c.add(
            "new:signature", f"signature file present: oc {paths[0].exists()}, okdrelease {paths[1].exists()}"
        )
        return
    docs = [json.loads(p.read_bytes()) for p in paths]
    for doc, outcome in zip(docs, (oc, py), strict=True):
        doc["critical"]["image"]["docker-manifest-digest"] = "<release-digest>"
        ident = doc["critical"]["identity"]
        ident["docker-reference"] = (
            ident["docker-reference"].replace(outcome.out_repo, "{out_repo}").split("@")[0]
        )
        doc["optional"]["creator"] = "<creator>"
        doc["optional"]["timestamp"] = 0
    c.applied[SIGNATURE_CREATOR] += 1
    c.text("new:signature", json.dumps(docs[0], indent=1), json.dumps(docs[1], indent=1))


def swapped_diff_ids(release: Release, py_repo: str, oc_repo: str) -> dict[str, str]:
    """Q9: the payload diff ID of each image before and after renaming the mirror repository."""
    from .images import sha256

    out = {}
    for _manifest, _config, layer in release.children:
        if layer:
            out[sha256(layer)] = sha256(swap_repo(layer, py_repo, oc_repo))
    return out


def _replace_all(data: bytes, renamed: dict[str, str]) -> bytes:
    for old, new in renamed.items():
        data = data.replace(old.encode(), new.encode())
    return data


def _swapped(py: Outcome, py_repo: str, oc_repo: str) -> Outcome:
    """Q9: okdrelease's outputs with its mirror repository renamed to oc's."""
    release = py.release
    if release is not None:
        renamed = swapped_diff_ids(release, py_repo, oc_repo)
        children = tuple(
            (m, _replace_all(cfg, renamed), swap_repo(layer, py_repo, oc_repo))
            for m, cfg, layer in release.children
        )
        release = attrs.evolve(release, children=children)
    to_dir = None
    if py.to_dir is not None:
        to_dir = {n: (m, t, swap_repo(d, py_repo, oc_repo)) for n, (m, t, d) in py.to_dir.items()}
    to_file = py.to_file and (py.to_file[0], py.to_file[1], swap_repo(py.to_file[2], py_repo, oc_repo))
    return attrs.evolve(py, release=release, to_dir=to_dir, to_file=to_file)


def compare_outcomes(
    oc: Outcome, py: Outcome, ph_oc: Placeholders, ph_py: Placeholders, canonical: bool
) -> Comparison:
    """Everything ``release new`` produced, oc against okdrelease."""
    c = Comparison()
    if oc_dry_run_list(c, oc, py) or oc_dry_run_mirror(c, oc, py):
        return c
    if oc.proc.code != py.proc.code:
        c.add("new:exit", f"exit code oc {oc.proc.code}, okdrelease {py.proc.code}")
    exact = canonical and oc.proc.code == 0
    digests = (None, None) if exact else (printed_digest(oc), printed_digest(py))
    if not exact and digests[0]:
        c.applied[GZIP] += 1
    binary = oc.proc.stdout[:2] == b"\x1f\x8b" or py.proc.stdout[:2] == b"\x1f\x8b"
    outs = [
        "" if binary else normalise_messages(o.proc.stdout.decode("utf-8", "replace"), p, d)
        for o, p, d in ((oc, ph_oc, digests[0]), (py, ph_py, digests[1]))
    ]
    errors = (
        normalise_messages(oc.proc.stderr, ph_oc, digests[0]),
        normalise_messages(drop_q7_warning(c, py.proc.stderr), ph_py, digests[1]),
    )
    if "--mirror" in oc.proc.argv and "info: Mirroring " in oc.proc.stderr:
        (outs[0], oc_err), (outs[1], py_err) = q9_mirror(c, (outs[0], errors[0]), (outs[1], errors[1]))
        errors = (oc_err, py_err)
        py = _swapped(py, ph_py.out_repo, ph_oc.out_repo)
    c.text("new:stdout", outs[0], outs[1])
    if oc.proc.code != 0 and py.proc.code != 0:
        errors = drop_racing_loads(c, *errors)
    c.text("new:stderr", *errors)
    if oc.release and py.release:
        compare_release(c, oc.release, py.release, exact)
    elif (oc.release is None) != (py.release is None):
        c.add(
            "new:release", f"release pushed: oc {oc.release is not None}, okdrelease {py.release is not None}"
        )
    compare_files(c, "new:to-dir", oc.to_dir, py.to_dir)
    if oc.to_file or py.to_file:
        if not (oc.to_file and py.to_file):
            c.add(
                "new:to-file",
                f"file written: oc {oc.to_file is not None}, okdrelease {py.to_file is not None}",
            )
        elif oc.to_file[2] != py.to_file[2]:
            c.add("new:to-file", layer_diff(oc.to_file[2], py.to_file[2]))
        elif oc.to_file[:2] != py.to_file[:2]:
            c.add("new:to-file", f"mode/mtime oc {oc.to_file[:2]}, okdrelease {py.to_file[:2]}")
    compare_signature(c, oc, py)
    return c


#: The release name oc and okdrelease make without --name (0.0.1-DATE-HHMMSS): each run's own clock.
_DEFAULT_NAME = re.compile(r"0\.0\.1-\d{4}-\d{2}-\d{2}-\d{6}")
_DUP = re.compile(r"_\d+(\.[^.]*)?$")


def q6_check(c: Comparison, default: Outcome, compat: Outcome) -> None:
    """Q6: the default run may only lack the ``_N`` duplicate entries the compat run has."""

    def names(o: Outcome) -> set[str] | None:
        if o.release:
            return {e[0] for e in tar_entries(o.release.children[0][2])}
        if o.to_file:
            return {e[0] for e in tar_entries(o.to_file[2])}
        if o.to_dir is not None:
            return set(o.to_dir)
        return None

    a, b = names(default), names(compat)
    c.applied[Q6] += 1
    if default.proc.code != compat.proc.code:
        c.add(
            "new:q6",
            f"exit code default {default.proc.code}, --duplicate-override-manifests {compat.proc.code}",
        )
    if a is None or b is None:
        return
    extra = b - a
    if not a <= b or any(not _DUP.search(n) for n in extra):
        c.add(
            "new:q6",
            "default run differs beyond duplicates:\n"
            + text_diff("\n".join(sorted(b)), "\n".join(sorted(a))),
        )
