"""``mirror`` into an OCI layout or ``--to-dir`` that fails (hunt #3): like ``copy``, a layout the run
created is removed; an existing layout keeps its ``index.json`` as it was, since ref names are written
last, in one update, only when everything was copied.

The tiny payload of ``test_mirror_templates`` and a release built through the fault proxy, so that
the mirror reads every component through it; the proxy then answers 404 for one component manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Rule
from imagegen import build_image
from registry_rig import RegistryInfo, RepoNamer
from test_faults import cli, seed_layout
from test_mirror_templates import NAME, Payload, push_payload, tags_of
from test_release_extract import image_references, payload_layer, release_metadata, write_image

from okdrelease.errors import NotFoundError
from okdrelease.sign import cosign, openpgp
from okdrelease.sign.api import sign_release, sign_release_cosign
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.open import DefaultTransport

TAG = f"{NAME}-x86_64"


@pytest.fixture(scope="module")
def payload(registry_http: RegistryInfo) -> Payload:
    """The tiny payload, once for the module."""
    return push_payload(registry_http, "mirror-failures/content")


@pytest.fixture(scope="module")
def key() -> openpgp.SecretKey:
    """A signing key for the releases (--to-dir carries the release's signatures)."""
    return openpgp.generate_key("Mirror failures <mirror@example.com>", bits=2048, created=1700000000)


def release_through(
    proxy: FaultProxy,
    registry: RegistryInfo,
    payload: Payload,
    capsys: pytest.CaptureFixture[str],
    signed: tuple[openpgp.SecretKey, Path] | None = None,
) -> tuple[str, str]:
    """A release whose components are named through the proxy, signed into ``signed``'s store: (pull spec, digest)."""
    repository = f"{proxy.host}/{RepoNamer('mirror-failures')()}"
    mappings = [m.replace(registry.host, proxy.host) for m in payload.mappings]
    code, out, err = cli(
        capsys, "new", "--insecure", "--name", NAME, *mappings, "--to-image", f"{repository}:{NAME}"
    )
    assert code == 0, err
    digest = out.split()[0]
    if signed is not None:
        sign_release(f"{repository}@{digest}", signed[0], signature_dir=signed[1])
    return f"{repository}:{NAME}", digest


def break_component(proxy: FaultProxy, payload: Payload) -> None:
    """From now on the proxy answers 404 for the demo-operand manifest."""
    digest = payload.digests["demo-operand"]
    proxy.add(Rule("GET", f"/manifests/{digest}$", "status", times=None, status=404, code="MANIFEST_UNKNOWN"))


def failed_mirror(capsys: pytest.CaptureFixture[str], spec: str, *to: str) -> str:
    code, out, err = cli(capsys, "mirror", "--insecure", "--from", spec, *to)
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize("flag", ["--to", "--to-dir"])
def test_failed_mirror_removes_the_layout_it_created(
    registry_http: RegistryInfo,
    proxy: FaultProxy,
    payload: Payload,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    key: openpgp.SecretKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    store = tmp_path_factory.mktemp("signatures")
    spec, _ = release_through(proxy, registry_http, payload, capsys, (key, store))
    break_component(proxy, payload)
    target = tmp_path / "new" / "mirror"
    to = (
        ["--to", f"oci:{target}"]
        if flag == "--to"
        else ["--to-dir", str(target), "--signature-dir", str(store)]
    )
    line = failed_mirror(capsys, spec, *to)
    assert payload.digests["demo-operand"] in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_failed_mirror_leaves_an_existing_layouts_index_as_it_was(
    registry_http: RegistryInfo,
    proxy: FaultProxy,
    payload: Payload,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec, release_digest = release_through(proxy, registry_http, payload, capsys)
    existing = tmp_path / "existing"
    seed_layout(existing, build_image(seed="mirror-existing"))
    before = (existing / "index.json").read_bytes()
    break_component(proxy, payload)
    failed_mirror(capsys, spec, "--to", f"oci:{existing}")
    assert (existing / "index.json").read_bytes() == before

    # Once the registry answers again, a second run tags everything, in one update after the old entries.
    proxy.clear()
    code, out, err = cli(capsys, "mirror", "--insecure", "--from", spec, "--to", f"oci:{existing}")
    assert code == 0, err
    entries = json.loads((existing / "index.json").read_text())["manifests"]
    tags = {e["annotations"]["org.opencontainers.image.ref.name"]: e["digest"] for e in entries}
    assert list(tags)[:2] == ["v1", TAG]
    assert tags == {
        "v1": json.loads(before)["manifests"][0]["digest"],
        TAG: release_digest,
        **{f"{TAG}-{name}": digest for name, digest in payload.digests.items()},
    }


@pytest.mark.parametrize(
    ("name", "to", "why"),
    [
        (
            "bad/name",
            "registry",
            "a tag is 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
        ),
        (
            "c" * 120,
            "registry",
            "a tag is 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
        ),
        ("../x", "layout", "it is not a valid OCI layout ref name"),
    ],
    ids=["slash", "too-long", "layout-dots"],
)
def test_a_component_tag_the_destination_cannot_hold_is_a_data_error(
    registry_http: RegistryInfo,
    payload: Payload,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    to: str,
    why: str,
) -> None:
    """A component name that makes an invalid tag is the release's fault, not the command line's: exit 1
    (oc copies the others, then fails with ``invalid tag format``), and nothing is copied."""
    cvo, operand = (
        m.partition("=")[2] for m in payload.mappings if m.startswith(("cluster-", "demo-operand"))
    )
    refs = [("cluster-version-operator", cvo, {}), (name, operand, {})]
    files = {"image-references": image_references(NAME, refs), "release-metadata": release_metadata(NAME)}
    write_image(tmp_path / "release", "r", [payload_layer(files)])
    repository = unique_repo()
    target = f"{registry_http.host}/{repository}" if to == "registry" else f"oci:{tmp_path / 'mirror'}"
    code, out, err = cli(
        capsys, "mirror", "--insecure", "--from", f"oci:{tmp_path / 'release'}:r", "--to", target
    )
    assert (code, out) == (1, ""), err
    assert err == (
        f'error: release tag "{name}" cannot be mirrored: the mirror in {target} cannot be tagged'
        f" '{TAG}-{name}': {why}\n"
    )
    if to == "registry":  # nothing was pushed: the repository does not exist
        with pytest.raises(NotFoundError):
            tags_of(registry_http, repository)
    assert not (tmp_path / "mirror").exists()


def test_a_signature_directory_that_cannot_be_written_fails_before_anything_is_mirrored(
    registry_http: RegistryInfo,
    proxy: FaultProxy,
    payload: Payload,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: openpgp.SecretKey,
) -> None:
    """--release-image-signature-to-dir under a file: refused up front (it was found only after every
    image was pushed), with the words ``new --signature-dir`` uses (``sign.store.check_output_dir``)."""
    store = tmp_path / "store"
    spec, _ = release_through(proxy, registry_http, payload, capsys, (key, store))
    (tmp_path / "file").write_text("x")
    repository = unique_repo()
    code, out, err = cli(
        capsys,
        "mirror",
        "--insecure",
        "--from",
        spec,
        "--to",
        f"{registry_http.host}/{repository}",
        "--signature-dir",
        str(store),
        "--release-image-signature-to-dir",
        str(tmp_path / "file" / "sigs"),
    )
    assert (code, out) == (1, "")
    assert err == (
        f"error: --release-image-signature-to-dir {tmp_path}/file/sigs: {tmp_path}/file is not a directory\n"
    )
    with pytest.raises(NotFoundError):
        tags_of(registry_http, repository)


def test_a_failed_cosign_signature_copy_leaves_no_release_tag(
    registry_http: RegistryInfo,
    proxy: FaultProxy,
    payload: Payload,
    unique_repo: RepoNamer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The release's cosign ``sha256-<hex>.sig`` is copied before the release image, so the release tag is
    still the last thing a mirror writes: a signature the destination refuses fails the run with no
    release tag there (the components are, as for any failure after them)."""
    spec, digest = release_through(proxy, registry_http, payload, capsys)
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        repo, _ = transport.open(spec.rpartition(":")[0])
        sign_release_cosign(repo, f"{spec.rpartition(':')[0]}@{digest}", cosign.generate_private_key())
    denied = Rule(
        "PUT", r"/manifests/sha256-[0-9a-f]{64}\.sig$", "status", times=None, status=403, code="DENIED"
    )
    proxy.add(denied)
    repository = unique_repo()
    line = failed_mirror(capsys, spec, "--to", f"{proxy.host}/{repository}")
    assert "sha256-" in line, line
    tags = tags_of(registry_http, repository)
    assert TAG not in tags and f"{TAG}-demo-operand" in tags


def test_the_release_layout_is_tagged_last(
    registry_http: RegistryInfo,
    proxy: FaultProxy,
    payload: Payload,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Components into one layout, the release (--to-release-image) into another that exists: the
    components' layout is tagged first, so a failure there leaves the release layout's index.json as it
    was (it was tagged first, and kept the release tag of a mirror that failed)."""
    from okdrelease.errors import LayoutError
    from okdrelease.transport.layout import LayoutRepository

    spec, _ = release_through(proxy, registry_http, payload, capsys)
    components, release = tmp_path / "components", tmp_path / "release"
    seed_layout(components, build_image(seed="mirror-components"))
    seed_layout(release, build_image(seed="mirror-release"))
    before = (release / "index.json").read_bytes()
    tag = LayoutRepository.tag_manifests

    def fail_components(self: LayoutRepository, tags: dict[str, str]) -> None:
        if str(components) in self.display:
            raise LayoutError(f"{self.display}: cannot write index.json: no space left on device")
        tag(self, tags)

    monkeypatch.setattr(LayoutRepository, "tag_manifests", fail_components)
    line = failed_mirror(
        capsys, spec, "--to", f"oci:{components}", "--to-release-image", f"oci:{release}:{NAME}"
    )
    assert "no space left on device" in line
    assert (release / "index.json").read_bytes() == before
