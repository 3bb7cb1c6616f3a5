"""Seeded scenarios: component images, input files and one ``release new`` command line.

A scenario is pure data derived from its seed. Command-line arguments and input files carry
placeholders filled at run time: ``{registry}`` (loopback registry address), ``{repo}`` (the
seed's input repository), ``{work}`` (the seed's work directory), ``{out}`` (``work/oc`` or
``work/py``, the same length on both sides), ``{out_repo}`` (``…/oc`` or ``…/py``) and
``{release}`` (the release that oc built in the scenario's first phase, for ``--from-release``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping

import attrs
import yaml

from . import content
from .images import Built, Entry, ImageSpec, build

CVO = "cluster-version-operator"
OPERATOR_NAMES = (
    "cluster-dns-operator",
    "machine-config-operator",
    "console.operator",
    "ingress-operator",
    "etcd",
    "network_operator",
    "op",
    "cluster-image-registry-operator-with-a-rather-long-component-name",
)
COMPONENT_NAMES = (
    "cli",
    "cli-artifacts",
    "coredns",
    "haproxy-router",
    "pod",
    "kube-proxy",
    "oauth-proxy",
    "tests",
)
VERSION_KEYS = ("kubernetes", "machine-os", "kubectl", "crio", "kernel")
SEMVERS = (
    "4.16.0",
    "4.16.0-0.okd-2024-05-01-111111",
    "1.2.3-rc.1+build.5",
    "4.15.10",
    "4.9.3",
    "10.0.0-ec.2",
)


@attrs.frozen
class InputFile:
    """A file written below ``{work}`` before the run; ``mtime`` (seconds) set when given."""

    path: str
    data: bytes
    mtime: float | None = None


@attrs.frozen
class Scenario:
    """Everything one seed runs: images to push, input files, command lines and facts for triage."""

    seed: int
    images: tuple[tuple[ImageSpec, Built], ...]
    files: tuple[InputFile, ...]
    args: tuple[str, ...]
    phase1_args: tuple[str, ...] = ()
    features: frozenset[str] = frozenset()

    def summary(self) -> str:
        """One line naming the features drawn."""
        return ", ".join(sorted(self.features))


def mtime(rng: random.Random) -> float:
    """A file modification time, unusual ones included (zero, negative, fractional, beyond 2262)."""
    roll = rng.random()
    base = rng.randint(1_600_000_000, 1_750_000_000)
    if roll < 0.55:
        return base
    if roll < 0.63:
        return 0
    if roll < 0.7:
        return -rng.randint(1, 2_000_000_000)
    if roll < 0.82:
        return base + rng.choice((0.5, 0.25, 0.75, 0.4999, 0.999, 0.001))
    if roll < 0.9:
        return 9_223_372_037 + rng.randint(0, 10**10)
    return rng.choice((8_589_934_591, 8_589_934_592, 9_223_372_036, 1, -1, 2**33 + 0.5))


@attrs.define
class _Draft:
    """Mutable state while a scenario is drawn."""

    rng: random.Random
    errors: bool = False
    features: set[str] = attrs.field(factory=set)
    images: dict[str, tuple[ImageSpec, Built]] = attrs.field(factory=dict)
    sources: dict[str, str] = attrs.field(factory=dict)  # tag → source name used in operator files
    versions: dict[str, str] = attrs.field(factory=dict)  # tag → versions label
    files: list[InputFile] = attrs.field(factory=list)

    def chance(self, p: float, feature: str | None = None) -> bool:
        hit = self.rng.random() < p
        if hit and feature:
            self.features.add(feature)
        return hit

    def add(self, spec: ImageSpec) -> Built:
        built = build(spec)
        self.images[spec.tag] = (spec, built)
        return built

    def pullspec(self, tag: str) -> str:
        return "{registry}/{repo}@" + self.images[tag][1].digest


def _labels(d: _Draft, tag: str, operator: bool) -> dict[str, str]:
    rng = d.rng
    labels: dict[str, str] = {}
    if operator:
        labels["io.openshift.release.operator"] = rng.choice(("true", "true", "true", "false", "yes"))
    for key in ("commit.id", "commit.ref", "source-location"):
        if rng.random() < 0.6:
            labels[f"io.openshift.build.{key}"] = rng.choice(
                (f"{tag}-{key}", "", "https://github.com/openshift/x")
            )
    if rng.random() < 0.35:
        keys = rng.sample(VERSION_KEYS, rng.randint(1, 2))
        pairs = [f"{k}={rng.choice(('1.29.1', '1.29.1', '1.30.0-rc.1', '39.20231101.3'))}" for k in keys]
        if d.errors and d.chance(0.1, "bad-version-label"):
            pairs.append(rng.choice(("Bad=1.0.0", "etcd=3.5.0", "x=1")))
        labels["io.openshift.build.versions"] = ",".join(pairs)
        d.versions[tag] = labels["io.openshift.build.versions"]
        if rng.random() < 0.3:
            labels["io.openshift.build.version-display-names"] = f"{keys[0]}=Display Name (x)"
    return labels


def _entry_path(d: _Draft, name: str, dot: bool) -> str:
    return ("./" if dot else "") + "manifests/" + name


def resolvable_keys(d: _Draft, refs: Mapping[str, str]) -> list[str]:
    """Version keys exactly one referenced tag declares (so ``0.0.1-snapshot-<key>`` resolves)."""
    count: dict[str, int] = {}
    for tag in refs:
        label = d.versions.get(tag, "")
        for pair in filter(None, label.split(",")):
            key = pair.split("=", 1)[0]
            if key != "kubectl" or tag in ("cli", "cli-artifacts"):
                count[key] = count.get(key, 0) + 1
    return sorted(k for k, n in count.items() if n == 1)


def _operator_layer(d: _Draft, tag: str, refs: Mapping[str, str]) -> list[Entry]:
    """The manifests layer of an operator: files, image-references, whiteouts, noise."""
    rng = d.rng
    dot = d.chance(0.15, "dot-slash-paths")
    entries: list[Entry] = []
    if rng.random() < 0.7:
        entries.append(Entry(("./" if dot else "") + "manifests", None, mtime(rng), 0o755))
    names: set[str] = set()
    with_refs = bool(refs) and rng.random() < 0.85
    # Without an image-references file only the bare placeholder is substituted.
    ctx = content.Context(list(refs.values()), resolvable_keys(d, refs) if with_refs else (), d.errors)
    for _ in range(rng.randint(0, 5)):
        name = content.file_name(rng, tag)
        if name in names:
            continue
        names.add(name)
        docs = [content.document(rng, tag, ctx) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        data = content.render(rng, name, docs, d.errors)
        entries.append(Entry(_entry_path(d, name, dot), data, mtime(rng), rng.choice((0o644, 0o600, 0o755))))
    if with_refs:
        entries.append(
            Entry(_entry_path(d, "image-references", dot), content.image_references(rng, refs), mtime(rng))
        )
    if d.chance(0.1, "subdir-in-manifests"):
        entries.append(
            Entry(_entry_path(d, "sub/nested.yaml", dot), b"kind: A\napiVersion: v1\n", mtime(rng))
        )
    if d.chance(0.1, "whiteout-in-last-layer"):
        entries.append(Entry(_entry_path(d, ".wh.gone.yaml", dot), b"", mtime(rng)))
    if rng.random() < 0.3:
        entries.append(Entry("usr/share/doc/readme.txt", b"not a manifest\n", mtime(rng)))
    rng.shuffle(entries) if d.chance(0.1, "unsorted-layer") else None
    return entries


def _operator(d: _Draft, tag: str, components: list[str]) -> None:
    rng = d.rng
    ref_names = rng.sample(components, min(len(components), rng.randint(0, 3)))
    if rng.random() < 0.7:
        ref_names.append(tag)
    if d.errors and d.chance(0.2, "reference-to-missing-tag"):
        ref_names.append("no-such-component")
    refs = {name: d.sources.setdefault(name, _source(rng, name)) for name in ref_names}
    labels = _labels(d, tag, True)
    layers: list[tuple[Entry, ...]] = []
    if d.chance(0.2, "operator-lower-layer"):
        layers.append(tuple(_operator_layer(d, tag, refs)))
    layers.append((Entry("bin/tool", b"\x7fELF", mtime(rng), 0o755),))
    layers.append(tuple(_operator_layer(d, tag, refs)))
    if d.chance(0.05, "operator-manifests-not-in-last-layer"):
        layers.append((Entry("etc/other", b"x", mtime(rng)),))
    docker = rng.random() < 0.6
    d.add(ImageSpec(tag, tuple(layers), labels, docker=docker))


def _source(rng: random.Random, name: str) -> str:
    return rng.choice(
        (
            f"quay.io/openshift/origin-{name}:latest",
            f"registry.ci.openshift.org/ocp/4.16:{name}",
            f"quay.io/openshift/origin-{name}",
            f"example.com/{name}",
        )
    )


def _base_config(rng: random.Random) -> tuple[dict[str, object], dict[str, object]]:
    extra: dict[str, object] = {}
    inner: dict[str, object] = {}
    if rng.random() < 0.5:
        extra.update({"author": "someone", "docker_version": "20.10", "created": "2024-01-01T00:00:00Z"})
    if rng.random() < 0.3:
        extra.update({"variant": "v8", "os.version": "10.0", "container": "abc", "comment": "base"})
    if rng.random() < 0.7:
        inner.update({"Env": ["PATH=/usr/bin", "A=<&>"], "Entrypoint": ["/usr/bin/cvo"], "WorkingDir": "/"})
    if rng.random() < 0.3:
        inner.update(
            {"StopSignal": "SIGTERM", "ArgsEscaped": True, "User": "1001", "ExposedPorts": {"80/tcp": {}}}
        )
    if rng.random() < 0.2:
        inner.update({"Volumes": {"/data": {}}, "Cmd": None, "Healthcheck": {"Test": ["NONE"]}})
    return extra, inner


def _cvo(d: _Draft, components: list[str]) -> None:
    rng = d.rng
    refs = {CVO: d.sources.setdefault(CVO, _source(rng, CVO))}
    labels = _labels(d, CVO, True)
    layers: list[tuple[Entry, ...]] = [(Entry("bin/cluster-version-operator", b"cvo", 1_700_000_000, 0o755),)]
    if rng.random() < 0.8:
        layers.append(tuple(_operator_layer(d, CVO, refs)))
    extra, inner = _base_config(rng)
    platforms: tuple[tuple[str, str], ...] = ()
    if d.chance(0.25, "base-manifest-list"):
        platforms = rng.choice(
            (
                (("linux", "amd64"), ("linux", "arm64")),
                (("linux", "arm64"), ("linux", "amd64")),
                (("linux", "amd64"),),
            )
        )
    docker = rng.random() < 0.6
    if not docker:
        d.features.add("oci-base")
    spec = ImageSpec(CVO, tuple(layers), labels, docker, extra, inner, platforms)
    d.add(spec)


def _component(d: _Draft, tag: str) -> None:
    rng = d.rng
    layers = ((Entry(f"usr/bin/{tag}", tag.encode(), mtime(rng), 0o755),),)
    platforms: tuple[tuple[str, str], ...] = ()
    if d.chance(0.1, "component-manifest-list"):
        platforms = (("linux", "amd64"), ("linux", "s390x"))
    d.add(
        ImageSpec(
            tag,
            layers,
            _labels(d, tag, False),
            rng.random() < 0.5,
            platforms=platforms,
            compressed=rng.random() < 0.9,
        )
    )


def draw_images(d: _Draft) -> tuple[list[str], list[str]]:
    """Draw the component images; return (operator tags, plain component tags)."""
    rng = d.rng
    components = rng.sample(COMPONENT_NAMES, rng.randint(0, 4))
    for tag in components:
        _component(d, tag)
    operators = rng.sample(OPERATOR_NAMES, rng.randint(0, 4))
    if rng.random() > 0.05:
        _cvo(d, components)
    else:
        d.features.add("no-cvo")
    for tag in operators:
        _operator(d, tag, components + [CVO])
    return operators, components


def generate(seed: int) -> Scenario:
    """Draw the scenario for ``seed``."""
    from .args import draw_command
    from .wide import widen

    rng = random.Random(seed)
    d = _Draft(rng, rng.random() < 0.2)
    if d.errors:
        d.features.add("errors-wanted")
    operators, components = draw_images(d)
    args, phase1 = draw_command(d, operators, components)
    args = widen(seed, args, d.features, d.errors)
    images = tuple(d.images[tag] for tag in sorted(d.images))
    return Scenario(seed, images, tuple(d.files), tuple(args), tuple(phase1), frozenset(d.features))


def image_stream_file(d: _Draft, tags: list[str], public: bool) -> bytes:
    """An input ImageStream naming ``tags`` by digest (some by tag with a status item)."""
    rng = d.rng
    spec_tags: list[dict[str, object]] = []
    status_tags: list[dict[str, object]] = []
    for tag in tags:
        entry: dict[str, object] = {"name": tag}
        digest = d.images[tag][1].digest
        if rng.random() < 0.15:
            d.features.add("input-tag-by-tag")
            entry["from"] = {"kind": "DockerImage", "name": "{registry}/{repo}:" + tag}
            status_tags.append(
                {
                    "tag": tag,
                    "items": [{"dockerImageReference": "{registry}/{repo}@" + digest, "image": digest}],
                }
            )
        else:
            entry["from"] = {"kind": "DockerImage", "name": d.pullspec(tag)}
        if rng.random() < 0.3:
            entry["referencePolicy"] = {"type": "Source"}
        if rng.random() < 0.1:
            entry["annotations"] = {"io.openshift.build.versions": "kubernetes=1.28.0", "custom": "x"}
        spec_tags.append(entry)
    stream: dict[str, object] = {
        "apiVersion": "image.openshift.io/v1",
        "kind": "ImageStream",
        "metadata": {"name": "4.16", "namespace": "ocp"},
        "spec": {"tags": spec_tags},
    }
    status: dict[str, object] = {"tags": status_tags} if status_tags else {}
    if public:
        status["publicDockerImageRepository"] = "{registry}/{repo}"
    if status:
        stream["status"] = status
    if rng.random() < 0.5:
        return json.dumps(stream, indent=2).encode()
    return yaml.safe_dump(stream, sort_keys=False).encode()
