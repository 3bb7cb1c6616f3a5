"""The one reference grammar (``okdrelease.reference``): two of Docker's entry points, two wordings, one parser."""

from __future__ import annotations

import pytest

from okdrelease import reference as reference_module
from okdrelease.errors import InvalidReferenceError, ReleaseError
from okdrelease.oci import digest as digest_module
from okdrelease.oci.digest import validate_digest
from okdrelease.reference import (
    ImageReference,
    Problem,
    ReferenceProblem,
    ReferenceSyntaxError,
    parse_docker_reference,
)


@pytest.mark.parametrize(
    ("text", "problems", "message", "docker"),
    [
        (
            "quay.io/UPPER/x:y",
            (ReferenceProblem(Problem.PATH, "UPPER/x"),),
            "repository name must be lowercase alphanumeric components",
            "repository name must be lowercase",
        ),
        (
            "a/b@sha256:abc",
            (ReferenceProblem(Problem.DIGEST, "sha256:abc"),),
            "invalid checksum digest length",
            "invalid reference format",
        ),
        (
            "a/b@md5:" + "0" * 32,
            (ReferenceProblem(Problem.DIGEST, "md5:" + "0" * 32),),
            "unsupported digest algorithm in 'md5:" + "0" * 32 + "'",
            "unsupported digest algorithm",
        ),
        (
            "a b:!",
            (ReferenceProblem(Problem.TAG, "!"), ReferenceProblem(Problem.PATH, "a b")),
            "invalid tag '!'",
            "invalid reference format",
        ),
    ],
)
def test_one_parse_two_wordings(
    text: str, problems: tuple[ReferenceProblem, ...], message: str, docker: str
) -> None:
    with pytest.raises(ReferenceSyntaxError) as err:
        ImageReference.parse(text)
    assert err.value.problems == problems
    assert str(err.value) == f"invalid image reference {text!r}: {message}"
    assert err.value.docker_message == docker
    with pytest.raises(ReleaseError) as docker_err:
        parse_docker_reference(text)
    assert str(docker_err.value) == docker


def test_entry_points_differ_as_dockers_do() -> None:
    """Parse reads a first component that is no registry as path; ParseNormalizedNamed refuses it."""
    assert parse_docker_reference("foo_bar.io/x:1").repository == "foo_bar.io/x"
    with pytest.raises(ReferenceSyntaxError, match="invalid registry 'foo_bar.io'"):
        ImageReference.parse("foo_bar.io/x:1")
    hex_name = "a" * 64
    assert parse_docker_reference(hex_name).repository == hex_name
    with pytest.raises(ReferenceSyntaxError, match="cannot specify 64-byte hexadecimal strings"):
        ImageReference.parse(hex_name)


def test_long_names_fail_at_once_and_newlines_are_refused() -> None:
    """The old image-stream pattern backtracked exponentially on a long name with a bad character."""
    with pytest.raises(ReleaseError, match="^invalid reference format$"):
        parse_docker_reference("a" * 200 + "!")
    with pytest.raises(ReferenceSyntaxError):
        ImageReference.parse("a\n:5000")  # a path may not end in a newline ($ before "\n" once let it)


def _digest_outcome(digest: str) -> str:
    try:
        return validate_digest(digest)
    except InvalidReferenceError as err:
        return f"error: {err}"


def test_a_digest_found_well_formed_is_answered_again_as_the_checks_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """validate_digest remembers the digests it found well formed: asked again they are returned
    unchecked, as the checks return them; malformed ones are checked (and refused) every time."""
    valid = ["sha256:" + "a" * 64, "sha512:" + "0" * 128]
    malformed = [
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 64 + "\n",
        "md5:" + "0" * 32,
        "sha256",
        "SHA256:" + "a" * 64,
    ]
    monkeypatch.setattr(digest_module, "_WELL_FORMED", set())
    checked = [_digest_outcome(d) for d in valid + malformed]
    assert checked[: len(valid)] == valid
    assert all(outcome.startswith("error: ") for outcome in checked[len(valid) :])
    assert digest_module._WELL_FORMED == set(valid)
    assert [_digest_outcome(d) for d in valid + malformed] == checked
    monkeypatch.setattr(digest_module, "_WELL_FORMED_MAX", 2)
    validate_digest("sha256:" + "b" * 64)  # a third one: the remembered ones are let go first
    assert digest_module._WELL_FORMED == {"sha256:" + "b" * 64}


def test_a_reference_parsed_again_is_the_grammars_answer() -> None:
    """The grammar remembers its answers: a text parsed again (in either form) gets the answer a first
    parse gives, its problems included."""
    texts = [
        "quay.io/a/b:t",
        "a/b@sha256:abc",
        "",
        " x",
        "UPPER/x",
        "localhost:5000/a@sha256:" + "0" * 64,
        "[::1]:5000/a",
        "a" * 300,
        "a" * 64,
    ]
    parse = reference_module._parse

    def both(text: str) -> tuple[object, object]:
        return parse(text, normalized=True), parse(text, normalized=False)

    fresh = []
    for text in texts:
        parse.cache_clear()
        fresh.append(both(text))
    parse.cache_clear()
    assert [both(text) for text in texts] == fresh
    assert parse.cache_info().hits == 0
    assert [both(text) for text in texts] == fresh  # remembered
    assert parse.cache_info().hits == 2 * len(texts)
