"""A loopback TCP proxy that delays every chunk by a fixed time in each direction (a longer round trip).

Kernel netem is not available in the benchmark container, so the latency mode points both tools at
this proxy instead of the registry. Each direction keeps its byte order; a chunk read at time ``t`` is
written at ``t + delay``, so throughput is not throttled, only the round trip grows by ``2 * delay``.

Run alone: ``python benchmarks/delay_proxy.py TARGET_HOST:PORT --rtt-ms 30`` prints its port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import Sequence

_CHUNK = 256 * 1024


class DelayProxy:
    """Serve ``127.0.0.1:<port>`` in a background thread, forwarding to ``target`` with ``rtt / 2`` each way."""

    def __init__(self, target: str, rtt_seconds: float) -> None:
        """``target`` is ``host:port``; nothing listens until :meth:`start`."""
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._delay = rtt_seconds / 2
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> DelayProxy:
        """Start listening; returns self once the port is known."""
        self._thread.start()
        self._ready.wait(10)
        if not self.port:
            raise RuntimeError("delay proxy did not start")
        return self

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        self._loop.run_forever()
        self._server.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(self._pump(client_r, upstream_w), self._pump(upstream_r, client_w))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_w, upstream_w):
                writer.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        """Copy ``src`` to ``dst``, each chunk written ``delay`` after it was read; half-close at the end."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if dst.can_write_eof():
                        with contextlib.suppress(OSError):
                            dst.write_eof()
                    return
                dst.write(data)
                await dst.drain()

        sender = asyncio.create_task(send())
        try:
            while data := await src.read(_CHUNK):
                queue.put_nowait((loop.time() + self._delay, data))
        finally:
            queue.put_nowait((loop.time() + self._delay, b""))
            await sender


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: proxy to TARGET until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Loopback TCP proxy adding a fixed round-trip delay.")
    parser.add_argument("target", metavar="HOST:PORT")
    parser.add_argument("--rtt-ms", type=float, default=30.0, help="added round trip in ms (30)")
    args = parser.parse_args(argv)
    with DelayProxy(args.target, args.rtt_ms / 1000) as proxy:
        print(proxy.address, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
