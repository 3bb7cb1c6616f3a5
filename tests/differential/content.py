"""Random operator manifest files: names, Kubernetes-like documents and their byte renderings.

Everything is drawn from a ``random.Random`` so a seed reproduces the same bytes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence

import attrs
import yaml

# Names whose destination (``0000_…`` kept, others prefixed) can collide across operators.
SHARED_NAMES = ("0000_50_shared.yaml", "0000_10_config-operator_01_crd.yaml", "0000_90_shared.json")
PLAIN_NAMES = (
    "deployment.yaml",
    "00-namespace.yaml",
    "01-rbac.yaml",
    "config.json",
    "crd.yml",
    "README.md",
    "OWNERS",
    "a.b.c.yaml",
    "servicemonitor.yaml.bak",
    "my file.yaml",
    "release-metadata",
    "ñandú-config.yaml",
    "日本語.yaml",
    "image-references.yaml",
)
KINDS = (
    ("apps/v1", "Deployment"),
    ("v1", "ConfigMap"),
    ("v1", "Namespace"),
    ("config.openshift.io/v1", "ClusterOperator"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
)
PLACEHOLDERS = ("0.0.1-snapshot", "v0.0.1-snapshot", "x0.0.1-snapshot", "0.0.1-snapshotted")
BAD_PLACEHOLDERS = (
    "0.0.1-snapshot-kubernetes",
    "0.0.1-snapshot-",
    "0.0.1-snapshot-machine-os",
    "0.0.1-snapshot-a_b",
)
ODD_STRINGS = (
    "yes",
    "on",
    "null",
    "~",
    "012",
    "1e3",
    "0x1F",
    "true",
    "- item",
    "key: value",
    "# not a comment",
    "trailing space ",
    " leading space",
    "tab\tinside",
    "line one\nline two\n",
    "no trailing newline\nsecond",
    "ends with two newlines\n\n",
    'quote\'s "double"',
    "émoji 🚀 ünïcode",
    "<html>&amp;</html>",
    "\u2028separator",
    "",
    "@at",
    "`backtick",
    "%percent",
    "*star",
    "&anchor",
    "!tag",
    "colon: inside",
    "x" * 150,
    " ".join(["long words"] * 20),
)


# Files oc's manifest check refuses (or, for the last ones, accepts although they look wrong).
BROKEN = (
    "",
    "key: [unclosed\n",
    "- a\n- b\n",
    '{"a": 1,}\n',
    "\t{}\n",
    "just text\n",
    'kind: A\napiVersion: v1\nx: "\\ud800"\n',
    'kind: A\napiVersion: v1\nx: "\\U00110000"\n',
    "kind: A\napiVersion: v1\nx: *undefined\n",
    "kind: A\napiVersion: v1\nkind: B\n",
)


def file_name(rng: random.Random, operator: str) -> str:
    """A manifest file name: plain, shared (colliding), unicode, dotted or long."""
    roll = rng.random()
    if roll < 0.2:
        return rng.choice(SHARED_NAMES)
    if roll < 0.3:
        return f"0000_50_{operator}_{rng.randint(0, 99):02d}-x.yaml"
    if roll < 0.38:
        return "long-" + "n" * rng.randint(60, 130) + rng.choice((".yaml", ".json", ""))
    if roll < 0.45:
        return f"{rng.randint(0, 99):02d}-{rng.choice(['svc', 'sa', 'cm'])}.{rng.choice(['yaml', 'yml', 'json'])}"
    return rng.choice(PLAIN_NAMES)


@attrs.frozen
class Context:
    """What a document may mention: image sources, resolvable version keys, and whether errors are wanted."""

    sources: Sequence[str]
    version_keys: Sequence[str] = ()
    errors: bool = False

    def placeholder(self, rng: random.Random) -> str:
        """A version placeholder; ``0.0.1-snapshot-<k>`` only for keys that resolve (unless errors)."""
        choices = list(PLACEHOLDERS) + [f"0.0.1-snapshot-{k}" for k in self.version_keys]
        if self.errors:
            choices += BAD_PLACEHOLDERS
        return rng.choice(choices)


def scalar(rng: random.Random, ctx: Context) -> object:
    """A scalar: an image reference in some context, a placeholder, an odd string or a number."""
    sources = ctx.sources
    roll = rng.random()
    if sources and roll < 0.3:
        src = rng.choice(sources)
        pattern = rng.choice(
            (
                "{s}",
                "{s}",
                "--image={s}",
                "{s}:v1.2.3",
                "{s}@sha256:" + "a" * 64,
                "{s},other",
                '"{s}"',
                "{s} {s}",
            )
        )
        return pattern.format(s=src)
    if roll < 0.42:
        return ctx.placeholder(rng) + rng.choice(("", "", " trailing", "/path"))
    if roll < 0.7:
        return rng.choice(ODD_STRINGS)
    if roll < 0.8:
        return rng.choice((0, 1, -3, 1.5, 1e21, 1e-7, 2**53 + 1, True, False, None))
    return f"value-{rng.randint(0, 999)}"


def value(rng: random.Random, ctx: Context, depth: int = 0) -> object:
    """A nested value (maps, lists, scalars)."""
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        return {f"k{i}-{rng.randint(0, 9)}": value(rng, ctx, depth + 1) for i in range(rng.randint(0, 3))}
    if depth < 3 and roll < 0.4:
        return [value(rng, ctx, depth + 1) for _ in range(rng.randint(0, 3))]
    return scalar(rng, ctx)


def document(rng: random.Random, operator: str, ctx: Context) -> dict[str, object]:
    """A Kubernetes-like object carrying image references and version placeholders."""
    api_version, kind = rng.choice(KINDS)
    doc: dict[str, object] = {"apiVersion": api_version, "kind": kind}
    meta: dict[str, object] = {"name": f"{operator}-{rng.randint(0, 99)}"}
    if rng.random() < 0.5:
        meta["namespace"] = f"openshift-{operator}"
    if rng.random() < 0.4:
        meta["annotations"] = {
            "include.release.openshift.io/self-managed-high-availability": "true",
            "release.openshift.io/version": ctx.placeholder(rng),
        }
    doc["metadata"] = meta
    body = {f"field{i}": value(rng, ctx) for i in range(rng.randint(1, 5))}
    if ctx.sources and rng.random() < 0.6:
        body["image"] = rng.choice(ctx.sources)
    doc["data" if kind == "ConfigMap" else "spec"] = body
    if ctx.errors and rng.random() < 0.1:
        del doc["kind"]
    return doc


def _yaml(rng: random.Random, doc: object) -> str:
    return yaml.safe_dump(
        doc,
        default_flow_style=rng.choice((False, False, None, True)),
        sort_keys=rng.random() < 0.5,
        allow_unicode=rng.random() < 0.5,
        width=rng.choice((80, 40, 4096)),
        indent=rng.choice((2, 2, 4)),
        explicit_start=rng.random() < 0.3,
    )


def _json(rng: random.Random, doc: object) -> str:
    indent = rng.choice((None, 2, 4, "\t"))
    return json.dumps(doc, indent=indent, ensure_ascii=rng.random() < 0.5, sort_keys=rng.random() < 0.5)


def render(rng: random.Random, name: str, docs: Sequence[Mapping[str, object]], errors: bool) -> bytes:
    """Bytes of a manifest file in a random style (YAML/JSON, multi-document, CRLF, BOM, comments)."""
    roll = rng.random()
    if errors and roll < 0.1:
        text = rng.choice(BROKEN)
    elif name.endswith(".json") or roll < 0.3:
        text = _json(rng, docs[0]) + rng.choice(("\n", "", "\n\n"))
    else:
        parts = [_yaml(rng, doc) for doc in docs]
        text = "---\n".join(parts) if len(parts) > 1 else parts[0]
        if rng.random() < 0.2:
            text = "# comment line\n" + text
        if rng.random() < 0.1:
            text = text.rstrip("\n")
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    data = text.encode()
    if rng.random() < 0.07:
        data = b"\xef\xbb\xbf" + data
    return data


def image_references(rng: random.Random, tags: Mapping[str, str]) -> bytes:
    """An operator's image-references ImageStream naming ``tags`` (name → source), YAML or JSON."""
    stream = {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "spec": {
            "tags": [
                {"name": name, "from": {"kind": "DockerImage", "name": src}} for name, src in tags.items()
            ]
        },
    }
    if rng.random() < 0.5:
        return (json.dumps(stream, indent=2) + "\n").encode()
    return yaml.safe_dump(stream, sort_keys=False).encode()
