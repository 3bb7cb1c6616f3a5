"""Tag listings: pages of ``n`` tags, the ``Link`` header's next page, and what a hostile one cannot do.

The real Distribution registry holds the tags; Debian's 2.8 ignores ``?n=``, so the recording proxy
in front of it (``RecordingProxy.tag_page``) serves them in pages as Distribution 3 does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from imagegen import build_image, push_image
from registry_rig import RegistryInfo, RepoNamer
from test_registry import Fault, OtherHost, RecordingProxy, http_proxy, other_host, proxy_client, repo_at

from okdrelease.errors import RegistryError
from okdrelease.transport import registry as registry_module
from okdrelease.transport.base import TransportOptions
from okdrelease.transport.client import RegistryClient
from okdrelease.transport.http import MAX_LOADED_BODY

__all__ = ["http_proxy", "other_host"]  # fixtures: the recording proxy, a second loopback server


def tag_repo(registry: RegistryInfo, name: str, tags: list[str]) -> None:
    """Push one image to ``registry``/``name`` under every tag of ``tags`` (eight at a time)."""
    options = TransportOptions(insecure_registries=frozenset({registry.host}))
    with RegistryClient(options) as client:
        repo = repo_at(client, registry.host, name)
        image = build_image(seed="tags", layers=1, layer_size=256)
        push_image(repo, image, tags[0])
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda tag: repo.put_manifest(image.manifest, image.media_type, tag), tags[1:]))


def tag_paths(proxy: RecordingProxy) -> list[str]:
    """The paths of the tag-list requests the proxy received, in order."""
    return [path for _, path, _ in proxy.requests_matching("GET", "/tags/list")]


def listing_error(
    registry: RegistryInfo, proxy: RecordingProxy, name: str, link: Callable[[str], str]
) -> str:
    """List ``name`` (tags a-e on the registry, pages of 2 whose Link ``link`` names) until it fails,
    naming the registry and repository: the reason after ``listing tags of HOST/NAME: registry HOST: ``."""
    tag_repo(registry, name, ["a", "b", "c", "d", "e"])
    proxy.tag_page, proxy.tag_link = 2, link
    client, sleeps = proxy_client(proxy)
    with client, pytest.raises(RegistryError) as err:
        repo_at(client, proxy.host, name).list_tags()
    assert (err.value.registry, err.value.repository, sleeps) == (proxy.host, name, [])
    prefix = f"listing tags of {proxy.host}/{name}: registry {proxy.host}: "
    assert str(err.value).startswith(prefix)
    return str(err.value)[len(prefix) :]


def test_many_tags_are_listed_in_pages_of_a_thousand(
    registry_http: RegistryInfo, http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """2,100 tags on the real registry, served as Distribution 3 serves them: three pages of the 1,000
    tags asked for (``?n=1000``), the next two named by the Link header. Before, no page size was
    asked for, so the registry sent every tag in one answer."""
    name = unique_repo()
    tags = [f"t{i:04d}" for i in range(2100)]
    tag_repo(registry_http, name, tags)
    http_proxy.tag_page = 1000
    client, sleeps = proxy_client(http_proxy)
    with client:
        assert repo_at(client, http_proxy.host, name).list_tags() == tags
    assert tag_paths(http_proxy) == [
        f"/v2/{name}/tags/list?n=1000",
        f"/v2/{name}/tags/list?n=1000&last=t0999",
        f"/v2/{name}/tags/list?n=1000&last=t1999",
    ]
    assert sleeps == []


def test_a_listing_larger_than_one_answer_may_hold_is_read_in_pages(
    registry_http: RegistryInfo, http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """A repository with more tags than one answer read whole may hold (over 32 MiB of JSON): read
    page by page, every tag once. Before, the listing was asked for at once and refused as too large."""
    name = unique_repo()
    tag_repo(registry_http, name, ["a"])
    extra = [f"{i:06d}-{'x' * 120}" for i in range(MAX_LOADED_BODY // 125)]
    assert len(json.dumps(extra)) > MAX_LOADED_BODY
    http_proxy.tag_page, http_proxy.extra_tags = 1000, extra
    client, _ = proxy_client(http_proxy)
    with client:
        assert repo_at(client, http_proxy.host, name).list_tags() == [*extra, "a"]
    assert len(tag_paths(http_proxy)) == len(extra) // 1000 + 1


def test_an_absolute_link_on_the_registry_is_followed(
    registry_http: RegistryInfo, http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """A Link naming the next page by an absolute URL on the registry itself is followed as a
    relative one is."""
    name = unique_repo()
    tag_repo(registry_http, name, ["a", "b", "c"])
    http_proxy.tag_page = 2
    http_proxy.tag_link = lambda target: f"http://{http_proxy.host}{target}"
    client, _ = proxy_client(http_proxy)
    with client:
        assert repo_at(client, http_proxy.host, name).list_tags() == ["a", "b", "c"]
    assert tag_paths(http_proxy) == [f"/v2/{name}/tags/list?n=1000", f"/v2/{name}/tags/list?n=2&last=b"]


def test_a_next_page_on_another_host_is_not_read(
    registry_http: RegistryInfo, http_proxy: RecordingProxy, other_host: OtherHost, unique_repo: RepoNamer
) -> None:
    """A Link naming the next page on another host: an error naming the registry, the repository and
    that host, which gets no request (go-containerregistry refuses it too; containers/image sends its
    path to the registry). Before, the page was asked of that host."""
    name = unique_repo()
    reason = listing_error(registry_http, http_proxy, name, lambda target: f"{other_host.url}{target}")
    assert reason == (
        f"the next page is on another host ({other_host.url}/v2/{name}/tags/list); tag pages are read"
        " from the registry only"
    )
    assert other_host.seen == []
    assert tag_paths(http_proxy) == [f"/v2/{name}/tags/list?n=1000"]


def test_a_link_back_to_a_page_already_read_ends_the_listing(
    registry_http: RegistryInfo, http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """A Link leading back to the first page: an error after two pages, not a loop. Before, such a
    Link was followed for ever."""
    name = unique_repo()
    first = f"/v2/{name}/tags/list?n=1000"
    reason = listing_error(
        registry_http, http_proxy, name, lambda target: target if "last=b" in target else first
    )
    assert (
        reason
        == f"the Link header leads back to a page already read (http://{http_proxy.host}/v2/{name}/tags/list)"
    )
    assert tag_paths(http_proxy) == [first, f"/v2/{name}/tags/list?n=2&last=b"]


def test_pages_that_list_nothing_new_end_the_listing(
    registry_http: RegistryInfo, http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """A Link naming a new URL each time whose page is the first again (``last`` dropped): an error at
    the first page that lists no new tag. Before, such Links were followed for ever."""
    name = unique_repo()
    counter = itertools.count()
    reason = listing_error(
        registry_http, http_proxy, name, lambda target: f"/v2/{name}/tags/list?n=2&again={next(counter)}"
    )
    assert (
        reason
        == f"the page http://{http_proxy.host}/v2/{name}/tags/list lists no new tag and names a next page"
    )
    assert tag_paths(http_proxy) == [f"/v2/{name}/tags/list?n=1000", f"/v2/{name}/tags/list?n=2&again=0"]


def test_endless_new_pages_stop_at_the_listing_bound(
    registry_http: RegistryInfo,
    http_proxy: RecordingProxy,
    unique_repo: RepoNamer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages that keep listing new tags stop once together they hold more than ``MAX_TAG_LISTING``
    bytes (lowered here to 200): an error naming the registry, the repository and the bound."""
    monkeypatch.setattr(registry_module, "MAX_TAG_LISTING", 200)
    name = unique_repo()
    tag_repo(registry_http, name, ["a"])
    http_proxy.tag_page, http_proxy.extra_tags = 2, [f"t{i:03d}" for i in range(100)]
    client, _ = proxy_client(http_proxy)
    with client, pytest.raises(RegistryError) as err:
        repo_at(client, http_proxy.host, name).list_tags()
    pages = len(tag_paths(http_proxy))
    assert str(err.value) == (
        f"listing tags of {http_proxy.host}/{name}: registry {http_proxy.host}: the tag list is larger"
        f" than 200 bytes ({pages} pages)"
    )
    assert 2 < pages < 10


def test_a_refused_page_size_is_asked_again_without_one(
    registry_http: RegistryInfo, http_proxy: RecordingProxy, unique_repo: RepoNamer
) -> None:
    """A registry refusing ``n=1000`` (Distribution 3.0 with a lower ``maxtags``: 400
    PAGINATION_NUMBER_INVALID) is asked for every tag at once, as skopeo asks. Before (with a page
    size), the listing failed."""
    name = unique_repo()
    tag_repo(registry_http, name, ["a", "b"])
    refusal = {
        "errors": [{"code": "PAGINATION_NUMBER_INVALID", "message": "invalid number of results requested"}]
    }
    http_proxy.faults.append(
        Fault(
            "GET",
            r"/tags/list\?n=1000$",
            400,
            {"Content-Type": "application/json"},
            body=json.dumps(refusal).encode(),
        )
    )
    client, sleeps = proxy_client(http_proxy)
    with client:
        assert sorted(repo_at(client, http_proxy.host, name).list_tags()) == ["a", "b"]
    assert tag_paths(http_proxy) == [f"/v2/{name}/tags/list?n=1000", f"/v2/{name}/tags/list"]
    assert sleeps == []


@pytest.mark.parametrize("bad", ["bad tag", "../x", "-x", ".y", "\u00e9", "a" * 129, "x\x1b[2J"])
def test_a_tag_outside_the_tag_grammar_ends_the_listing(
    http_proxy: RecordingProxy, unique_repo: RepoNamer, bad: str
) -> None:
    """A registry that lists a tag no registry can hold (skopeo sync refuses it: ``Error creating a
    reference for repository R and tag "bad tag": invalid tag format``) fails the listing, naming it,
    before any request is made of it (a copy of every tag asked for ``manifests/../x``, in oci: a ref
    name). A null among the tags is still passed over, and a 128-character tag is one."""
    name = unique_repo()
    body = json.dumps({"name": name, "tags": ["v1", None, "_" + "a" * 127, bad]}).encode()
    http_proxy.faults.append(Fault("GET", "/tags/list", 200, {"Content-Type": "application/json"}, body=body))
    client, _ = proxy_client(http_proxy)
    with client, pytest.raises(RegistryError) as err:
        repo_at(client, http_proxy.host, name).list_tags()
    shown = bad.replace("\x1b", "\\x1b")
    assert str(err.value) == (
        f"listing tags of {http_proxy.host}/{name}: registry {http_proxy.host}: the tag list holds '{shown}',"
        " which is not a valid tag"
    )
    assert tag_paths(http_proxy) == [f"/v2/{name}/tags/list?n=1000"]
