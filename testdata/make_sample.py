#!/usr/bin/env python3
"""Write the sample OKD payload: about 85 component images in one OCI image layout, deterministically.

Usage: ``python testdata/make_sample.py [OUT]`` (default: ``testdata/sample-payload`` next to this file).

Everything here is written by us; it only follows the *shape* of a real OKD payload. Operator images
carry the ``io.openshift.release.operator=true`` label and a last layer with ``manifests/`` (a
namespace, a CRD and its config resource, RBAC, a deployment whose images are
``quay.io/okd/scos-content:<tag>`` placeholders listed in ``manifests/image-references``, a
ClusterOperator with ``0.0.1-snapshot`` and ``0.0.1-snapshot-kubernetes`` version placeholders). The
images those image-references name carry the build labels; ``hyperkube`` declares
``io.openshift.build.versions=kubernetes=1.29.4``; ``cluster-version-operator`` is the base image
(Docker schema 2) with ``/manifests`` of its own. A few extra images are referenced by nobody, so a
release built from the layout prunes them.

The output depends only on :data:`SEED` and the code: layer entries have fixed mtimes, owners and
modes, gzip headers carry mtime 0, JSON is written with sorted keys. Only the standard library is
used, so the generator runs before okdrelease is installed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import shutil
import sys
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20240501
#: 2024-04-30T00:00:00Z: mtime of every file in every layer.
MTIME = 1714435200
#: History/config creation time of the component images.
IMAGE_CREATED = "2024-04-30T00:00:00Z"
PLACEHOLDER_REPO = "quay.io/okd/scos-content"
KUBERNETES_VERSION = "1.29.4"
COMMIT_REF = "release-4.16"
BASE_TAG = "cluster-version-operator"
DEFAULT_OUT = Path(__file__).resolve().parent / "sample-payload"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"

OPERATOR_LABEL = "io.openshift.release.operator"
VERSIONS_LABEL = "io.openshift.build.versions"
INCLUDE_ANNOTATIONS = (
    "include.release.openshift.io/self-managed-high-availability",
    "include.release.openshift.io/single-node-developer",
)


# --------------------------------------------------------------------------------------------
# The catalog: which components exist and how they relate


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator image: its tag, ClusterOperator, namespace and the images its deployment runs."""

    tag: str
    cluster_operator: str | None
    namespace: str
    operands: tuple[str, ...] = ()
    run_level: str = "50"
    #: Files carry their own ``0000_<level>_<tag>_`` prefix (else oc adds ``0000_50_<tag>_``).
    prefixed: bool = False
    #: The ClusterOperator and deployment report the Kubernetes version (needs ``hyperkube``).
    kube_version: bool = False
    #: False for manifest-only operators (ConfigMaps, no deployment, no image-references).
    deployment: bool = True
    docker: bool = False

    @property
    def references(self) -> tuple[str, ...]:
        """Tags listed in this operator's image-references (itself first), empty without a deployment."""
        if not self.deployment:
            return ()
        extra = ("hyperkube",) if self.kube_version and "hyperkube" not in self.operands else ()
        return (self.tag, *self.operands, *extra)


def _op(tag: str, co: str | None, ns: str, *operands: str, **kw: object) -> Operator:
    return Operator(tag, co, ns, tuple(operands), **kw)  # type: ignore[arg-type]


OPERATORS: tuple[Operator, ...] = (
    _op("branding", None, "openshift-config-managed", deployment=False, run_level="30", prefixed=True),
    _op(
        "cloud-credential-operator",
        "cloud-credential",
        "openshift-cloud-credential-operator",
        "kube-rbac-proxy",
    ),
    _op(
        "cluster-authentication-operator",
        "authentication",
        "openshift-authentication-operator",
        "oauth-server",
        "oauth-apiserver",
    ),
    _op(
        "cluster-autoscaler-operator",
        "cluster-autoscaler",
        "openshift-machine-api",
        "cluster-autoscaler",
        "kube-rbac-proxy",
    ),
    _op(
        "cluster-baremetal-operator",
        "baremetal",
        "openshift-machine-api",
        "baremetal-operator",
        "ironic",
        "kube-rbac-proxy",
        run_level="30",
        prefixed=True,
    ),
    _op(
        "cluster-capi-operator",
        None,
        "openshift-cluster-api",
        "cluster-capi-controllers",
        run_level="30",
        prefixed=True,
    ),
    _op(
        "cluster-cloud-controller-manager-operator",
        "cloud-controller-manager",
        "openshift-cloud-controller-manager-operator",
        "aws-cloud-controller-manager",
        "kube-rbac-proxy",
        run_level="26",
        prefixed=True,
    ),
    _op(
        "cluster-config-operator",
        "config-operator",
        "openshift-config-operator",
        run_level="03",
        prefixed=True,
    ),
    _op(
        "cluster-control-plane-machine-set-operator",
        "control-plane-machine-set",
        "openshift-machine-api",
        docker=True,
    ),
    _op(
        "cluster-csi-snapshot-controller-operator",
        "csi-snapshot-controller",
        "openshift-cluster-storage-operator",
        "csi-snapshot-controller",
        "csi-snapshot-validation-webhook",
    ),
    _op(
        "cluster-dns-operator",
        "dns",
        "openshift-dns-operator",
        "coredns",
        "kube-rbac-proxy",
        run_level="70",
        prefixed=True,
    ),
    _op("cluster-etcd-operator", "etcd", "openshift-etcd-operator", "etcd", run_level="12", prefixed=True),
    _op(
        "cluster-image-registry-operator",
        "image-registry",
        "openshift-image-registry",
        "docker-registry",
        "cli",
        docker=True,
    ),
    _op(
        "cluster-ingress-operator",
        "ingress",
        "openshift-ingress-operator",
        "haproxy-router",
        "kube-rbac-proxy",
        run_level="50",
        prefixed=True,
    ),
    _op(
        "cluster-kube-apiserver-operator",
        "kube-apiserver",
        "openshift-kube-apiserver-operator",
        "hyperkube",
        run_level="20",
        prefixed=True,
        kube_version=True,
    ),
    _op(
        "cluster-kube-controller-manager-operator",
        "kube-controller-manager",
        "openshift-kube-controller-manager-operator",
        "hyperkube",
        "cluster-policy-controller",
        run_level="25",
        prefixed=True,
        kube_version=True,
    ),
    _op(
        "cluster-kube-scheduler-operator",
        "kube-scheduler",
        "openshift-kube-scheduler-operator",
        "hyperkube",
        run_level="25",
        prefixed=True,
        kube_version=True,
        docker=True,
    ),
    _op(
        "cluster-kube-storage-version-migrator-operator",
        "kube-storage-version-migrator",
        "openshift-kube-storage-version-migrator-operator",
        "kube-storage-version-migrator",
        run_level="40",
        prefixed=True,
    ),
    _op(
        "cluster-machine-approver",
        "machine-approver",
        "openshift-cluster-machine-approver",
        "kube-rbac-proxy",
    ),
    _op(
        "cluster-monitoring-operator",
        "monitoring",
        "openshift-monitoring",
        "prometheus",
        "prometheus-alertmanager",
        "prometheus-operator",
        "prometheus-node-exporter",
        "kube-state-metrics",
        "thanos",
        "kube-rbac-proxy",
        run_level="50",
        prefixed=True,
    ),
    _op(
        "cluster-network-operator",
        "network",
        "openshift-network-operator",
        "multus-cni",
        "ovn-kubernetes",
        "container-networking-plugins",
        "kube-rbac-proxy",
        "hyperkube",
        run_level="70",
        prefixed=True,
        kube_version=True,
    ),
    _op(
        "cluster-node-tuning-operator",
        "node-tuning",
        "openshift-cluster-node-tuning-operator",
        "kube-rbac-proxy",
    ),
    _op(
        "cluster-openshift-apiserver-operator",
        "openshift-apiserver",
        "openshift-apiserver-operator",
        "openshift-apiserver",
        run_level="30",
        prefixed=True,
    ),
    _op(
        "cluster-openshift-controller-manager-operator",
        "openshift-controller-manager",
        "openshift-controller-manager-operator",
        "openshift-controller-manager",
        "route-controller-manager",
        docker=True,
    ),
    _op("cluster-samples-operator", "openshift-samples", "openshift-cluster-samples-operator"),
    _op("cluster-storage-operator", "storage", "openshift-cluster-storage-operator", "kube-rbac-proxy"),
    _op(
        "cluster-update-keys",
        None,
        "openshift-config-managed",
        deployment=False,
        run_level="90",
        prefixed=True,
    ),
    _op(
        "console-operator", "console", "openshift-console-operator", "console", run_level="50", prefixed=True
    ),
    _op("insights-operator", "insights", "openshift-insights"),
    _op(
        "machine-api-operator",
        "machine-api",
        "openshift-machine-api",
        "aws-machine-controllers",
        "kube-rbac-proxy",
        run_level="30",
        prefixed=True,
    ),
    _op(
        "machine-config-operator",
        "machine-config",
        "openshift-machine-config-operator",
        "kube-rbac-proxy",
        "keepalived-ipfailover",
        "coredns",
        "haproxy-router",
        "baremetal-runtimecfg",
        run_level="80",
        prefixed=True,
        docker=True,
    ),
    _op(
        "operator-lifecycle-manager",
        "operator-lifecycle-manager",
        "openshift-operator-lifecycle-manager",
        "operator-registry",
        run_level="50",
        prefixed=True,
    ),
    _op("operator-marketplace", "marketplace", "openshift-marketplace", run_level="03", prefixed=True),
    _op("service-ca-operator", "service-ca", "openshift-service-ca-operator"),
    _op(
        "aws-ebs-csi-driver-operator",
        None,
        "openshift-cluster-csi-drivers",
        "aws-ebs-csi-driver",
        "csi-external-attacher",
        "csi-external-provisioner",
        "csi-external-resizer",
        "csi-node-driver-registrar",
        "csi-livenessprobe",
        "kube-rbac-proxy",
    ),
    _op(
        "gcp-pd-csi-driver-operator",
        None,
        "openshift-cluster-csi-drivers",
        "gcp-pd-csi-driver",
        "csi-external-attacher",
        "csi-external-provisioner",
        "csi-node-driver-registrar",
        "csi-livenessprobe",
    ),
    _op(
        "csi-driver-manila-operator",
        None,
        "openshift-manila-csi-driver",
        "csi-driver-manila",
        "csi-external-provisioner",
        "csi-node-driver-registrar",
        "csi-driver-nfs",
    ),
    _op("vsphere-problem-detector", None, "openshift-cluster-storage-operator"),
    _op(
        "cluster-policy-controller-operator",
        None,
        "openshift-kube-controller-manager",
        "cluster-policy-controller",
    ),
    _op(
        "openshift-state-metrics-operator",
        None,
        "openshift-monitoring",
        "openshift-state-metrics",
        "kube-rbac-proxy",
    ),
)

#: Non-operator components with the label ``io.openshift.build.versions`` they declare.
COMPONENT_VERSIONS: dict[str, str] = {
    "hyperkube": f"kubernetes={KUBERNETES_VERSION}",
    "cli": f"kubectl={KUBERNETES_VERSION}",
}
#: Source repository names that differ from the tag (``https://github.com/openshift/<repo>``).
SOURCE_REPOS: dict[str, str] = {
    "hyperkube": "kubernetes",
    "cli": "oc",
    "tools": "oc",
    "tests": "origin",
    "haproxy-router": "router",
    "docker-registry": "image-registry",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-node-exporter": "node_exporter",
    "cluster-autoscaler": "kubernetes-autoscaler",
    "cluster-capi-controllers": "cluster-api",
    "aws-cloud-controller-manager": "cloud-provider-aws",
    "aws-machine-controllers": "machine-api-provider-aws",
    "csi-driver-manila": "cloud-provider-openstack",
    "multus-cni": "multus-cni",
    "ovn-kubernetes": "ovn-kubernetes",
    "container-networking-plugins": "containernetworking-plugins",
    "keepalived-ipfailover": "images",
    "ironic": "ironic-image",
    "operator-registry": "operator-framework-olm",
    "operator-lifecycle-manager": "operator-framework-olm",
    "operator-marketplace": "operator-marketplace",
}
#: Images nobody references: a release built from the sample prunes them.
UNREFERENCED = ("tools", "tests")
#: An image that ships ``manifests/`` but lacks the operator label, so it is not an operator.
UNLABELLED_WITH_MANIFESTS = "must-gather"


def operand_tags(operators: Sequence[Operator] = OPERATORS) -> list[str]:
    """Return the sorted non-operator tags that some operator's image-references name."""
    own = {op.tag for op in operators}
    return sorted({t for op in operators for t in op.references if t not in own})


def expected_release_tags(operators: Sequence[Operator] = OPERATORS) -> list[str]:
    """Return the tags a release built from the whole sample keeps after pruning (sorted)."""
    return sorted({op.tag for op in operators} | set(operand_tags(operators)) | {BASE_TAG})


# --------------------------------------------------------------------------------------------
# Manifest files of an operator


def _kind_name(op: Operator) -> str:
    base = op.cluster_operator or op.tag.removesuffix("-operator")
    return "".join(part[:1].upper() + part[1:] for part in base.split("-"))


def _plural(kind: str) -> str:
    lower = kind.lower()
    return lower + ("es" if lower.endswith("s") else "s")


def _annotations(indent: str, extra: Iterable[tuple[str, str]] = ()) -> str:
    lines = [f'{indent}{key}: "true"' for key in INCLUDE_ANNOTATIONS]
    lines += [f"{indent}{key}: {value}" for key, value in extra]
    return "\n".join(lines)


def _env_name(tag: str) -> str:
    return tag.upper().replace("-", "_") + "_IMAGE"


def _namespace(op: Operator) -> str:
    extra = [("openshift.io/node-selector", '""'), ("workload.openshift.io/allowed", "management")]
    return f"""apiVersion: v1
kind: Namespace
metadata:
  name: {op.namespace}
  annotations:
{_annotations("    ", extra)}
  labels:
    openshift.io/cluster-monitoring: "true"
"""


def _crd(op: Operator) -> str:
    kind = _kind_name(op)
    plural = _plural(kind)
    return f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.operator.openshift.io
  annotations:
{_annotations("    ", [("api-approved.openshift.io", "https://github.com/openshift/api/pull/0")])}
spec:
  group: operator.openshift.io
  names:
    kind: {kind}
    listKind: {kind}List
    plural: {plural}
    singular: {kind.lower()}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {{}}
    schema:
      openAPIV3Schema:
        description: {kind} configures the {op.tag} component. Sample data.
        type: object
        properties:
          spec:
            type: object
            properties:
              managementState:
                type: string
                pattern: ^(Managed|Unmanaged|Force|Removed)$
              logLevel:
                type: string
                enum: ["", Normal, Debug, Trace, TraceAll]
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"""


def _config_cr(op: Operator) -> str:
    return f"""apiVersion: operator.openshift.io/v1
kind: {_kind_name(op)}
metadata:
  name: cluster
  annotations:
{_annotations("    ", [("release.openshift.io/create-only", '"true"')])}
spec:
  managementState: Managed
"""


def _rbac(op: Operator) -> str:
    return f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {op.tag}
  namespace: {op.namespace}
  annotations:
{_annotations("    ")}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:openshift:operator:{op.tag}
  annotations:
{_annotations("    ")}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  namespace: {op.namespace}
  name: {op.tag}
"""


def _deployment(op: Operator) -> str:
    env = ['        - name: OPERATOR_IMAGE_VERSION\n          value: "0.0.1-snapshot"']
    if op.kube_version:
        env.append('        - name: OPERAND_IMAGE_VERSION\n          value: "0.0.1-snapshot-kubernetes"')
    env += [
        f"        - name: {_env_name(tag)}\n          value: {PLACEHOLDER_REPO}:{tag}"
        for tag in op.references
        if tag != op.tag
    ]
    env_text = "\n".join(env)
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {op.tag}
  namespace: {op.namespace}
  annotations:
{_annotations("    ")}
  labels:
    app: {op.tag}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {op.tag}
  template:
    metadata:
      annotations:
        target.workload.openshift.io/management: '{{"effect": "PreferredDuringScheduling"}}'
      labels:
        app: {op.tag}
    spec:
      serviceAccountName: {op.tag}
      priorityClassName: system-cluster-critical
      containers:
      - name: operator
        image: {PLACEHOLDER_REPO}:{op.tag}
        imagePullPolicy: IfNotPresent
        command: ["/usr/bin/{op.tag}"]
        args:
        - operator
        - --config=/var/run/configmaps/config/config.yaml
        env:
{env_text}
        resources:
          requests:
            cpu: 10m
            memory: 50Mi
        terminationMessagePolicy: FallbackToLogsOnError
      nodeSelector:
        node-role.kubernetes.io/master: ""
      tolerations:
      - key: node-role.kubernetes.io/master
        operator: Exists
        effect: NoSchedule
"""


def _cluster_operator(op: Operator) -> str:
    assert op.cluster_operator is not None
    versions = ['  - name: operator\n    version: "0.0.1-snapshot"']
    if op.kube_version:
        versions.append(f'  - name: {op.cluster_operator}\n    version: "0.0.1-snapshot-kubernetes"')
    versions_text = "\n".join(versions)
    return f"""apiVersion: config.openshift.io/v1
kind: ClusterOperator
metadata:
  name: {op.cluster_operator}
  annotations:
{_annotations("    ", [("exclude.release.openshift.io/internal-openshift-hosted", '"true"')])}
spec: {{}}
status:
  versions:
{versions_text}
  relatedObjects:
  - group: ""
    resource: namespaces
    name: {op.namespace}
  - group: operator.openshift.io
    resource: {_plural(_kind_name(op))}
    name: cluster
"""


def _image_references(op: Operator, as_json: bool) -> str:
    tags = [
        {"name": t, "from": {"kind": "DockerImage", "name": f"{PLACEHOLDER_REPO}:{t}"}} for t in op.references
    ]
    if as_json:
        doc = {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": tags}}
        return json.dumps(doc, indent=2) + "\n"
    lines = ["kind: ImageStream", "apiVersion: image.openshift.io/v1", "spec:", "  tags:"]
    for tag in op.references:
        lines += [
            f"  - name: {tag}",
            "    from:",
            "      kind: DockerImage",
            f"      name: {PLACEHOLDER_REPO}:{tag}",
        ]
    return "\n".join(lines) + "\n"


def _configmap_json(op: Operator) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{op.tag}-config",
            "namespace": op.namespace,
            "annotations": dict.fromkeys(INCLUDE_ANNOTATIONS, "true"),
        },
        "data": {"config.yaml": "apiVersion: operator.openshift.io/v1alpha1\nkind: GenericOperatorConfig\n"},
    }
    return json.dumps(doc, indent=2) + "\n"


def _service_monitor(op: Operator) -> str:
    return f"""apiVersion: v1
kind: Service
metadata:
  name: metrics
  namespace: {op.namespace}
  annotations:
{_annotations("    ", [("service.beta.openshift.io/serving-cert-secret-name", f"{op.tag}-serving-cert")])}
spec:
  selector:
    app: {op.tag}
  ports:
  - name: https
    port: 8443
    targetPort: 8443
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {op.tag}
  namespace: {op.namespace}
  annotations:
{_annotations("    ")}
spec:
  endpoints:
  - interval: 30s
    port: https
    scheme: https
    tlsConfig:
      serverName: metrics.{op.namespace}.svc
  selector:
    matchLabels:
      app: {op.tag}
"""


def _configmaps_only(op: Operator) -> dict[str, str]:
    """Files of a manifest-only operator: a ConfigMap whose data mentions the release version."""
    if op.tag == "cluster-update-keys":
        rng = random.Random(f"{SEED}:{op.tag}:keys")
        fake = "\n    ".join(f"{rng.getrandbits(256):064x}" for _ in range(4))
        data = f"  verifier-public-key-okd: |\n    sample data, not a real key\n    {fake}\n"
        name, body = "release-verification", data
    else:
        name, body = "console-branding", '  branding: okd\n  productVersion: "0.0.1-snapshot"\n'
    return {
        "configmap.yaml": f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {op.namespace}
  annotations:
{_annotations("    ")}
data:
{body}"""
    }


def operator_files(op: Operator, index: int = 0) -> dict[str, bytes]:
    """Return the ``manifests/`` files of ``op`` (name -> bytes); ``index`` varies the optional files."""
    if not op.deployment:
        files = _configmaps_only(op)
    else:
        files = {
            "00_namespace.yaml": _namespace(op),
            "01_crd.yaml": _crd(op),
            "02_config.cr.yaml": _config_cr(op),
        }
        files["03_rbac.yaml"] = _rbac(op)
        files["05_deployment.yaml"] = _deployment(op)
        if op.cluster_operator:
            files["07_clusteroperator.yaml"] = _cluster_operator(op)
        if index % 3 == 0:
            files["04_servicemonitor.yaml"] = _service_monitor(op)
        if index % 5 == 1:
            files["03_config.configmap.json"] = _configmap_json(op)
    out: dict[str, bytes] = {}
    for name, text in sorted(files.items()):
        final = f"0000_{op.run_level}_{op.tag}_{name}" if op.prefixed else name
        out[final] = text.encode()
    if op.references:
        out["image-references"] = _image_references(op, as_json=index % 2 == 1).encode()
    return out


def cvo_files() -> dict[str, bytes]:
    """Return the cluster-version-operator's own ``/manifests`` (shipped in the base image)."""
    ns = "openshift-cluster-version"
    files = {
        "0000_00_cluster-version-operator_00_namespace.yaml": f"""apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  annotations:
{_annotations("    ")}
  labels:
    openshift.io/run-level: ""
""",
        "0000_00_cluster-version-operator_03_deployment.yaml": f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: cluster-version-operator
  namespace: {ns}
  annotations:
{_annotations("    ")}
spec:
  selector:
    matchLabels:
      k8s-app: cluster-version-operator
  template:
    metadata:
      labels:
        k8s-app: cluster-version-operator
    spec:
      containers:
      - name: cluster-version-operator
        image: '{{{{.ReleaseImage}}}}'
        args:
        - start
        - --release-image={{{{.ReleaseImage}}}}
      hostNetwork: true
""",
    }
    return {name: text.encode() for name, text in files.items()}


# --------------------------------------------------------------------------------------------
# Deterministic layers, configs and manifests


@dataclass(frozen=True, slots=True)
class Blob:
    """Bytes with a media type."""

    data: bytes = field(repr=False)
    media_type: str

    @property
    def digest(self) -> str:
        """sha256 of the bytes."""
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, object]:
        """The descriptor JSON object (mediaType, digest, size)."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True, slots=True)
class Layer:
    """A gzip-compressed layer: digest and size of the gzip bytes, sha256 of the tar (the diff ID).

    ``gz`` holds the bytes of small layers; it is None for a layer streamed to a file or registry.
    """

    digest: str
    size: int
    diff_id: str
    gz: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Image:
    """One component image: manifest, config and layers."""

    tag: str
    manifest: Blob
    config: Blob
    layers: tuple[Layer, ...]

    def blobs(self) -> list[Blob]:
        """Config, then every layer whose bytes are held in memory, as Blobs."""
        out = [self.config]
        out += [Blob(layer.gz, OCI_LAYER_GZIP) for layer in self.layers if layer.gz is not None]
        return out


def tar_entries(files: dict[str, bytes], mode: int = 0o644) -> list[tuple[str, bytes | None]]:
    """Return sorted tar entries for ``files``, each parent directory first (None = a directory)."""
    entries: dict[str, bytes | None] = {}
    for name in sorted(files):
        parts = name.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), None)
        entries[name] = files[name]
    return sorted(entries.items())


def tar_header(name: str, size: int | None, mtime: int = MTIME, mode: int = 0o644) -> tarfile.TarInfo:
    """Return a fixed-owner TarInfo for a file of ``size`` bytes, or a 0755 directory when size is None."""
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if size is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = size
        info.mode = mode
    return info


def make_layer(files: dict[str, bytes], mtime: int = MTIME, executables: Iterable[str] = ()) -> Layer:
    """Return a deterministic PAX tar of ``files`` (parents added), gzip-compressed with header mtime 0."""
    exec_set = set(executables)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in tar_entries(files):
            info = tar_header(
                name, None if data is None else len(data), mtime, 0o755 if name in exec_set else 0o644
            )
            tar.addfile(info, None if data is None else io.BytesIO(data))
    tar_bytes = raw.getvalue()
    gz = gzip.compress(tar_bytes, compresslevel=9, mtime=0)
    return Layer(_sha256(gz), len(gz), _sha256(tar_bytes), gz)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def labels_for(tag: str, *, operator: bool, seed: int = SEED) -> dict[str, str]:
    """Return the build labels of component ``tag`` (commit id derived from ``seed`` and the tag)."""
    repo = SOURCE_REPOS.get(tag, tag)
    commit = hashlib.sha1(f"{seed}:{tag}".encode()).hexdigest()
    source = f"https://github.com/openshift/{repo}"
    labels = {
        "io.k8s.display-name": f"OKD sample {tag}",
        "io.k8s.description": f"Sample {tag} image for okdrelease (not a real build).",
        "io.openshift.build.commit.id": commit,
        "io.openshift.build.commit.ref": COMMIT_REF,
        "io.openshift.build.commit.url": f"{source}/commit/{commit}",
        "io.openshift.build.source-location": source,
        "io.openshift.tags": f"okd,sample,{tag}",
        "vcs-ref": commit,
        "vcs-type": "git",
        "vcs-url": source,
    }
    if operator:
        labels[OPERATOR_LABEL] = "true"
    if tag in COMPONENT_VERSIONS:
        labels[VERSIONS_LABEL] = COMPONENT_VERSIONS[tag]
    return labels


def image_config(
    labels: dict[str, str],
    layers: Sequence[Layer],
    entrypoint: str,
    history: Sequence[str],
    created: str = IMAGE_CREATED,
) -> bytes:
    """Return image config JSON (sorted keys, compact) for ``layers`` with one history entry per layer."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=oci"],
            "Entrypoint": [entrypoint],
            "Labels": labels,
            "User": "65534",
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": created, "created_by": step} for step in history],
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def build_image(tag: str, config: bytes, layers: Sequence[Layer], docker: bool) -> Image:
    """Return the image of ``config`` and ``layers`` with an OCI or Docker schema 2 manifest."""
    config_blob = Blob(config, DOCKER_CONFIG if docker else OCI_CONFIG)
    layer_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [{"mediaType": layer_type, "digest": layer.digest, "size": layer.size} for layer in layers],
    }
    raw = json.dumps(manifest, indent=2).encode()
    return Image(tag, Blob(raw, DOCKER_MANIFEST if docker else OCI_MANIFEST), config_blob, tuple(layers))


def base_layer(seed: int = SEED) -> Layer:
    """Return the tiny base layer every sample image shares (a few small files and 2 KiB of seeded bytes)."""
    rng = random.Random(f"{seed}:base")
    files = {
        "etc/os-release": b'NAME="okdrelease sample base"\nID=okd-sample\nVERSION_ID="9"\n',
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
        "etc/group": b"root:x:0:\nnobody:x:65534:\n",
        "usr/share/okd-sample/README": b"Base layer of the okdrelease sample payload. Not a real operating system.\n",
        "usr/share/okd-sample/seed.bin": rng.randbytes(2048),
    }
    return make_layer(files)


def _binary(tag: str, seed: int, size: int) -> bytes:
    rng = random.Random(f"{seed}:bin:{tag}")
    head = f"#!/bin/sh\n# {tag}: sample component of the okdrelease test payload\n".encode()
    return head + rng.randbytes(max(size - len(head), 0) // 2).hex().encode()


def component_image(
    tag: str,
    bases: Sequence[Layer],
    *,
    manifests: dict[str, bytes] | None = None,
    operator: bool = False,
    docker: bool = False,
    seed: int = SEED,
    binary_size: int = 192,
) -> Image:
    """Return ``bases`` plus a top layer with ``usr/bin/<tag>`` (about ``binary_size`` bytes) and ``manifests/``."""
    files = {f"usr/bin/{tag}": _binary(tag, seed, binary_size)}
    for name, data in (manifests or {}).items():
        files[f"manifests/{name}"] = data
    top = make_layer(files, executables=[f"usr/bin/{tag}"])
    history = [f"ADD base-{i}.tar /" for i in range(len(bases))]
    history.append(f"COPY {tag} /usr/bin/ && COPY manifests /manifests")
    layers = [*bases, top]
    config = image_config(labels_for(tag, operator=operator, seed=seed), layers, f"/usr/bin/{tag}", history)
    return build_image(tag, config, layers, docker)


def sample_images(seed: int = SEED) -> list[Image]:
    """Return every image of the sample payload, sorted by tag."""
    base = base_layer(seed)
    images = [
        component_image(
            op.tag, [base], manifests=operator_files(op, i), operator=True, docker=op.docker, seed=seed
        )
        for i, op in enumerate(OPERATORS)
    ]
    for i, tag in enumerate([*operand_tags(), *UNREFERENCED]):
        images.append(component_image(tag, [base], docker=tag == "hyperkube" or i % 4 == 3, seed=seed))
    must_gather = {"README.md": b"must-gather ships manifests/ but no operator label, so oc ignores them.\n"}
    images.append(component_image(UNLABELLED_WITH_MANIFESTS, [base], manifests=must_gather, seed=seed))
    images.append(component_image(BASE_TAG, [base], manifests=cvo_files(), docker=True, seed=seed))
    return sorted(images, key=lambda image: image.tag)


# --------------------------------------------------------------------------------------------
# The OCI layout


def write_layout(images: Sequence[Image], out: Path) -> None:
    """Write ``images`` into a fresh OCI layout at ``out`` (ref name = tag); replaces an existing layout."""
    if out.exists():
        if not (out / "oci-layout").is_file() and any(out.iterdir()):
            raise SystemExit(f"refusing to overwrite {out}: not an OCI layout and not empty")
        shutil.rmtree(out)
    blobs_dir = out / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True)
    entries = []
    for image in images:
        if len(image.blobs()) != 1 + len(image.layers):
            raise ValueError(f"image {image.tag} has layers whose bytes are not in memory")
        for blob in (*image.blobs(), image.manifest):
            path = blobs_dir / blob.digest.removeprefix("sha256:")
            if not path.exists():
                path.write_bytes(blob.data)
        entry = image.manifest.descriptor()
        entry["annotations"] = {REF_NAME: image.tag}
        entries.append(entry)
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the sample layout; print its image count, blob count and size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "out", nargs="?", type=Path, default=DEFAULT_OUT, help=f"output directory ({DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    images = sample_images()
    write_layout(images, args.out)
    blobs = list((args.out / "blobs" / "sha256").iterdir())
    size = sum(p.stat().st_size for p in blobs)
    operators = sum(1 for op in OPERATORS)
    print(f"{args.out}: {len(images)} images ({operators} operators), {len(blobs)} blobs, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
