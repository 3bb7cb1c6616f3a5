"""Multi-arch releases (issue 13.4): a generated four-architecture sample, a release index built on it, read by the real oc.

The sample: three components, each a manifest list over linux/amd64, arm64, ppc64le and s390x
(the cluster-version-operator base, an operator with ``/manifests``, an operand). ``new
--keep-manifest-list`` builds one release image per architecture on that architecture's
cluster-version-operator image; ``image-references`` names the components' lists.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest
from imagegen import DOCKER, OCI, Blob, GeneratedImage, GeneratedIndex, layer_tar
from oc_oracle import oc_binary, tree
from registry_rig import RegistryInfo, RepoNamer
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.oci.model import Index, Manifest
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.registry import RegistryRepository

ARCHES = ("amd64", "arm64", "ppc64le", "s390x")
NAME = "4.16.0-okd.multi"
CREATED = "2024-05-01T00:00:00Z"
OPERATOR_LABELS = {"io.openshift.release.operator": "true"}
CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: openshift-demo\n"
    "data:\n  image: quay.io/okd/demo-operand:latest\n"
)

#: The operator's own image-references: its operand is part of the release.
IMAGE_REFERENCES = {
    "kind": "ImageStream",
    "apiVersion": "image.openshift.io/v1",
    "spec": {
        "tags": [
            {
                "name": "demo-operand",
                "from": {"kind": "DockerImage", "name": "quay.io/okd/demo-operand:latest"},
            }
        ]
    },
}
OPERATOR_FILES = {
    "manifests/0000_50_demo_01-cm.yaml": CONFIGMAP.encode(),
    "manifests/image-references": json.dumps(IMAGE_REFERENCES).encode(),
}


def arch_image(
    component: str, arch: str, flavour: str, files: dict[str, bytes], labels: dict[str, str]
) -> GeneratedImage:
    """One architecture's image of a component: one layer with ``files`` (and an arch marker)."""
    tar = layer_tar({**files, f"etc/{component}-arch": arch.encode()})
    docker = flavour == DOCKER
    layer = Blob(gzip.compress(tar, mtime=0), mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER_GZIP)
    config_doc = {
        "architecture": arch,
        "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
    }
    config = Blob(json.dumps(config_doc).encode(), mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG)
    media_type = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
    body = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }
    return GeneratedImage(
        json.dumps(body, indent=3).encode(), media_type, config, (layer,), (sha256_digest(tar),)
    )


def push_component(
    repo: RegistryRepository, component: str, flavour: str, files: dict[str, bytes], labels: dict[str, str]
) -> GeneratedIndex:
    """Push the four architectures' images and their list (tagged ``component``)."""
    children = tuple(arch_image(component, arch, flavour, files, labels) for arch in ARCHES)
    for child in children:
        for blob in child.blobs:
            repo.put_blob(blob.data, blob.digest, len(blob.data))
        repo.put_manifest(child.manifest, child.media_type, None)
    list_type = mt.DOCKER_MANIFEST_LIST if flavour == DOCKER else mt.OCI_INDEX
    doc = {
        "schemaVersion": 2,
        "mediaType": list_type,
        "manifests": [c.descriptor(("linux", arch)) for c, arch in zip(children, ARCHES, strict=True)],
    }
    index = GeneratedIndex(json.dumps(doc, indent=3).encode(), list_type, children)
    repo.put_manifest(index.raw, list_type, component)
    return index


@attrs.frozen
class Sample:
    """The generated sample's component lists, by component name, and where they are."""

    repository: str
    lists: dict[str, GeneratedIndex]

    def mappings(self) -> list[str]:
        return [f"{name}={self.repository}@{index.digest}" for name, index in self.lists.items()]


def make_sample(registry: RegistryInfo, name: str, flavour: str) -> Sample:
    with RegistryClient(options_for(registry)) as client:
        repo = repo_at(client, registry.host, name)
        lists = {
            "cluster-version-operator": push_component(repo, "cvo", flavour, {"usr/bin/cvo": b"cvo"}, {}),
            "demo-operator": push_component(repo, "demo-operator", flavour, OPERATOR_FILES, OPERATOR_LABELS),
            "demo-operand": push_component(repo, "demo-operand", flavour, {"usr/bin/demo": b"demo"}, {}),
        }
    return Sample(f"{registry.host}/{name}", lists)


def build_release(sample: Sample, target: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    argv = ["new", "--insecure", "--keep-manifest-list", "--name", NAME, "--created", CREATED, *extra]
    assert main([*argv, *sample.mappings(), "--to-image", target]) == 0, capsys.readouterr().err
    digest, name, created = capsys.readouterr().out.split()
    assert (name, created) == (NAME, CREATED)
    return digest


@attrs.frozen
class BuiltRelease:
    """The four-architecture sample in the registry and the release ``new`` built of it there."""

    sample: Sample
    repository: str  # the release's repository (tag NAME)
    digest: str


class MultiarchReleases:
    """One sample and release per flavour for the session (``conftest.multiarch_releases``); the tests
    that use them only read them, or write other tags."""

    def __init__(self, registry: RegistryInfo) -> None:
        """Build in ``registry`` on first use."""
        self.registry = registry
        self.built: dict[str, BuiltRelease] = {}
        self.namer = RepoNamer("multiarch")

    def get(self, flavour: str, capsys: pytest.CaptureFixture[str]) -> BuiltRelease:
        """The flavour's sample and release (built now on first use; ``--format oci`` for OCI)."""
        if flavour not in self.built:
            sample = make_sample(self.registry, self.namer(), flavour)
            repository = self.namer()
            extra = ("--format", "oci") if flavour == OCI else ()
            digest = build_release(sample, f"{self.registry.host}/{repository}:{NAME}", capsys, *extra)
            self.built[flavour] = BuiltRelease(sample, repository, digest)
        return self.built[flavour]


def read_release(
    registry: RegistryInfo, name: str, tag: str
) -> tuple[Index, list[Manifest], list[dict[str, object]]]:
    with RegistryClient(options_for(registry)) as client:
        repo = repo_at(client, registry.host, name)
        top = repo.get_manifest(tag)
        assert isinstance(top, Index)
        children = [repo.get_manifest(d.digest) for d in top.manifests]
        assert all(isinstance(c, Manifest) for c in children)
        manifests = [c for c in children if isinstance(c, Manifest)]
        configs = [json.loads(repo.read_blob(m.config.digest)) for m in manifests]
    return top, manifests, configs


def check_release(
    sample: Sample, top: Index, manifests: list[Manifest], configs: list[dict[str, object]]
) -> None:
    """One entry per architecture, each on that architecture's CVO image, one payload layer for all."""
    assert [d.platform.architecture if d.platform else "" for d in top.manifests] == list(ARCHES)
    cvo = sample.lists["cluster-version-operator"]
    payloads = set()
    for arch, manifest, config, base in zip(ARCHES, manifests, configs, cvo.children, strict=True):
        assert config["architecture"] == arch
        labels = config["config"]["Labels"]  # type: ignore[index]
        assert labels["io.openshift.release.base-image-digest"] == base.digest
        assert labels["io.openshift.release"] == NAME
        assert [d.digest for d in manifest.layers[:-1]] == [b.digest for b in base.layers]
        payloads.add(manifest.layers[-1].digest)
    assert len(payloads) == 1


def oc(registry_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "REGISTRY_AUTH"))}
    env["HOME"] = str(registry_home)
    return subprocess.run(
        [oc_binary(), "adm", "release", args[0], "--insecure", *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def oc_images(stdout: str) -> dict[str, str]:
    """The ``Images:`` table of ``oc adm release info``: name → digest."""
    rows = stdout.split("\nImages:\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return dict(row.split() for row in rows)  # type: ignore[misc]


def filter_by_os(arch: str | None) -> list[str]:
    """``--filter-by-os=linux/ARCH``, none for ``None``."""
    return [f"--filter-by-os=linux/{arch}"] if arch else []


def assert_oc_reads(home: Path, release: str, sample: Sample, digest: str) -> None:
    """oc info of the index and of each architecture: the release, the index digest, every component's list."""
    components = {name: index.digest for name, index in sample.lists.items()}
    arches = (None, *ARCHES)
    with ThreadPoolExecutor(len(arches)) as pool:  # oc's registry client waits between requests: all at once
        runs = list(pool.map(lambda arch: oc(home, "info", *filter_by_os(arch), release), arches))
    for arch, done in zip(arches, runs, strict=True):
        assert done.returncode == 0, done.stderr
        head = dict(line.split(":", 1) for line in done.stdout.split("\n\n", 1)[0].splitlines())
        assert {k: v.strip() for k, v in head.items()} == {
            "Name": NAME,
            "Digest": digest,
            "Created": CREATED,
            "OS/Arch": f"multi (linux/{arch or 'amd64'})",
            "Manifests": "1",
        }
        assert oc_images(done.stdout) == components


@pytest.mark.parametrize("flavour", [DOCKER, OCI])
def test_multiarch_release_read_by_oc_and_copied_whole(
    flavour: str,
    registry_http: RegistryInfo,
    multiarch_releases: MultiarchReleases,
    unique_repo: RepoNamer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = multiarch_releases.get(flavour, capsys)
    sample, release_repo, digest = built.sample, built.repository, built.digest
    target = f"{registry_http.host}/{release_repo}:{NAME}"
    # An OCI sample is built with --format oci: correct child media types (Q13 fixed, opt-in).
    extra = ("--format", "oci") if flavour == OCI else ()
    top, manifests, configs = read_release(registry_http, release_repo, NAME)
    assert top.digest == digest  # Q36 fixed for a list: the index digest is the release digest
    entry_types = {d.media_type for d in top.manifests}
    assert entry_types == {m.media_type for m in manifests}  # Q13: entries say what the children are
    check_release(sample, top, manifests, configs)
    home = tmp_path / "home"
    home.mkdir()
    assert_oc_reads(home, target, sample, digest)
    # Q7 fixed: rebuilt --from-release, each entry is on its architecture's base again, one fresh
    # payload layer on top (oc would build on the old release, its payload layer left underneath).
    assert (
        main(
            [
                "new",
                "--insecure",
                "--keep-manifest-list",
                "--from-release",
                target,
                "--to-image",
                target + "-again",
                *extra,
            ]
        )
        == 0
    )
    again = capsys.readouterr()
    assert "Q7" not in again.err
    assert again.out.split()[0] == digest  # same inputs, same payload: the same release

    # copy keeps every architecture, byte for byte; okdrelease info reads each.
    copied = f"{registry_http.host}/{unique_repo()}:{NAME}"
    assert main(["copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", target, copied]) == 0
    assert capsys.readouterr().out == digest + "\n"
    assert_oc_reads(home, copied, sample, digest)
    arches = (None, *ARCHES)
    with ThreadPoolExecutor(2 * len(arches)) as pool:  # oc's info and extract of each, all at once
        infos = pool.map(lambda arch: oc(home, "info", *filter_by_os(arch), copied), arches)
        extracts = pool.map(
            lambda arch: oc(
                home, "extract", *filter_by_os(arch), f"--to={tmp_path / f'theirs-{arch}'}", copied
            ),
            arches,
        )
        oc_infos, oc_extracts = list(infos), list(extracts)
    for arch, oc_info, extracted in zip(arches, oc_infos, oc_extracts, strict=True):
        platform = filter_by_os(arch)
        assert main(["info", "--insecure", *platform, copied]) == 0
        assert capsys.readouterr().out == oc_info.stdout, arch
        ours, theirs = tmp_path / f"ours-{arch}", tmp_path / f"theirs-{arch}"
        assert main(["extract", "--insecure", *platform, f"--to={ours}", copied]) == 0
        assert extracted.returncode == 0, extracted.stderr
        # Q36, an asserted deviation: oc names the entry it read (the first without a filter),
        # okdrelease the release index.
        entry = manifests[ARCHES.index(arch) if arch else 0].digest
        assert extracted.stdout == f"Extracted release payload from digest {entry} created at {CREATED}\n"
        assert capsys.readouterr().out == extracted.stdout.replace(entry, digest), arch
        assert tree(ours) == tree(theirs) != {}
