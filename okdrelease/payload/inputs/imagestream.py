"""Input ``-f/--from-image-stream-file`` (file, ``-`` or URL): resolved by reference mode (spec §3.3.2)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection

from okdrelease.errors import ReleaseError
from okdrelease.openshift.imagestream import ImageStream, NamedTagEventList, ObjectReference, TagReference
from okdrelease.payload.context import Run
from okdrelease.payload.inputs.base import Inputs, load_checked_stream
from okdrelease.payload.plan import Plan
from okdrelease.reference import parse_docker_reference, redact_userinfo
from okdrelease.regularfile import MAX_USER_FILE_BYTES, FileTooLarge, read_capped, read_failure
from okdrelease.transport.base import TransportOptions


def read_text_source(path: str, options: TransportOptions | None = None) -> bytes:
    """The bytes of a file, of stdin (``-``) or of an http(s) URL (read with the trust, proxies and
    timeout of ``options``, as the signature stores are: ``transport.fetch.UrlReader``), at most
    ``MAX_USER_FILE_BYTES`` (``/dev/zero`` and a FIFO nobody writes to are refused, not waited on).
    Errors name a URL without its ``user:password@`` or query."""
    if path == "-":
        data = sys.stdin.buffer.read(MAX_USER_FILE_BYTES + 1)
        if len(data) > MAX_USER_FILE_BYTES:
            raise ReleaseError(
                f"unable to read input image stream file: standard input is larger than {MAX_USER_FILE_BYTES} bytes"
            )
        return data
    if path.startswith(("http://", "https://")):
        return _read_url(path, options)
    return read_capped(path)


def _read_url(url: str, options: TransportOptions | None) -> bytes:
    from okdrelease.errors import FetchError
    from okdrelease.events import safe_url
    from okdrelease.transport.fetch import UrlReader

    shown = safe_url(url)
    with UrlReader(options) as reader:
        try:
            status, body = reader.get(url, MAX_USER_FILE_BYTES + 1)
        except FetchError as err:  # (its text names the URL as shown, and what failed)
            raise ReleaseError(f"unable to read input image stream file: {err}") from None
    if not 200 <= status < 300:
        raise ReleaseError(f"unable to read input image stream file: {shown}: HTTP {status}")
    if len(body) > MAX_USER_FILE_BYTES:
        raise ReleaseError(
            f"unable to read input image stream file: {shown} is larger than {MAX_USER_FILE_BYTES} bytes"
        )
    return body


def read(plan: Plan, run: Run) -> Inputs:
    """Load the input stream and resolve its tags to pull specs."""
    path = plan.options.from_image_stream_file or ""
    try:
        data = read_text_source(path, run.transport.options)
    except FileNotFoundError as err:
        raise ReleaseError(f"open {path}: no such file or directory") from err
    except FileTooLarge as err:
        raise ReleaseError(f"unable to read input image stream file: {err}") from err
    except OSError as err:  # (Go's words, as oc's: 'read PATH: is a directory')
        raise ReleaseError(f"unable to read input image stream file: {read_failure(path, err)}") from err
    source = load_checked_stream(
        data,
        load_error="unable to load input image stream file: {err}",
        kind_error="unrecognized input image stream file, must be an ImageStream in image.openshift.io/v1",
    )
    try:
        tags, ordered = resolve_input_stream(source, plan.options.reference_mode, plan.exclude)
    except InvalidTagSourceError as err:
        raise InvalidTagSourceError(f"input image stream file {path}: {err}") from err
    run.emit(f"info: Found {len(tags)} images in image stream")
    return Inputs(stream=ImageStream(name="", annotations={}, tags=tags), ordered=tuple(ordered))


# --------------------------------------------------------------------------------------------
# Reference-mode resolution (§3.3.2) and finalising (§3.5)


class InvalidTagSourceError(ReleaseError):
    """A tag of the input stream points to a pull spec that is not a valid reference (the text names both)."""


def _invalid_source(name: str, spec: str, err: ReleaseError) -> InvalidTagSourceError:
    """oc's wording for a bad status tag source, with the parser's reason (oc drops it)."""
    shown = redact_userinfo(spec)  # (no credentials in an error)
    return InvalidTagSourceError(f'the tag "{name}" points to source "{shown}" which is not valid: {err}')


def _not_imported(name: str) -> ReleaseError:
    return ReleaseError(f'the tag "{name}" in the source input stream has not been imported yet')


def _import_failed(events: NamedTagEventList) -> bool:
    """Q28: any ImportSuccess condition whose status is not the literal "Success" counts as a failure."""
    return any(c.type == "ImportSuccess" and c.status != "Success" for c in events.conditions)


def resolve_input_stream(
    source: ImageStream, reference_mode: str, exclude: Collection[str]
) -> tuple[list[TagReference], list[str]]:
    """Turn an input stream's spec and status tags into release tags (spec §3.3.2); return (tags, names)."""
    if reference_mode not in ("", "public", "source"):
        raise ReleaseError('supported reference modes are: "public" (default) and "source"')
    force_external = reference_mode in ("", "public")
    internal = source.status_docker_image_repository
    external = source.public_docker_image_repository
    if force_external and not external:
        raise ReleaseError(
            "only image streams or releases with public image repositories can be the source for releases "
            "when using the default --reference-mode"
        )

    def pullspec(spec: str, image_id: str) -> str:
        # Q35: sources in the internal registry are always replaced by the public repository.
        if internal and spec.startswith(internal):
            spec = ""
        if (force_external or not spec) and external:
            return f"{external}@{image_id}"
        return spec

    def copy_with(tag: TagReference, spec: str) -> TagReference:
        result = tag.copy()
        result.from_ = ObjectReference(kind="DockerImage", name=spec)
        return result

    tags: list[TagReference] = []
    covered: set[str] = set()
    for tag in source.tags:
        if tag.name in exclude:
            continue
        events = source.status_tag(tag.name)
        if tag.generation is not None and events is not None and events.items:
            if tag.generation > events.items[0].generation:
                raise _not_imported(tag.name)
            continue
        if tag.from_ is None or tag.from_.kind != "DockerImage":
            continue
        try:
            ref = parse_docker_reference(tag.from_.name)
        except ReleaseError as err:
            raise _invalid_source(tag.name, tag.from_.name, err) from err
        if ref.digest:
            spec = pullspec(tag.from_.name, ref.digest)
            if not spec:
                continue
            tags.append(copy_with(tag, spec))
            covered.add(tag.name)
        elif ref.tag:
            if events is None:
                continue
            if not events.items:
                if _import_failed(events):
                    raise _not_imported(tag.name)
                continue
            latest = events.items[0]
            if not latest.image:
                raise ReleaseError(f'the tag "{tag.name}" in the source input stream has no image id')
            tags.append(copy_with(tag, pullspec(latest.docker_image_reference, latest.image)))
            covered.add(tag.name)
    tags.extend(_status_only_tags(source, covered | set(exclude), pullspec))
    return tags, [t.name for t in tags]


def _status_only_tags(
    source: ImageStream, skip: Collection[str], pullspec: Callable[[str, str], str]
) -> list[TagReference]:
    """The release tags of status tags that no spec tag covered (oc reads these after the spec tags)."""
    tags: list[TagReference] = []
    for events in source.status_tags:
        if events.tag in skip:
            continue
        if not events.items:
            if _import_failed(events):
                raise _not_imported(events.tag)
            continue
        latest = events.items[0]
        if not latest.image:
            continue
        spec = pullspec(latest.docker_image_reference, latest.image)
        if not spec:
            continue
        try:
            ref = parse_docker_reference(spec)
        except ReleaseError as err:
            raise _invalid_source(events.tag, spec, err) from err
        tags.append(TagReference.docker_image(events.tag, f"{ref.repository}@{latest.image}"))
    return tags
