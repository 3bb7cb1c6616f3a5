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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from okdrelease.events import BytesMoved, Event, Message, RequestDone

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
    """What the requests of a run did, from their method, path and status."""

    requests: int = 0
    received: int = 0
    sent: int = 0
    fetched: int = 0
    pushed: int = 0
    mounted: int = 0
    present: int = 0
    manifests_read: int = 0
    manifests_pushed: int = 0

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

    def summary(self, seconds: float) -> str:
        """``84 requests in 2.1 s: 12 blobs fetched, …, 3.4 MB received, 1.2 MB sent``."""
        parts = [
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
        parts += [f"{human_bytes(self.received)} received", f"{human_bytes(self.sent)} sent"]
        requests = f"{self.requests} request{'' if self.requests == 1 else 's'}"
        return f"{requests} in {seconds:.1f} s: " + ", ".join(parts)

    def to_json(self) -> dict[str, int]:
        """The counters as a JSON object."""
        return attrs.asdict(self)


class Reporter:
    """Draws library events on ``stream`` (stderr); thread-safe; ``close()`` once at the end."""

    def __init__(
        self,
        stream: TextIO,
        *,
        quiet: bool = False,
        verbose: int = 0,
        json_log: bool = False,
        refresh_interval: float = 0.2,
    ) -> None:
        self.stream = stream
        self.refresh_interval = refresh_interval
        self.quiet = quiet
        self.verbose = verbose
        self.json_log = json_log
        self.tally = Tally()
        self._start = time.monotonic()
        self._lock = threading.Lock()
        terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.terminal = terminal and not quiet and not json_log
        self._bar: tqdm[Any] | None = None
        self._streamed = 0

    # -- what the library calls ------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        """The ``EventSink``: count, trace and draw ``event``."""
        with self._lock:
            if isinstance(event, RequestDone):
                self._request(event)
            elif isinstance(event, BytesMoved):
                self._streamed += event.count
                self._advance(event.count)
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
        """A ``logging`` record of the library."""
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
                self._write(f"{record.levelname}: {record.name}: {record.getMessage()}")

    def close(self) -> None:
        """Remove the bar; print the summary (terminal or ``-v``; always an event in JSON)."""
        with self._lock:
            self._close_bar()
            if not self.tally.requests or self.quiet:
                return
            seconds = time.monotonic() - self._start
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

    def _advance(self, count: int) -> None:
        if not self.terminal:
            return
        if self._bar is None:
            from tqdm import tqdm  # only on a terminal: importing it costs every other run ~40 ms

            width, height = _terminal_size(self.stream)
            self._bar = tqdm(
                file=self.stream,
                unit="req",
                leave=False,
                ncols=width or 80,
                nrows=height or 24,
                dynamic_ncols=bool(width and height),
                mininterval=self.refresh_interval,
                miniters=1,
                bar_format="{n_fmt} requests [{elapsed}, {rate_fmt}]{postfix}",
            )
        moved = max(self._streamed, self.tally.received + self.tally.sent)
        self._bar.set_postfix_str(human_bytes(moved), refresh=False)
        self._bar.update(1 if count == 0 else 0)

    def _close_bar(self) -> None:
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
