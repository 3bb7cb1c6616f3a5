"""Input ``SRC=DST`` mappings (arguments and ``--mapping-file``): alone, or as overrides of another input."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from okdrelease.openshift.imagestream import OVERRIDE_ANNOTATION, ImageStream, ObjectReference, TagReference
from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import Inputs
from okdrelease.payload.plan import Plan


def read(plan: Plan, run: Run) -> Inputs:
    """Mappings alone: an empty stream the overrides fill."""
    return Inputs(stream=None, ordered=())


def with_overrides(
    stream: ImageStream, ordered: tuple[str, ...], plan: Plan
) -> tuple[ImageStream, tuple[str, ...]]:
    """A copy of ``stream`` with each ``SRC=DST`` applied (spec §3.5 step 3); SRC appended to ``ordered`` (Q6)."""
    result = stream.copy()
    names = list(ordered)
    apply_mappings(result, plan.mappings, plan.exclude, names)
    return result, tuple(names)


def apply_mappings(
    stream: ImageStream, mappings: Sequence[tuple[str, str]], exclude: Collection[str], ordered: list[str]
) -> None:
    """Apply ``SRC=DST`` overrides (spec §3.5 step 3), appending each SRC to ``ordered`` (Q6)."""
    for src, dst in mappings:
        if src in exclude:
            continue
        ordered.append(src)
        tag = next((t for t in stream.tags if t.name == src), None)
        if tag is None:
            tag = TagReference(name=src)
            stream.tags.append(tag)
        tag.annotations = {OVERRIDE_ANNOTATION: "true"}
        tag.from_ = ObjectReference(kind="DockerImage", name=dst)
