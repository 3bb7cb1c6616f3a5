"""Input ``--from-oci-layout DIR``: every ref name of a layout is a component image."""

from __future__ import annotations

from okdrelease.errors import UsageError
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import Inputs
from okdrelease.payload.plan import Plan
from okdrelease.reference import LayoutLocation
from okdrelease.transport.layout import LayoutRepository


def read(plan: Plan, run: Run) -> Inputs:
    """Name each ref ``REPO@digest`` (``--layout-repository``) or ``oci:DIR@digest``."""
    location = plan.layout
    if location is None:
        raise UsageError("--from-oci-layout is required for a layout input")
    repo, _ = run.transport.open(LayoutLocation(location.path))
    if not isinstance(repo, LayoutRepository):
        raise UsageError(f"{location.path} is not an OCI layout")
    prefix = plan.options.layout_repository or f"oci:{location.path}"
    tags = [
        TagReference.docker_image(desc.ref_name, f"{prefix}@{desc.digest}")
        for desc in repo.entries()
        if desc.ref_name and desc.ref_name not in plan.exclude
    ]
    run.emit(f"info: Found {len(tags)} images in OCI layout {location.path}")
    return Inputs(stream=ImageStream(name="", annotations={}, tags=tags), ordered=tuple(t.name for t in tags))
