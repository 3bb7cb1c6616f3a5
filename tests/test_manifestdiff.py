"""Unified diffs of payload files, with image-digest and version churn folded (release/manifestdiff.py)."""

from __future__ import annotations

import difflib

import attrs
import pytest

from okdrelease.release.manifestdiff import (
    CHURN_BOTH,
    CHURN_DIGESTS,
    CHURN_REFERENCES,
    CHURN_REFERENCES_BOTH,
    CHURN_VERSIONS,
    ChurnFolder,
    side_tokens,
    unified_diff,
)

A = "quay.io/okd/scos-content@sha256:" + "a" * 64
B = "quay.io/okd/scos-content@sha256:" + "b" * 64
C = "quay.io/okd/scos-content@sha256:" + "c" * 64

OLD = [f"line {i}\n" for i in range(30)]


@pytest.mark.parametrize(
    ("new", "context"),
    [
        (OLD[:5] + ["changed\n"] + OLD[6:], 3),
        (OLD[:5] + OLD[6:20] + ["x\n", "y\n"] + OLD[20:], 3),
        (["first\n", *OLD, "last\n"], 1),
        (OLD[10:], 0),
        ([], 2),
    ],
)
def test_without_folding_it_is_difflibs_unified_diff(new: list[str], context: int) -> None:
    ours = unified_diff("f.yaml", "".join(OLD).encode(), "".join(new).encode(), context=context)
    theirs = difflib.unified_diff(OLD, new, "a/f.yaml", "b/f.yaml", n=context, lineterm="")
    assert ours == [line.rstrip("\n") for line in theirs]


def test_added_removed_binary_and_missing_newline() -> None:
    assert unified_diff("n.yaml", None, b"a: 1\n") == [
        "--- /dev/null",
        "+++ b/n.yaml",
        "@@ -0,0 +1 @@",
        "+a: 1",
    ]
    assert unified_diff("o.yaml", b"a: 1\n", None) == [
        "--- a/o.yaml",
        "+++ /dev/null",
        "@@ -1 +0,0 @@",
        "-a: 1",
    ]
    assert unified_diff("bin", b"\0\1", b"\0\2") == ["Binary file bin differs"]
    assert unified_diff("e.yaml", b"a: 1\nb: 2", b"a: 1\nb: 3") == [
        "--- a/e.yaml",
        "+++ b/e.yaml",
        "@@ -1,2 +1,2 @@",
        " a: 1",
        "-b: 2",
        "\\ No newline at end of file",
        "+b: 3",
        "\\ No newline at end of file",
    ]
    assert unified_diff("same", b"x\n", b"x\n") == []


def folder() -> ChurnFolder:
    """hyperkube moved from A to B, kubernetes from 1.29.4 to 1.29.5; "cli" stays at C."""
    old = side_tokens({"hyperkube": A}, {"hyperkube": A.split("@")[1]}, {"kubernetes": "1.29.4"})
    new = side_tokens({"hyperkube": B}, {"hyperkube": B.split("@")[1]}, {"kubernetes": "1.29.5"})
    return ChurnFolder.between(old, new)


def test_churn_kinds() -> None:
    fold = folder()
    assert fold.churn(f"image: {A}\n".encode(), f"image: {B}\n".encode()) == CHURN_DIGESTS
    digest_a, digest_b = A.split("@")[1], B.split("@")[1]
    assert fold.churn(f"digest: {digest_a}\n".encode(), f"digest: {digest_b}\n".encode()) == CHURN_DIGESTS
    assert fold.churn(b'version: "1.29.4"\n', b'version: "1.29.5"\n') == CHURN_VERSIONS
    assert fold.churn(f"{A} 1.29.4\n".encode(), f"{B} 1.29.5\n".encode()) == CHURN_BOTH


def test_real_changes_are_not_churn() -> None:
    fold = folder()
    assert fold.churn(f"image: {A}\n".encode(), f"image: {C}\n".encode()) == ""  # another image
    assert fold.churn(f"image: {C}\n".encode(), f"image: {B}\n".encode()) == ""  # now uses hyperkube
    assert fold.churn(b"v: v1.29.4\n", b"v: v1.29.5\n") == ""  # not the whole version token
    assert fold.churn(b"v: 1.29.40\n", b"v: 1.29.50\n") == ""
    assert fold.churn(f"image: {A}\nreplicas: 1\n".encode(), f"image: {B}\nreplicas: 2\n".encode()) == ""


def test_folded_diff_shows_only_real_edits_with_the_new_text_as_context() -> None:
    old = f"spec:\n  image: {A}\n  replicas: 1\n".encode()
    new = f"spec:\n  image: {B}\n  replicas: 2\n".encode()
    assert unified_diff("d.yaml", old, new, context=1, folder=folder()) == [
        "--- a/d.yaml",
        "+++ b/d.yaml",
        "@@ -2,2 +2,2 @@",
        f"   image: {B}",
        "-  replicas: 1",
        "+  replicas: 2",
    ]
    assert unified_diff("d.yaml", old, new.replace(b"replicas: 2", b"replicas: 1"), folder=folder()) == []


def test_a_component_that_only_moved_repository_is_reference_churn() -> None:
    """hunt #6: the same digest under another repository is no digest change."""
    moved = "evil.example.com/x/kube@" + A.split("@")[1]
    old = side_tokens({"hyperkube": A}, {"hyperkube": A.split("@")[1]}, {"kubernetes": "1.29.4"})
    new = side_tokens({"hyperkube": moved}, {"hyperkube": A.split("@")[1]}, {"kubernetes": "1.29.5"})
    fold = attrs.evolve(ChurnFolder.between(old, new), old_digests=frozenset())
    assert fold.churn(f"image: {A}\n".encode(), f"image: {moved}\n".encode()) == CHURN_REFERENCES
    assert fold.churn(f"{A} 1.29.4\n".encode(), f"{moved} 1.29.5\n".encode()) == CHURN_REFERENCES_BOTH
