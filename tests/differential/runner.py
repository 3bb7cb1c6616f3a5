"""Running one scenario with the real oc and with okdrelease, and collecting what each produced."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

from .images import Pusher
from .scenario import Scenario

ROOT = Path(__file__).resolve().parents[2]
#: The real oc's wrapper; OKD_SHARED_DIR points elsewhere than ../shared (a snapshot of the tree running in the background).
OC_WRAPPER = Path(os.environ.get("OKD_SHARED_DIR") or ROOT.parent / "shared") / "tools" / "oc" / "oc"
TIMEOUT = 120


def oc_binary() -> str | None:
    """Path of the unpacked real oc, or None when ../shared/tools/oc is absent."""
    if not OC_WRAPPER.is_file():
        return None
    out = subprocess.run(
        [sys.executable, str(OC_WRAPPER), "--path"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@attrs.frozen
class Proc:
    """What a command printed and returned."""

    argv: tuple[str, ...]
    code: int
    stdout: bytes = attrs.field(repr=False)
    stderr: str


@attrs.frozen
class Release:
    """A pushed release: manifest bytes, and per image manifest its config and decompressed top layer."""

    digest: str
    raw: bytes
    media_type: str
    children: tuple[tuple[bytes, bytes, bytes], ...]  # (manifest, config, top layer tar)


@attrs.frozen
class Outcome:
    """One tool's run of the scenario: the process, its files and the pushed release."""

    side: str
    proc: Proc
    out_dir: Path
    out_repo: str
    release: Release | None
    to_dir: dict[str, tuple[int, int, bytes]] | None  # name → (mode, mtime, data)
    to_file: tuple[int, int, bytes] | None  # (mode, mtime, decompressed tar)


class Session:
    """A registry, the oc binary and a scratch directory shared by the seeds of one run."""

    def __init__(self, host: str, oc: str, scratch: Path) -> None:
        """Use the registry at ``host`` and the oc binary ``oc``; keep files under ``scratch``."""
        self.host = host
        self.oc = oc
        self.scratch = scratch
        self.home = scratch / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.pusher = Pusher(host)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """An environment with an empty HOME (no personal registry credentials)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("REGISTRY_AUTH", "DOCKER_CONFIG", "XDG_"))
        }
        env["HOME"] = str(self.home)
        env["PYTHONPATH"] = str(ROOT)
        env.pop("SOURCE_DATE_EPOCH", None)
        env.update(extra or {})
        return env

    def run(self, argv: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        """Run ``argv``; capture everything."""
        try:
            done = subprocess.run(
                argv, capture_output=True, env=self.env(extra_env), timeout=TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as err:
            return Proc(tuple(argv), -9, err.stdout or b"", f"timeout after {TIMEOUT}s\n")
        return Proc(tuple(argv), done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))

    def oc_cmd(self, *args: str) -> list[str]:
        """argv for the real oc."""
        return [self.oc, *args]

    def py_cmd(self, *args: str) -> list[str]:
        """argv for okdrelease."""
        return [sys.executable, "-m", "okdrelease", *args]


def oracle_session(host: str, scratch: Path) -> Session:
    """A session with the real oc on the registry at ``host`` for a test; skips it when oc is absent."""
    import pytest

    oc = oc_binary()
    if oc is None:
        pytest.skip(f"the real oc is not at {OC_WRAPPER}")
    return Session(host, oc, scratch)


@attrs.frozen
class Placeholders:
    """Values of a scenario's placeholders for one side."""

    registry: str
    repo: str
    work: Path
    out: Path
    out_repo: str
    release: str

    def fill(self, text: str) -> str:
        """Replace every placeholder in ``text``."""
        return (
            text.replace("{release}", self.release)
            .replace("{registry}", self.registry)
            .replace("{repo}", self.repo)
            .replace("{work}", str(self.work))
            .replace("{out_repo}", self.out_repo)
            .replace("{out}", str(self.out))
        )


def prepare(session: Session, scenario: Scenario, work: Path) -> str:
    """Push the images and write the input files; return the input repository."""
    repo = f"s{scenario.seed}/in"
    for spec, built in scenario.images:
        session.pusher.push(repo, built, spec.tag)
    for item in scenario.files:
        path = work / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        data = item.data.replace(b"{registry}", session.host.encode()).replace(b"{repo}", repo.encode())
        path.write_bytes(data)
        if item.mtime is not None:
            try:
                os.utime(path, (item.mtime, item.mtime))
            except (OSError, OverflowError, ValueError):
                os.utime(path, (0, 0))
    return repo


def placeholders(session: Session, scenario: Scenario, work: Path, repo: str, side: str) -> Placeholders:
    """Placeholders for ``side`` (``oc``, ``py`` or ``pq``: all the same length)."""
    release = f"{session.host}/{repo}-base:r"
    return Placeholders(session.host, repo, work, work / side, f"s{scenario.seed}/{side}", release)


def fetch_release(session: Session, repo: str, digest: str) -> Release | None:
    """Read a pushed release (list children included) back from the registry."""
    got = session.pusher.manifest(repo, digest)
    if got is None:
        return None
    raw, media_type = got
    doc = json.loads(raw)
    manifests = [raw]
    if "manifests" in doc:
        manifests = []
        for entry in doc["manifests"]:
            child = session.pusher.manifest(repo, entry["digest"])
            manifests.append(child[0] if child else b"")
    children = []
    for child_raw in manifests:
        child = json.loads(child_raw or b"{}")
        if "config" not in child:
            children.append((child_raw, b"", b""))
            continue
        config = session.pusher.blob(repo, child["config"]["digest"])
        layer = session.pusher.blob(repo, child["layers"][-1]["digest"])
        children.append((child_raw, config, _decompress(layer)))
    return Release(digest, raw, media_type, tuple(children))


def _decompress(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _listing(directory: Path) -> dict[str, tuple[int, int, bytes]] | None:
    if not directory.is_dir():
        return None
    out = {}
    for path in sorted(directory.iterdir()):
        st = path.lstat()
        out[path.name] = (st.st_mode & 0o7777, int(st.st_mtime), path.read_bytes() if path.is_file() else b"")
    return out


def _result_line(stdout: bytes) -> list[str]:
    """The fields of the ``<digest> <name> <created>`` line: stdout's last line (oc's --mirror report comes first)."""
    lines = stdout.decode("utf-8", "replace").strip().split("\n")
    parts = lines[-1].split(" ") if lines else []
    return parts if len(parts) == 3 and parts[0].startswith("sha256:") else [""]


def collect(session: Session, side: str, proc: Proc, ph: Placeholders) -> Outcome:
    """Gather the files and the release ``proc`` produced."""
    release = None
    first = _result_line(proc.stdout)[0]
    if (
        proc.code == 0
        and first.startswith("sha256:")
        and "--dry-run" not in proc.argv
        and "--to-image" in proc.argv
    ):
        release = fetch_release(session, ph.out_repo, first)
    to_file = None
    payload = ph.out / "payload.tar.gz"
    if payload.is_file():
        st = payload.stat()
        to_file = (st.st_mode & 0o7777, int(st.st_mtime), _decompress(payload.read_bytes()))
    elif "--to-file" in proc.argv and proc.code == 0 and b"\x1f\x8b\x08" in proc.stdout:
        # With --mirror oc writes its mirror report to stdout ahead of the gzip stream (Q9).
        start = proc.stdout.index(b"\x1f\x8b\x08")
        to_file = (0, 0, _decompress(proc.stdout[start:]))
        proc = attrs.evolve(proc, stdout=proc.stdout[:start])
    return Outcome(side, proc, ph.out, ph.out_repo, release, _listing(ph.out / "dir"), to_file)


def created_of(outcome: Outcome) -> int | None:
    """The release creation time oc used (seconds), read from whatever it produced."""
    text = outcome.proc.stdout.decode("utf-8", "replace")
    parts = _result_line(outcome.proc.stdout)
    stamp = None
    if len(parts) == 3:
        stamp = parts[2]
    else:
        stream = None
        if text.lstrip().startswith("{"):
            stream = text
        elif outcome.to_dir and "image-references" in outcome.to_dir:
            stream = outcome.to_dir["image-references"][2].decode()
        elif outcome.to_file:
            stream = _image_references_of(outcome.to_file[2])
        if stream:
            try:
                stamp = json.loads(stream)["metadata"].get("creationTimestamp")
            except (ValueError, KeyError, TypeError):
                stamp = None
    if not stamp:
        return None
    return int(time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)


def _image_references_of(tar: bytes) -> str | None:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive:
            if member.name == "release-manifests/image-references":
                handle = archive.extractfile(member)
                return handle.read().decode() if handle else None
    return None


def scratch_dir(base: Path | None) -> Path:
    """A fresh scratch directory."""
    return Path(tempfile.mkdtemp(prefix="okd-diff-", dir=base))


def clean(path: Path) -> None:
    """Remove a seed's work directory."""
    shutil.rmtree(path, ignore_errors=True)
