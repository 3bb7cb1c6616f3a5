"""Tests for okdrelease.payload.mapper: spec §9.1 (IM), §9.3 (VM), §9.5 (LT), §3.11.3 and Appendix C."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from okdrelease.errors import ReleaseError
from okdrelease.payload.mapper import (
    ImageMapper,
    VersionMapper,
    build_operator_transform,
    collect_references,
    collect_versions,
    simple_transform,
)

ETCD = "quay.io/coreos/etcd"
TARGET = "quay.io/openshift/origin-etcd@sha256:1234"
PROM = "quay.io/openshift/origin-prometheus:latest"
PROM_TARGET = "quay.io/openshift/origin-prometheus@sha256:1234"

Tags = list[tuple[str, str, Mapping[str, str] | None]]


def _etcd(source: str = ETCD) -> ImageMapper:
    return ImageMapper({"etcd": (source, TARGET)})


# --- §9.1 image mapper ------------------------------------------------------------------------------


def test_im1_no_mappings_is_identity() -> None:
    assert ImageMapper({})(b"") == b""
    assert ImageMapper({})(b"image: quay.io/coreos/etcd:latest") == b"image: quay.io/coreos/etcd:latest"


def test_im2_empty_source_is_rejected() -> None:
    with pytest.raises(ReleaseError) as err:
        ImageMapper({"etcd": ("", TARGET)})
    assert str(err.value) == 'an empty source repository is not allowed for name "etcd"'


def test_im3_same_source_twice_is_rejected() -> None:
    with pytest.raises(ReleaseError) as err:
        ImageMapper({"etcd": (ETCD, TARGET), "etcd-2": (ETCD, "x@sha256:5678")})
    assert str(err.value) == (
        'the source repository "quay.io/coreos/etcd" was defined more than once (for "etcd" and "etcd-2")'
    )


@pytest.mark.parametrize(
    ("source", "given", "expected"),
    [
        (ETCD, b"image: quay.io/coreos/etcd:latest", b"image: " + TARGET.encode()),  # IM-4
        (ETCD + ":latest", b"image: quay.io/coreos/etcd:latest", b"image: " + TARGET.encode()),  # IM-5
        (ETCD, b"image: quay.io/coreos/etcd:latest\n", b"image: " + TARGET.encode() + b"\n"),  # IM-6
        (ETCD, b"image: quay.io/coreos/etcd@sha256:5678", b"image: " + TARGET.encode()),  # IM-7
        (ETCD, b"image: quay.io/coreos/etcd", b"image: " + TARGET.encode()),  # IM-10
        (ETCD, b"image: quay.io/coreos/etcd ", b"image: " + TARGET.encode() + b" "),  # IM-11
        (ETCD, b"example_url: https://quay.io/coreos/etcd:8443/test", None),  # IM-12
        (ETCD, b"quay.io/coreos/etcd:latest", TARGET.encode()),  # IM-13
    ],
)
def test_im_single_references(source: str, given: bytes, expected: bytes | None) -> None:
    assert _etcd(source)(given) == (given if expected is None else expected)


def test_im8_only_the_exact_repository_in_args_is_rewritten() -> None:
    mapper = ImageMapper({"prometheus": (PROM, PROM_TARGET)})
    given = (
        b"args:\n"
        b'- "-images=prometheus=quay.io/openshift/origin-prometheus:latest"\n'
        b'- "-images=alertmanager=quay.io/openshift/origin-prometheus-alertmanager:latest"\n'
    )
    assert mapper(given) == (
        b"args:\n"
        b'- "-images=prometheus=quay.io/openshift/origin-prometheus@sha256:1234"\n'
        b'- "-images=alertmanager=quay.io/openshift/origin-prometheus-alertmanager:latest"\n'
    )


def test_im9_quoted_list_item() -> None:
    mapper = ImageMapper({"prometheus": (PROM, PROM_TARGET)})
    assert mapper(b'- "quay.io/openshift/origin-prometheus:latest"') == b'- "' + PROM_TARGET.encode() + b'"'


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # Appendix C: each reference has its own leading delimiter, so both are rewritten.
        (b"RELATED_IMAGE=S:1 NEXT=S:2", b"RELATED_IMAGE=T NEXT=T"),
        # The match consumes the single separating space: only the first is rewritten.
        (b"S:1 S:2", b"T S:2"),
        (b"S\nS\n", b"T\nS\n"),
        (b"- S\n- S\n", b"- T\n- T\n"),
        # References followed by other characters are left alone.
        (b"[S, S]", b"[S, S]"),
        (b"S/x S}", b"S/x S}"),
        (b"'S'", b"'T'"),
        (b"xS S", b"xS T"),
        (b"S@sha256:ab\tS@sha256:abc", b"T\tS@sha256:abc"),
        (b"S@sha256:a end", b"S@sha256:a end"),
        (b"S:" + b"t" * 128 + b" ", b"T "),
        (b"S:" + b"t" * 129 + b" ", b"S:" + b"t" * 129 + b" "),
        (b"S\vS", b"S\vT"),  # \v is not in Go's \s but is a non-word character
        (b"\xffS\xfe", b"\xffS\xfe"),
        (b"\xffS \xfe", b"\xffT \xfe"),
    ],
)
def test_rewriting_delimiters(given: bytes, expected: bytes) -> None:
    assert ImageMapper({"s": ("S", "T")})(given) == expected


def test_longest_source_wins_when_one_is_a_prefix_of_another() -> None:
    mapper = ImageMapper({"a": (ETCD, "A@sha256:aa"), "b": (ETCD + ":v1", "B@sha256:bb")})
    assert mapper(b"x: quay.io/coreos/etcd:v1\ny: quay.io/coreos/etcd:v2\n") == (
        b"x: B@sha256:bb\ny: A@sha256:aa\n"
    )


def test_regex_metacharacters_in_sources_are_literal() -> None:
    mapper = ImageMapper({"a": ("reg.io/a+b", "T")})
    assert mapper(b"reg.io/a+b regXio/a+b") == b"T regXio/a+b"


# --- §9.3 version mapper ----------------------------------------------------------------------------


def _version_error(mapper: VersionMapper, given: bytes) -> str:
    with pytest.raises(ReleaseError) as err:
        mapper(given)
    return str(err.value)


def test_vm1_no_release_name_keeps_bare_placeholder() -> None:
    assert VersionMapper(None, {}, {})(rb"version: 0.0.1-snapshot\n") == rb"version: 0.0.1-snapshot\n"
    assert VersionMapper("", {}, {})(rb"version: 0.0.1-snapshot\n") == rb"version: 0.0.1-snapshot\n"


def test_vm2_empty_reference() -> None:
    message = _version_error(VersionMapper(None, {}, {}), rb"version: 0.0.1-snapshot-\n")
    assert message == "empty version references are not allowed"


def test_vm3_unknown_reference() -> None:
    assert _version_error(VersionMapper(None, {}, {}), rb"version: 0.0.1-snapshot-a\n") == (
        'unknown version reference "a"'
    )


def test_vm4_release_name_replaces_bare_placeholder() -> None:
    assert VersionMapper("2.0.0", {}, {})(rb"version: 0.0.1-snapshot\n") == rb"version: 2.0.0\n"


def test_release_name_build_metadata_is_dropped() -> None:
    mapper = VersionMapper("4.15.0-0.okd+build.5", {}, {})
    assert mapper(b"v: 0.0.1-snapshot") == b"v: 4.15.0-0.okd"


def test_vm5_non_semver_release_name_keeps_placeholder() -> None:
    assert VersionMapper("2.0", {}, {})(rb"version: 0.0.1-snapshot\n") == rb"version: 0.0.1-snapshot\n"


def test_vm6_component_version() -> None:
    mapper = VersionMapper(None, {"a": "2.0.0"}, {})
    assert mapper(rb"version: 0.0.1-snapshot-a\n") == rb"version: 2.0.0\n"


def test_vm7_conflicting_tags() -> None:
    mapper = VersionMapper(None, {"a": "2.0.0"}, {"a": ["tag2", "tag1"]})
    assert _version_error(mapper, rb"version: 0.0.1-snapshot-a\n") == (
        'the version for "a" is inconsistent across the referenced images: tag1, tag2'
    )


def test_vm8_conflicts_matter_only_when_referenced() -> None:
    mapper = VersionMapper(None, {"a": "2.0.0", "b": "3.0.0"}, {"a": ["tag1", "tag2"], "b": ["tag1"]})
    assert mapper(rb"version: 0.0.1-snapshot-b\n") == rb"version: 3.0.0\n"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (b"version: 0.0.1-snapshot-a", b"version: 2.0.0"),  # VM-9
        (b"0.0.1-snapshot-a", b"2.0.0"),  # VM-10
        (b":0.0.1-snapshot-a", b":2.0.0"),  # VM-11
        (b"-0.0.1-snapshot-a_", b"-2.0.0_"),  # VM-12
        (b"v0.0.1-snapshot-a x0.0.1-snapshot", b"v0.0.1-snapshot-a x0.0.1-snapshot"),
        (b"_0.0.1-snapshot-a", b"_0.0.1-snapshot-a"),
        (b"0.0.1-snapshot-a\n0.0.1-snapshot-a", b"2.0.0\n2.0.0"),
    ],
)
def test_vm_positions(given: bytes, expected: bytes) -> None:
    assert VersionMapper(None, {"a": "2.0.0"}, {})(given) == expected


def test_vm13_one_of_two_unknown() -> None:
    mapper = VersionMapper(None, {"a": "2.0.0"}, {})
    assert _version_error(mapper, b"0.0.1-snapshot-a 0.0.1-snapshot-b") == 'unknown version reference "b"'


def test_vm14_both_defined() -> None:
    mapper = VersionMapper(None, {"a": "2.0.0", "b": "1.0.0"}, {})
    assert mapper(b"0.0.1-snapshot-a 0.0.1-snapshot-b") == b"2.0.0 1.0.0"


def test_vm15_greedy_key() -> None:
    mapper = VersionMapper(None, {}, {})
    assert _version_error(mapper, b"0.0.1-snapshot-a0.0.1-snapshot-b") == 'unknown version reference "a0"'


def test_several_unknown_references_are_listed_in_order() -> None:
    mapper = VersionMapper("1.0.0", {}, {})
    message = _version_error(mapper, b"0.0.1-snapshot-zz 0.0.1-snapshot 0.0.1-snapshot-aa")
    assert message == "unknown version references: zz, aa"


def test_simple_transform_rejects_component_placeholders() -> None:
    transform = simple_transform("4.15.0")
    assert transform(b"v: 0.0.1-snapshot") == b"v: 4.15.0"
    with pytest.raises(ReleaseError, match='^unknown version reference "kubernetes"$'):
        transform(b"v: 0.0.1-snapshot-kubernetes")


# --- §9.5 per-operator transform inputs -------------------------------------------------------------

OTHER_DIGEST = "quay.io/test/other@sha256:" + "0" * 63 + "1"


def test_lt1_missing_release_tag_is_an_error_and_other_kinds_are_ignored() -> None:
    refs = [("test", "DockerImage", "quay.io/test/other:value"), ("skip", "ImageStreamTag", "x:y")]
    with pytest.raises(ReleaseError) as err:
        collect_references(refs, [], allow_missing=False)
    assert str(err.value) == 'no input image tag named "test"'


def test_lt2_only_non_docker_entries() -> None:
    references = collect_references([("skip", "ImageStreamTag", "x:y")], [], allow_missing=False)
    assert references == {}
    assert collect_versions(references, [], None, _no_warning) == ({}, {})


def test_lt3_reference_source_and_target() -> None:
    tags: Tags = [("test", OTHER_DIGEST, None)]
    references = collect_references([("test", "DockerImage", "quay.io/test/other:value")], tags, False)
    assert references == {"test": ("quay.io/test/other:value", OTHER_DIGEST)}
    assert collect_versions(references, tags, None, _no_warning) == ({}, {})


def test_lt4_versions_from_release_tag() -> None:
    tags: Tags = [("test", OTHER_DIGEST, {"io.openshift.build.versions": "other=1.0.0"})]
    references = collect_references([("test", "DockerImage", "quay.io/test/other:value")], tags, False)
    assert collect_versions(references, tags, None, _no_warning) == ({"other": "1.0.0"}, {"other": ["test"]})


def test_lt5_only_referenced_tags_contribute() -> None:
    tags: Tags = [
        ("test", OTHER_DIGEST, {"io.openshift.build.versions": "other=1.0.0,test=1.3.6"}),
        (
            "test-2",
            OTHER_DIGEST,
            {
                "io.openshift.build.versions": "other=1.0.0,test=1.3.6",
                "io.openshift.build.version-display-names": "other=Some Cool Component",
            },
        ),
    ]
    references = collect_references([("test", "DockerImage", "quay.io/test/other:value")], tags, False)
    assert collect_versions(references, tags, None, _no_warning) == (
        {"other": "1.0.0", "test": "1.3.6"},
        {"other": ["test"], "test": ["test"]},
    )


def test_lt6_conflicting_versions() -> None:
    tags: Tags = [
        ("test", OTHER_DIGEST, {"io.openshift.build.versions": "test=1.3.7"}),
        ("test-2", OTHER_DIGEST, {"io.openshift.build.versions": "test=1.3.6"}),
    ]
    refs = [("test", "DockerImage", "a"), ("test-2", "DockerImage", "b")]
    with pytest.raises(ReleaseError) as err:
        build_operator_transform(refs, tags, None, "1.0.0", False, _no_warning)
    assert str(err.value) == (
        "input image stream has multiple versions defined for version test: test-2 defines 1.3.6 "
        "but was already set to 1.3.7 on test"
    )


# --- §3.11.3 further rules ----------------------------------------------------------------------------


def _no_warning(message: str) -> None:
    raise AssertionError(f"unexpected warning: {message}")


def test_golden_13e_version_conflict_message() -> None:
    tags: Tags = [
        ("cluster-version-operator", "r/x@sha256:cvo", None),
        ("kube-operator", "r/x@sha256:op", None),
        ("hyperkube", "r/x@sha256:hk", {"io.openshift.build.versions": "kubernetes=1.28.3"}),
        ("kube-proxy", "r/x@sha256:kp", {"io.openshift.build.versions": "kubernetes=1.28.4"}),
    ]
    refs = [
        ("hyperkube", "DockerImage", "quay.io/k/hyperkube"),
        ("kube-proxy", "DockerImage", "quay.io/k/proxy"),
    ]
    with pytest.raises(ReleaseError) as err:
        build_operator_transform(refs, tags, None, "4.15.0", False, _no_warning)
    assert str(err.value) == (
        "input image stream has multiple versions defined for version kubernetes: kube-proxy defines 1.28.4 "
        "but was already set to 1.28.3 on hyperkube"
    )


def test_full_transform_rewrites_images_then_versions() -> None:
    tags: Tags = [
        ("hyperkube", "r/x@sha256:hk", {"io.openshift.build.versions": "kubernetes=1.28.3"}),
        ("kube-proxy", "r/x@sha256:kp", {"io.openshift.build.versions": "kubernetes=1.28.3"}),
        ("unreferenced", "r/x@sha256:un", {"io.openshift.build.versions": "kubernetes=9.9.9,crio=1.2.3"}),
    ]
    refs = [("hyperkube", "DockerImage", "quay.io/k/hyperkube")]
    transform = build_operator_transform(refs, tags, None, "4.15.0+b", False, _no_warning)
    given = b"image: quay.io/k/hyperkube:v1\nversion: 0.0.1-snapshot-kubernetes\nrelease: 0.0.1-snapshot\n"
    assert transform(given) == b"image: r/x@sha256:hk\nversion: 1.28.3\nrelease: 4.15.0\n"
    with pytest.raises(ReleaseError, match='^unknown version reference "crio"$'):
        transform(b"0.0.1-snapshot-crio")


def test_same_version_on_two_referenced_tags_is_inconsistent_when_used() -> None:
    tags: Tags = [
        ("kube-proxy", "r/x@sha256:kp", {"io.openshift.build.versions": "kubernetes=1.28.3"}),
        ("hyperkube", "r/x@sha256:hk", {"io.openshift.build.versions": "kubernetes=1.28.3"}),
    ]
    refs = [("hyperkube", "DockerImage", "a/hk"), ("kube-proxy", "DockerImage", "a/kp")]
    transform = build_operator_transform(refs, tags, None, "4.15.0", False, _no_warning)
    with pytest.raises(ReleaseError) as err:
        transform(b"v: 0.0.1-snapshot-kubernetes")
    assert str(err.value) == (
        'the version for "kubernetes" is inconsistent across the referenced images: hyperkube, kube-proxy'
    )


def test_empty_from_name_and_allow_missing() -> None:
    with pytest.raises(ReleaseError) as err:
        collect_references([("cli", "DockerImage", "")], [("cli", "r/x@sha256:1", None)], False)
    assert str(err.value) == "no from.name for the tag cli"
    refs = [("gone", "DockerImage", "quay.io/gone"), ("cli", "DockerImage", "quay.io/cli")]
    tags: Tags = [("cli", "r/x@sha256:1", None), ("gone", "", None)]
    assert collect_references(refs, tags, allow_missing=True) == {"cli": ("quay.io/cli", "r/x@sha256:1")}
    transform = build_operator_transform(refs, tags, None, "1.0.0", True, _no_warning)
    assert transform(b"a: quay.io/gone\nb: quay.io/cli\n") == b"a: quay.io/gone\nb: r/x@sha256:1\n"


def test_first_release_tag_of_a_name_wins() -> None:
    tags: Tags = [("cli", "r/x@sha256:1", None), ("cli", "r/x@sha256:2", None)]
    assert collect_references([("cli", "DockerImage", "q/cli")], tags, False) == {
        "cli": ("q/cli", "r/x@sha256:1")
    }


def test_duplicate_sources_in_operator_file_fail_after_versions() -> None:
    refs = [("a", "DockerImage", "q/same"), ("b", "DockerImage", "q/same")]
    tags: Tags = [("a", "r/x@sha256:1", None), ("b", "r/x@sha256:2", None)]
    with pytest.raises(ReleaseError, match=r'^the source repository "q/same" was defined more than once'):
        build_operator_transform(refs, tags, None, "1.0.0", False, _no_warning)


def test_kubectl_machine_os_and_defaults() -> None:
    warnings: list[str] = []
    tags: Tags = [
        ("cli", "r/x@sha256:1", {"io.openshift.build.versions": "kubectl=1.28.1"}),
        ("tests", "r/x@sha256:2", {"io.openshift.build.versions": "kubectl=1.28.2,kubernetes-tests=1.28.2"}),
        ("os", "r/x@sha256:3", {"io.openshift.build.versions": "kubectl=1.28.3,machine-os=39.1.0"}),
        ("os2", "r/x@sha256:4", {"io.openshift.build.versions": "machine-os=40.1.0"}),
    ]
    refs = [(name, "DockerImage", f"q/{name}") for name, _from, _ann in tags]
    stream = {"io.openshift.build.versions": "crio=1.2.3,machine-os=1.0.0"}
    versions, tags_by_name = collect_versions(
        collect_references(refs, tags, False), tags, stream, warnings.append
    )
    assert versions == {
        "kubectl": "1.28.1",
        "kubernetes-tests": "1.28.2",
        "machine-os": "39.1.0",
        "crio": "1.2.3",
    }
    assert tags_by_name == {"kubectl": ["cli"], "kubernetes-tests": ["tests"], "machine-os": ["os", "os2"]}
    assert warnings == [
        "input image stream has multiple versions defined for version kubectl for all the tags 1.28.1,1.28.2,1.28.3"
    ]


def test_invalid_version_annotations() -> None:
    tags: Tags = [("cli", "r/x@sha256:1", {"io.openshift.build.versions": "kubectl=v1"})]
    refs = [("cli", "DockerImage", "q/cli")]
    with pytest.raises(ReleaseError) as err:
        build_operator_transform(refs, tags, None, "1.0.0", False, _no_warning)
    assert str(err.value) == 'input image stream has an invalid version annotation for tag "cli": kubectl=v1'
    with pytest.raises(ReleaseError) as err:
        build_operator_transform([], [], {"io.openshift.build.versions": "x"}, "1.0.0", False, _no_warning)
    assert str(err.value) == (
        'unable to read default versions label on input image stream: the version pair "x" must be NAME=VERSION'
    )


def _expression_rewrite(references: Mapping[str, tuple[str, str]], data: bytes) -> bytes:
    """oc's rewriting as one expression (what ImageMapper matches without compiling one per operator)."""
    import re

    from okdrelease.payload import mapper

    targets = {s.encode(): t.encode() for s, t in references.values()}
    alternation = b"|".join(re.escape(s) for s in sorted(targets, key=lambda s: (-len(s), s)))
    pattern = re.compile(
        rb"("
        + mapper._NON_WORD
        + rb"|\A)("
        + alternation
        + rb")"
        + mapper._TAG_OR_DIGEST
        + rb"([\t\n\f\r \"']|\Z)"
    )
    return pattern.sub(lambda m: m[1] + targets[m[2]] + m[4], data)


def test_image_mapper_matches_the_expression_on_random_text() -> None:
    """Seeded random texts built from sources that prefix each other, tags, digests and delimiters."""
    import random

    rng = random.Random(20261206)
    sources = ["q.io/a/b", "q.io/a/b-c", "q.io/a/b:v1", "q.io/a/b@sha256:ab", "r.io/x", "x", "q.io/a/bb"]
    pieces = [
        *(
            b" ",
            b"\n",
            b"\t",
            b'"',
            b"'",
            b"-",
            b"/",
            b".",
            b"_",
            b"a",
            b"Z",
            b"9",
            b":",
            b"@",
            b"=",
            b"\x00",
        ),
        *(
            b":v1",
            b":latest",
            b":_x",
            b":" + b"t" * 130,
            b"@sha256:0123abcd",
            b"@sha256:z",
            b"@a+b.c:ff",
            b"@9:ff",
        ),
        *(b"\xff", b"\xc3\xa9", b"image: ", b"- "),
    ]
    checked = rewritten = 0
    for _ in range(4000):
        chosen = rng.sample(sources, rng.randint(1, 4))
        references = {f"tag{i}": (src, f"T{i}@sha256:{i}") for i, src in enumerate(chosen)}
        parts = [
            rng.choice(pieces) if rng.random() < 0.6 else rng.choice(sources).encode() for _ in range(12)
        ]
        data = b"".join(parts)
        expected = _expression_rewrite(references, data)
        assert ImageMapper(references)(data) == expected, (references, data)
        checked += 1
        rewritten += expected != data
    assert rewritten > 500  # the texts do contain references to rewrite


def test_version_mapper_matches_the_expression_on_random_text() -> None:
    """Placeholders found by their literal give what oc's expression (tried at every byte) gives."""
    import random
    import re

    expression = re.compile(rb"([^0-9A-Za-z_]|\A)0\.0\.1-snapshot([a-z0-9\-]*)")
    versions = {"a": "1.2.3", "b-c": "4.5", "x": "9"}
    mapper = VersionMapper("4.16.0", versions, {"a": ["t1"], "b-c": ["t2"], "x": ["t3"]})

    def expected(data: bytes) -> bytes:
        def replace(match: re.Match[bytes]) -> bytes:
            suffix = match[2]
            if not suffix:
                return match[1] + b"4.16.0"
            if not suffix.startswith(b"-"):
                return match[0]
            return match[1] + versions[suffix[1:].decode()].encode()

        return expression.sub(replace, data)

    rng = random.Random(20261209)
    pieces = [
        b"0.0.1-snapshot",
        b"-a",
        b"-b-c",
        b"-x",
        b"x",
        b"_",
        b"-",
        b" ",
        b"\n",
        b":",
        b"0",
        b".",
        b"Z",
        b"9",
    ]
    rewritten = 0
    for _ in range(5000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        try:
            want = expected(data)
        except KeyError:  # a suffix naming no version: VersionMapper raises, as oc does
            with pytest.raises(ReleaseError):
                mapper(data)
            continue
        assert mapper(data) == want, data
        rewritten += want != data
    assert rewritten > 400


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (b"image: quay.io/openshift/origin-", b"image: quay.io/openshift/origin-"),  # the shared prefix alone
        (b"image: quay.io/openshift/other:1", b"image: quay.io/openshift/other:1"),  # not even the prefix
        (
            b"a: " + PROM.encode() + b"\nb: quay.io/openshift/origin-etcd",
            b"a: " + PROM_TARGET.encode() + b"\nb: e",
        ),
        (b"quay.io/openshift/origin-etcd-operator x", b"op x"),  # the longer source of two sharing a start
    ],
)
def test_sources_sharing_a_prefix(given: bytes, expected: bytes) -> None:
    """Sources that start alike (a text without their common start names none of them)."""
    mapper = ImageMapper(
        {
            "prometheus": (PROM, PROM_TARGET),
            "etcd": ("quay.io/openshift/origin-etcd", "e"),
            "etcd-operator": ("quay.io/openshift/origin-etcd-operator", "op"),
        }
    )
    assert mapper(given) == expected
