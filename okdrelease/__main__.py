"""Entry point for ``python -m okdrelease`` and the ``okdrelease`` script."""

import gc
from typing import NoReturn


def main() -> NoReturn:
    """Run the command line as a process of its own (:func:`okdrelease.cli.run`).

    The cyclic collector is off from the first import: ``run`` freezes every object loaded by then
    and turns it back on (okdrelease.cli alone loads most of a command's modules; loaded with the
    collector on, they cost a warm ``new`` 41 collections and 6 ms).
    """
    gc.disable()
    from okdrelease.cli import run

    run()


if __name__ == "__main__":
    main()
