"""``deploy/``: the container build file (built with buildah from a base image made here) and the Tekton Task.

The Task's YAML is checked for Tekton v1 shape (every variable declared, every result written, the
example Pipeline wired to declared params, workspaces and results), and its step script runs under
``sh`` with Tekton's substitutions done by hand, against a loopback registry; the real
``oc adm release info`` reads the release it pushes.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from registry_rig import RegistryInfo

from okdrelease import __version__
from okdrelease.sign import openpgp
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.copy import copy_all
from okdrelease.transport.open import DefaultTransport

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
TASK_FILE = DEPLOY / "tekton" / "task-okdrelease-new-release.yaml"
PIPELINE_FILE = DEPLOY / "tekton" / "pipeline-okd-payload-example.yaml"
SAMPLE = ROOT / "testdata" / "sample-payload"
OC = Path(os.environ.get("OKD_TEST_OC", ROOT.parent / "shared" / "tools" / "oc" / "oc"))
VARIABLE = re.compile(r"\$\((params|workspaces|results|tasks|context)\.([^)]*)\)")
PARAM_TYPES = {"string", "array", "object"}


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict)
    return document


def variables(document: Any, kind: str) -> set[str]:
    """Names used as ``$(kind.NAME...)`` anywhere in the document (first path component)."""
    text = json.dumps(document)
    return {re.split(r"[.\[]", rest)[0] for found, rest in VARIABLE.findall(text) if found == kind}


# --------------------------------------------------------------------------------------------
# Tekton shape


def test_task_is_tekton_v1_and_every_variable_is_declared() -> None:
    task = load(TASK_FILE)
    assert task["apiVersion"] == "tekton.dev/v1" and task["kind"] == "Task"
    assert task["metadata"]["name"] == "okdrelease-new-release"
    spec = task["spec"]
    params = {p["name"]: p for p in spec["params"]}
    for param in params.values():
        assert param["type"] in PARAM_TYPES and param["description"], param["name"]
    for wanted in (
        "component-repository",
        "release-name",
        "release-name-prefix",
        "target-image",
        "previous-releases",
    ):
        assert wanted in params
    assert variables(task, "params") == set(params)  # all used, none undeclared
    workspaces = {w["name"] for w in spec["workspaces"]}
    assert workspaces == {"credentials", "signing-key", "signatures"}
    assert all(w.get("optional") for w in spec["workspaces"])
    assert variables(task, "workspaces") == workspaces
    results = {r["name"] for r in spec["results"]}
    assert results == {"release-digest", "release-name", "release-pullspec"}
    [step] = spec["steps"]
    assert step["name"] and step["image"] == "$(params.okdrelease-image)"
    assert step["script"].startswith("#!/bin/sh\n")
    for result in results:  # every result is written by the script
        assert f'> "$(results.{result}.path)"' in step["script"], result
    assert variables(task, "results") == results
    assert set(task["metadata"]) <= {"name", "labels", "annotations"}
    assert set(spec) <= {"description", "params", "workspaces", "results", "steps"}


#: Task params the Pipeline example leaves at their defaults (deploy/README.md says so); every other
#: Task param must be passed, so a param added to the Task is wired or named here.
PIPELINE_DEFAULTED = {"release-name", "exclude-tags", "insecure", "okdrelease-image"}


def test_pipeline_example_wires_the_task_as_declared() -> None:
    task, pipeline = load(TASK_FILE)["spec"], load(PIPELINE_FILE)
    assert pipeline["apiVersion"] == "tekton.dev/v1" and pipeline["kind"] == "Pipeline"
    spec = pipeline["spec"]
    pipeline_params = {p["name"]: p for p in spec["params"]}
    assert variables(pipeline, "params") == set(pipeline_params)  # all used, none undeclared
    declared_workspaces = {w["name"] for w in spec["workspaces"]}
    [use] = [t for t in spec["tasks"] if t["taskRef"]["name"] == "okdrelease-new-release"]
    assert use["runAfter"] == ["build"]
    task_params = {p["name"]: p for p in task["params"]}
    passed = {p["name"]: p["value"] for p in use["params"]}
    assert len(passed) == len(use["params"])  # no param passed twice
    assert set(passed) == set(task_params) - PIPELINE_DEFAULTED
    assert {name for name, p in task_params.items() if "default" not in p} <= set(passed)
    for name, value in passed.items():
        # each value is one Pipeline param of the Task param's type (string into string)
        match = re.fullmatch(r"\$\(params\.([a-z-]+)\)", value)
        assert match, (name, value)
        assert pipeline_params[match[1]]["type"] == task_params[name]["type"] == "string", name
    assert passed["skip-if-unchanged"] == "$(params.skip-if-unchanged)"
    assert pipeline_params["skip-if-unchanged"]["default"] == ""  # empty: always build
    for binding in use["workspaces"]:
        assert binding["name"] in {w["name"] for w in task["workspaces"]}
        assert binding["workspace"] in declared_workspaces
    used_results = {
        m for m in re.findall(r"\$\(tasks\.new-release\.results\.([a-z-]+)\)", json.dumps(pipeline))
    }
    assert used_results and used_results <= {r["name"] for r in task["results"]}
    assert set(re.findall(r"\$\(tasks\.([a-z-]+)\.", json.dumps(pipeline))) <= {
        t["name"] for t in spec["tasks"]
    }


# --------------------------------------------------------------------------------------------
# The step script under sh


def substitute(text: str, values: dict[str, str]) -> str:
    """Tekton's variable substitution: every ``$(kind.name.field)`` from ``values``; none may remain."""
    out = VARIABLE.sub(lambda m: values[f"{m[1]}.{m[2]}"], text)
    assert not VARIABLE.search(out), out
    return out


def shims(directory: Path) -> Path:
    """``okdrelease`` and ``python3`` on PATH running this checkout, as in the image."""
    directory.mkdir()
    for name, command in (
        ("okdrelease", f'"{sys.executable}" -m okdrelease'),
        ("python3", f'"{sys.executable}"'),
    ):
        path = directory / name
        path.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec {command} "$@"\n')
        path.chmod(0o755)
    return directory


def run_step(
    tmp: Path, params: dict[str, str], *, sign: bool
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the Task's step script under sh with ``params`` (defaults filled in); return the run and results dir."""
    task = load(TASK_FILE)["spec"]
    values = {f"params.{p['name']}": params.get(p["name"], p.get("default", "")) for p in task["params"]}
    results = tmp / "results"
    results.mkdir(exist_ok=True)
    values.update({f"results.{r['name']}.path": str(results / r["name"]) for r in task["results"]})
    for workspace in ("credentials", "signing-key", "signatures"):
        bound = sign and workspace != "credentials"
        values[f"workspaces.{workspace}.bound"] = "true" if bound else "false"
        values[f"workspaces.{workspace}.path"] = str(tmp / workspace) if bound else ""
    [step] = task["steps"]
    env = {item["name"]: substitute(item["value"], values) for item in step["env"]}
    script = tmp / "step.sh"
    script.write_text(substitute(step["script"], values))
    path = f"{shims(tmp / 'bin')}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        ["sh", str(script)],
        env={**os.environ, **env, "PATH": path, "HOME": str(tmp)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done, results


@pytest.mark.skipif(not OC.exists(), reason="the real oc is not available")
def test_task_script_builds_a_release_that_oc_reads(
    tmp_path: Path, registry_http: RegistryInfo, unique_repo: Any
) -> None:
    registry = registry_http.host
    content, release, mirror = (f"{registry}/{unique_repo('pipeline')}" for _ in range(3))
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        source, _ = transport.open(f"oci:{SAMPLE}")
        copy_all(source, transport.open(content, create=True)[0])
    (tmp_path / "signing-key").mkdir()
    key = openpgp.generate_key("Pipeline <pipeline@example.com>", bits=2048, created=1700000000)
    (tmp_path / "signing-key" / "private.key").write_text(key.export_secret())
    params = {
        "component-repository": content,
        "release-name-prefix": "4.16.0-0.okd-pipeline",
        "target-image": release,
        "previous-releases": "4.16.0-0.okd-pipeline-2024-01-01-000000",
        "mirror-repository": mirror,
        "exclude-tags": "branding",
        "insecure": "true",
    }
    done, results = run_step(tmp_path, params, sign=True)
    assert done.returncode == 0, done.stderr
    digest, name = (results / "release-digest").read_text(), (results / "release-name").read_text()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert re.fullmatch(r"4\.16\.0-0\.okd-pipeline-\d{4}-\d\d-\d\d-\d{6}", name)
    assert (results / "release-pullspec").read_text() == f"{release}@{digest}"
    assert done.stdout.strip().endswith(f"release {name} {release}@{digest}")

    home = tmp_path / "oc-home"
    home.mkdir()
    oc = subprocess.run(
        [str(OC), "adm", "release", "info", "--insecure", "-o", "json", f"{release}:{name}"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        check=False,
    )
    assert oc.returncode == 0, oc.stderr
    info = json.loads(oc.stdout)
    assert info["digest"] == digest
    assert info["metadata"]["version"] == name
    assert info["metadata"]["previous"] == [params["previous-releases"]]
    tags = {t["name"]: t["from"]["name"] for t in info["references"]["spec"]["tags"]}
    assert tags and all(ref.startswith(f"{content}@sha256:") for ref in tags.values())
    assert "branding" not in tags and "cluster-version-operator" in tags

    store = tmp_path / "signatures"
    assert (store / f"sha256={digest[7:]}" / "signature-1").is_file()
    assert [p.name for p in (store / "config").iterdir()] == [f"signature-sha256-{digest[7:23]}.json"]
    assert [p.name for p in (store / "mirror-config").iterdir()] == [f"signature-sha256-{digest[7:23]}.json"]
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        mirrored, _ = transport.open(mirror)
        assert mirrored.resolve(f"{name}-x86_64").digest == digest
        assert len(mirrored.list_tags()) == 1 + len(tags)


def test_task_script_needs_a_name_or_prefix(tmp_path: Path) -> None:
    done, results = run_step(
        tmp_path, {"component-repository": "example.com/a/b", "target-image": "x.io/a/r"}, sign=False
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: set release-name or release-name-prefix"
    assert list(results.iterdir()) == []


# --------------------------------------------------------------------------------------------
# The container build


def _copy(root: Path, source: Path, target: Path | None = None) -> None:
    """Copy ``source`` (file, symlink or tree) to the same path (or ``target``) below ``root``."""
    destination = root / str(target or source).lstrip("/")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        if not destination.is_symlink() and not destination.exists():
            os.symlink(os.readlink(source), destination)
        _copy(root, source.resolve())
    elif source.is_dir():
        skip = shutil.ignore_patterns(
            "test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages"
        )
        shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True, ignore=skip)
    elif not destination.exists():
        shutil.copy2(source, destination)


#: Besides okdrelease's dependencies (read from pyproject.toml), the base image needs pip and the
#: build backend (flit_core, in the test extra for this reason).
BUILD_DISTRIBUTIONS = ("pip", "flit_core")


def base_distributions() -> list[str]:
    """okdrelease's dependencies and theirs (installed ones, extras left out), then pip and flit_core."""
    with open(ROOT / "pyproject.toml", "rb") as handle:
        wanted = list(tomllib.load(handle)["project"]["dependencies"])
    names: list[str] = []
    while wanted:
        requirement = wanted.pop()
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        if name is None or "extra ==" in requirement or name[0].lower() in names:
            continue
        try:
            wanted.extend(importlib.metadata.requires(name[0]) or [])
        except importlib.metadata.PackageNotFoundError:
            assert ";" in requirement, f"{requirement} is not installed"  # only a marker may exclude it
            continue
        names.append(name[0].lower())
    return [*names, *BUILD_DISTRIBUTIONS]


HOST_TOOLS = ("sh", "rm", "mkdir", "cat", "env")


def _base_site_packages(executable: Path) -> Path:
    """Where the base interpreter (not a virtual environment over it) looks for packages first."""
    out = subprocess.run(
        [str(executable), "-I", "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def make_base_rootfs(root: Path) -> Path:
    """A minimal root file system: this Python (stdlib, the distributions above), sh and its tools, their libraries.

    Distributions go to the base interpreter's site-packages even when the tests run in a virtual
    environment.
    Returns the directory of the ``python3`` command.
    """
    root.mkdir()
    for top in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{top}"):
            os.symlink(os.readlink(f"/{top}"), root / top)
            (root / os.readlink(f"/{top}")).mkdir(parents=True, exist_ok=True)
    executable = Path(sys.executable).resolve()
    _copy(root, executable)
    _copy(root, Path(sysconfig.get_paths()["stdlib"]))
    (root / str(Path(sysconfig.get_paths()["stdlib"]) / "EXTERNALLY-MANAGED").lstrip("/")).unlink(
        missing_ok=True
    )
    for library in (Path(sys.base_prefix) / "lib").glob("libpython3*.so*"):
        _copy(root, library)
    site = _base_site_packages(executable)
    for name in base_distributions():
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or []:
            path = Path(str(distribution.locate_file(file)))
            if not str(file).startswith("..") and path.is_file():
                _copy(root, path.resolve(), site / str(file))
    bindir = root / str(executable.parent).lstrip("/")
    for alias in ("python3", "python"):
        if not (bindir / alias).exists():
            os.symlink(executable.name, bindir / alias)
    tools = [Path(str(shutil.which(tool))) for tool in HOST_TOOLS]
    for tool in tools:
        _copy(root, tool)
    _copy_libraries(root, [executable, *tools, *(p for p in root.rglob("*.so*") if p.is_file())])
    (root / "tmp").mkdir(mode=0o1777)
    (root / "tmp").chmod(0o1777)
    return executable.parent


def _copy_libraries(root: Path, objects: list[Path]) -> None:
    libraries: set[str] = set()
    for obj in objects:
        out = subprocess.run(["ldd", str(obj)], capture_output=True, text=True, check=False).stdout
        libraries.update(word for line in out.splitlines() for word in line.split() if word.startswith("/"))
    for library in sorted(libraries):
        if Path(library).exists():
            _copy(root, Path(library))


@pytest.mark.skipif(
    shutil.which("buildah") is None, reason="buildah is not installed (tests/run.sh installs it)"
)
@pytest.mark.skipif(
    os.geteuid() != 0, reason="building from scratch with buildah's vfs driver needs root here"
)
def test_containerfile_builds_with_buildah_and_runs(tmp_path: Path) -> None:
    storage = [
        "--storage-driver",
        "vfs",
        "--root",
        str(tmp_path / "storage"),
        "--runroot",
        str(tmp_path / "run"),
    ]

    def buildah(*args: str) -> str:
        done = subprocess.run(
            ["buildah", *storage, *args], capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"buildah {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    bindir = make_base_rootfs(tmp_path / "rootfs")
    try:
        container = buildah("from", "scratch")
        buildah("copy", container, str(tmp_path / "rootfs"), "/")
        buildah("config", "--env", f"PATH={bindir}:/usr/local/bin:/usr/bin:/bin", container)
        buildah("commit", "-q", container, "localhost/okdrelease-test-base:latest")
        buildah(
            *("bud", "--isolation", "chroot", "-q", "-f", str(DEPLOY / "Containerfile")),
            *("--build-arg", "BASE_IMAGE=localhost/okdrelease-test-base:latest"),
            *("--build-arg", "PIP_INSTALL_OPTIONS=--no-deps --no-build-isolation --no-index"),
            *("-t", "localhost/okdrelease:test", str(ROOT)),
        )
        image = json.loads(buildah("inspect", "--type", "image", "localhost/okdrelease:test"))
        assert image["OCIv1"]["config"]["Entrypoint"] == ["okdrelease"]
        assert image["OCIv1"]["config"]["User"] == "1001"
        container = buildah("from", "-q", "localhost/okdrelease:test")
        version = buildah(
            "run", "--isolation", "chroot", "--user", "1001", container, "--", "okdrelease", "--version"
        )
        assert version.splitlines()[0] == f"okdrelease {__version__}"
    finally:
        subprocess.run(["buildah", *storage, "rm", "--all"], capture_output=True, check=False)
        subprocess.run(["buildah", *storage, "rmi", "--all", "--force"], capture_output=True, check=False)


def test_task_script_skips_an_unchanged_release(
    tmp_path: Path, registry_http: RegistryInfo, unique_repo: Any
) -> None:
    """skip-if-unchanged: same components as the existing release → its digest, name and pull spec, nothing pushed."""
    from okdrelease import cli

    content, release = (f"{registry_http.host}/{unique_repo('pipeline')}" for _ in range(2))
    existing_name = "4.16.0-0.okd-pipeline-2024-01-01-000000"
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        copy_all(transport.open(f"oci:{SAMPLE}")[0], transport.open(content, create=True)[0])
    build = ["new", "--insecure", "--from-repository", content, "--name", existing_name]
    assert (
        cli.main([*build, "--created", "2024-01-01T00:00:00Z", "--to-image", f"{release}:{existing_name}"])
        == 0
    )
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        repository = transport.open(release)[0]
        digest = repository.resolve(existing_name).digest
        params = {
            "component-repository": content,
            "release-name-prefix": "4.16.0-0.okd-pipeline",
            "target-image": release,
            "mirror-repository": f"{registry_http.host}/{unique_repo('mirror')}",
            "skip-if-unchanged": f"{release}:{existing_name}",
            "insecure": "true",
        }
        done, results = run_step(tmp_path, params, sign=False)
        assert done.returncode == 0, done.stderr
        assert repository.list_tags() == [existing_name]
    assert (results / "release-digest").read_text() == digest
    assert (results / "release-name").read_text() == existing_name
    assert (results / "release-pullspec").read_text() == f"{release}@{digest}"
    assert done.stdout.splitlines()[-2:] == [
        f"unchanged: the components are those of {existing_name}",
        f"release {existing_name} {release}@{digest}",
    ]
    assert "unchanged, nothing pushed" in done.stderr
