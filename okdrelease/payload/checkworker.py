"""The manifest check on a second core: a worker process that decides verdicts with the same function.

libyaml's parser turns every YAML event into a Python object while holding the GIL, so in a run that
checks hundreds of files the check competes with the fetching threads for the one interpreter. A
worker process (started only once a run has checked enough to make it pay) decides the rest on the
other core, with :func:`okdrelease.payload.check.manifest_problem` itself, so the verdicts cannot
differ. Anything wrong with the worker (it cannot start, dies, answers garbage) only means the run
decides in-process again.

Protocol on the worker's stdin/stdout: the parent writes a frame ``<8-byte big-endian length><data>``
per file and reads one frame back whose data is the verdict as JSON (``null`` or the problem text).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

_LENGTH = 8
#: Bytes decided in-process before a worker is started (a small payload never starts one).
START_AFTER_BYTES = 1 << 20


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_LENGTH)
    if len(header) != _LENGTH:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    return data if len(data) == size else None


def _write_frame(stream: BinaryIO, data: bytes) -> None:
    stream.write(len(data).to_bytes(_LENGTH, "big") + data)


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer verdict frames until ``inp`` ends (the worker's loop)."""
    from okdrelease.payload.check import manifest_problem

    while (data := _read_frame(inp)) is not None:
        _write_frame(out, json.dumps(manifest_problem(data)).encode("ascii"))
        out.flush()


def main() -> None:
    """The worker process: serve stdin/stdout; an interrupt or a closed pipe just ends it."""
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except (KeyboardInterrupt, BrokenPipeError):
        pass


def _command() -> list[str] | None:
    """``python -S -c ...`` with this interpreter's module path (no site start-up), or None."""
    if not sys.executable or getattr(sys, "frozen", False):
        return None  # no interpreter to run (embedded, or a frozen application's own binary)
    paths = [str(Path(__file__).resolve().parents[2]), *(p for p in sys.path if p)]
    code = f"import sys; sys.path[:0] = {paths!r}; from okdrelease.payload.checkworker import main; main()"
    return [sys.executable, "-S", "-c", code]


class CheckWorker:
    """A verdict worker process for one run: started on demand, thread-safe, closed by :meth:`close`."""

    def __init__(self, start_after_bytes: int = START_AFTER_BYTES) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._failed = False
        self._pending_bytes = start_after_bytes

    def decide(self, contents: Sequence[bytes]) -> list[str | None] | None:
        """The verdicts of ``contents`` from the worker, in order; None: decide them in-process."""
        with self._lock:
            if self._failed or not contents:
                return None
            if self._proc is None and self._pending_bytes > 0:
                self._pending_bytes -= sum(len(data) for data in contents)
                return None
            try:
                return self._ask(contents)
            except (OSError, ValueError) as err:
                log.debug("manifest check worker unusable, checking in-process: %s", err)
                self._failed = True
                self._stop()
                return None

    def _ask(self, contents: Sequence[bytes]) -> list[str | None]:
        proc = self._proc or self._start()
        assert proc.stdin is not None and proc.stdout is not None
        verdicts: list[str | None] = []
        for data in contents:  # one at a time: the pipes never fill up
            _write_frame(proc.stdin, data)  # type: ignore[arg-type]
            proc.stdin.flush()
            answer = _read_frame(proc.stdout)  # type: ignore[arg-type]
            if answer is None:
                raise ValueError("the worker ended")
            verdict = json.loads(answer)
            if verdict is not None and not isinstance(verdict, str):
                raise ValueError(f"unexpected verdict {verdict!r}")
            verdicts.append(verdict)
        return verdicts

    def _start(self) -> subprocess.Popen[bytes]:
        import subprocess  # here: a run that never starts a worker skips its import

        command = _command()
        if command is None:
            raise ValueError("no interpreter to start")
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True
        )
        return self._proc

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        import subprocess

        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """End the worker (if one was started); the worker exits when its input ends."""
        with self._lock:
            self._stop()
