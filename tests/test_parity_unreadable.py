"""``info`` and ``extract`` of a release image that cannot be read: oc's exit code and message, word for word.

Run against the real oc (``../shared/tools/oc``) on the shared plain-HTTP registry: a missing tag, a missing
manifest, no tag or digest, and (oc's frame, okdrelease's transport reason: CONNECT-WORDING) a registry
nobody listens on.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from differential.runner import Session, oracle_session
from registry_rig import RegistryInfo

MISSING = "sha256:" + "0" * 64
NOT_FOUND = "manifest unknown: manifest unknown"


@pytest.fixture(scope="module")
def session(registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """oc and okdrelease side by side on the shared registry."""
    return oracle_session(registry_http.host, Path(tmp_path_factory.mktemp("unreadable")))


COMMANDS = [("info",), ("info", "--pullspecs"), ("extract", "--to", "{tmp}/x")]


@pytest.mark.parametrize("command", COMMANDS, ids=["info", "info-pullspecs", "extract"])
@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("{host}/unread/a:missing", 'image "{ref}" not found: ' + NOT_FOUND),
        ("{host}/unread/a@" + MISSING, 'image "{ref}" not found: ' + NOT_FOUND),
        ("{host}/unread/a", "unable to read image {ref}: no tag or digest specified"),
    ],
    ids=["missing-tag", "missing-manifest", "no-tag"],
)
def test_an_unreadable_release_is_refused_in_oc_words(
    session: Session, tmp_path: Path, command: tuple[str, ...], ref: str, error: str
) -> None:
    """The same exit code, stdout and stderr as oc, which names the image as given."""
    text = ref.replace("{host}", session.host)
    argv = [part.replace("{tmp}", str(tmp_path)) for part in command] + ["--insecure", text]
    oc = session.run(session.oc_cmd("adm", "release", *argv))
    ours = session.run(session.py_cmd(*argv))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert (ours.code, ours.stderr) == (1, "error: " + error.replace("{ref}", text) + "\n")


@pytest.mark.parametrize("command", COMMANDS, ids=["info", "info-pullspecs", "extract"])
def test_an_unreachable_registry_fails_in_ocs_frame(
    session: Session, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """oc's exit code and ``unable to read image REF:``; the reason is okdrelease's transport's (CONNECT-WORDING)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = f"127.0.0.1:{port}/x/y:z"
    argv = [part.replace("{tmp}", str(tmp_path)) for part in command] + ["--insecure", text]
    oc = session.run(session.oc_cmd("adm", "release", *argv))
    ours = session.run(session.py_cmd(*argv))
    frame = f"error: unable to read image {text}: "
    assert (
        oc.stderr
        == frame
        + f'Get "http://{text.split("/")[0]}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused\n'
    )
    assert (ours.code, oc.code) == (1, 1)
    assert ours.stderr.startswith(frame) and ours.stderr.count("\n") == 1
    assert f"registry 127.0.0.1:{port}: cannot connect" in ours.stderr
