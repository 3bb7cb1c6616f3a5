"""``new``: assemble a release payload the way ``oc adm release new`` does, as a composition of stages.

plan → inputs → draft (name, time, stream) → resolved components → operator manifests →
pruning and rewriting (payload tar) → sink (release image pushed, layout, file, directory) → signing.
Each stage is a function of the value before it; see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from okdrelease._repr import value_repr
from okdrelease.cache.store import Cache
from okdrelease.errors import ReleaseError
from okdrelease.images.resolve import Resolver
from okdrelease.payload.check import ManifestChecker
from okdrelease.payload.components import Resolution, resolve_components
from okdrelease.payload.compose import ReleaseDraft, compose
from okdrelease.payload.context import Progress, Reporter, Run
from okdrelease.payload.inputs import Inputs, read_inputs
from okdrelease.payload.operators import Payload, assemble_payload, collect_operators, pin_tag_digests, prune
from okdrelease.payload.plan import NewOptions, Plan, make_plan
from okdrelease.payload.resolve import OperatorManifests
from okdrelease.payload.sinks import (
    DirSink,
    FileSink,
    ImageSink,
    Sink,
    pushing_early,
    write_work_dir,
)
from okdrelease.transport.base import Transport, TransportOptions

if TYPE_CHECKING:
    from okdrelease.openshift.imagestream import ImageStream
    from okdrelease.payload.signing import SigningKeys
    from okdrelease.payload.unchanged import ExistingRelease
    from okdrelease.sign.policy import PolicyChecker

__all__ = ["ComponentInfo", "NewResult", "may_push_early", "new_release", "run_stages", "select_sink"]


@attrs.frozen
class ComponentInfo:
    """A component of the release: tag name, pull spec and digest."""

    __repr__ = value_repr

    name: str
    pullspec: str
    digest: str | None
    operator: bool


@attrs.frozen
class NewResult:
    """What ``new`` produced."""

    __repr__ = value_repr

    name: str
    created: str
    digest: str | None = None
    to_image: str | None = None
    components: tuple[ComponentInfo, ...] = ()
    operators: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    output: bytes | None = None
    diff_id: str | None = None
    image_references: bytes | None = attrs.field(default=None, repr=False)
    release_metadata: bytes | None = attrs.field(default=None, repr=False)
    stdout_lines: tuple[str, ...] = ()
    #: --skip-if-unchanged found the existing release's components unchanged: nothing was pushed or written.
    unchanged: bool = False


def new_release(
    options: NewOptions,
    *,
    transport_options: TransportOptions | None = None,
    transport: Transport | None = None,
    progress: Progress | None = None,
    cache: Cache | None = None,
) -> NewResult:
    """Assemble a release from ``options``; push or write it; return what was produced.

    ``cache`` is the persistent cache to read through and fill (None: nothing outlives the run).
    """
    from okdrelease.transport.open import DefaultTransport

    plan = make_plan(options)
    keys = None
    if options.signs or options.to_signature:  # okdrelease.payload.signing is loaded only to sign
        from okdrelease.payload.signing import load_signing_keys

        keys = load_signing_keys(options)  # and checks where signatures go, before anything is written
    opener: Transport = (
        transport if transport is not None else DefaultTransport(transport_options or TransportOptions())
    )
    try:
        return run_stages(plan, keys, opener, Reporter(progress) if progress else Reporter(), cache)
    finally:
        if transport is None:
            opener.close()


def _run(plan: Plan, transport: Transport, reporter: Reporter, cache: Cache | None = None) -> Run:
    if plan.layout is not None and plan.options.layout_repository:
        from okdrelease.transport.overlay import LayoutContentTransport

        transport = LayoutContentTransport(transport, plan.options.layout_repository, plan.layout.path)
    workers = max(4, transport.options.max_per_registry * 2)
    checker = None if plan.options.skip_manifest_check else ManifestChecker(cache)
    resolver = Resolver(plan.platform, store=cache)
    return Run(transport, resolver, OperatorManifests(resolver, checker), reporter, workers)


def select_sink(plan: Plan, inputs: Inputs, draft: ReleaseDraft) -> Sink:
    """--to-dir, --to-file, else the release image (pushed, or computed only in a dry run)."""
    options = plan.options
    if options.to_dir:
        return DirSink(Path(options.to_dir))
    if options.to_file:
        return FileSink(options.to_file, draft.created, inputs.source_layer)
    return ImageSink(
        to_image=options.to_image,
        given_name=options.name or inputs.inherited_name or None,
        name=draft.name,
        created=draft.created,
        base_image=options.to_image_base or inputs.to_image_base,
        base_tag=options.to_image_base_tag,
        keep_manifest_list=options.keep_manifest_list,
        dry_run=options.dry_run or not options.to_image,
        source_layer=inputs.source_layer,
        manifest_format=options.manifest_format,
    )


@attrs.frozen
class _Assembled:
    __repr__ = value_repr

    payload: Payload
    resolution: Resolution | None
    operators: frozenset[str]
    removed: tuple[str, ...]
    #: With --mirror: the release's images where they were read, before the stream pointed at the mirror.
    unmirrored: ImageStream | None = None


def _payload(
    plan: Plan, inputs: Inputs, draft: ReleaseDraft, run: Run, policy: PolicyChecker | None = None
) -> _Assembled:
    """Resolve (and with ``policy`` verify) the components, collect and prune the operators, mirror,
    and write the payload tar."""
    stream = draft.stream
    resolution: Resolution | None = None
    if inputs.dirs is None:
        if not stream.tags:
            raise ReleaseError("no component images defined, unable to build a release payload")
        resolution = resolve_components(stream, run, images=policy is not None)
        if policy is not None:
            from okdrelease.payload.verify import verify_components

            # Before anything is written or pushed (--dir, --mirror, the sink).
            verify_components(policy, plan.options.verify_components or "", resolution, run)
        stream = resolution.stream
    operators = collect_operators(plan, inputs, draft.ordered, resolution)
    if plan.options.dir and inputs.dirs is None:
        write_work_dir(Path(plan.options.dir), operators.files, stream)
    if plan.options.pin_digests and resolution is not None:
        stream = pin_tag_digests(stream, resolution)
    unpruned = stream
    stream, removed = prune(stream, operators, plan.include)
    unmirrored = None
    if plan.options.mirror:
        unmirrored = stream
        # Pruned before mirroring (PERF P11): images the release drops are not copied.
        from okdrelease.payload.mirror import mirror_release_images

        stream = mirror_release_images(
            stream, plan.options.mirror, run, draft.name, dry_run=plan.options.dry_run, unpruned=unpruned
        )
    if removed:
        run.emit(
            f"info: Included {len(stream.tags)} images from {len(operators.files)} input operators into the release"
        )
    # Compressed while written when the payload layer will be gzip of the tar (not --to-dir, no input
    # release whose own layer may be reused, no --skip-if-unchanged that may stop before it).
    options = plan.options
    compress = not (options.to_dir or options.skip_if_unchanged) and inputs.source_layer is None
    payload = assemble_payload(
        stream, draft.metadata, operators, plan, run.reporter, run.operators.checker, compress=compress
    )
    return _Assembled(payload, resolution, frozenset(operators.files), removed, unmirrored)


def _result(draft: ReleaseDraft, assembled: _Assembled) -> NewResult:
    payload = assembled.payload
    digests = assembled.resolution.digests if assembled.resolution is not None else {}
    components = tuple(
        ComponentInfo(
            t.name,
            t.from_name or "",
            digests[t.name][0] if t.name in digests else None,
            t.name in assembled.operators,
        )
        for t in payload.stream.tags
    )
    return NewResult(
        name=draft.name,
        created=draft.created,
        components=components,
        operators=payload.operators,
        pruned=assembled.removed,
        image_references=payload.image_references,
        release_metadata=payload.release_metadata,
    )


def _release_checks(
    sink: ImageSink, plan: Plan, keys: SigningKeys | None, draft: ReleaseDraft, inputs: Inputs, run: Run
) -> ImageSink:
    """``sink`` checking a canonical rebuild's digest before anything is pushed, and writing
    --to-signature and the signatures once the release is pushed by digest, before its tag."""
    if draft.canonical and inputs.from_release_digest:
        sink = attrs.evolve(sink, expected_digest=inputs.from_release_digest)
    if not (plan.options.to_signature or keys is not None):
        return sink  # (okdrelease.payload.signing is loaded only when there is something to sign or write)

    def sign(to_image: str, digest: str) -> None:
        from okdrelease.payload.signing import sign_pushed, write_to_signature

        write_to_signature(plan.options, to_image, digest, draft.created)
        if keys is not None:
            sign_pushed(plan.options, keys, run, to_image, digest, draft.created)

    return attrs.evolve(sink, before_tag=sign)


def _skip_unchanged(existing: ExistingRelease | None, assembled: _Assembled, run: Run) -> NewResult | None:
    """The existing release as the result when the components are its own (--skip-if-unchanged), else None."""
    if existing is None:
        return None
    from okdrelease.payload.unchanged import component_digests, unchanged_since

    found = assembled.resolution.digests if assembled.resolution is not None else {}
    digests = component_digests(assembled.payload.stream, {name: pair[0] for name, pair in found.items()})
    difference = unchanged_since(existing, digests)
    if difference is not None:
        run.emit(f"info: Components differ from release {existing.name} ({existing.pullspec}): {difference}")
        return None
    run.emit(
        f"info: Release {existing.name} at {existing.pullspec} ({existing.digest}) has the same "
        f"{len(digests)} component digests: unchanged, nothing pushed"
    )
    return NewResult(
        name=existing.name,
        created=existing.created,
        digest=existing.digest,
        stdout_lines=(existing.result_line,),
        unchanged=True,
    )


def may_push_early(options: NewOptions) -> bool:
    """Whether the push may start before the payload exists (see ``ImageSink.start_early``): not when
    nothing may be pushed before a later check (--verify-components, --skip-if-unchanged), nor when a
    later stage may change which image is the base (--mirror, --pin-digests)."""
    return not (
        options.verify_components or options.skip_if_unchanged or options.mirror or options.pin_digests
    )


def run_stages(
    plan: Plan, keys: SigningKeys | None, transport: Transport, reporter: Reporter, cache: Cache | None = None
) -> NewResult:
    """Run every stage of ``new`` after the plan (``cache``: the persistent cache, or None)."""
    policy = None
    if plan.options.verify_components:  # a bad policy fails before any network work
        from okdrelease.payload.verify import load_component_policy

        policy = load_component_policy(plan.options, transport.options)
    run = _run(plan, transport, reporter, cache)
    existing = None
    if plan.options.skip_if_unchanged:
        from okdrelease.payload.unchanged import read_existing_release

        existing = read_existing_release(plan.options.skip_if_unchanged, run)
    inputs = read_inputs(plan, run)
    draft = compose(plan, inputs)
    if plan.options.output == "json":
        return NewResult(name=draft.name, created=draft.created, output=draft.stream.to_json() + b"\n")
    with pushing_early(
        select_sink(plan, inputs, draft), draft.stream, run, may_push_early(plan.options)
    ) as sink:
        assembled = _payload(plan, inputs, draft, run, policy)
        skipped = _skip_unchanged(existing, assembled, run)
        if skipped is not None:
            return skipped
        payload = assembled.payload
        result = _result(draft, assembled)
        if plan.options.dry_run and assembled.unmirrored is not None and isinstance(sink, ImageSink):
            # A dry run copied nothing to the mirror: the base is read where it would have been copied from.
            sink = sink.reading_base_from(assembled.unmirrored)
        if isinstance(sink, ImageSink):
            sink = _release_checks(sink, plan, keys, draft, inputs, run)
        delivery = sink.deliver(payload, run)
    stdout: tuple[str, ...] = ()
    if isinstance(sink, ImageSink):
        stdout = (f"{delivery.digest} {draft.name} {draft.created}",)
    if not payload.operators:
        # Like oc, whatever the destination (--to-dir and --to-file too).
        reporter.warn("warning: No operator metadata was found, no operators will be part of the release.")
    return attrs.evolve(
        result,
        digest=delivery.digest,
        to_image=delivery.to_image,
        diff_id=delivery.diff_id,
        output=delivery.output,
        warnings=tuple(reporter.warnings),
        stdout_lines=stdout,
    )
