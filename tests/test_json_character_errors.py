"""A manifest's JSON syntax error counts its offset through the whole UTF-8 character it names, as the
real oc (Go 1.27) does: ``json: offset N: invalid character 'é' …`` with N past both of its bytes. Before:
the first byte alone (``'Ã'``) and an offset one past it. The scanner's words: tests/payload/test_gojson.py.

Each expected text is the real oc's: ``oc create --dry-run=client -f FILE`` (the Kubernetes YAML-or-JSON
decoder that ``oc adm release extract`` reads manifests with)."""

from __future__ import annotations

import pytest

from okdrelease.gocompat.goyaml import GoYamlError
from okdrelease.openshift import k8syaml


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"apiVersion": "v1", "kind": é, [}',
            "json: offset 31: invalid character 'é' looking for beginning of value",
        ),
        (
            '{"apiVersion": "v1", "kind": 日, [}',
            "json: offset 32: invalid character '日' looking for beginning of value",
        ),
        (
            '{"apiVersion": "v1", é: 1, [}',
            "json: offset 23: invalid character 'é' looking for beginning of object key string",
        ),
    ],
)
def test_a_manifests_json_error_counts_its_offset_through_the_character(text: str, message: str) -> None:
    with pytest.raises(GoYamlError) as refused:
        k8syaml.load_sourced_documents(text.encode())
    assert str(refused.value) == message
