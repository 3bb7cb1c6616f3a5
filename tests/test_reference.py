"""The one reference grammar (``okdrelease.reference``): two of Docker's entry points, two wordings, one parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from okdrelease import reference as reference_module
from okdrelease.cli import main
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
from tests.test_cli import run_process


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


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("u:secret@127.0.0.1:5000/r:t", "***@127.0.0.1:5000/r:t"),
        ("docker://u:secret@h/r", "docker://***@h/r"),
        ("https://u:secret@h/r", "https://***@h/r"),
        ("u:se@cret@h/r:t", "***@h/r:t"),  # (an '@' in the password: all of it goes)
        ("u:secret@h", "***@h"),
        ("u:secret@localhost:5000", "***@localhost:5000"),
        ("u:secret@h/r@sha256:bad", "***@h/r@sha256:bad"),
        ("user@h/r", "***@h/r"),
        (" u:secret@h/r", " ***@h/r"),
        # no credentials: a digest (however malformed) after the '@', or a bare name before it
        ("name:tag@sha256:abc", "name:tag@sha256:abc"),
        ("quay.io/x/y:t@sha256:zz", "quay.io/x/y:t@sha256:zz"),
        ("ubuntu@latest", "ubuntu@latest"),
        ("quay.io/x/y:t", "quay.io/x/y:t"),
        ("", ""),
    ],
)
def test_credentials_typed_into_a_reference_are_redacted(text: str, shown: str) -> None:
    assert reference_module.redact_userinfo(text) == shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "u:secret@127.0.0.1:5000/r:t",
            "invalid image reference '***@127.0.0.1:5000/r:t': invalid digest '127.0.0.1:5000/r:t'",
        ),
        # the password's part after its '@' would be the digest quoted: the redacted text is what is worded
        ("u:se@cret@h/r:t", "invalid image reference '***@h/r:t': invalid digest 'h/r:t'"),
    ],
)
def test_a_reference_error_quotes_no_credentials(text: str, message: str) -> None:
    """oc echoes the reference whole; okdrelease's errors never show credentials (README: differences)."""
    with pytest.raises(ReferenceSyntaxError) as err:
        ImageReference.parse(text)
    assert str(err.value) == message
    assert err.value.text == text  # (the value keeps what was given; only the words redact it)


SECRET = "s3cr3tpw"
CREDENTIALED = f"u:{SECRET}@127.0.0.1:5000/r:t"
SAMPLE = Path(__file__).resolve().parents[1] / "testdata" / "sample-payload"
NEW_FROM_SAMPLE = (
    "new",
    "--from-oci-layout",
    str(SAMPLE),
    "--layout-repository",
    "quay.io/okd/scos-content",
    "--name",
    "4.16.0-okd.sample",
)
IMAGE_STREAM = f"""kind: ImageStream
apiVersion: image.openshift.io/v1
metadata: {{name: "4.16.0"}}
spec:
  tags:
  - name: a
    from: {{kind: DockerImage, name: "{CREDENTIALED}"}}
"""


@pytest.mark.parametrize(
    "argv",
    [
        ("info", CREDENTIALED),
        ("info", f"docker://{CREDENTIALED}"),
        ("extract", CREDENTIALED, "--to", "{tmp}/out"),
        ("diff", CREDENTIALED, CREDENTIALED),
        ("copy", CREDENTIALED, "oci:{tmp}/out:x"),
        ("copy", f"oci:{SAMPLE}", CREDENTIALED),
        ("copy", f"oci:{SAMPLE}", f"https://{CREDENTIALED}"),
        ("mirror", "--from", CREDENTIALED, "--to", "oci:{tmp}/out"),
        ("mirror", "--from", "oci:{tmp}/release:x", "--to", CREDENTIALED),
        (
            "mirror",
            "--from",
            "oci:{tmp}/release:x",
            "--to",
            "oci:{tmp}/out",
            "--to-release-image",
            CREDENTIALED,
        ),
        ("new", "--from-release", CREDENTIALED, "--to-file", "{tmp}/out"),
        ("new", "--to-file", "{tmp}/out", f"a={CREDENTIALED}"),
        ("new", "--from-repository", CREDENTIALED, "--to-file", "{tmp}/out"),
        ("new", "-f", "{tmp}/is.yaml", "--reference-mode", "source", "--to-file", "{tmp}/out"),
        (*NEW_FROM_SAMPLE, "--to-image", CREDENTIALED),
        (*NEW_FROM_SAMPLE, "--to-image", f"docker://{CREDENTIALED}"),
        (*NEW_FROM_SAMPLE, "--to-image", "oci:{tmp}/out:x", "--to-image-base", CREDENTIALED),
        (*NEW_FROM_SAMPLE, "--to-image", "oci:{tmp}/out:x", "--mirror", CREDENTIALED),
        (*NEW_FROM_SAMPLE, "--to-file", "{tmp}/out", "--skip-if-unchanged", CREDENTIALED),
        ("verify", "--policy", "{tmp}/policy.json", CREDENTIALED),
    ],
    ids=lambda argv: (
        " ".join(a for a in argv if a not in NEW_FROM_SAMPLE[1:])
        .replace(SECRET, "S")
        .replace(str(SAMPLE), "SAMPLE")
    ),
)
def test_the_cli_shows_no_credentials_of_a_reference_it_refuses(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reference typed with ``user:password@`` is refused in words that show ``***@`` where the
    credentials were (oc echoes them: README's differences); nothing is written."""
    (tmp_path / "is.yaml").write_text(IMAGE_STREAM)
    (tmp_path / "policy.json").write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    if "oci:{tmp}/release:x" in argv:
        assert main([*NEW_FROM_SAMPLE, "--to-image", f"oci:{tmp_path}/release:x", "-q"]) == 0
    capsys.readouterr()
    code = main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    out, err = capsys.readouterr()
    assert code in (1, 2)
    assert SECRET not in out + err
    assert "***@127.0.0.1:5000/r:t" in err
    assert not (tmp_path / "out").exists()


def test_a_process_shows_no_credentials_of_a_reference_it_refuses() -> None:
    """``python3 -m okdrelease info 'u:secret@127.0.0.1:5000/r:t'``, the whole process's output."""
    done = run_process("info", CREDENTIALED)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "error: invalid image reference '***@127.0.0.1:5000/r:t': invalid digest '127.0.0.1:5000/r:t'\n",
    )
