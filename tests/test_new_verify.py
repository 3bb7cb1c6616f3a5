"""``new --verify-components POLICY.json`` (issue 12 item 4) and ``new --sign-by-gpg``/``--lookaside``.

Component images are built by imagegen into the loopback registry and signed with okdrelease's own
sign library into a lookaside directory that a registries.d file names; the policy requires that key.
"""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from imagegen import make_image
from registry_rig import LocalCA, RegistryInfo

from okdrelease import cli
from okdrelease.errors import NotFoundError
from okdrelease.sign.api import CVO_EDDSA_WARNING, sign_release
from okdrelease.sign.lookaside import DockerName, lookaside_dir, registries_d_snippet, signed_by_policy
from okdrelease.sign.openpgp import SecretKey, generate_key
from okdrelease.sign.policy import PolicyChecker
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.open import DefaultTransport

sys.path.insert(0, str(Path(__file__).parent / "sign"))
from gpg_support import gpg, kill_agent  # noqa: E402

NAME = "4.16.0-okd.verified"
CREATED = "2024-05-01T00:00:00Z"


@attrs.frozen
class Signed:
    """Two components in one repository, the key that signs them, a policy and a registries.d."""

    repository: str
    digests: dict[str, str]
    key: SecretKey
    lookaside: Path
    policy: Path
    registries_d: Path


def _sign(env: Signed, component: str, key: SecretKey | None = None, digest: str | None = None) -> None:
    """Sign ``component`` with ``key`` (default: the policy's) naming ``digest`` (default: its own)."""
    image = f"{env.repository}@{digest or env.digests[component]}"
    if digest is None:
        sign_release(image, key or env.key, lookaside=env.lookaside)
        return
    # A valid signature by the right key, but for another digest, placed where the component's is read.
    elsewhere = env.lookaside.parent / "elsewhere"
    made = sign_release(image, key or env.key, lookaside=elsewhere)
    assert made.lookaside_path is not None
    target = lookaside_dir(env.lookaside, DockerName.parse(env.repository), env.digests[component])
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(made.lookaside_path, target / "signature-1")


@pytest.fixture(scope="module")
def policy_key() -> SecretKey:
    return generate_key("okdrelease components <components@example.com>", algorithm="ed25519")


@pytest.fixture
def signed(tmp_path: Path, registry_http: RegistryInfo, unique_repo: Any, policy_key: SecretKey) -> Signed:
    """cluster-version-operator signed; cli not yet (each test decides)."""
    repository = f"{registry_http.host}/{unique_repo('components')}"
    digests = {}
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        repo, _ = transport.open(repository)
        for index, tag in enumerate(("cluster-version-operator", "cli")):
            digests[tag] = make_image(repo, tag, seed=f"verify-{repository}-{index}").digest
    name = DockerName.parse(repository)
    registries_d = tmp_path / "registries.d"
    registries_d.mkdir()
    lookaside = tmp_path / "lookaside"
    (registries_d / "okd.yaml").write_text(registries_d_snippet(name, lookaside.as_uri()))
    requirement = {
        "type": "signedBy",
        "keyType": "GPGKeys",
        "keyData": base64.b64encode(policy_key.export_public().encode()).decode(),
    }
    policy = tmp_path / "policy.json"
    document = {"default": [{"type": "reject"}], "transports": {"docker": {repository: [requirement]}}}
    policy.write_text(json.dumps(document))
    env = Signed(repository, digests, policy_key, lookaside, policy, registries_d)
    _sign(env, "cluster-version-operator")
    return env


def _new(env: Signed, destination: str, *extra: str) -> list[str]:
    mappings = [f"{tag}={env.repository}@{digest}" for tag, digest in env.digests.items()]
    return [
        "new",
        "--insecure",
        "--name",
        NAME,
        "--created",
        CREATED,
        "--to-image",
        destination,
        "--verify-components",
        str(env.policy),
        "--registries.d",
        str(env.registries_d),
        *extra,
        *mappings,
    ]


def _tags(repository: str) -> list[str]:
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        repo, _ = transport.open(repository)
        try:
            return repo.list_tags()
        except NotFoundError:
            return []


def test_signed_components_pass_and_the_release_is_built(
    signed: Signed, capsys: pytest.CaptureFixture[str], unique_repo: Any, registry_http: RegistryInfo
) -> None:
    _sign(signed, "cli")
    destination = f"{registry_http.host}/{unique_repo('release')}"
    assert cli.main(_new(signed, f"{destination}:{NAME}")) == 0
    captured = capsys.readouterr()
    assert f"info: Verified 2 component images against the policy {signed.policy}\n" in captured.err
    assert captured.out.startswith("sha256:") and f" {NAME} {CREATED}\n" in captured.out
    assert _tags(destination) == [NAME]


@pytest.mark.parametrize("case", ["unsigned", "other key", "other digest"])
def test_refused_components_stop_the_run_and_nothing_is_pushed(
    case: str,
    signed: Signed,
    capsys: pytest.CaptureFixture[str],
    unique_repo: Any,
    registry_http: RegistryInfo,
    tmp_path: Path,
) -> None:
    digest = signed.digests["cli"]
    other = generate_key("someone else <else@example.com>", algorithm="ed25519")
    if case == "other key":
        _sign(signed, "cli", key=other)
    elif case == "other digest":
        _sign(signed, "cli", digest=signed.digests["cluster-version-operator"])
    destination = f"{registry_http.host}/{unique_repo('release')}"
    mirror = f"{registry_http.host}/{unique_repo('mirror')}"
    work = tmp_path / "work"
    code = cli.main(_new(signed, f"{destination}:{NAME}", "--mirror", mirror, "--dir", str(work)))
    captured = capsys.readouterr()
    assert code == 1
    reason = {
        "unsigned": "A signature was required, but no signature exists",
        "other key": f"invalid signature: unknown signing key {other.fingerprint[-16:]}",
        "other digest": f"Signature for digest {signed.digests['cluster-version-operator']} does not match",
    }[case]
    assert captured.err == (
        f'error: component "cli" refused: docker://{signed.repository}@{digest}: '
        f'rejected by policy transports.docker["{signed.repository}"]: {reason}\n'
    )
    assert captured.out == ""
    assert _tags(destination) == [] and _tags(mirror) == []
    assert not work.exists()


@pytest.fixture
def https_lookaside(signed: Signed, registry_ca: LocalCA) -> Iterator[str]:
    """``signed``'s lookaside directory served over HTTPS with a certificate of the session's test
    CA (not trusted by the system), and its registries.d pointed at that URL."""
    cert, key = registry_ca.issue_server_cert("components-lookaside")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(signed.lookaside), **kwargs)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server API
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    name = DockerName.parse(signed.repository)
    (signed.registries_d / "okd.yaml").write_text(registries_d_snippet(name, url))
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_an_https_lookaside_is_read_with_the_runs_certificate_authority(
    signed: Signed,
    https_lookaside: str,
    registry_ca: LocalCA,
    registry_http: RegistryInfo,
    capsys: pytest.CaptureFixture[str],
    unique_repo: Any,
) -> None:
    """Before: the policy's lookaside was read with requests' own trust whatever the run's flags,
    so --certificate-authority did not help (TLS verification failed for the first component)."""
    _sign(signed, "cli")
    destination = f"{registry_http.host}/{unique_repo('release')}"
    # Only the plain-HTTP registry is insecure: the lookaside's certificate is verified.
    argv = _new(signed, f"{destination}:{NAME}")
    argv[argv.index("--insecure")] = f"--insecure-registry={registry_http.host}"
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    host = https_lookaside.removeprefix("https://")
    path = signed.repository.partition("/")[2]
    refusals = {
        f'error: verifying component "{tag}" ({signed.repository}@{digest}): reading signature from'
        f" {https_lookaside}/{path}@{digest.replace(':', '=')}/signature-1: TLS verification failed"
        " (certificate verify failed: unable to get local issuer certificate); trust its CA with"
        f" --certificate-authority or certs.d/{host}, or mark it insecure (--insecure-registry {host})"
        " if it serves an untrusted certificate\n"
        for tag, digest in signed.digests.items()
    }
    assert err in refusals  # the components are checked at once: either may fail first
    assert _tags(destination) == []
    assert cli.main([*argv, "--certificate-authority", str(registry_ca.ca_file)]) == 0
    captured = capsys.readouterr()
    assert f"info: Verified 2 component images against the policy {signed.policy}\n" in captured.err
    assert _tags(destination) == [NAME]


def test_policy_and_option_errors(
    signed: Signed, capsys: pytest.CaptureFixture[str], unique_repo: Any, registry_http: RegistryInfo
) -> None:
    destination = f"{registry_http.host}/{unique_repo('release')}"
    missing = signed.policy.parent / "missing.json"
    args = _new(signed, f"{destination}:{NAME}")
    args[args.index(str(signed.policy))] = str(missing)
    assert cli.main(args) == 1
    assert capsys.readouterr().err == (f"error: cannot read policy {missing}: No such file or directory\n")
    without = [
        a
        for a in _new(signed, f"{destination}:{NAME}")
        if a not in ("--verify-components", str(signed.policy))
    ]
    assert cli.main(without) == 2
    assert capsys.readouterr().err.endswith("error: --registries.d requires --verify-components\n")
    assert cli.main([*_new(signed, f"{destination}:{NAME}"), "--lookaside", str(signed.lookaside)]) == 2
    assert capsys.readouterr().err.endswith("error: --lookaside requires --sign-by or --sign-by-gpg\n")
    assert _tags(destination) == []


@pytest.fixture
def gpg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A throwaway GNUPGHOME with one ed25519 signing key (no passphrase); its fingerprint."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    uid = "okdrelease release <release@example.com>"
    made = gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    assert made.returncode == 0, made.stderr
    listed = gpg(home, "--with-colons", "--list-keys", uid).stdout.decode()
    fingerprint = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))
    monkeypatch.setenv("GNUPGHOME", str(home))
    try:
        yield home, fingerprint
    finally:
        kill_agent(home)


def test_sign_by_gpg_writes_the_release_signature_to_the_lookaside(
    signed: Signed,
    gpg_home: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    unique_repo: Any,
    registry_http: RegistryInfo,
    tmp_path: Path,
) -> None:
    """Verified components, then the release signed through gpg into a lookaside and a store;
    the library's EdDSA warning is a progress line; containers/image's policy accepts the release."""
    home, fingerprint = gpg_home
    _sign(signed, "cli")
    destination = f"{registry_http.host}/{unique_repo('release')}"
    lookaside, store = tmp_path / "release-lookaside", tmp_path / "store"
    extra = ["--sign-by-gpg", fingerprint, "--lookaside", str(lookaside), "--signature-dir", str(store)]
    assert cli.main(_new(signed, f"{destination}:{NAME}", *extra)) == 0
    captured = capsys.readouterr()
    digest = captured.out.split()[0]
    name = DockerName.parse(destination)
    written = lookaside_dir(lookaside, name, digest) / "signature-1"
    assert f"info: Signed {destination}@{digest} with {fingerprint}: {written}\n" in captured.err
    assert (
        f"info: Signed {destination}@{digest} with {fingerprint}: {store}/sha256={digest[7:]}/signature-1\n"
        in captured.err
    )
    assert f"warning: {CVO_EDDSA_WARNING}\n" in captured.err
    checked = gpg(home, "--status-fd", "1", "--verify", str(written))
    assert f"VALIDSIG {fingerprint}".encode() in checked.stdout
    registries_d = tmp_path / "release-registries.d"
    registries_d.mkdir()
    (registries_d / "release.yaml").write_text(registries_d_snippet(name, lookaside.as_uri()))
    policy = tmp_path / "release-policy.json"
    public = gpg(home, "--export", fingerprint).stdout
    policy.write_text(json.dumps(signed_by_policy(name, public)))
    verdict = PolicyChecker.load(policy, registries_d).verdict(f"{destination}:{NAME}", digest)
    assert verdict.allowed, verdict.reason
    assert _tags(destination) == [NAME]


def test_layout_components_and_json_output_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signed: Signed
) -> None:
    """A containers policy names docker:// images: layout content is refused, not waved through;
    -o json reads no image, so it cannot be combined with verification."""
    sample = Path(__file__).resolve().parents[1] / "testdata" / "sample-payload"
    out = tmp_path / "out"
    args = ["new", "--from-oci-layout", str(sample), "--to-image", f"oci:{out}", "--verify-components"]
    assert cli.main([*args, str(signed.policy)]) == 1
    err = capsys.readouterr().err.splitlines(keepends=True)[-1]
    assert err.startswith('error: --verify-components: component "') and err.endswith(
        "is not a registry image; a containers policy is checked for docker:// images "
        "(name layout content with --layout-repository)\n"
    )
    assert not out.exists()
    assert cli.main([*args, str(signed.policy), "-o", "json"]) == 2
    assert capsys.readouterr().err.endswith(
        "error: --verify-components checks component images; -o json prints the stream without reading them\n"
    )


def test_sigstore_signed_components_are_read_from_their_repository(
    signed: Signed, capsys: pytest.CaptureFixture[str], unique_repo: Any, registry_http: RegistryInfo
) -> None:
    """sigstoreSigned: cosign ``.sig`` attachments in the component's repository (registries.d
    use-sigstore-attachments); the component without one is refused, then passes once signed."""
    from okdrelease.sign import cosign
    from okdrelease.sign.api import sign_release_cosign

    key = cosign.generate_private_key()
    # cosign signs the bare repository name, which containers/image's default signedIdentity
    # (matchRepoDigestOrExact) refuses: policies for cosign signatures say matchRepository.
    requirement = {
        "type": "sigstoreSigned",
        "keyData": base64.b64encode(cosign.public_key_pem(key)).decode(),
        "signedIdentity": {"type": "matchRepository"},
    }
    document = {"default": [{"type": "reject"}], "transports": {"docker": {signed.repository: [requirement]}}}
    signed.policy.write_text(json.dumps(document))
    (signed.registries_d / "okd.yaml").write_text(
        f"docker:\n  {signed.repository}:\n    use-sigstore-attachments: true\n"
    )
    with DefaultTransport(TransportOptions(insecure=True)) as transport:
        repo, _ = transport.open(signed.repository)
        sign_release_cosign(repo, f"{signed.repository}@{signed.digests['cluster-version-operator']}", key)
        destination = f"{registry_http.host}/{unique_repo('release')}"
        assert cli.main(_new(signed, f"{destination}:{NAME}")) == 1
        assert capsys.readouterr().err == (
            f'error: component "cli" refused: docker://{signed.repository}@{signed.digests["cli"]}: '
            f'rejected by policy transports.docker["{signed.repository}"]: '
            "A signature was required, but no signature exists\n"
        )
        assert _tags(destination) == []
        sign_release_cosign(repo, f"{signed.repository}@{signed.digests['cli']}", key)
    assert cli.main(_new(signed, f"{destination}:{NAME}")) == 0
    capsys.readouterr()
    assert _tags(destination) == [NAME]
