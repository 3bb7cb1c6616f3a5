"""Stage 2 of ``new``: inputs, one module per source (spec §3.3).

A source is a module with ``read(plan, run) -> Inputs``; adding one (a registry repository, say)
means one module and one entry in ``SOURCES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from okdrelease.payload.context import Run
from okdrelease.payload.inputs import directory, imagestream, layout, mappings, release, repository
from okdrelease.payload.inputs.base import Inputs
from okdrelease.payload.plan import InputKind, Plan

__all__ = ["SOURCES", "Inputs", "read_inputs"]

Reader = Callable[[Plan, Run], Inputs]

SOURCES: Mapping[InputKind, Reader] = {
    InputKind.MAPPINGS: mappings.read,
    InputKind.IMAGE_STREAM_FILE: imagestream.read,
    InputKind.RELEASE: release.read,
    InputKind.DIRECTORY: directory.read,
    InputKind.LAYOUT: layout.read,
    InputKind.REPOSITORY: repository.read,
}


def read_inputs(plan: Plan, run: Run) -> Inputs:
    """Read the plan's input source."""
    return SOURCES[plan.source](plan, run)
