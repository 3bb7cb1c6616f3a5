"""Input ``SRC=DST`` mappings (arguments and ``--mapping-file``): alone, or as overrides of another input."""

from __future__ import annotations

import copy

from okdrelease.payload.context import Run
from okdrelease.payload.imagestream import ImageStream, apply_mappings
from okdrelease.payload.inputs.base import Inputs
from okdrelease.payload.plan import Plan


def read(plan: Plan, run: Run) -> Inputs:
    """Mappings alone: an empty stream the overrides fill."""
    return Inputs(stream=None, ordered=())


def with_overrides(
    stream: ImageStream, ordered: tuple[str, ...], plan: Plan
) -> tuple[ImageStream, tuple[str, ...]]:
    """A copy of ``stream`` with each ``SRC=DST`` applied (spec §3.5 step 3); SRC appended to ``ordered`` (Q6)."""
    result = copy.deepcopy(stream)
    names = list(ordered)
    apply_mappings(result, plan.mappings, plan.exclude, names)
    return result, tuple(names)
