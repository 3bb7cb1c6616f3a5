"""What okdrelease pushes is read by skopeo, unpacked by umoci and pulled by oras-py, digests unchanged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import oras.provider
import pytest
from imagegen import DOCKER, OCI, GeneratedImage, build_image, make_image, make_index, random_bytes
from registry_rig import RegistryInfo, RepoNamer
from test_registry import options_for, repo_at

from okdrelease.cli import main
from okdrelease.oci import mediatypes as mt
from okdrelease.oci.digest import sha256_digest
from okdrelease.transport.client import RegistryClient


def skopeo(*args: str) -> bytes:
    """Run skopeo; return stdout (fail the test with its stderr on error)."""
    proc = subprocess.run(["skopeo", *args], capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


@pytest.mark.parametrize("flavour", [OCI, DOCKER])
def test_skopeo_reads_and_copies_what_okdrelease_pushes(
    flavour: str, registry_http: RegistryInfo, unique_repo: RepoNamer
) -> None:
    host = registry_http.host
    with RegistryClient(options_for(registry_http)) as client:
        name = unique_repo()
        repo = repo_at(client, host, name)
        image = make_image(repo, "img", seed=f"skopeo-{flavour}", flavour=flavour)
        index = make_index(repo, "list", seed=f"skopeo-list-{flavour}", flavour=flavour)
        for tag, raw in (("img", image.manifest), ("list", index.raw)):
            assert skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/{name}:{tag}") == raw
        inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{host}/{name}:img"))
        assert inspected["Digest"] == image.digest
        assert inspected["Layers"] == [layer.digest for layer in image.layers]
        assert inspected["Labels"] == {"seed": f"skopeo-{flavour}"}
        # skopeo copies them registry to registry without changing a digest; okdrelease reads the copies.
        copy_name = unique_repo()
        for tag in ("img", "list"):
            skopeo(
                "copy",
                "--all",
                "--preserve-digests",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                f"docker://{host}/{name}:{tag}",
                f"docker://{host}/{copy_name}:{tag}",
            )
        copied = repo_at(client, host, copy_name)
        assert copied.get_manifest("img").raw == image.manifest
        assert copied.get_manifest("list").raw == index.raw
        for child in index.children:
            assert copied.get_manifest(child.digest).raw == child.manifest
            assert copied.read_blob(child.layers[0].digest) == child.layers[0].data


def test_skopeo_trusts_the_tls_registry_with_cert_dir(
    registry_tls: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    with RegistryClient(options_for(registry_tls)) as client:
        name = unique_repo()
        image = make_image(repo_at(client, registry_tls.host, name), "v1", seed="tls-interop", flavour=DOCKER)
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    assert registry_tls.ca_file is not None
    shutil.copy(registry_tls.ca_file, cert_dir / "ca.crt")
    raw = skopeo("inspect", "--raw", "--cert-dir", str(cert_dir), f"docker://{registry_tls.host}/{name}:v1")
    assert sha256_digest(raw) == image.digest


def test_skopeo_oci_layout_roundtrip(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """skopeo writes an OCI layout from our push; okdrelease copies it back with the same digest."""
    host = registry_http.host
    with RegistryClient(options_for(registry_http)) as client:
        name = unique_repo()
        index = make_index(repo_at(client, host, name), "list", seed="skopeo-layout")
    layout = tmp_path / "skopeo-layout"
    skopeo(
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        f"docker://{host}/{name}:list",
        f"oci:{layout}:list",
    )
    target = unique_repo()
    assert (
        main(
            ["copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:list", f"docker://{host}/{target}:back"]
        )
        == 0
    )
    assert capsys.readouterr().out == index.digest + "\n"
    with RegistryClient(options_for(registry_http)) as client:
        assert repo_at(client, host, target).get_manifest("back").raw == index.raw


def _unpacked_files(image: GeneratedImage, seed: str) -> dict[str, bytes]:
    return {f"data/{seed}-{i}.bin": random_bytes(2048, f"{seed}-{i}") for i in range(len(image.layers))}


def test_umoci_unpacks_an_image_copied_by_okdrelease(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not shutil.which("umoci"):
        pytest.fail("umoci is not installed (apt-get install umoci)")
    host = registry_http.host
    seed = "umoci"
    with RegistryClient(options_for(registry_http)) as client:
        name = unique_repo()
        image = make_image(repo_at(client, host, name), "v1", seed=seed, layers=2, layer_size=2048)
    layout = tmp_path / "layout"
    assert (
        main(["copy", "-q", "--src-tls-verify=false", f"docker://{host}/{name}:v1", f"oci:{layout}:v1"]) == 0
    )
    assert capsys.readouterr().out == image.digest + "\n"
    bundle = tmp_path / "bundle"
    proc = subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{layout}:v1", str(bundle)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    for relative, content in _unpacked_files(image, seed).items():
        assert (bundle / "rootfs" / relative).read_bytes() == content
    assert json.loads((bundle / "config.json").read_text())["root"]["path"] == "rootfs"


def test_oras_pulls_what_okdrelease_pushes(
    registry_http: RegistryInfo, unique_repo: RepoNamer, tmp_path: Path
) -> None:
    host = registry_http.host
    with RegistryClient(options_for(registry_http)) as client:
        name = unique_repo()
        repo = repo_at(client, host, name)
        oci_image = make_image(repo, "oci", seed="oras-oci")
        docker_image = build_image(seed="oras-docker", flavour=DOCKER)
        make_image(repo, "docker", seed="oras-docker", flavour=DOCKER)
    registry = oras.provider.Registry(hostname=host, insecure=True)
    assert registry.get_manifest(f"{host}/{name}:oci") == json.loads(oci_image.manifest)
    for blob in oci_image.blobs:
        out = tmp_path / blob.digest.replace(":", "-")
        registry.download_blob(f"{host}/{name}", blob.digest, str(out))
        assert out.read_bytes() == blob.data
    response = registry.do_request(
        f"http://{host}/v2/{name}/manifests/docker", headers={"Accept": mt.DOCKER_MANIFEST}
    )
    assert response.status_code == 200
    assert response.content == docker_image.manifest
    assert response.headers["Docker-Content-Digest"] == docker_image.digest
