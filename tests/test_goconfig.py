"""oc's decoding of an image config into library-go's DockerImageConfig (gocompat.goconfig): the error
texts below were recorded from the real oc (``oc adm release info`` of a release whose config held the
value); tests/test_parity_info.py and tests/test_parity_extract.py run more such cases through it."""

from __future__ import annotations

import pytest

from okdrelease.gocompat.goconfig import decode_image_config
from okdrelease.gocompat.gojson import GoJSONError, parse_valid
from okdrelease.gocompat.gotime import ZERO, parse_rfc3339

_FIELD = "json: cannot unmarshal {} into Go struct field {} of type {}"
_ELEMENT = "json: cannot unmarshal {} into {} of type {}"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (b'{"id": 5}', _FIELD.format("number", ".id", "string")),
        (b'{"container_config": 5}', _FIELD.format("number", ".container_config", "docker10.DockerConfig")),
        (b'{"config": {"Memory": 1.5}}', _FIELD.format("number 1.5", ".config.Memory", "int64")),
        (b'{"size": 1e+30}', _FIELD.format("number 1e+30", ".size", "int64")),
        (b'{"size": 1000.0}', _FIELD.format("number 1000.0", ".size", "int64")),
        (b'{"size": "x"}', _FIELD.format("string", ".size", "int64")),
        (b'{"config": {"Tty": "x"}}', _FIELD.format("string", ".config.Tty", "bool")),
        (
            b'{"config": {"ExposedPorts": {"80/tcp": 5}}}',
            _FIELD.format("number", ".config.ExposedPorts.80~1tcp", "struct {}"),
        ),
        (
            b'{"config": {"ExposedPorts": []}}',
            _FIELD.format("array", ".config.ExposedPorts", "map[string]struct {}"),
        ),
        (
            b'{"config": {"Volumes": {"/data~x": "x"}}}',
            _FIELD.format("string", ".config.Volumes.~1data~0x", "struct {}"),
        ),
        (
            b'{"config": {"Labels": {"a.b/c~d": 5}}}',
            _FIELD.format("number", ".config.Labels.a.b~1c~0d", "string"),
        ),
        (b'{"config": {"Env": "x"}}', _FIELD.format("string", ".config.Env", "[]string")),
        (b'{"config": {"OnBuild": [1]}}', _ELEMENT.format("number", ".config.OnBuild.0", "string")),
        (b'{"rootfs": 5}', _FIELD.format("number", ".rootfs", "dockerv1client.DockerConfigRootFS")),
        (b'{"rootfs": {"diff_ids": [5]}}', _ELEMENT.format("number", ".rootfs.diff_ids.0", "string")),
        (b'{"os.features": [5]}', _ELEMENT.format("number", ".os.features.0", "string")),
        (b'{"os.version": 5}', _FIELD.format("number", ".os.version", "string")),
        (b'{"Architecture": 5}', _FIELD.format("number", ".Architecture", "string")),
        (b'{"parent": true}', _FIELD.format("bool", ".parent", "string")),
        (b'{"history": [5]}', _ELEMENT.format("number", ".history.0", "dockerv1client.DockerConfigHistory")),
        (
            b'{"history": "abc"}',
            _FIELD.format("string", ".history", "[]dockerv1client.DockerConfigHistory"),
        ),
        (b'{"History": [{"Author": 5}]}', _FIELD.format("number", ".History.0.Author", "string")),
        (
            b'{"history": [{"created": 5}, {"created": "x"}]}',
            _FIELD.format("number", ".history.0.created", "time.Time"),
        ),
        (
            b'{"history": [{"created": "", "author": 5}]}',
            'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"',
        ),
        (b'{"architecture": 5, "created": ""}', _FIELD.format("number", ".architecture", "string")),
    ],
)
def test_the_first_error_in_document_order_in_ocs_words(config: bytes, message: str) -> None:
    with pytest.raises(GoJSONError) as caught:
        decode_image_config(parse_valid(config))
    assert str(caught.value) == message


def test_what_oc_keeps() -> None:
    """Go's values: times parsed, null fields left out, null elements their type's zero value, fields
    DockerImageConfig does not have (``variant``) dropped, keys matched case-insensitively."""
    decoded = decode_image_config(
        parse_valid(
            b'{"Created": "2024-01-01T12:00:00+02:00", "variant": "v8", "id": null, "size": -0,'
            b' "history": [null, {"created": null, "empty_layer": true}],'
            b' "config": {"Env": [null], "Labels": {"a": null}, "ExposedPorts": {"80/tcp": null}}}'
        )
    )
    assert decoded == {
        "created": parse_rfc3339("2024-01-01T12:00:00+02:00"),
        "size": 0,
        "history": [{}, {"empty_layer": True}],
        "config": {"Env": [""], "Labels": {"a": ""}, "ExposedPorts": {"80/tcp": {}}},
    }
    assert decoded["created"].offset == 7200
    assert decode_image_config(parse_valid(b"{}")).get("created", ZERO) == ZERO
