"""Stage 3 of ``new``: the release's name, time, metadata and stream from the inputs (spec §3.5)."""

from __future__ import annotations

import attrs

from okdrelease._repr import value_repr
from okdrelease.errors import ReleaseError
from okdrelease.gocompat.gotime import format_time, parse_seconds
from okdrelease.gocompat.semver import SemverError
from okdrelease.gocompat.semver import parse as parse_semver
from okdrelease.openshift.imagestream import ImageStream, sort_tags
from okdrelease.openshift.labels import FROM_RELEASE_ANNOTATION
from okdrelease.openshift.metadata import CincinnatiMetadata, build_release_metadata
from okdrelease.payload.inputs import Inputs
from okdrelease.payload.inputs.mappings import with_overrides
from okdrelease.payload.plan import Plan, default_created, prefixed_name


@attrs.frozen
class ReleaseDraft:
    """The release being built: its stream (tags sorted), operator candidates, name, time and metadata."""

    __repr__ = value_repr

    stream: ImageStream
    ordered: tuple[str, ...]
    name: str
    created: str
    metadata: CincinnatiMetadata
    #: ``--from-release`` without overrides: the result must reproduce the input release.
    canonical: bool


def release_name(plan: Plan, inputs: Inputs, created: str) -> str:
    """--name-prefix's ``PREFIX-<created>``, else --name, else the input release's, else ``0.0.1-<created>``."""
    if plan.options.name_prefix:
        return prefixed_name(plan.options.name_prefix, parse_seconds(created))  # checked by make_plan
    name = plan.options.name or inputs.inherited_name
    if not name:
        name = prefixed_name("0.0.1", parse_seconds(created))
    try:
        parse_semver(name)
    except SemverError as err:
        raise ReleaseError("--name must be a semantic version") from err
    return name


def _metadata(plan: Plan, inputs: Inputs, name: str) -> CincinnatiMetadata:
    options = plan.options
    metadata = plan.metadata if options.metadata else inputs.inherited_metadata
    previous = options.previous if options.previous is not None else (inputs.inherited_previous or ())
    next_ = options.next if options.next is not None else (inputs.inherited_next or ())
    return build_release_metadata(name, previous, next_, metadata)


def _stream(plan: Plan, inputs: Inputs, name: str, created: str, overridden: bool) -> ImageStream:
    stream = inputs.stream.copy() if inputs.stream is not None else ImageStream(name="", annotations={})
    stream.name = name
    stream.creation_timestamp = created
    annotations = dict(stream.annotations or {})
    if plan.options.from_release and overridden:
        annotations[FROM_RELEASE_ANNOTATION] = plan.options.from_release
    stream.annotations = annotations
    return stream


def compose(plan: Plan, inputs: Inputs) -> ReleaseDraft:
    """Name, time and metadata of the release; its stream with the mappings applied, tags sorted."""
    overridden = plan.overridden or inputs.base_from_release
    canonical = bool(plan.options.from_release) and not overridden
    if canonical and inputs.canonical_created:
        created = inputs.canonical_created
    else:
        created = format_time(plan.options.created or default_created())
    name = release_name(plan, inputs, created)
    metadata = _metadata(plan, inputs, name)
    stream, ordered = with_overrides(_stream(plan, inputs, name, created, overridden), inputs.ordered, plan)
    sort_tags(stream)
    return ReleaseDraft(stream, ordered, name, created, metadata, canonical)
