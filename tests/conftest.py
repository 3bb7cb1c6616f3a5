"""Shared pytest fixtures.

Real registries (see ``tests/registry_rig.py``), all on 127.0.0.1, started once per session:

* ``registry_http``  -- plain HTTP, no auth.
* ``registry_tls``   -- HTTPS with a certificate from the session CA (``info.ca_file``).
* ``registry_basic`` -- HTTPS + htpasswd Basic auth; ``info.auth`` is alice's (username, password),
  ``info.users`` holds alice and bob.
* ``registry_token`` -- HTTPS + Bearer token auth from a ``TokenServer`` (``info.token_server``).
  Default policy: alice may pull/push/delete ``alice/*``, bob ``bob/*``; anonymous gets nothing.
* ``token_server``   -- function-scoped: the token registry's ``TokenServer`` after ``reset()``
  (default grants, expiry 300 s, empty request log), reset again after the test; use ``grant()``,
  ``clear_grants()``, ``expires_in``, ``response_keys``, ``requests``, ``reset_log()``. Change the
  policy only through this fixture so other tests see the defaults.
* ``registry_ca``    -- the session ``LocalCA``.
* ``proxy``, ``token_proxy`` -- function-scoped ``faultproxy.FaultProxy`` in front of
  ``registry_http`` / ``registry_token`` (the fault matrix, ``tests/test_faults*.py``).
* ``proxied``        -- ``proxied_cli.ProxiedCli``: CLI runs through ``proxy`` (``copy``, ``run``).
* ``golden_registry`` -- a plain-HTTP registry on a four-digit port (the recorded address length)
  for the golden cases: ``(info, client, ensure_inputs)`` (``golden_support.serve_golden_registry``).
* ``oc_release_rig_shared`` -- the real oc's releases on their own registry (``oc_oracle``); the
  parity modules use it through ``oc_oracle.oc_release_rig``, so it is built once per session.
* ``multiarch_releases`` -- ``test_multiarch.MultiarchReleases``: the four-architecture sample and
  release per flavour, built on first use, read by ``test_multiarch`` and ``test_mirror_layouts``.
* ``unique_repo``    -- function-scoped callable: ``unique_repo(namespace="alice")`` returns a fresh
  repository name per call.

A missing ``docker-registry`` binary makes these fixtures error out (not skip). When a test that
uses a registry fixture fails, the tail of that registry's log is attached to the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from faultproxy import FaultProxy
from golden_support import GoldenRegistry, serve_golden_registry
from oc_oracle import OcRig, build_oc_release_rig
from proxied_cli import ProxiedCli
from registry_rig import DEFAULT_USERS, LocalCA, RegistryInfo, RegistryServer, RepoNamer, TokenServer

if TYPE_CHECKING:
    from test_multiarch import MultiarchReleases


def _serve(server: RegistryServer) -> Iterator[RegistryInfo]:
    """Start ``server`` for the session and stop it afterwards."""
    with server as info:
        yield info


def _serve_tls(
    factory: pytest.TempPathFactory, ca: LocalCA, flavour: str, **options: Any
) -> Iterator[RegistryInfo]:
    """Start an HTTPS registry named ``registry-<flavour>`` with a certificate from ``ca``."""
    name = f"registry-{flavour}"
    server = RegistryServer(
        factory.mktemp(name), flavour=flavour, tls=ca.issue_server_cert(name), ca_file=ca.ca_file, **options
    )
    yield from _serve(server)


@pytest.fixture(scope="session")
def registry_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """Return the session's throwaway certificate authority."""
    return LocalCA(tmp_path_factory.mktemp("registry-ca"))


@pytest.fixture(scope="session")
def registry_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryInfo]:
    """Yield a plain-HTTP registry without auth."""
    yield from _serve(RegistryServer(tmp_path_factory.mktemp("registry-http"), flavour="http"))


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory: pytest.TempPathFactory, registry_ca: LocalCA) -> Iterator[RegistryInfo]:
    """Yield an HTTPS registry without auth whose certificate chains to ``registry_ca``."""
    yield from _serve_tls(tmp_path_factory, registry_ca, "tls")


@pytest.fixture(scope="session")
def registry_basic(tmp_path_factory: pytest.TempPathFactory, registry_ca: LocalCA) -> Iterator[RegistryInfo]:
    """Yield an HTTPS registry with htpasswd Basic auth for alice and bob."""
    yield from _serve_tls(tmp_path_factory, registry_ca, "basic", htpasswd_users=DEFAULT_USERS)


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory: pytest.TempPathFactory, registry_ca: LocalCA) -> Iterator[RegistryInfo]:
    """Yield an HTTPS registry with Bearer token auth served by a loopback ``TokenServer``."""
    tokens = TokenServer(registry_ca, users=DEFAULT_USERS).start()
    try:
        yield from _serve_tls(tmp_path_factory, registry_ca, "token", token_server=tokens)
    finally:
        tokens.stop()


@pytest.fixture(scope="session")
def golden_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoldenRegistry]:
    """The golden cases' registry (one per session: every golden module shares its pushed inputs)."""
    yield from serve_golden_registry(tmp_path_factory.mktemp("golden-registry"))


@pytest.fixture(scope="session")
def oc_release_rig_shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OcRig]:
    """The releases the real oc built (``oc_oracle``), built once for every module that uses them."""
    yield from build_oc_release_rig(tmp_path_factory)


@pytest.fixture(scope="session")
def multiarch_releases(registry_http: RegistryInfo) -> MultiarchReleases:
    """The four-architecture sample and release per flavour, built once for test_multiarch and test_mirror_layouts."""
    from test_multiarch import MultiarchReleases  # a test module: imported when the fixture is used

    return MultiarchReleases(registry_http)


@pytest.fixture
def token_server(registry_token: RegistryInfo) -> Iterator[TokenServer]:
    """Yield the token registry's token server reset to its defaults; reset it again afterwards."""
    server = registry_token.token_server
    assert server is not None
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def proxy(registry_http: RegistryInfo) -> Iterator[FaultProxy]:
    """A fault proxy in front of the plain-HTTP registry."""
    with FaultProxy(registry_http) as running:
        yield running


@pytest.fixture
def proxied(proxy: FaultProxy, capsys: pytest.CaptureFixture[str]) -> ProxiedCli:
    """The CLI run in-process through ``proxy`` (its host marked insecure)."""
    return ProxiedCli(proxy, capsys)


@pytest.fixture
def token_proxy(registry_token: RegistryInfo) -> Iterator[FaultProxy]:
    """A fault proxy in front of the Bearer-token registry."""
    with FaultProxy(registry_token) as running:
        yield running


@pytest.fixture
def unique_repo(request: pytest.FixtureRequest) -> RepoNamer:
    """Return a callable producing fresh repository names derived from the test name."""
    return RepoNamer(request.node.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the log tail of every registry a failed test used to its report."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, RegistryInfo):
                report.sections.append((f"registry log: {name} ({value.log_file})", value.log_tail()))


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """CLI runs in module and session fixtures (set up before ``_private_cache``) never use the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OKDRELEASE_CACHE_DIR", str(tmp_path_factory.mktemp("okdrelease-session-cache")))
        yield


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's CLI runs get a fresh persistent cache (never the user's; no warmth between tests)."""
    monkeypatch.setenv("OKDRELEASE_CACHE_DIR", str(tmp_path_factory.mktemp("okdrelease-cache")))
