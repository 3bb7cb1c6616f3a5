"""``info -o jsonpath=…`` and ``-o template=…`` edge cases against the real ``oc adm release info``.

Each case records what oc printed (stdout, the first line of stderr, the exit code) on the
``realistic`` release oc built (``oc_oracle``); okdrelease must print the same, and oc is run too, so
the record is checked against oc wherever the real oc is present. For JSONPath, oc's error line goes
on with "Printing more information for debugging the template:" and a dump of the whole object, which
okdrelease leaves out: only the first sentence is compared. For Go templates the whole of stdout and
stderr is oc's, the report on stdout included.
"""

from __future__ import annotations

import pytest
from oc_oracle import OcRig, oc_release_rig, okd_run

__all__ = ["oc_release_rig"]

_TAGS = ".references.spec.tags"
#: The realistic release's first three component names (of 138, sorted by name).
_FIRST = "alibaba-cloud-controller-manager alibaba-cloud-csi-driver alibaba-disk-csi-driver-operator"


def _failed(template: str, message: str) -> tuple[str, str]:
    """oc's error line: the template quoted as Go's %q."""
    quoted = template.replace("\\", "\\\\").replace('"', '\\"')
    return "", f'error: error executing jsonpath "{quoted}": Error executing template: {message}'


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
    (
        t := '{"\\t"}{.metadata[?(@.x=="a")]}',
        *_failed(
            t,
            "map[kind:cincinnati-metadata-v0 metadata:map[description:golden url:https://example.test/release] previous:[4.14.0-0.okd-scos-2023-12-01-000000 4.15.0-0.okd-scos-2024-01-10-000000] version:4.15.0-0.okd-scos-2024-01-18-223523] is not array or slice and cannot be filtered",
        ),
    ),
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


#: (template, stdout) where oc succeeds: printf verbs that do not fit their value, int64 data.
TEMPLATE_OUTPUTS = [
    ('{{printf "%d" "x"}}', "%!d(string=x)"),
    (
        '{{printf "%s|%d|%q|%t" 5 1.5 true 5}}|{{printf "%d %v %s" .images .nope nil}}',
        "%!s(int=5)|%!d(float64=1.5)|%!q(bool=true)|%!t(int=5)|%!d(<nil>) <nil> %!s(<nil>)",
    ),
    (
        '{{printf "%T %T" .config.size 1}} {{printf "%d %x %q" (len .references.spec.tags) 255 65}}',
        "int64 int 138 ff 'A'",
    ),
    (
        '{{printf "%d" .metadata.metadata}}',
        "map[%!d(string=description):%!d(string=golden) %!d(string=url):%!d(string=https://example.test/release)]",
    ),
    (
        '{{printf "%d %d" 1}}|{{printf "%d" 1 "x" nil}}|{{printf "%"}}|{{printf "%z" 1}}',
        "1 %!d(MISSING)|1%!(EXTRA string=x, <nil>)|%!(NOVERB)|%!z(int=1)",
    ),
    (
        '{{printf "%5d|%-4s|%04d|%+d|%.2s|%X|%o|%b|%c|%U" 7 "ab" 42 5 "abc" "hi" 8 5 65 65}}',
        "    7|ab  |0042|+5|ab|6869|10|101|A|U+0041",
    ),
    (
        '{{printf "%e|%f|%.1f|%g|%6.2f" 1.5 2.25 3.14159 1e21 3.14159}}',
        "1.500000e+00|2.250000|3.1|1e+21|  3.14",
    ),
    (
        '{{len "é"}} {{index "abc" 1}} {{index .metadata "nope"}} {{print .nope nil 1}}',
        "2 98 <no value> <nil> <nil> 1",
    ),
    # Go syntax (%#v), * widths and precisions, [n] argument indexes
    (
        '{{printf "%#v|%#v|%#v" .metadata.metadata .metadata.next "a\\"b"}}|{{printf "%#v" (index .references.spec.tags 0).annotations}}',
        'map[string]interface {}{"description":"golden", "url":"https://example.test/release"}|<nil>|"a\\"b"|'
        'map[string]interface {}{"io.openshift.build.commit.id":"38b0d39fd19b252230cb5622d628acd8e3f21fce", '
        '"io.openshift.build.commit.ref":"release-4.15", '
        '"io.openshift.build.source-location":"https://github.com/openshift/cloud-provider-alibaba-cloud"}',
    ),
    (
        '{{printf "%*d|%-*d|%.*f|%*d|%.*d|%*d" 5 3 5 3 2 1.23456 "x" 4 -1 5 10000000 1}}',
        "    3|3    |1.23|%!(BADWIDTH)4|%!(BADPREC)5|%!(BADWIDTH)1",
    ),
    (
        '{{printf "%[2]d %[1]d %d|%[3]d|%[x]d" 1 2}}|{{printf "%[2]*[1]d|%[1]" 7 5}}|{{printf "%[1]d %[1]x|%[2]*.[3]*[1]f" 12 8 2}}',
        "2 1 2|%!d(BADINDEX)|%!d(BADINDEX)|    7|%!(NOVERB)|12 c|%!f(int=      12)",
    ),
    # literals, a chained field of a pipeline, range over an integer, assignment to an outer variable
    (
        "{{'a'}} {{0x1F}} {{017}} {{1_000}} {{.5}} {{(index .references.spec.tags 0).name}} {{range 3}}{{.}}{{end}}"
        '{{$x := 1}}{{range .references.spec.tags}}{{$x = "set"}}{{end}} {{$x}}',
        "97 31 15 1000 0.5 alibaba-cloud-controller-manager 012 set",
    ),
]


#: {{define}}, {{template}}, {{block}}, {{break}} and {{continue}}.
TEMPLATE_OUTPUTS += [
    (
        '{{define "x"}}[{{.version}}]{{end}}{{template "x" .metadata}}|{{template "x"}}|'
        '{{block "b" .metadata.kind}}<{{.}}>{{end}}',
        "[4.15.0-0.okd-scos-2024-01-18-223523]|[<no value>]|<cincinnati-metadata-v0>",
    ),
    (
        "{{range $i, $t := .references.spec.tags}}{{if lt $i 1}}{{continue}}{{end}}"
        "{{with $t}}{{if eq $i 3}}{{break}}{{end}}{{end}}{{$t.name}} {{end}}",
        "alibaba-cloud-csi-driver alibaba-disk-csi-driver-operator ",
    ),
    # a template named like the text replaces it when the text is only white space; the pipeline's
    # variables stay declared; an empty definition gives way to a later one
    (' {{define "output"}}only{{end}}\n', "only"),
    ('{{template "x" $v := 1}}{{$v}}{{define "x"}}{{$}}{{end}}', "11"),
    ('{{define "y"}}{{end}}{{define "y"}}b{{end}}{{template "y"}}', "b"),
]


@pytest.mark.parametrize(("template", "out"), TEMPLATE_OUTPUTS)
def test_template_values_are_ocs(
    oc_release_rig: OcRig, template: str, out: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Go's fmt for printf's verbs and Go's len/index, on data decoded as kubectl decodes it."""
    _both_print(oc_release_rig, template, (0, out, ""), capsys)


def _both_print(
    rig: OcRig, template: str, expected: tuple[int, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """oc and okdrelease, ``info -o template=TEMPLATE``, exit with ``expected`` (code, stdout, stderr)."""
    args = ["info", "-o", f"template={template}", rig.realistic]
    oc = rig.oc_run(args)
    assert (oc.code, oc.out, oc.err) == expected
    okd = okd_run(args, capsys)
    assert (okd.code, okd.out, okd.err) == expected


#: (template, oc's last stderr line): len, index and printf given values of the wrong type.
TEMPLATE_ERRORS = [
    (
        t := "{{len 5}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <len 5>: error calling len: len of type int',
    ),
    (
        t := "{{len .config.size}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <len .config.size>: error calling len: len of type int64',
    ),
    (
        t := "{{len true}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <len true>: error calling len: len of type bool',
    ),
    (
        t := "{{len .images}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <len .images>: error calling len: len of nil pointer',
    ),
    (
        t := "{{len .nope}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <len .nope>: error calling len: reflect: call of reflect.Value.Type on zero Value',
    ),
    (
        t := "{{index 5 0}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <index 5 0>: error calling index: can\'t index item of type int',
    ),
    (
        t := "{{index .images 0}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <index .images 0>: error calling index: index of untyped nil',
    ),
    (
        t := '{{index .config.history "a"}}',
        'error: error executing template "{{index .config.history \\"a\\"}}": template: output:1:2: executing "output" at <index .config.history "a">: error calling index: cannot index slice/array with type string',
    ),
    (
        t := "{{index .config.history 1.0}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <index .config.history 1.0>: error calling index: cannot index slice/array with type float64',
    ),
    (
        t := "{{index .config.history nil}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <index .config.history nil>: error calling index: cannot index slice/array with nil',
    ),
    (
        t := "{{index .config.history -1}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <index .config.history -1>: error calling index: index out of range: -1',
    ),
    (
        t := "{{index .metadata 1}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <index .metadata 1>: error calling index: value has type int; should be string',
    ),
    (
        t := "{{lt .config.size 1.5}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <lt .config.size 1.5>: error calling lt: incompatible types for comparison: int64 and float64',
    ),
    (
        t := "{{.config.size.x}}",
        f'error: error executing template "{t}": template: output:1:9: executing "output" at <.config.size.x>: can\'t evaluate field x in type interface {{}}',
    ),
    (
        t := "{{printf 5}}",
        f'error: error executing template "{t}": template: output:1:9: executing "output" at <5>: expected string; found 5',
    ),
]


TEMPLATE_ERRORS += [
    (
        t := "{{.metadata.version}}\n{{range .references.spec.tags}}{{.name}} {{.from.name.x}}{{end}}",
        'error: error executing template "{{.metadata.version}}\\n{{range .references.spec.tags}}{{.name}} '
        '{{.from.name.x}}{{end}}": template: output:2:48: executing "output" at <.from.name.x>: can\'t evaluate field x '
        "in type interface {}",
    ),
    (
        t := "{{len}}",
        f'error: error executing template "{t}": template: output:1:2: executing "output" at <len>: wrong number of '
        "args for len: want 1 got 0",
    ),
    (
        t := "{{printf .metadata}}",
        f'error: error executing template "{t}": template: output:1:9: executing "output" at <.metadata>: wrong type '
        "for value; expected string; got map[string]interface {}",
    ),
    (
        t := '{{base64decode "YQ="}}',
        'error: error executing template "{{base64decode \\"YQ=\\"}}": template: output:1:2: executing "output" at '
        '<base64decode "YQ=">: error calling base64decode: base64 decode failed: illegal base64 data at input byte 3',
    ),
]


TEMPLATE_ERRORS += [
    (
        t := '{{template "nope" .}}',
        'error: error executing template "{{template \\"nope\\" .}}": template: output:1:11: executing "output" at '
        '<{{template "nope" .}}>: template "nope" not defined',
    ),
    (
        t := 'x{{define "x"}}{{len 3}}{{end}}\n{{template "x"}}',
        'error: error executing template "x{{define \\"x\\"}}{{len 3}}{{end}}\\n{{template \\"x\\"}}": template: '
        'output:1:17: executing "x" at <len 3>: error calling len: len of type int',
    ),
    (
        t := '{{define "r"}}.{{template "r" .metadata}}{{end}}{{template "r"}}',
        'error: error executing template "{{define \\"r\\"}}.{{template \\"r\\" .metadata}}{{end}}{{template \\"r\\"}}": '
        'template: output:1:26: executing "r" at <{{template "r" .metadata}}>: exceeded maximum template depth (100000)',
    ),
]


@pytest.mark.parametrize(("template", "line"), TEMPLATE_ERRORS)
def test_template_errors_are_ocs(
    oc_release_rig: OcRig, template: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc's error line (where in the template, at which node) and exit code 1, and oc's stdout: what the
    template printed before it failed, then kubectl's report with the release as JSON and as data."""
    args = ["info", "-o", f"template={template}", oc_release_rig.realistic]
    oc = oc_release_rig.oc_run(args)
    assert (oc.code, oc.err.splitlines()[-1]) == (1, line)
    assert "Error executing template: " in oc.out
    okd = okd_run(args, capsys)
    assert (okd.code, okd.out, okd.err) == (1, oc.out, line + "\n")


#: (template, Go's parse error after "template: output:"): misplaced and malformed actions.
TEMPLATE_PARSE_ERRORS = [
    ("{{break}}", "1: {{break}} outside {{range}}"),
    ("{{range .images}}{{else}}{{continue}}{{end}}", "1: {{continue}} outside {{range}}"),
    ('{{range .images}}{{block "b" .}}{{break}}{{end}}{{end}}', "1: {{break}} outside {{range}}"),
    ('{{range .images}}{{define "x"}}{{end}}{{end}}', "1: unexpected <define> in command"),
    ("{{range .images}}{{break 1}}{{end}}", '1: unexpected "1" in {{break}}'),
    ('{{define "x"}}a{{end}}\n{{define "x"}}b\n{{end}}', '3: template: multiple definition of template "x"'),
    ('{{define "output"}}a{{end}}b', '1: template: multiple definition of template "output"'),
    ('{{define "x"}}a{{else}}b{{end}}', "1: unexpected {{else}} in define clause"),
    ('{{define "x"}}a', "1: unexpected EOF"),
    ('{{define "x" .}}{{end}}', "1: unexpected <.> in define clause"),
    ("{{define}}", '1: unexpected "}}" in define clause'),
    ('{{block "b"}}x{{end}}', "1: missing value for block clause"),
    ('{{$x := 1}}{{define "x"}}{{$x}}{{end}}', '1: undefined variable "$x"'),
    ("{{template x}}", '1: unexpected "x" in template clause'),
    ('{{define "bad\\q"}}{{end}}', "1: invalid syntax"),
]


@pytest.mark.parametrize(("template", "message"), TEMPLATE_PARSE_ERRORS)
def test_template_parse_errors_are_ocs(
    oc_release_rig: OcRig, template: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc's one error line and exit code 1, nothing on stdout."""
    expected = (1, "", f"error: error parsing template {template}, template: output:{message}\n")
    _both_print(oc_release_rig, template, expected, capsys)
