"""The examples every command's ``--help`` ends with (kept apart so the registrations stay short).

Each example is a complete command line; ``HEX`` stands for a digest's 64 hexadecimal digits.
"""

from __future__ import annotations

_RELEASE = "quay.io/okd/scos-release:4.16.0-okd-scos.0"

#: ``prog`` without ``okdrelease `` → the epilog of its ``--help``.
EXAMPLES: dict[str, str] = {
    "new": f"""\
examples:
  # Rebuild a release with one component replaced, and push it
  okdrelease new --from-release {_RELEASE} --name 4.16.0-okd-scos.0.1 \\
    cli=quay.io/me/cli:fix --to-image quay.io/me/release:4.16.0-okd-scos.0.1

  # Build a release from a saved ImageStream (oc get imagestream -o yaml) and push it
  okdrelease new -f is.yaml --name 4.16.0-okd.1 --previous 4.16.0-okd.0 \\
    --to-image quay.io/me/release:4.16.0-okd.1

  # Build from the images of an OCI layout into another OCI layout, without a registry
  okdrelease new --from-oci-layout testdata/sample-payload --layout-repository quay.io/okd/scos-content \\
    --name 4.16.0-okd.sample --to-image oci:/tmp/okd-release:4.16.0-okd.sample

  # Write only the release manifests, or check that a release can be reproduced
  okdrelease new --from-release {_RELEASE} --to-dir /tmp/release-manifests
  okdrelease new --from-release {_RELEASE}
""",
    "info": f"""\
examples:
  okdrelease info {_RELEASE}
  okdrelease info --commits oci:/tmp/okd-release:4.16.0-okd.sample
  okdrelease info --image-for cluster-version-operator {_RELEASE}
  okdrelease info -o jsonpath='{{.metadata.version}}' {_RELEASE}
  okdrelease info quay.io/okd/scos-release:4.15.0-0.okd-scos-2024-01-18-223523 \\
    {_RELEASE}
""",
    "extract": f"""\
examples:
  okdrelease extract --to /tmp/release-manifests {_RELEASE}
  okdrelease extract --file image-references {_RELEASE}
  okdrelease extract --credentials-requests --cloud=aws --to /tmp/credreqs \\
    {_RELEASE}
  okdrelease extract --included --install-config install-config.yaml --to /tmp/manifests \\
    {_RELEASE}
""",
    "copy": """\
examples:
  okdrelease copy docker://quay.io/okd/scos-content:cli docker://registry.example.com/okd/cli:latest
  okdrelease copy --multi-arch system quay.io/okd/scos-content:cli oci:/tmp/cli:latest
  okdrelease copy --dest-creds alice --dest-cert-dir /etc/my-registry-certs \\
    oci:/tmp/cli:latest docker://registry.example.com/okd/cli:latest
  okdrelease copy --format oci --digestfile /tmp/digest oci:/tmp/okd-release oci:/tmp/okd-release-oci
  okdrelease copy --sign-by 0123456789ABCDEF0123456789ABCDEF01234567 --lookaside /tmp/lookaside \\
    oci:/tmp/cli:latest docker://registry.example.com/okd/cli:latest
""",
    "mirror": f"""\
examples:
  okdrelease mirror --from {_RELEASE} --to registry.example.com/okd/release
  okdrelease mirror --from {_RELEASE} --to-dir /tmp/mirror
  okdrelease mirror --dry-run --from {_RELEASE} \\
    --to registry.example.com/okd/release
""",
    "sign": """\
examples:
  okdrelease sign --key secret.asc --signature-dir /tmp/signatures quay.io/me/release@sha256:HEX
  okdrelease sign --sign-by-gpg 0123456789ABCDEF0123456789ABCDEF01234567 --lookaside /tmp/lookaside \\
    quay.io/me/release@sha256:HEX
  okdrelease sign --cosign-key cosign.key quay.io/me/release@sha256:HEX
""",
    "verify": """\
examples:
  okdrelease verify --keyring public.asc --signature-dir /tmp/signatures quay.io/me/release@sha256:HEX
  okdrelease verify --cosign-key cosign.pub quay.io/me/release@sha256:HEX
  okdrelease verify --policy policy.json quay.io/me/release:4.16.0-okd.1
""",
    "keys": """\
examples:
  okdrelease keys generate --pgp --name "OKD Release <release@example.com>" --out /tmp/keys
  okdrelease keys configmap --keyring /tmp/keys/public.asc --store https://storage.example.com/signatures
""",
    "keys generate": """\
examples:
  okdrelease keys generate --pgp --name "OKD Release <release@example.com>" --out /tmp/keys
  okdrelease keys generate --pgp --algorithm ed25519 --passphrase-file pass.txt --out /tmp/keys
  okdrelease keys generate --cosign --out /tmp/keys
""",
    "keys configmap": """\
examples:
  okdrelease keys configmap --keyring /tmp/keys/public.asc --store https://storage.example.com/signatures
  okdrelease keys configmap --keyring okd=/tmp/keys/public.asc --store okd=https://storage.example.com/sigs \\
    -o release-verification.yaml
""",
    "cache": """\
examples:
  okdrelease cache info
  okdrelease cache prune --max-size 500M
  okdrelease cache prune --all --cache-dir /var/cache/okdrelease
""",
}
