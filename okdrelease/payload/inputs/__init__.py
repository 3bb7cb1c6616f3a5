"""Stage 2 of ``new``: inputs, one module per source (spec §3.3).

A source is a module with ``read(plan, run) -> Inputs``; adding one (a registry repository, say)
means one module and one entry in ``SOURCES`` (a run imports only the module it reads).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import Inputs
from okdrelease.payload.plan import InputKind, Plan

__all__ = ["SOURCES", "Inputs", "read_inputs"]

#: The module (under okdrelease.payload.inputs) of each source, imported only when a run reads it.
SOURCES: Mapping[InputKind, str] = {
    InputKind.MAPPINGS: "mappings",
    InputKind.IMAGE_STREAM_FILE: "imagestream",
    InputKind.RELEASE: "release",
    InputKind.DIRECTORY: "directory",
    InputKind.LAYOUT: "layout",
    InputKind.REPOSITORY: "repository",
}


def read_inputs(plan: Plan, run: Run) -> Inputs:
    """Read the plan's input source."""
    module = importlib.import_module(f"{__name__}.{SOURCES[plan.source]}")
    inputs: Inputs = module.read(plan, run)
    return inputs
