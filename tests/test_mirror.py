"""``okdrelease mirror`` against the real ``oc adm release mirror`` on a loopback registry.

One module fixture builds the scene once: the sample payload's images pushed to a registry, a
``cluster-update-keys`` operator image whose manifest is a verification ConfigMap (test key,
``file://`` signature store), and two releases of the same mapping file, one built by okdrelease and
one by the real ``oc adm release new``, both signed into that store. The tests then mirror them with
okdrelease and with oc and compare what lands in the registry, the signature ConfigMap files and the
printed ImageDigestMirrorSet / ImageContentSourcePolicy.

oc's registry client makes about five requests a second, so its mirror of a release takes some 50 s of
waiting and its dry run some 16 s, whatever the machine's load. The fixture starts both as soon as their
release is signed, in the background (``Scene.oc_mirror``, ``Scene.oc_dry_run``); the two tests that
compare with them are the module's last, so the other tests run while oc waits.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from imagegen import Blob, layer_tar
from registry_rig import RegistryInfo, RegistryServer

from okdrelease import cli
from okdrelease.errors import UsageError
from okdrelease.oci import mediatypes as mt
from okdrelease.release.mirror import MirrorOptions, mirror_release
from okdrelease.sign import openpgp
from okdrelease.sign.api import sign_release
from okdrelease.sign.store import verification_configmap_yaml
from okdrelease.transport.base import Repository, TransportOptions
from okdrelease.transport.copy import copy_all
from okdrelease.transport.open import DefaultTransport

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "testdata" / "sample-payload"
OC = Path(os.environ.get("OKD_TEST_OC", ROOT.parent / "shared" / "tools" / "oc" / "oc"))
NAME = "4.16.0-okd.mirror"
OC_NAME = "4.16.0-okd.ocmirror"
CREATED = "2024-05-01T00:00:00Z"
INSTALL_HEADING = (
    "To use the new mirrored repository to install, add the following section to the install-config.yaml:"
)

pytestmark = pytest.mark.skipif(not OC.exists(), reason="the real oc is not available")


@attrs.frozen
class Scene:
    """What the module fixture built."""

    registry: str
    tmp: Path
    home: Path
    store: Path
    keyring: Path
    okd_release: str
    okd_digest: str
    oc_release: str
    oc_digest: str
    #: oc's mirror of ``oc_release`` to ``mirror/by-oc`` (signature ConfigMap in ``tmp/oc-sigs``, ICSP).
    oc_mirror: OcRun
    #: oc's ``--dry-run`` mirror of ``okd_release`` to ``mirror/okd-mirror`` (IDMS).
    oc_dry_run: OcRun


def oc_mirror_args(registry: str, tmp: Path) -> list[str]:
    """``Scene.oc_mirror``: oc's release mirrored to ``mirror/by-oc``, its signature ConfigMap to ``tmp/oc-sigs``."""
    oc_release, to = f"{registry}/mirror/oc-release:{OC_NAME}", f"{registry}/mirror/by-oc"
    sigs = ["--release-image-signature-to-dir", str(tmp / "oc-sigs")]
    return ["adm", "release", "mirror", "--insecure", "--from", oc_release, "--to", to, *sigs]


def oc_dry_run_args(registry: str) -> list[str]:
    """``Scene.oc_dry_run``: a dry run of the okdrelease release's mirror to ``mirror/okd-mirror``."""
    okd_release, to = f"{registry}/mirror/okd-release:{NAME}", f"{registry}/mirror/okd-mirror"
    idms = "--print-mirror-instructions=idms"
    return ["adm", "release", "mirror", "--insecure", "--dry-run", "--from", okd_release, "--to", to, idms]


class OcRun:
    """The real oc started in the background: ``result()`` waits for it (once; later calls give the same
    result), ``stop()`` ends it when no test waited for it."""

    def __init__(self, home: Path, args: Sequence[str]) -> None:
        self._env = dict(os.environ, HOME=str(home))
        self._argv = [str(OC), *args]
        self._out, self._err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # no pipe to fill
        self._proc = subprocess.Popen(
            self._argv, stdout=self._out, stderr=self._err, text=True, env=self._env
        )
        self._done: subprocess.CompletedProcess[str] | None = None

    def result(self) -> subprocess.CompletedProcess[str]:
        if self._done is None:
            with self._out, self._err:
                self._proc.wait(timeout=600)
                self._out.seek(0)
                self._err.seek(0)
                done = subprocess.CompletedProcess(
                    self._argv, self._proc.returncode, self._out.read(), self._err.read()
                )
            if done.returncode != 0 and "failed to retrieve cached signatures" in done.stderr:
                # oc's signature lookup has its own short deadline, which a busy machine can miss; that
                # is oc's flake, not the behaviour under test, so oc gets one more try.
                argv, env = self._argv, self._env
                done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
            self._done = done
        return self._done

    def stop(self) -> None:
        if self._done is None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=60)
        self._out.close()
        self._err.close()


def start_oc(home: Path, *args: str) -> OcRun:
    """Start the real oc with HOME ``home`` (no personal credentials) in the background."""
    return OcRun(home, args)


def keys_image(repo: Repository, armored: str, store: Path) -> str:
    """Push an operator image whose only manifest is the release's verification ConfigMap; return its digest."""
    configmap = verification_configmap_yaml({"mirror-test": armored}, {"local": f"file://{store}"})
    tar = layer_tar({"manifests/0000_90_cluster-update-keys_configmap.yaml": configmap.encode()})
    layer = Blob(gzip.compress(tar, mtime=0), mt.DOCKER_LAYER_GZIP)
    from okdrelease.oci.digest import sha256_digest

    config_doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"io.openshift.release.operator": "true"}},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
    }
    config = Blob(json.dumps(config_doc, sort_keys=True).encode(), mt.DOCKER_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    }
    for blob in (layer, config):
        repo.put_blob(blob.data, blob.digest, len(blob.data))
    return repo.put_manifest(json.dumps(manifest).encode(), mt.DOCKER_MANIFEST, "keys")


def mapping_file(tmp: Path, registry: str, keys_digest: str) -> Path:
    """name=REG/mirror/content@digest for every sample image, cluster-update-keys replaced."""
    index = json.loads((SAMPLE / "index.json").read_text())
    lines = []
    for desc in index["manifests"]:
        name = desc["annotations"]["org.opencontainers.image.ref.name"]
        digest = keys_digest if name == "cluster-update-keys" else desc["digest"]
        lines.append(f"{name}={registry}/mirror/content@{digest}")
    path = tmp / "mapping.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _digest_of_release(line: str) -> str:
    match = re.match(r"(sha256:[0-9a-f]{64}) ", line)
    assert match, line
    return match[1]


def _build_releases(
    scene_dir: Path, registry: str, key: openpgp.SecretKey, store: Path, started: list[OcRun]
) -> tuple[str, str]:
    """Build the okdrelease and the oc release from one mapping file; sign both into ``store``. Each
    release's oc run (``oc_dry_run_args``, then ``oc_mirror_args``) starts once it is signed: ``started``."""
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        source, _ = transport.open(f"oci:{SAMPLE}")
        content, _ = transport.open(f"{registry}/mirror/content", create=True)
        copy_all(source, content)
        keys_digest = keys_image(content, key.export_public(), store)
    mapping = mapping_file(scene_dir, registry, keys_digest)
    okd = f"{registry}/mirror/okd-release:{NAME}"
    args = ["new", "--insecure", "--mapping-file", str(mapping), "--name", NAME, "--created", CREATED]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    # okdrelease's release and oc's are built at the same time (different repositories).
    ours = subprocess.Popen(
        [sys.executable, "-m", "okdrelease", *args, "--to-image", okd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    oc_release = f"{registry}/mirror/oc-release:{OC_NAME}"
    oc_args = ["adm", "release", "new", "--insecure", "--mapping-file", str(mapping), "--name", OC_NAME]
    oc_new = start_oc(scene_dir / "home", *oc_args, "--to-image", oc_release)
    out, err = ours.communicate(timeout=600)
    assert ours.returncode == 0, err
    okd_digest = _digest_of_release(out)
    sign_release(f"{okd.rsplit(':', 1)[0]}@{okd_digest}", key, signature_dir=store)
    started.append(start_oc(scene_dir / "home", *oc_dry_run_args(registry)))  # while oc builds its release
    done = oc_new.result()
    assert done.returncode == 0, done.stderr
    inspected = skopeo_inspect(oc_release)
    sign_release(f"{oc_release.rsplit(':', 1)[0]}@{inspected['Digest']}", key, signature_dir=store)
    started.append(start_oc(scene_dir / "home", *oc_mirror_args(registry, scene_dir)))
    return okd_digest, str(inspected["Digest"])


def skopeo_inspect(ref: str) -> dict[str, Any]:
    """``skopeo inspect`` of a registry image (raises when it is missing)."""
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """A registry with the sample content and two signed releases (okdrelease's and oc's)."""
    tmp = tmp_path_factory.mktemp("mirror")
    (tmp / "home").mkdir()
    store = tmp / "sigstore"
    key = openpgp.generate_key("Mirror test <mirror@example.com>", bits=2048, created=1700000000)
    keyring = tmp / "key.pub"
    keyring.write_text(key.export_public())
    server = RegistryServer(tmp / "registry", flavour="http")
    info: RegistryInfo = server.start()
    started: list[OcRun] = []
    try:
        okd_digest, oc_digest = _build_releases(tmp, info.host, key, store, started)
        oc_dry_run, oc_mirror = started
        yield Scene(
            registry=info.host,
            tmp=tmp,
            home=tmp / "home",
            store=store,
            keyring=keyring,
            okd_release=f"{info.host}/mirror/okd-release:{NAME}",
            okd_digest=okd_digest,
            oc_release=f"{info.host}/mirror/oc-release:{OC_NAME}",
            oc_digest=oc_digest,
            oc_mirror=oc_mirror,
            oc_dry_run=oc_dry_run,
        )
    finally:
        for run in started:
            run.stop()
        server.stop()


def run_ours(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``okdrelease mirror ARGS``; return (exit code, stdout, stderr)."""
    code = cli.main(["mirror", "--insecure", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _sorted_sources(value: Any) -> Any:
    """Lists of {source, mirrors} entries sorted by source: oc's order is not stable (its sort
    comparator reads the wrong slice, over a Go map's random order), okdrelease sorts by source."""
    if isinstance(value, dict):
        return {key: _sorted_sources(item) for key, item in value.items()}
    if isinstance(value, list) and all(isinstance(item, dict) and "source" in item for item in value):
        return sorted(value, key=lambda item: str(item["source"]))
    return value


def instruction_documents(stdout: str) -> list[Any]:
    """The two YAML documents oc prints after its headings (install-config section, IDMS/ICSP)."""
    _, _, rest = stdout.partition(INSTALL_HEADING + "\n\n")
    section, _, rest = rest.partition("\n\nTo use the new mirrored repository for upgrades")
    _, _, policy = rest.partition(":\n\n")
    policy = policy.split("\n\nTo apply signature configmaps")[0]
    return [_sorted_sources(yaml.safe_load(section)), _sorted_sources(yaml.safe_load(policy))]


def after_success(stdout: str) -> list[str]:
    """oc's summary after ``Success``, as a sorted list of lines (entry order aside, the same text)."""
    return sorted(stdout.split("\nSuccess\n", 1)[1].splitlines())


def registry_tags(scene: Scene, repository: str) -> dict[str, str]:
    """tag → digest of a registry repository."""
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        repo, _ = transport.open(f"{scene.registry}/{repository}")
        return {tag: repo.resolve(tag).digest for tag in repo.list_tags()}


# --------------------------------------------------------------------------------------------


def release_tags(capsys: pytest.CaptureFixture[str], image: str) -> dict[str, str]:
    """component name → digest, from ``okdrelease info -o json IMAGE``."""
    assert cli.main(["info", "--insecure", "-o", "json", image]) == 0
    tags = json.loads(capsys.readouterr().out)["references"]["spec"]["tags"]
    return {tag["name"]: tag["from"]["name"].split("@")[1] for tag in tags}


def test_mirror_to_dir_and_back_to_a_registry(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """--to-dir writes an OCI layout (and config/ signatures); mirroring from it reads components from it."""
    out_dir = scene.tmp / "to-dir"
    code, out, err = run_ours(
        capsys, "--from", scene.okd_release, "--to-dir", str(out_dir), "--signature-dir", str(scene.store)
    )
    assert code == 0, err
    assert f"okdrelease copy oci:{out_dir} REGISTRY/REPOSITORY" in out
    assert "ImageDigestMirrorSet" not in out
    # The release (Docker schema 2, kept byte for byte) is named on stderr as what skopeo and umoci
    # cannot open in the layout, once; the components (OCI) they open.
    assert err.count("skopeo and umoci cannot open") == 1
    inspected = subprocess.run(
        ["skopeo", "inspect", f"oci:{out_dir}:{NAME}-x86_64-branding"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(inspected.stdout)["Digest"] == release_tags(capsys, scene.okd_release)["branding"]
    index = json.loads((out_dir / "index.json").read_text())
    refs = {d["annotations"]["org.opencontainers.image.ref.name"]: d["digest"] for d in index["manifests"]}
    assert refs[f"{NAME}-x86_64"] == scene.okd_digest
    assert len(refs) == 1 + len(release_tags(capsys, scene.okd_release))
    assert [p.name for p in (out_dir / "config").iterdir()] == [
        f"signature-sha256-{scene.okd_digest[7:23]}.json"
    ]
    to = f"{scene.registry}/mirror/from-dir"
    code, out, err = run_ours(capsys, "--from", f"oci:{out_dir}:{NAME}-x86_64", "--to", to)
    assert code == 0, err
    assert registry_tags(scene, "mirror/from-dir") == refs
    assert "imageDigestSources" in out  # the components' registry repository is still the source


def test_dry_run_and_to_mirror_copy_nothing(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    to = f"{scene.registry}/mirror/dry"
    code, out, err = run_ours(capsys, "--from", scene.okd_release, "--to", to, "--dry-run")
    assert code == 0, err
    assert out.startswith(f"\nSuccess\nUpdate image:  {to}:{NAME}-x86_64\n")
    count = 1 + len(release_tags(capsys, scene.okd_release))
    assert f"Dry run complete: {count} images planned" in err
    code, out, err = run_ours(capsys, "--from", scene.okd_release, "--to", to, "--to-mirror")
    lines = out.splitlines()
    assert code == 0 and len(lines) == count
    assert lines[0] == f"{scene.okd_release} {to}:{NAME}-x86_64"
    assert lines[1].startswith(f"{scene.registry}/mirror/content@sha256:")
    with pytest.raises(subprocess.CalledProcessError):
        skopeo_inspect(f"{to}:{NAME}-x86_64")
    # --to-release-image: oc names both destinations as mirror prefixes and mirrors of every source.
    other = f"{scene.registry}/mirror/other-release"
    code, out, err = run_ours(
        capsys, "--from", scene.okd_release, "--to", to, "--to-release-image", f"{other}:x", "--dry-run"
    )
    assert code == 0, err
    assert out.startswith(
        f"\nSuccess\nUpdate image:  {other}:x\nMirror prefix: {to}\nMirror prefix: {other}:x\n"
    )
    assert instruction_documents(out)[1]["spec"]["imageDigestMirrors"] == [
        {"mirrors": [to, other], "source": f"{scene.registry}/mirror/content"},
        {"mirrors": [to, other], "source": f"{scene.registry}/mirror/okd-release"},
    ]
    template = f"{scene.registry}/mirror/tmpl:${{version}}-${{component}}"
    code, out, err = run_ours(capsys, "--from", scene.okd_release, "--to", template, "--to-mirror")
    lines = out.splitlines()
    assert code == 0, err
    assert lines[0] == f"{scene.okd_release} {scene.registry}/mirror/tmpl:{NAME}-release-x86_64"
    first, digest = next(iter(release_tags(capsys, scene.okd_release).items()))
    assert (
        lines[1]
        == f"{scene.registry}/mirror/content@{digest} {scene.registry}/mirror/tmpl:{NAME}-{first}-x86_64"
    )


def test_second_mirror_finds_everything_present(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    to = f"{scene.registry}/mirror/twice"
    assert run_ours(capsys, "--from", scene.okd_release, "--to", to)[0] == 0
    code, _, err = run_ours(capsys, "--from", scene.okd_release, "--to", to)
    assert code == 0
    count = 1 + len(release_tags(capsys, scene.okd_release))
    assert f"Mirroring completed: {count} images already present" in err


def test_signature_store_named_without_its_secrets(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A store URL's credentials and query are never shown (before: the error listed the raw URL,
    password and token included); the store is read by the run's HTTP client (it is reached)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            seen.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server API
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    port = server.server_address[1]
    try:
        store = f"http://user:store-secret-pw@127.0.0.1:{port}/sigs?tok=qs-secret"
        unsigned = f"{scene.registry}/mirror/unsigned-release:4.16.0-okd.secretless"
        made = ["new", "--insecure", "--from-release", scene.okd_release, "--name", "4.16.0-okd.secretless"]
        assert cli.main([*made, "--created", CREATED, "--to-image", unsigned]) == 0
        capsys.readouterr()
        args = ("--from", unsigned, "--to", f"{scene.registry}/mirror/secretless")
        code, out, err = run_ours(
            capsys, *args, "--signature-store", store, "--release-image-signature-to-dir", str(tmp_path / "s")
        )
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1 and out == ""
    assert "secret" not in err
    assert f"http://127.0.0.1:{port}/sigs" in err.splitlines()[-1]
    assert seen and seen[0].startswith("/sigs/sha256=")


def test_unsigned_release_fails_before_copying(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No signature of the digest, then one that names another digest: clear error, nothing pushed, no file."""
    unsigned = f"{scene.registry}/mirror/unsigned-release:4.16.0-okd.unsigned"
    assert (
        cli.main(
            [
                "new",
                "--insecure",
                "--from-release",
                scene.okd_release,
                "--name",
                "4.16.0-okd.unsigned",
                "--created",
                CREATED,
                "--to-image",
                unsigned,
            ]
        )
        == 0
    )
    digest = _digest_of_release(capsys.readouterr().out)
    to = f"{scene.registry}/mirror/unsigned"
    sigs = tmp_path / "sigs"
    args = ("--from", unsigned, "--to", to, "--release-image-signature-to-dir", str(sigs))
    code, out, err = run_ours(capsys, *args)
    assert code == 1 and out == ""
    assert f"error: no signatures of the release {digest} found (file://{scene.store})" in err
    # A signature of the okdrelease release copied under this digest names the other digest.
    forged = tmp_path / "forged" / f"sha256={digest[7:]}"
    forged.mkdir(parents=True)
    good = scene.store / f"sha256={scene.okd_digest[7:]}" / "signature-1"
    (forged / "signature-1").write_bytes(good.read_bytes())
    code, out, err = run_ours(capsys, *args, "--signature-dir", str(tmp_path / "forged"))
    assert code == 1 and out == ""
    assert "warning: An image was retrieved that failed verification" in err
    assert scene.okd_digest in err  # the claim names the other digest
    assert not sigs.exists()
    with pytest.raises(subprocess.CalledProcessError):
        skopeo_inspect(f"{to}:4.16.0-okd.unsigned-x86_64")


def test_signature_by_another_key_is_not_carried(
    scene: Scene, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = openpgp.generate_key("Other <other@example.com>", bits=2048, created=1700000000)
    keyring = tmp_path / "other.pub"
    keyring.write_text(other.export_public())
    to = f"{scene.registry}/mirror/other-key"
    options = MirrorOptions(
        source=scene.okd_release,
        to=to,
        release_image_signature_to_dir=str(tmp_path / "sigs"),
        verify_keys=(str(keyring),),
    )
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        result = mirror_release(options, transport)
    # The release's own key verifies its store's signature; the other key reports a failure.
    assert result.signatures is not None and result.signatures.verified
    assert len(result.signatures.signatures) == 1
    assert any("failed verification" in w for w in result.signatures.warnings)


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mirror", "--to", "example.com/a/b"]) == 2
    assert "must specify a release image with --from" in capsys.readouterr().err
    assert cli.main(["mirror", "--from", "example.com/a/r:1"]) == 2
    assert "must specify an image repository" in capsys.readouterr().err
    assert cli.main(["mirror", "--from", "example.com/a/r:1", "--to", "example.com/a/b:tag"]) == 2
    assert "may not contain a tag or digest" in capsys.readouterr().err
    assert (
        cli.main(["mirror", "--from", "x.io/a/r:1", "--to", "x.io/a/b", "--print-mirror-instructions=x"]) == 2
    )
    assert "must be one of icsp, idms, none" in capsys.readouterr().err
    assert (
        cli.main(["mirror", "--from", "x.io/a/r:1", "--to", "x.io/a/b", "--apply-release-image-signature"])
        == 2
    )
    assert "needs a cluster" in capsys.readouterr().err
    assert cli.main(["mirror", "--from", "x.io/a/r:1", "--to", "x.io/a/b:${component}-${component}"]) == 2
    assert "when mirroring to multiple repositories" in capsys.readouterr().err
    with pytest.raises(UsageError, match="--skip-release-image and --to-release-image"):
        MirrorOptions(
            source="x.io/a/r:1", to="x.io/a/b", skip_release_image=True, to_release_image="x.io/a/c:1"
        )


def test_cosign_signature_is_carried_beside_the_release(
    scene: Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    """A release with a cosign ``sha256-<hex>.sig`` in its repository: the .sig lands beside the mirror, verifiable."""
    from okdrelease.sign import cosign
    from okdrelease.sign.api import sign_release_cosign, verify_release_cosign

    source = f"{scene.registry}/mirror/cosigned"
    assert cli.main(["copy", "--insecure", scene.okd_release, f"{source}:{NAME}"]) == 0
    capsys.readouterr()
    key = cosign.generate_private_key()
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        repo, _ = transport.open(source)
        signed = sign_release_cosign(repo, f"{source}@{scene.okd_digest}", key)
    to = f"{scene.registry}/mirror/cosigned-mirror"
    code, _, err = run_ours(capsys, "--from", f"{source}:{NAME}", "--to", to)
    assert code == 0, err
    assert f"info: mirrored cosign signature {signed.tag} -> {to}:{signed.tag}" in err
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        mirrored, _ = transport.open(to)
        assert mirrored.resolve(signed.tag).digest == signed.manifest_digest
        verified = verify_release_cosign(
            mirrored, f"{to}@{scene.okd_digest}", cosign.load_public_key(cosign.public_key_pem(key))
        )
    assert len(verified.signatures) == 1


# The two tests that wait for the fixture's oc runs come last (see the module's docstring).


def test_mirror_of_oc_release_equals_oc_mirror(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """Same tags and digests, same signature ConfigMap bytes, same ImageContentSourcePolicy as oc."""
    oc_sigs, our_sigs = scene.tmp / "oc-sigs", scene.tmp / "our-sigs"
    code, out, err = run_ours(
        capsys,
        *("--from", scene.oc_release, "--to", f"{scene.registry}/mirror/by-us"),
        *("--release-image-signature-to-dir", str(our_sigs), "--print-mirror-instructions=icsp"),
    )
    oc = scene.oc_mirror.result()  # oc_mirror_args: the same --from, to mirror/by-oc, signatures to oc_sigs
    assert oc.returncode == 0, oc.stderr
    assert code == 0, err
    theirs, ours = registry_tags(scene, "mirror/by-oc"), registry_tags(scene, "mirror/by-us")
    assert ours == theirs
    assert ours[f"{OC_NAME}-x86_64"] == scene.oc_digest
    components = release_tags(capsys, scene.oc_release)
    assert len(ours) == 1 + len(components) and len(components) > 80
    assert {ours[f"{OC_NAME}-x86_64-{name}"] for name in components} == set(components.values())
    # The release's own verification ConfigMap names the key and the file:// store: both tools verify.
    name = f"signature-sha256-{scene.oc_digest[7:23]}.json"
    assert sorted(os.listdir(our_sigs)) == sorted(os.listdir(oc_sigs)) == [name]
    assert (our_sigs / name).read_bytes() == (oc_sigs / name).read_bytes()
    assert (our_sigs / name).stat().st_mode & 0o777 == 0o640
    want = oc.stdout.replace("mirror/by-oc", "mirror/by-us").replace(str(oc_sigs), str(our_sigs))
    assert instruction_documents(out) == instruction_documents(want)
    assert after_success(out) == after_success(want)
    assert "Flag --print-mirror-instructions's value 'icsp' has been deprecated" in oc.stderr


def test_mirror_of_okdrelease_release_to_registry(scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    """Release digest unchanged, every component present by digest (skopeo), signatures beside it, oc's IDMS."""
    sigs = scene.tmp / "okd-sigs"
    to = f"{scene.registry}/mirror/okd-mirror"
    code, out, err = run_ours(
        capsys,
        *("--from", scene.okd_release, "--to", to, "--release-image-signature-to-dir", str(sigs)),
        *("--signature-dir", str(scene.store), "--verify-key", str(scene.keyring)),
    )
    assert code == 0, err
    mirrored = skopeo_inspect(f"{to}:{NAME}-x86_64")
    assert mirrored["Digest"] == scene.okd_digest
    components = release_tags(capsys, f"{to}@{scene.okd_digest}")
    assert len(components) > 80
    with ThreadPoolExecutor(8) as pool:  # one skopeo per component, several at once
        inspected = dict(
            zip(components, pool.map(lambda d: skopeo_inspect(f"{to}@{d}"), components.values()), strict=True)
        )
    for name, digest in components.items():
        assert inspected[name]["Digest"] == digest, name
    [configmap] = list(sigs.iterdir())
    document = json.loads(configmap.read_text())
    assert document["metadata"]["name"] == scene.okd_digest.replace(":", "-")
    assert list(document["binaryData"]) == [f"{scene.okd_digest.replace(':', '-')}-1"]
    oc = scene.oc_dry_run.result()  # oc_dry_run_args: --dry-run of the same --from and --to, idms
    assert oc.returncode == 0, oc.stderr
    ours_docs, oc_docs = instruction_documents(out), instruction_documents(oc.stdout)
    assert ours_docs == oc_docs
    idms = ours_docs[1]
    assert idms["apiVersion"] == "config.openshift.io/v1" and idms["kind"] == "ImageDigestMirrorSet"
    assert idms["metadata"] == {"name": "example"}
    assert idms["spec"]["imageDigestMirrors"] == [
        {"mirrors": [to], "source": f"{scene.registry}/mirror/content"},
        {"mirrors": [to], "source": f"{scene.registry}/mirror/okd-release"},
    ]
    content_at = out.index(f"source: {scene.registry}/mirror/content\n")
    assert content_at < out.index(f"source: {scene.registry}/mirror/okd-release\n")  # sorted by source
    assert out.split("\nSuccess\n")[1].startswith(f"Update image:  {to}:{NAME}-x86_64\nMirror prefix: {to}\n")
    assert f"Configmap signature file {configmap} created\n" in out
    assert "mirrored" in err and "Mirroring completed" in err
