"""The command line's view of library events: progress on stderr, never on stdout.

* text, not a terminal: progress lines as they come (oc's ``info:``/``warning:`` lines);
* text on a terminal: the same lines above a live bar (requests, bytes, rate) drawn with tqdm,
  and a summary line at the end;
* ``-v``: also one ``trace:`` line per HTTP request (method, URL, status, bytes, time) and the
  summary; never a credential (URLs lose user info and query strings, headers are never shown);
* ``--log-format json``: one JSON object per line for every message, request, log record,
  error and the summary;
* ``-q``: nothing but errors.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from okdrelease._repr import value_repr
from okdrelease.events import BlobDone, BytesMoved, Event, ImageDone, Message, RequestDone

if TYPE_CHECKING:
    from tqdm import tqdm

_BLOB = re.compile(r"/v2/.+/blobs/[a-z0-9]+:[0-9a-f]+$")
_UPLOADS = re.compile(r"/v2/.+/blobs/uploads/")
_MANIFEST = re.compile(r"/v2/.+/manifests/[^/]+$")


def human_bytes(count: float) -> str:
    """``1.5 MB`` style (powers of 1000, as skopeo and docker print sizes)."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


@attrs.define
class Tally:
    """What a run did: its requests (from method, path and status) and its blob copies and bytes."""

    __repr__ = value_repr

    requests: int = 0
    received: int = 0
    sent: int = 0
    fetched: int = 0
    pushed: int = 0
    mounted: int = 0
    present: int = 0
    manifests_read: int = 0
    manifests_pushed: int = 0
    images: int = 0
    #: ``BlobDone`` outcome (copied, mounted, exists, skipped) → how many blobs.
    blobs: dict[str, int] = attrs.field(factory=dict)
    #: digest → bytes (read, written) so far, from ``BytesMoved``.
    moved: dict[str, list[int]] = attrs.field(factory=dict)

    def add(self, event: RequestDone) -> None:
        """Count one answered request."""
        self.requests += 1
        self.received += event.received
        self.sent += event.sent
        path, method, status = event.url, event.method, event.status
        if _BLOB.search(path):
            if method == "GET" and status in (200, 206, 307):
                self.fetched += 1
            elif method == "HEAD" and status == 200:
                self.present += 1
        elif _UPLOADS.search(path):
            if method == "POST" and status == 201:
                self.mounted += 1  # a plain upload start answers 202
            elif method == "PUT" and status == 201:
                self.pushed += 1
        elif _MANIFEST.search(path):
            if method == "GET" and status == 200:
                self.manifests_read += 1
            elif method == "PUT" and status == 201:
                self.manifests_pushed += 1

    def add_bytes(self, event: BytesMoved) -> int:
        """Count ``event``; return how far its blob has moved (the larger of bytes read and written)."""
        counts = self.moved.setdefault(event.digest, [0, 0])
        counts[event.direction == "write"] += event.count
        return max(counts)

    def add_outcome(self, event: BlobDone | ImageDone) -> None:
        """Count a copied image or a blob put in place."""
        if isinstance(event, ImageDone):
            self.images += 1
        else:
            self.blobs[event.outcome] = self.blobs.get(event.outcome, 0) + 1

    @property
    def bytes_moved(self) -> int:
        """Bytes of blobs moved: per blob the larger of what was read and what was written."""
        return sum(max(counts) for counts in self.moved.values())

    def busy(self) -> bool:
        """True when there is anything to summarise."""
        return bool(self.requests or self.moved or self.images or self.blobs)

    def summary(self, seconds: float) -> str:
        """``1 image copied, 3 blobs copied, 6.0 MB at 3.0 MB/s in 2.0 s; 9 requests: 1 blob fetched, …``.

        Without copies or blob bytes (a run that only read manifests): ``9 requests in 2.0 s: …``.
        """
        copies = [
            f"{n} {noun if n == 1 else noun + 's'}{what}"
            for n, noun, what in (
                (self.images, "image", " copied"),
                (self.blobs.get("copied", 0), "blob", " copied"),
                (self.blobs.get("mounted", 0), "blob", " mounted"),
                (self.blobs.get("exists", 0), "blob", " already present"),
                (self.blobs.get("skipped", 0), "foreign blob", " skipped"),
            )
            if n
        ]
        moved = self.bytes_moved
        if moved:
            copies.append(f"{human_bytes(moved)} at {human_bytes(moved / max(seconds, 1e-3))}/s")
        elapsed = f" in {seconds:.1f} s"
        if not self.requests:
            return ", ".join(copies) + elapsed
        requests = [
            f"{n} {noun if n == 1 else noun + 's'}{what}"
            for n, noun, what in (
                (self.fetched, "blob", " fetched"),
                (self.pushed, "blob", " pushed"),
                (self.mounted, "blob", " mounted"),
                (self.present, "blob", " already present"),
                (self.manifests_read, "manifest", " read"),
                (self.manifests_pushed, "manifest", " pushed"),
            )
            if n
        ]
        requests += [f"{human_bytes(self.received)} received", f"{human_bytes(self.sent)} sent"]
        count = f"{self.requests} request{'' if self.requests == 1 else 's'}"
        if not copies:
            return f"{count}{elapsed}: " + ", ".join(requests)
        return ", ".join(copies) + f"{elapsed}; {count}: " + ", ".join(requests)

    def to_json(self) -> dict[str, int]:
        """The counters as a JSON object."""
        counters = attrs.asdict(self, filter=lambda a, _v: a.name not in ("blobs", "moved"))
        blobs = {f"blobs_{outcome}": n for outcome, n in sorted(self.blobs.items())}
        return {**counters, **blobs, "bytes": self.bytes_moved}


#: Blobs smaller than this get no bar and no progress line of their own (they move in a blink).
BAR_MIN_BYTES = 1_000_000


@attrs.define
class _Transfer:
    """One blob on its way: how far it is, since when, and its bar (terminal) or last line (pipe)."""

    __repr__ = value_repr

    total: int
    started: float
    done: int = 0
    last_line: float = 0.0
    bar: tqdm[Any] | None = None


class Reporter:
    """Draws library events on ``stream`` (stderr); thread-safe; ``close()`` once at the end.

    Big blobs (``BAR_MIN_BYTES``) get a bar each on a terminal (bytes, rate, ETA) under the run's
    request line; in a pipe a blob still moving after ``line_interval`` seconds gets a plain line
    that often (so quick runs print exactly what oc prints).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        quiet: bool = False,
        verbose: int = 0,
        json_log: bool = False,
        refresh_interval: float = 0.2,
        bar_delay: float = 0.5,
        line_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.refresh_interval = refresh_interval
        self.bar_delay = bar_delay
        self.line_interval = line_interval
        self.quiet = quiet
        self.verbose = verbose
        self.json_log = json_log
        self.tally = Tally()
        self._clock = clock
        self._start = clock()
        self._lock = threading.Lock()
        terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.terminal = terminal and not quiet and not json_log
        self._bar: tqdm[Any] | None = None
        self._transfers: dict[str, _Transfer] = {}

    # -- what the library calls ------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        """The ``EventSink``: count, trace and draw ``event``."""
        with self._lock:
            if isinstance(event, RequestDone):
                self._request(event)
            elif isinstance(event, BytesMoved):
                self._bytes(event)
            elif isinstance(event, BlobDone | ImageDone):
                self.tally.add_outcome(event)
                if isinstance(event, BlobDone):
                    self._finish(event.digest)
            elif self.quiet:
                return
            elif self.json_log:
                self._json({"event": "message", "level": event.level, "message": event.text})
            else:
                self._write(f"{event.level}: {event.text}")

    def line(self, text: str) -> None:
        """A progress line of oc's form, as the library's ``progress`` callbacks hand them out."""
        if self.quiet:
            return
        with self._lock:
            if self.json_log:
                message = Message.from_line(text)
                self._json({"event": "message", "level": message.level, "message": message.text})
            else:
                self._write(text)

    def error(self, text: str) -> None:
        """An error the command ends with (shown even with ``-q``)."""
        with self._lock:
            self._close_bar()
            if self.json_log:
                self._json({"event": "error", "level": "error", "message": text})
            else:
                # Like oc (kubectl's fatal): a message that already ends with a newline gets no second one.
                self._write(f"error: {text}".removesuffix("\n"))

    def usage_error(self, text: str, usage: str = "") -> None:
        """A command line that could not be used: the command's usage, then ``error: text``."""
        with self._lock:
            if self.json_log:
                self._json({"event": "error", "level": "error", "message": text, "usage": usage.strip()})
                return
            self.stream.write(usage + f"error: {text}\n")
            self.stream.flush()

    def log(self, record: logging.LogRecord) -> None:
        """A ``logging`` record of the library (with ``-q`` only errors)."""
        if self.quiet and record.levelno < logging.ERROR:
            return
        with self._lock:
            if self.json_log:
                self._json(
                    {
                        "event": "log",
                        "level": record.levelname.lower(),
                        "logger": record.name,
                        "message": record.getMessage(),
                    }
                )
            else:
                # In the CLI's own words (``warning: …``); the logger's name stays in the JSON form.
                self._write(f"{record.levelname.lower()}: {record.getMessage()}")

    def close(self) -> None:
        """Remove the bars; print the summary (terminal or ``-v``; always an event in JSON)."""
        with self._lock:
            self._close_bar()
            if not self.tally.busy() or self.quiet:
                return
            seconds = self._clock() - self._start
            if self.json_log:
                self._json({"event": "summary", "seconds": round(seconds, 3), **self.tally.to_json()})
            elif self.verbose or self.terminal:
                self._write("info: " + self.tally.summary(seconds))

    # -- drawing -------------------------------------------------------------------------------

    def _request(self, event: RequestDone) -> None:
        self.tally.add(event)
        if self.json_log:
            if self.verbose:
                self._json({"event": "request", **attrs.asdict(event), "seconds": round(event.seconds, 4)})
            return
        if self.verbose and not self.quiet:
            size = human_bytes(event.received + event.sent)
            self._write(f"trace: {event.method} {event.url} {event.status} {size} {event.seconds:.3f} s")
        self._advance(0)

    def _bytes(self, event: BytesMoved) -> None:
        """Move ``event``'s blob along: its bar on a terminal, a line now and then in a pipe."""
        done = self.tally.add_bytes(event)
        self._advance(event.count)
        if event.total < BAR_MIN_BYTES or self.quiet:
            return
        now = self._clock()
        transfer = self._transfers.get(event.digest)
        if transfer is None:
            transfer = self._transfers[event.digest] = _Transfer(event.total, now, last_line=now)
        step, transfer.done = min(done, transfer.total) - transfer.done, min(done, transfer.total)
        if self.terminal:
            if transfer.bar is None:
                transfer.bar = self._blob_bar(event.digest, transfer.total)
            transfer.bar.update(step)
        elif now - transfer.last_line >= self.line_interval:
            transfer.last_line = now
            self._progress_line(event.digest, transfer, now)
        if transfer.done >= transfer.total:
            self._finish(event.digest)

    def _progress_line(self, digest: str, transfer: _Transfer, now: float) -> None:
        """``info: blob 0123456789ab: 50.0 MB of 150.0 MB (33%, 5.0 MB/s)`` (a JSON object with --log-format json)."""
        if self.json_log:
            self._json(
                {"event": "progress", "digest": digest, "bytes": transfer.done, "total": transfer.total}
            )
            return
        rate = transfer.done / max(now - transfer.started, 1e-9)
        percent = 100 * transfer.done // transfer.total
        self._write(
            f"info: blob {_short(digest)}: {human_bytes(transfer.done)} of {human_bytes(transfer.total)} "
            f"({percent}%, {human_bytes(rate)}/s)"
        )

    def _blob_bar(self, digest: str, total: int) -> tqdm[Any]:
        from tqdm import tqdm  # only on a terminal (see _advance)

        width, height = _terminal_size(self.stream)
        return tqdm(
            file=self.stream,
            total=total,
            desc=_short(digest),
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            leave=False,
            delay=self.bar_delay,
            ncols=width or 80,
            nrows=height or 24,
            mininterval=self.refresh_interval,
            miniters=1,
        )

    def _finish(self, digest: str) -> None:
        transfer = self._transfers.pop(digest, None)
        if transfer is not None and transfer.bar is not None:
            transfer.bar.close()

    def _advance(self, count: int) -> None:
        """Update the run's line: ``12 requests, 3.4 MB [00:02]`` (requests left out while there are none)."""
        if not self.terminal:
            return
        moved = max(self.tally.bytes_moved, self.tally.received + self.tally.sent)
        requests = self.tally.requests
        status = f"{requests} request{'' if requests == 1 else 's'}, " if requests else ""
        status += human_bytes(moved)
        if self._bar is None:
            from tqdm import tqdm  # only on a terminal: importing it costs every other run ~40 ms

            width, height = _terminal_size(self.stream)
            self._bar = tqdm(
                file=self.stream,
                desc=status,
                unit="req",
                leave=False,
                ncols=width or 80,
                nrows=height or 24,
                dynamic_ncols=bool(width and height),
                mininterval=self.refresh_interval,
                miniters=1,
                bar_format="{desc} [{elapsed}]",
            )
        self._bar.set_description_str(status, refresh=False)
        self._bar.update(1 if count == 0 else 0)

    def _close_bar(self) -> None:
        for digest in list(self._transfers):
            self._finish(digest)
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _json(self, fields: dict[str, Any]) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.stream.write(json.dumps({"time": stamp, **fields}, ensure_ascii=False) + "\n")
        self.stream.flush()


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _terminal_size(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and rows; 0 for what it does not report (tqdm would hide the bar)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 0, 0
    return size.columns, size.lines


class ReporterLogHandler(logging.Handler):
    """Routes ``logging`` records through a ``Reporter`` (so they do not tear the bar, and become JSON)."""

    def __init__(self, reporter: Reporter, level: int) -> None:
        super().__init__(level)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        """Hand ``record`` to the reporter."""
        try:
            self.reporter.log(record)
        except Exception:  # noqa: BLE001 - logging must never raise into the library
            self.handleError(record)
