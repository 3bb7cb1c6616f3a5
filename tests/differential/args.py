"""Drawing one ``oc adm release new`` command line (input mode, overrides, flags, destination)."""

from __future__ import annotations

import json
import random

from .images import Entry, ImageSpec
from .scenario import CVO, SEMVERS, InputFile, _Draft, _labels, _operator_layer, image_stream_file, mtime

INPUT_MODES = ("file", "file", "file", "mappings", "dir", "release", "release")
OUTPUTS = (
    "image",
    "image",
    "image",
    "dry-run",
    "dry-run-no-dest",
    "to-dir",
    "to-dir",
    "to-file",
    "to-file-stdout",
    "json",
)


def _override_image(d: _Draft, tag: str, index: int) -> str:
    """Push an override image whose manifests span layers with whiteouts; return its input tag."""
    rng = d.rng
    name = f"override-{index}"
    refs = {tag: d.sources.get(tag, f"quay.io/openshift/origin-{tag}:latest")}
    operator = rng.random() < 0.8
    labels = _labels(d, tag, operator)
    lower = _operator_layer(d, tag, refs)
    upper = _operator_layer(d, tag, refs)
    files = [e.path for e in lower if e.data and "/" in e.path and not e.path.endswith("image-references")]
    if files and d.chance(0.6, "override-whiteouts"):
        victim = rng.choice(files)
        head, _, base = victim.rpartition("/")
        upper.append(Entry(f"{head}/.wh.{base}", b"", mtime(rng)))
    if d.chance(0.15, "override-opaque-whiteout"):
        upper.append(Entry("manifests/.wh..wh..opq", b"", mtime(rng)))
    spec = ImageSpec(name, (tuple(lower), tuple(upper)), labels, rng.random() < 0.5)
    d.add(spec)
    return name


def _mappings(d: _Draft, existing: list[str], all_inputs: bool) -> list[str]:
    """SRC=DST mappings: overrides of existing tags, new tags and (rarely) invalid ones."""
    rng = d.rng
    out: list[str] = []
    if all_inputs:
        for tag in existing:
            dst = d.pullspec(tag)
            if d.chance(0.1, "mapping-by-tag"):
                dst = "{registry}/{repo}:" + tag
            out.append(f"{tag}={dst}")
        return out
    mapped: set[str] = set()
    for index in range(rng.choice((0, 1, 1, 2))):
        target = rng.choice(existing + ["new-component"]) if existing else "new-component"
        if target in existing or target in mapped:  # (a second mapping overrides the tag the first added)
            d.features.add("q6-override-existing")
        mapped.add(target)
        out.append(f"{target}={d.pullspec(_override_image(d, target, index))}")
    if d.chance(0.1 if d.errors else 0.01, "bare-name-mapping"):
        out.append("cli=busybox")
    if d.errors and d.chance(0.1, "bad-mapping"):
        out.append(rng.choice(("novalue=", "=x", "plain")))
    return out


def _semver_list(rng: random.Random) -> str:
    items = rng.sample(SEMVERS, rng.randint(1, 3))
    if rng.random() < 0.02:
        items.append(rng.choice(("v4.1.0", "4.1", "")))
    return ",".join(items)


def _flags(d: _Draft, tags: list[str], mode: str) -> list[str]:
    rng = d.rng
    args: list[str] = []
    if rng.random() < 0.75:
        name = rng.choice(SEMVERS + ("4.16.0-0.okd-scos-2024-01-18-223523",))
        if d.errors and d.chance(0.1, "bad-name"):
            name = rng.choice(("v4.16.0", "4.16", "latest"))
        args += ["--name", name]
    else:
        d.features.add("default-name")
    if d.chance(0.3, "previous"):
        args += ["--previous", _semver_list(rng)]
    if d.chance(0.1, "next"):
        args += ["--next", _semver_list(rng)]
    if d.chance(0.25, "metadata"):
        meta: object = {
            "url": "https://example.test/<&>",
            "n": rng.choice((1, 1.5, 1e21, 1e-7)),
            "nested": {"b": [1, None]},
        }
        if d.errors and d.chance(0.15, "bad-metadata"):
            meta = rng.choice(([1], {"version": 5}, "x"))
        args += ["--metadata", json.dumps(meta)]
    if tags and d.chance(0.15, "exclude"):
        args += ["--exclude", ",".join(rng.sample(tags, 1) + (["unknown-tag"] if rng.random() < 0.3 else []))]
    if tags and d.chance(0.2, "include"):
        args += ["--include", ",".join(rng.sample(tags, min(2, len(tags))))]
    if d.chance(0.15, "allow-missing-images"):
        args.append("--allow-missing-images")
    if d.chance(0.15, "skip-manifest-check"):
        args.append("--skip-manifest-check")
    if CVO in d.images and d.images[CVO][0].platforms and d.chance(0.5, "keep-manifest-list"):
        args.append("--keep-manifest-list")
    if d.chance(0.05, "component-versions"):
        args += ["--component-versions", rng.choice(("kubernetes=1.29.0", "kubernetes=bad"))]
    if mode != "dir" and tags and d.chance(0.04, "to-image-base-tag"):
        args += ["--to-image-base-tag", rng.choice(tags)]
    return args


def _output(d: _Draft) -> list[str]:
    rng = d.rng
    kind = rng.choice(OUTPUTS)
    d.features.add(f"out-{kind}")
    if kind == "image":
        tag = "" if d.chance(0.1, "untagged-to-image") else ":rel"
        args = ["--to-image", "{registry}/{out_repo}" + tag]
        if d.chance(0.2, "to-signature"):
            args += ["--to-signature", "{out}/sig.json"]
        return args
    if kind == "dry-run":
        return ["--dry-run", "--to-image", "{registry}/{out_repo}:rel"]
    if kind == "dry-run-no-dest":
        return []
    if kind == "to-dir":
        return ["--to-dir", "{out}/dir"]
    if kind == "to-file":
        return ["--to-file", "{out}/payload.tar.gz"]
    if kind == "to-file-stdout":
        return ["--to-file", "-"]
    return ["-o", "json"]


def _from_dir(d: _Draft, operators: list[str], tags: list[str]) -> None:
    """Write the operators' manifests as ``{work}/fromdir/<op>/`` plus an image-references file."""
    for op in operators:
        spec = d.images[op][0]
        for entry in spec.layers[-1]:
            path = entry.path.removeprefix("./")
            if entry.data is None or not path.startswith("manifests/") or entry.linkname:
                continue
            rest = path.removeprefix("manifests/")
            if "/" in rest or rest.startswith(".wh."):
                continue
            d.files.append(InputFile(f"fromdir/{op}/{rest}", entry.data, entry.mtime))
    stream = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": "4.16"},
        "spec": {"tags": [{"name": t, "from": {"kind": "DockerImage", "name": d.pullspec(t)}} for t in tags]},
    }
    d.files.append(InputFile("fromdir/image-references", json.dumps(stream).encode()))


def draw_command(d: _Draft, operators: list[str], components: list[str]) -> tuple[list[str], list[str]]:
    """Return (args, phase-1 args building ``{release}`` with oc, empty unless --from-release)."""
    rng = d.rng
    tags = sorted(d.images)
    mode = rng.choice(INPUT_MODES)
    d.features.add(f"in-{mode}")
    args: list[str] = ["--insecure"]
    phase1: list[str] = []
    if mode == "file":
        public = rng.random() < 0.4
        d.files.append(InputFile("is.yaml", image_stream_file(d, tags, public)))
        args += ["-f", "{work}/is.yaml"]
        if not public:
            args.append("--reference-mode=source")
        elif rng.random() < 0.5:
            args.append("--reference-mode=public")
        if public and d.chance(0.25, "mirror"):
            args += ["--mirror", "{registry}/{out_repo}-m"]
        args += _mappings(d, tags, False)
    elif mode == "mappings":
        mappings = _mappings(d, tags, True)
        if mappings and rng.random() < 0.5:
            d.features.add("mapping-file")
            cut = rng.randint(0, len(mappings))
            lines = "\n".join(" ".join(mappings[i : i + 2]) for i in range(0, cut, 2))
            d.files.append(InputFile("mappings.txt", f"# mappings\n{lines}\n\n".encode()))
            args += ["--mapping-file", "{work}/mappings.txt"] + mappings[cut:]
            if cut % 2:  # the file's last line holds mappings[cut] too, which the arguments map again
                d.features.add("q6-override-existing")
        else:
            args += mappings
        args += _mappings(d, tags, False)
    elif mode == "dir":
        _from_dir(d, operators, tags)
        args += ["--from-dir", "{work}/fromdir"]
    else:
        d.files.append(InputFile("is.yaml", image_stream_file(d, tags, False)))
        phase1 = ["--insecure", "-f", "{work}/is.yaml", "--reference-mode=source", "--name", "4.16.0"]
        phase1 += ["--to-image", "{registry}/{repo}-base:r"]
        args += ["--from-release", "{release}"]
        if d.chance(0.45, "canonical-rebuild"):
            return args + _output(d), phase1
        args += _mappings(d, tags, False)
    args += _flags(d, tags, mode)
    args += _output(d)
    return args + _base_image(d, tags), phase1


#: Bases that cannot be read (oc: ``failed to push image D: …``): a missing tag, manifest and repository,
#: no tag or digest, and a text that is no reference.
UNREADABLE_BASES = (
    "{registry}/{repo}:no-such-tag",
    "{registry}/{repo}@sha256:" + "0" * 64,
    "{registry}/no-such/repository:x",
    "{registry}/{repo}",
    "{registry}/{repo}:Not//A-Tag",
)


def _base_image(d: _Draft, tags: list[str]) -> list[str]:
    """``--to-image-base``: another input image, or (errors wanted) one that cannot be read.

    Drawn after everything else, so the draws of the seeds before it was added are unchanged."""
    rng = d.rng
    if not tags or not d.chance(0.08, "to-image-base"):
        return []
    if d.errors and d.chance(0.6, "unreadable-base"):
        return ["--to-image-base", rng.choice(UNREADABLE_BASES)]
    return ["--to-image-base", d.pullspec(rng.choice(tags))]
