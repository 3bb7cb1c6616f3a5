"""``info -o jsonpath=…`` and ``-o template=…`` edge cases against the real ``oc adm release info``.

Each case records what oc printed (stdout, the first line of stderr, the exit code) on the
``realistic`` release oc built (``oc_oracle``); okdrelease must print the same, and oc is run too, so
the record is checked against oc wherever the real oc is present. oc's error line goes on with
"Printing more information for debugging the template:" and a dump of the whole object, which
okdrelease leaves out: only the first sentence is compared.
"""

from __future__ import annotations

import pytest
from oc_oracle import OcRig, oc_release_rig, okd_run

__all__ = ["oc_release_rig"]

_TAGS = ".references.spec.tags"
#: The realistic release's first three component names (of 138, sorted by name).
_FIRST = "alibaba-cloud-controller-manager alibaba-cloud-csi-driver alibaba-disk-csi-driver-operator"


def _failed(template: str, message: str) -> tuple[str, str]:
    return "", f'error: error executing jsonpath "{template}": Error executing template: {message}'


def _unparsable(template: str, message: str) -> tuple[str, str]:
    return "", f"error: error parsing jsonpath {template}, {message}"


#: (template, stdout, first line of stderr); the exit code is 1 when stderr is not empty.
JSONPATH_CASES = [
    (t := f"{{{_TAGS}[::0].name}}", *_failed(t, "step must be > 0")),
    (t := f"{{{_TAGS}[0:2:-1].name}}", *_failed(t, "step must be > 0")),
    (t := f"{{{_TAGS}[::-1].name}}", *_failed(t, "step must be > 0")),
    (f"{{{_TAGS}[1:1:0].name}}", "", ""),  # an empty slice is returned before the step is checked
    (
        f"{{{_TAGS}[0:6:2].name}}",
        "alibaba-cloud-controller-manager alibaba-disk-csi-driver-operator aws-cloud-controller-manager",
        "",
    ),
    (f"{{{_TAGS}[0:3:].name}}", _FIRST, ""),
    (f"{{{_TAGS}[:3:].name}}", _FIRST, ""),
    (t := f"{{{_TAGS}[2:1].name}}", *_failed(t, "starting index 2 is greater than ending index 1")),
    (t := f"{{{_TAGS}[0:999].name}}", *_failed(t, "array index out of bounds: index 998, length 138")),
    (t := f"{{{_TAGS}[-999:].name}}", *_failed(t, "array index out of bounds: index -861, length 138")),
    (t := f"{{{_TAGS}[200:].name}}", *_failed(t, "array index out of bounds: index 200, length 138")),
    (t := f"{{{_TAGS}[:-200].name}}", *_failed(t, "array index out of bounds: index -63, length 138")),
    (t := f"{{{_TAGS}[-200].name}}", *_failed(t, "array index out of bounds: index -62, length 138")),
    (f"{{{_TAGS}[138:].name}} {{{_TAGS}[5:5].name}} {{{_TAGS}[:-0].name}}|", "  |", ""),
    (
        f"{{{_TAGS}[].name}} {{{_TAGS}[-0].name}}",
        "alibaba-cloud-controller-manager alibaba-cloud-controller-manager",
        "",
    ),
    (f"{{{_TAGS}[0,2].name}}", "alibaba-cloud-controller-manager alibaba-disk-csi-driver-operator", ""),
    (
        t := f"{{{_TAGS}[9223372036854775807].name}}",
        *_failed(t, "array index out of bounds: index 9223372036854775807, length 138"),
    ),
    (
        t := f"{{{_TAGS}[99999999999999999999]}}",
        *_unparsable(t, "array index 99999999999999999999 is not a number"),
    ),
    (t := f"{{{_TAGS}[1:-]}}", *_unparsable(t, "array index - is not a number")),
    (t := f"{{{_TAGS}[+1]}}", *_unparsable(t, "invalid array index +1")),
    (t := f"{{{_TAGS}[ 1 ]}}", *_unparsable(t, "invalid array index  1 ")),
    (t := '{.metadata["version"]}', *_unparsable(t, 'invalid array index "version"')),
    # the text of ['…'] is a path: ['a.b'] is .a.b
    (
        "{.config.config.Labels['io.openshift.release']}|{.metadata['version', 'kind']}",
        "|4.15.0-0.okd-scos-2024-01-18-223523 cincinnati-metadata-v0",
        "",
    ),
    (t := "{.metadata[0]}", *_failed(t, "map[string]interface {} is not array or slice")),
    (t := "{.metadata[*]}", *_failed(t, "map[string]interface {} is not array or slice")),
    (t := "{.metadata.version[0:1]}", *_failed(t, "string is not array or slice")),
    (t := "{.config.size[0]}", *_failed(t, "float64 is not array or slice")),
    (t := "{.images[?(@.x)]}", *_failed(t, "<nil> is not array or slice and cannot be filtered")),
    (
        t := "{.metadata.kind[?(@.x)]}",
        *_failed(t, "cincinnati-metadata-v0 is not array or slice and cannot be filtered"),
    ),
    ("{.images[0]}|{.nope[0]}|{.nope[?(@.x)]}", "||", ""),
]


@pytest.mark.parametrize(("template", "out", "err"), JSONPATH_CASES)
def test_jsonpath_edges_are_ocs(
    oc_release_rig: OcRig, template: str, out: str, err: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Slices, indexes, unions and filters: oc's output, or oc's error and exit code 1."""
    args = ["info", "-o", f"jsonpath={template}", oc_release_rig.realistic]
    expected = (1 if err else 0, out, err)
    oc = oc_release_rig.oc_run(args)
    assert (oc.code, oc.out, oc.err.split(". Printing more information")[0].rstrip("\n")) == expected
    okd = okd_run(args, capsys)
    assert (okd.code, okd.out, okd.err.rstrip("\n")) == expected
