"""The stages of ``new`` on their own: each a function of the value before it, none changing its input."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest

from okdrelease.errors import ReleaseError, UsageError
from okdrelease.images.resolve import resolve_all
from okdrelease.openshift.imagestream import ImageStream, TagReference
from okdrelease.payload.components import Resolution, Visited, _resolution
from okdrelease.payload.compose import compose
from okdrelease.payload.inputs import Inputs
from okdrelease.payload.operators import Operators, collect_operators, prune
from okdrelease.payload.pipeline import select_sink
from okdrelease.payload.plan import InputKind, NewOptions, make_plan, parse_created
from okdrelease.payload.recorded import Recorded, RecordedOperator
from okdrelease.payload.resolve import ExtractedManifests, ManifestFile, load_references
from okdrelease.payload.sinks import DirSink, FileSink, ImageSink

CREATED = parse_created("2024-05-01T00:00:00Z")
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _stream() -> ImageStream:
    return ImageStream(
        name="",
        annotations={},
        tags=[
            TagReference.docker_image("zeta", f"quay.io/a/z@{D1}"),
            TagReference.docker_image("alpha", f"quay.io/a/a@{D2}"),
        ],
    )


def test_plan_parses_once_and_names_the_source() -> None:
    """make_plan: the input kind, mappings, include list with the base tag, and the metadata object."""
    plan = make_plan(
        NewOptions(mappings=("alpha=quay.io/b/a:1",), include=("x",), metadata='{"url":"u"}', name="4.16.0")
    )
    assert plan.source is InputKind.MAPPINGS
    assert plan.mappings == (("alpha", "quay.io/b/a:1"),)
    assert plan.include == ("x", "cluster-version-operator")
    assert plan.metadata == {"url": "u"}
    assert plan.overridden is True


def test_plan_refuses_bad_filter_and_missing_inputs() -> None:
    """Validation happens in the plan, before any input is read."""
    with pytest.raises(UsageError, match="--filter-by-os was not a valid regular expression"):
        make_plan(NewOptions(mappings=("a=b",), filter_by_os="("))
    with pytest.raises(ReleaseError, match="must specify image mappings when no other source is defined"):
        make_plan(NewOptions())


def test_compose_applies_overrides_to_a_copy_and_sorts() -> None:
    """compose: the input stream is not changed; the draft has the mapping applied and tags sorted."""
    plan = make_plan(NewOptions(mappings=(f"extra=quay.io/a/e@{D1}",), name="4.16.0", created=CREATED))
    stream = _stream()
    before = copy.deepcopy(stream)
    draft = compose(plan, Inputs(stream=stream, ordered=("zeta",)))
    assert stream == before
    assert [t.name for t in draft.stream.tags] == ["alpha", "extra", "zeta"]
    assert draft.ordered == ("zeta", "extra")
    assert (draft.name, draft.created) == ("4.16.0", "2024-05-01T00:00:00Z")
    assert next(t for t in draft.stream.tags if t.name == "extra").annotations == {
        "io.openshift.release.override": "true"
    }
    assert draft.metadata.version == "4.16.0" and draft.canonical is False


def test_prune_returns_a_new_stream_and_the_removed_names() -> None:
    """prune keeps referenced tags only; the stream given stays whole."""
    stream = _stream()
    operators = Operators(files={"zeta": ()}, ordered=("zeta",))
    kept, removed = prune(stream, operators, ("cluster-version-operator",))
    assert [t.name for t in kept.tags] == ["zeta"]
    assert removed == ("alpha",)
    assert [t.name for t in stream.tags] == ["zeta", "alpha"]


def test_collect_operators_from_dir_requires_every_ordered_name() -> None:
    """--from-dir: an ordered operator without a directory is oc's "missing image data"."""
    plan = make_plan(NewOptions(from_dir="unused", created=CREATED))
    files = {"a": (ManifestFile("m.yaml", b"kind: X\n", 0.0),)}
    inputs = Inputs(stream=None, ordered=("a",), dirs=files)
    assert collect_operators(plan, inputs, ("a", "a"), None).ordered == ("a",)
    with pytest.raises(ReleaseError, match="^missing image data b$"):
        collect_operators(plan, inputs, ("a", "b"), None)


def test_collect_operators_keeps_resolved_operators_in_order() -> None:
    """From images: only names that turned out to be operators, duplicates folded (Q6 fixed)."""
    plan = make_plan(NewOptions(mappings=("a=b",), created=CREATED))
    files = {"b": (), "a": ()}
    resolution = Resolution(stream=_stream(), operator_files=files, operators=("b", "a"))
    result = collect_operators(plan, Inputs(stream=None, ordered=()), ("a", "x", "b", "a"), resolution)
    assert result.ordered == ("a", "b")


def test_select_sink_by_destination(tmp_path: Path) -> None:
    """--to-dir, --to-file, else the release image (a dry run without --to-image)."""
    inputs = Inputs(stream=None, ordered=())
    draft = compose(make_plan(NewOptions(mappings=("a=b",), created=CREATED)), inputs)

    def sink(**options: object) -> object:
        plan = make_plan(NewOptions(mappings=("a=b",), created=CREATED, **options))  # type: ignore[arg-type]
        return select_sink(plan, inputs, draft)

    assert sink(to_dir=str(tmp_path)) == DirSink(tmp_path)
    assert sink(to_file="-") == FileSink("-", draft.created)
    image = sink()
    assert isinstance(image, ImageSink) and image.dry_run and image.to_image is None
    pushed = sink(to_image="quay.io/me/release")
    assert isinstance(pushed, ImageSink) and not pushed.dry_run


def test_resolve_all_cancels_pending_work_after_the_first_failure() -> None:
    """The first failure stops work not yet started; the error raised is the first in input order."""
    started: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            started.append(item)
        if item == 0:
            raise ReleaseError("first")
        time.sleep(0.05)
        return item

    with pytest.raises(ReleaseError, match="^first$"):
        resolve_all(list(range(50)), work, workers=2)
    assert len(started) < 50


def test_resolve_all_returns_results_in_order() -> None:
    """Without failures every result comes back in input order."""
    assert resolve_all([3, 1, 2], lambda item: item * 10, workers=3) == [30, 10, 20]


def test_an_operator_named_twice_takes_files_and_image_references_from_its_last_tag() -> None:
    """Two spec tags of one name (--from-image-stream-file): the last one's files and image-references
    both, as when they were read from its files alone. A names quay.io/x/y in its image-references;
    B, listed last, has none and a file that names quay.io/x/y:1: the operator has no references (A's
    would have rewritten B's file)."""
    refs = b'{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","spec":{"tags":[{"name":"y",'
    refs += b'"from":{"kind":"DockerImage","name":"quay.io/x/y"}}]}}'
    a_files = (ManifestFile("image-references", refs, 0.0), ManifestFile("a.yaml", b"kind: A\n", 0.0))
    b_files = (ManifestFile("b.yaml", b"image: quay.io/x/y:1\n", 0.0),)
    a = Recorded(D1, None, {}, RecordedOperator(ExtractedManifests((D1,), a_files, load_references(refs))))
    b = Recorded(D2, None, {}, RecordedOperator(ExtractedManifests((D2,), b_files, None)))
    stream = ImageStream(
        tags=[
            TagReference.docker_image("op", f"quay.io/a/a@{D1}"),
            TagReference.docker_image("op", f"quay.io/a/b@{D2}"),
        ]
    )
    visited = [Visited("op", a, {}), Visited("op", b, {})]
    resolution = _resolution(stream, stream.tags, visited, images=False)
    assert resolution.operator_files == {"op": b_files}
    assert resolution.operator_references == {}
    assert resolution.operators == ("op", "op")
    plan = make_plan(NewOptions(mappings=("op=quay.io/a/b@" + D2,), created=CREATED))
    operators = collect_operators(plan, Inputs(stream=None, ordered=()), ("op",), resolution)
    assert operators.files == {"op": b_files}
    assert operators.references == {}
