"""Directories whose path holds ':' given to ``mirror --to-dir``, ``new --from-oci-layout`` and ``new --to-dir``.

Such a flag names a directory, not an ``oci:DIR[:REF]`` text (which containers/image, and okdrelease after
it, splits at the first ':'): its value is the layout's path as given. The real oc takes ``mirror --to-dir``
and ``new --to-dir`` so too (it has no ``--from-oci-layout``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from oc_oracle import run_oc
from proxied_cli import cli
from registry_rig import RegistryInfo, RepoNamer
from test_mirror_templates import NAME, push_payload

from okdrelease.errors import UsageError
from okdrelease.openshift.mirrortarget import MirrorTarget
from okdrelease.reference import LayoutLocation
from okdrelease.sign import openpgp
from okdrelease.sign.api import sign_release

SAMPLE = Path(__file__).resolve().parent.parent / "testdata" / "sample-payload"


def _refs(layout: Path) -> dict[str, str]:
    """ref name → digest of an OCI layout's index.json."""
    index = json.loads((layout / "index.json").read_text())
    return {d["annotations"]["org.opencontainers.image.ref.name"]: d["digest"] for d in index["manifests"]}


def test_mirror_target_of_a_directory_keeps_its_colons() -> None:
    target = MirrorTarget.layout("/tmp/a:b")
    assert target.image("demo", "4.16", "-x86_64") == LayoutLocation("/tmp/a:b", "4.16-x86_64-demo")
    assert target.image("", "4.16", "-x86_64") == LayoutLocation("/tmp/a:b", "4.16-x86_64")
    # an oci: text (--to) is read as before: the directory ends at the first ':', then a ref name
    assert MirrorTarget.parse("oci:/tmp/a").location == LayoutLocation("/tmp/a")
    with pytest.raises(
        UsageError, match="^--to must be to an image repository and may not contain a tag or digest$"
    ):
        MirrorTarget.parse("oci:/tmp/a:b")


def test_mirror_to_a_directory_with_colons(
    registry_http: RegistryInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: 'error: --to must be to an image repository and may not contain a tag or digest' (exit 2),
    the value read as oci:DIR:REF. After: the layout is written in that directory, signatures in its
    config/; oc too writes into the directory as given (its own file:// form)."""
    payload = push_payload(registry_http, "colon-paths/content")
    repository = f"{registry_http.host}/{RepoNamer('colon-paths')()}"
    code, out, err = cli(
        capsys, "new", "--insecure", "--name", NAME, *payload.mappings, "--to-image", f"{repository}:{NAME}"
    )
    assert code == 0, err
    release_digest = out.split()[0]
    key = openpgp.generate_key("Colon paths <colon@example.com>", bits=2048, created=1700000000)
    store = tmp_path / "signatures"
    sign_release(f"{repository}@{release_digest}", key, signature_dir=store)
    target = tmp_path / "mirror:dir"
    code, out, err = cli(
        capsys,
        "mirror",
        "--insecure",
        "--from",
        f"{repository}:{NAME}",
        "--to-dir",
        str(target),
        "--signature-dir",
        str(store),
    )
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror:dir", "signatures"]
    refs = _refs(target)
    assert refs[f"{NAME}-x86_64"] == release_digest
    assert {refs[f"{NAME}-x86_64-{name}"] for name in payload.digests} == set(payload.digests.values())
    assert [p.name for p in (target / "config").iterdir()] == [
        f"signature-sha256-{release_digest[7:23]}.json"
    ]
    assert f"Update image:  oci:{target}:{NAME}-x86_64\n" in out
    assert (
        f"\nThe layout's directory {target} holds ':', which an oci: reference cannot name: link it from a path "
        "without ':' (NEWDIR) to upload its images:\n\n    okdrelease copy oci:NEWDIR REGISTRY/REPOSITORY\n\n"
    ) in out

    oc_target = tmp_path / "oc:dir"
    home = tmp_path / "home"
    home.mkdir()
    done = _oc_mirror_to_dir(f"{repository}:{NAME}", oc_target, home)
    # (oc then fails to find the release's signatures in its default stores, which are not reachable here)
    assert (
        f"oc image mirror --from-dir={oc_target} 'file://openshift/release:{NAME}-x86_64*'" in done.stdout
    ), done.stderr
    assert (oc_target / "v2" / "openshift" / "release" / "manifests").is_dir()


def _oc_mirror_to_dir(
    source: str, target: Path, home: Path, attempts: int = 3
) -> subprocess.CompletedProcess[str]:
    """oc's ``adm release mirror --to-dir``, run again (into an emptied directory) when it lost its own race:
    a blob present in two source repositories (here the release's and its components') is downloaded
    twice at once into one ``BLOB.download`` file, and the second rename fails ("failed to upload blob
    …: rename …download …"). Seen once in a CI run; not okdrelease's code."""
    for _ in range(attempts):
        done = run_oc(
            ["adm", "release", "mirror", "--insecure", f"--from={source}", f"--to-dir={target}"], home
        )
        if not re.search(r"failed to upload blob \S+: rename \S+\.download ", done.stderr):
            return done
        shutil.rmtree(target)
    return done


def test_new_from_a_layout_directory_with_colons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: 'error: …/sample:payload is not an OCI image layout' for the directory '…/sample' (exit 1).
    After: the layout is read where it is; --to-dir, as in oc, writes where it is told."""
    layout = tmp_path / "sample:payload"
    shutil.copytree(SAMPLE, layout)
    out_dir = tmp_path / "manifests:out"
    args = ["new", "--from-oci-layout", str(layout), "--name", "4.16.0-okd.sample", "--to-dir", str(out_dir)]
    code, out, err = cli(capsys, *args, "--layout-repository", "quay.io/okd/scos-content")
    assert code == 0, err
    assert f"info: Found {len(_refs(layout))} images in OCI layout {layout}\n" in err
    references = json.loads((out_dir / "image-references").read_text())
    assert {tag["from"]["name"].split("@")[0] for tag in references["spec"]["tags"]} == {
        "quay.io/okd/scos-content"
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifests:out", "sample:payload"]

    # without --layout-repository the release would name its images oci:DIR@DIGEST, which cannot say DIR
    code, out, err = cli(capsys, *args)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        f"error: --from-oci-layout {layout}: the release would name its images oci:{layout}@DIGEST, which reads "
        f"as the directory {str(tmp_path / 'sample')!r}: name them with --layout-repository REPO, or use a "
        "directory whose path holds no ':'"
    )
