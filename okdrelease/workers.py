"""Thread pools that stop with their caller: on a failure or an interruption none of their work runs on.

A ``with ThreadPoolExecutor()`` left by an exception waits for every queued item to run. Left by a
KeyboardInterrupt (Ctrl-C, or SIGTERM as the CLI turns it into one) that is the whole run going on
after the user stopped it. :func:`worker_pool` instead cancels the work not started, sets the
caller's ``cancel`` event (copies stop at their next read), and, on an interruption, tells every
running blob copy of the process to stop (:func:`interrupted`); it returns only once its threads
ended, so the cleanups that follow (a layout the run created removed) never race a writer, and
further KeyboardInterrupts while it waits do not cut that wait short. The library installs no
signal handler.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_stopping = 0  # pools winding down after a KeyboardInterrupt


def interrupted() -> bool:
    """True while a pool winds down after a KeyboardInterrupt: running blob copies stop at their next read."""
    return _stopping > 0


@contextlib.contextmanager
def worker_pool(
    workers: int, name: str = "", *, cancel: threading.Event | None = None
) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``max(1, workers)`` threads; left by an exception it stops (see :func:`stop_pool`)."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
    try:
        yield pool
    except BaseException as err:
        stop_pool(pool, cancel, interrupting=isinstance(err, KeyboardInterrupt))
        raise
    try:
        pool.shutdown(wait=True)
    except KeyboardInterrupt:
        stop_pool(pool, cancel, interrupting=True)
        raise


def stop_pool(pool: ThreadPoolExecutor, cancel: threading.Event | None, *, interrupting: bool) -> None:
    """Cancel ``pool``'s queued work, set ``cancel``, and wait until its threads ended; while
    ``interrupting`` (or once a KeyboardInterrupt comes during the wait) every blob copy of the
    process stops too. A KeyboardInterrupt during the wait is raised after it."""
    global _stopping
    if cancel is not None:
        cancel.set()
    late: KeyboardInterrupt | None = None
    counted = False
    try:
        while True:
            if (interrupting or late is not None) and not counted:
                with _lock:
                    _stopping += 1
                counted = True
            try:
                pool.shutdown(wait=True, cancel_futures=True)
                break
            except KeyboardInterrupt as err:  # the threads still run: wait on, stop them faster
                late = late or err
    finally:
        if counted:
            with _lock:
                _stopping -= 1
    if late is not None and not interrupting:
        raise late
