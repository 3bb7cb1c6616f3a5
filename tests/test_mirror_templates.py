"""``new --mirror`` with ``${component}``/``${version}`` templates (issue 12.3, spec §3.8 step 3) against the real oc.

A tiny single-architecture payload (the cluster-version-operator, an operator whose manifest names
its operand through ``image-references``, the operand) on the session registry. For each template,
oc and okdrelease mirror it into repositories of their own and the tags must be the same, digest
for digest. oc then fails (its mirror step cannot print usage instructions for a template: the
asserted deviation ``OC-MIRROR-TEMPLATE``), okdrelease completes: its release is compared with the
release oc builds with ``--mirror`` of the same repository (no template: the release names only
``REPOSITORY@DIGEST``, so both must point at the same images and carry the same manifests).
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from imagegen import DOCKER, push_image
from oc_oracle import tree
from registry_rig import RegistryInfo, RepoNamer
from test_multiarch import OPERATOR_FILES, OPERATOR_LABELS, arch_image, oc
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.transport.client import RegistryClient

NAME = "4.16.0-okd.tmpl"
OC_TEMPLATE_FAILURE = "error: error creating mirror usage instructions: unable to parse image reference"


@attrs.frozen
class Payload:
    """The components by name (``name=REPO@DIGEST`` mappings) and their digests."""

    mappings: tuple[str, ...]
    digests: dict[str, str]


def push_payload(registry: RegistryInfo, repository: str) -> Payload:
    """Three tiny Docker schema 2 components pushed to ``repository``."""
    images = {
        "cluster-version-operator": arch_image("cvo", "amd64", DOCKER, {"usr/bin/cvo": b"cvo"}, {}),
        "demo-operator": arch_image("demo-operator", "amd64", DOCKER, OPERATOR_FILES, OPERATOR_LABELS),
        "demo-operand": arch_image("demo-operand", "amd64", DOCKER, {"usr/bin/demo": b"demo"}, {}),
    }
    with RegistryClient(options_for(registry)) as client:
        repo = repo_at(client, registry.host, repository)
        digests = {name: push_image(repo, image) for name, image in images.items()}
    where = f"{registry.host}/{repository}"
    return Payload(tuple(f"{n}={where}@{d}" for n, d in digests.items()), digests)


@pytest.fixture(scope="module")
def payload(registry_http: RegistryInfo) -> Payload:
    """The tiny payload, once for the module."""
    return push_payload(registry_http, "templates/content")


def tags_of(registry: RegistryInfo, repository: str) -> dict[str, str]:
    """tag → digest of a registry repository."""
    with RegistryClient(options_for(registry)) as client:
        repo = repo_at(client, registry.host, repository)
        return {tag: repo.resolve(tag).digest for tag in repo.list_tags()}


def references(home: Path, release: str) -> list[tuple[str, str]]:
    """(name, pull spec) of every tag of the release's image-references, as oc reads them."""
    done = oc(home, "info", "-o", "json", release)
    assert done.returncode == 0, done.stderr
    tags = json.loads(done.stdout)["references"]["spec"]["tags"]
    return [(tag["name"], tag["from"]["name"]) for tag in tags]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (":${component}", "{component}"),
        (":${version}-${component}", f"{NAME}-{{component}}"),
    ],
)
def test_new_mirror_template_as_oc(
    template: str,
    expected: str,
    payload: Payload,
    registry_http: RegistryInfo,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = registry_http.host
    home = tmp_path / "home"
    home.mkdir()
    theirs, ours = unique_repo(), unique_repo()
    argv = ["--name", NAME, *payload.mappings]
    done = oc(
        home, "new", *argv, "--mirror", f"{host}/{theirs}{template}", "--to-image", f"{host}/{theirs}:r"
    )
    # OC-MIRROR-TEMPLATE: oc mirrors, then fails and pushes no release.
    assert done.returncode == 1 and OC_TEMPLATE_FAILURE in done.stderr, done.stderr
    wanted = {expected.format(component=name): digest for name, digest in payload.digests.items()}
    assert tags_of(registry_http, theirs) == wanted
    assert f"Update image:  {host}/{theirs}:{expected.format(component='release')}\n" in done.stdout
    assert f"Mirrored to: {host}/{theirs}{template}\n" in done.stdout

    # The release oc builds with the plain repository is the release okdrelease builds with the template.
    plain = oc(home, "new", *argv, "--mirror", f"{host}/{ours}", "--to-image", f"{host}/{ours}:oc")
    assert plain.returncode == 0, plain.stderr
    code = main(
        [
            "new",
            "--insecure",
            *argv,
            "--mirror",
            f"{host}/{ours}{template}",
            "--to-image",
            f"{host}/{ours}:okd",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"info: Mirroring 3 images to {host}/{ours}{template} ...\n" in err
    assert f"info: Update image:  {host}/{ours}:{expected.format(component='release')}\n" in err
    assert f"info: Mirrored to: {host}/{ours}{template}\n" in err
    mirrored = tags_of(registry_http, ours)
    assert {tag: mirrored[tag] for tag in wanted} == wanted
    pointed = [(name, f"{host}/{ours}@{digest}") for name, digest in payload.digests.items()]
    assert sorted(references(home, f"{host}/{ours}:okd")) == sorted(pointed)
    assert references(home, f"{host}/{ours}:okd") == references(home, f"{host}/{ours}:oc")
    extracted = {}
    for tag in ("oc", "okd"):
        target = tmp_path / tag
        done = oc(home, "extract", f"--to={target}", f"{host}/{ours}:{tag}")
        assert done.returncode == 0, done.stderr
        extracted[tag] = tree(target)
    image_refs = [json.loads(extracted[tag].pop("image-references")) for tag in ("oc", "okd")]
    for document in image_refs:
        assert document["metadata"].pop("creationTimestamp")  # each build's own time
    assert image_refs[1] == image_refs[0]
    assert extracted["okd"] == extracted["oc"]
    assert (
        f"{host}/{ours}@{payload.digests['demo-operand']}".encode()
        in extracted["okd"]["0000_50_demo_01-cm.yaml"]
    )


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ("{host}/m/${{component}}:${{version}}", "--to must be a valid image reference: "),
        ("{host}/m/t:${{component}}-${{component}}", "when mirroring to multiple repositories"),
        ("{host}/m/t:${{version}}", "--to must be a valid image repository: "),
        ("{host}/m/t:x", "--to must be to an image repository and may not contain a tag or digest"),
    ],
)
def test_new_mirror_refused_as_oc(
    mirror: str,
    message: str,
    payload: Payload,
    registry_http: RegistryInfo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Templates oc refuses before mirroring: okdrelease refuses them before fetching anything, with oc's
    words (the reference parser's own explanation after them is okdrelease's)."""
    host = registry_http.host
    home = tmp_path / "home"
    home.mkdir()
    text, expected = mirror.format(host=host), message.format(host=host)
    argv = ["--name", NAME, *payload.mappings, "--mirror", text, "--to-image", f"{host}/m/refused:r"]
    done = oc(home, "new", *argv)
    assert done.returncode == 1 and expected in done.stderr, done.stderr
    assert main(["new", "--insecure", *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and f"error: {expected}" in err and "Mirroring" not in err
