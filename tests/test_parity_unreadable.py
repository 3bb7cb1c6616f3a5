"""``info`` and ``extract`` of a release image that cannot be read: oc's exit code and message, word for word.

Run against the real oc (``../shared/tools/oc``) on the shared plain-HTTP registry: a missing tag, a missing
manifest, no tag or digest, (oc's frame, okdrelease's transport reason: CONNECT-WORDING) a registry
nobody listens on, and an image-references that go-yaml refuses (an escape of a surrogate).
"""

from __future__ import annotations

import socket
from pathlib import Path

import attrs
import pytest
from differential.runner import Session, oracle_session
from golden_support import push_layout
from registry_rig import RegistryInfo
from test_release_extract import SURROGATE_YAML, layer_digest, payload_layer, release_metadata, write_image

from okdrelease.reference import ImageReference
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient

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


@attrs.frozen
class SurrogateRelease:
    """The pushed release: by tag, by digest, and the digest of its one layer."""

    by_tag: str
    by_digest: str
    layer: str


@pytest.fixture(scope="module")
def surrogate_release(
    registry_http: RegistryInfo, tmp_path_factory: pytest.TempPathFactory
) -> SurrogateRelease:
    """A release whose image-references is YAML naming a lone surrogate by an escape (go-yaml refuses it)."""
    root = tmp_path_factory.mktemp("surrogate") / "layout"
    files = {
        "image-references": SURROGATE_YAML,
        "release-metadata": release_metadata("4.16.0"),
        "0000_a.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    }
    layer = payload_layer(files)
    digest = write_image(root, "r", [layer])
    name = f"{registry_http.host}/unread/surrogate"
    with RegistryClient(TransportOptions(insecure_registries=frozenset({registry_http.host}))) as client:
        push_layout(root, client.repository(ImageReference.parse(name)))
    return SurrogateRelease(f"{name}:r", f"{name}@{digest}", layer_digest(layer))


def test_a_yaml_escape_of_a_surrogate_in_image_references_fails_info_as_in_oc(
    session: Session, surrogate_release: SurrogateRelease
) -> None:
    """oc's exit code, stdout and stderr (go-yaml's refusal)."""
    oc = session.run(session.oc_cmd("adm", "release", "info", "--insecure", surrogate_release.by_tag))
    ours = session.run(session.py_cmd("info", "--insecure", surrogate_release.by_tag))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert ours.stderr == (
        "error: release image could not be read: unable to load release image-references: "
        "error converting YAML to JSON: yaml: line 4: found invalid Unicode character escape code\n"
    )


@pytest.mark.parametrize("by", ["by_tag", "by_digest"])
@pytest.mark.parametrize("flags", [(), ("--credentials-requests",)], ids=["all", "credentials-requests"])
def test_a_yaml_escape_of_a_surrogate_in_image_references_fails_extract_as_in_oc(
    session: Session, surrogate_release: SurrogateRelease, tmp_path: Path, by: str, flags: tuple[str, ...]
) -> None:
    """oc's exit code, stdout and stderr, word for word: its JSON error (oc reads JSON only) in its frame
    ``unable to iterate over layer L from R:``, L the layer holding image-references, R the release as
    given (tag or digest). Neither writes a file."""
    ref = getattr(surrogate_release, by)
    extract = ("extract", "--insecure", *flags, "--to")
    oc = session.run(session.oc_cmd("adm", "release", *extract, str(tmp_path / "oc"), ref))
    ours = session.run(session.py_cmd(*extract, str(tmp_path / "okd"), ref))
    assert (ours.code, ours.stdout, ours.stderr) == (oc.code, oc.stdout, oc.stderr)
    assert (ours.code, ours.stderr.splitlines()[-1]) == (
        1,
        f"error: unable to iterate over layer {surrogate_release.layer} from {ref}: unable to load "
        "image-references from release payload: invalid character 'k' looking for beginning of value",
    )
    assert not (tmp_path / "okd").exists() and list((tmp_path / "oc").iterdir()) == []
