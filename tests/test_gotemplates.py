"""The JSONPath and Go template subsets of ``info -o``: values as Go prints them, oc's error lines."""

from __future__ import annotations

import pytest

from okdrelease.gocompat.gotemplate import TemplateError, render_template
from okdrelease.gocompat.jsonpath import JSONPathError, render_jsonpath
from okdrelease.gocompat.strconv import go_quote
from okdrelease.release.info import go_value

DATA = {
    "a": {"b": 1.0, "c": [1.0, 2.5, "x"], "d": None, "e": {"k.v": "dotted", "z": True}},
    "list": [{"name": "one", "n": 1.0}, {"name": "two", "n": 2.0}, {"name": "three", "n": 3.0}],
    "big": 1234567.0,
    "empty": "",
    "two": [1.0, 2.0],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{.a.b} {.big} {.a.d} {.nope}|", "1 1.234567e+06 null |"),
        ("{.a.c}", '[1,2.5,"x"]'),
        ("{.a.e}", '{"k.v":"dotted","z":true}'),
        # the text of ['…'] is a path, as in kubectl: ['k.v'] is .k.v, ['k\\.v'] the key k.v
        ("{.a.e.k\\.v} {.a.e['k\\.v']} {.a.e['k.v']}|", "dotted dotted |"),
        ("{.list[*].name}", "one two three"),
        ("{.list[-1].name} {.list[0:2].n}", "three 1 2"),
        ('{.list[?(@.n>=2)].name} {.list[?(@.name=="one")].n}', "two three 1"),
        ('{range .list[*]}{.name}={.n}{"\\n"}{end}', "one=1\ntwo=2\nthree=3\n"),
        ("{..name}", "one two three"),
        ("{$.big}", "1.234567e+06"),
        ("{.list[0:3:2].name} {.list[::5].n} {.list[-1:].name}", "one three 1 three"),
        ("{.list[0,2].name} {.list[*]['name','n']}", "one three one two three 1 2 3"),
        ("{.list[3:]}{.list[1:1:0]}{.list[:-0]}{.list[-0:-0]}{.nope[0]}{.a.d[0]}|", "|"),
        # kubectl stops at the first list whose slice is empty: list[-2:1] is, two[-2:1] is not
        ("{['two','list'][-2:1]}|{['list','two'][-2:1]}|{['two','two'][0:1]}", "1||1 1"),
    ],
)
def test_jsonpath(template: str, expected: str) -> None:
    assert render_jsonpath(template, DATA, go_value=go_value) == expected


def test_jsonpath_as_json() -> None:
    assert (
        render_jsonpath("{.list[*].n}", DATA, go_value=go_value, as_json=True)
        == "[\n    1,\n    2,\n    3\n]\n"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{.list[9]}", "array index out of bounds: index 9, length 3"),
        ("{.list[::0]}", "step must be > 0"),
        ("{.list[0:2:-1]}", "step must be > 0"),
        ("{.list[2:1]}", "starting index 2 is greater than ending index 1"),
        ("{.list[0:5]}", "array index out of bounds: index 4, length 3"),
        ("{.list[-5:]}", "array index out of bounds: index -2, length 3"),
        ("{.list[:-4]}", "array index out of bounds: index -2, length 3"),
        ("{.list[-4]}", "array index out of bounds: index -1, length 3"),
        ("{.a.e[0]}", "map[string]interface {} is not array or slice"),
        ("{.a.e[*]}", "map[string]interface {} is not array or slice"),
        ("{.list[0].name[0]}", "string is not array or slice"),
        ("{.a.e.z[0]}", "bool is not array or slice"),
        ("{.a['c','b'][0]}", "float64 is not array or slice"),
        ("{.a.d[?(@.x)]}", "<nil> is not array or slice and cannot be filtered"),
        ("{.a.e[?(@.x)]}", "map[k.v:dotted z:true] is not array or slice and cannot be filtered"),
    ],
)
def test_jsonpath_execution_errors(template: str, message: str) -> None:
    """kubectl's errors (recorded from the real oc in tests/test_parity_templates.py)."""
    with pytest.raises(JSONPathError) as caught:
        render_jsonpath(template, DATA, go_value=go_value)
    assert str(caught.value) == f'error executing jsonpath "{template}": Error executing template: {message}'


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{.list[+1]}", "error parsing jsonpath {.list[+1]}, invalid array index +1"),
        ("{.list[1:-]}", "error parsing jsonpath {.list[1:-]}, array index - is not a number"),
        ('{.a["b"]}', 'error parsing jsonpath {.a["b"]}, invalid array index "b"'),
        ("{.a[", "error parsing jsonpath {.a[, unterminated action"),
        ("{range .list[*]}{.name}", "error parsing jsonpath {range .list[*]}{.name}, unclosed range"),
    ],
)
def test_jsonpath_errors(template: str, message: str) -> None:
    with pytest.raises(JSONPathError) as caught:
        render_jsonpath(template, DATA, go_value=go_value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{{.a.b}} {{.big}} {{.a.d}} {{.nope}} {{.a.e}}",
            "1 1234567 <no value> <no value> map[k.v:dotted z:true]",
        ),
        ("{{range .list}}{{.name}},{{end}}", "one,two,three,"),
        ("{{range $i, $e := .list}}{{if gt $i 0}} {{end}}{{$i}}:{{$e.name}}{{end}}", "0:one 1:two 2:three"),
        ("{{range $k, $v := .a.e}}{{$k}}={{$v}};{{end}}", "k.v=dotted;z=true;"),
        ("{{range .nope}}x{{else}}none{{end}}", "none"),
        ("{{if .empty}}a{{else if .a.b}}b{{else}}c{{end}}", "b"),
        ("{{with .a.e}}{{.z}}{{end}} {{with .nope}}x{{else}}y{{end}}", "true y"),
        ('{{index .a.e "k.v"}} {{index .a.c 1}} {{len .list}} {{len .a.e}}', "dotted 2.5 3 2"),
        ('{{printf "%s-%v-%d-%q" "s" .a.b 7 "q"}}', 's-1-7-"q"'),
        ('{{.list | len | printf "%v items"}}', "3 items"),
        ('{{print 1 2 "a" "b" 3}}', "1 2ab3"),
        ("{{not .empty}} {{and .a.b .big}} {{or .empty .a.b}}", "true 1234567 1"),
        ('{{eq .a.b 1}} {{ne (index .a.c 2) "x"}} {{eq (index .a.c 1) 2.5}}', "true false true"),
        # whole JSON numbers are int64 (kubectl's decoding), others float64; literals int and float64
        (
            '{{printf "%T %T %T %T %T" .a.b (index .a.c 1) 1 1.5 1e3}} {{.a.c}}',
            "int64 float64 int float64 float64 [1 2.5 x]",
        ),
        ('{{len "é"}} {{len .list}} {{index "abc" 1}} {{index .a.e "nope"}}', "2 3 98 <no value>"),
        # printf: Go's fmt, a verb that does not fit the value included
        (
            '{{printf "%d" "x"}}|{{printf "%s|%d|%q" 5 1.5 true}}|{{printf "%d %v %s" .a.d .nope nil}}',
            "%!d(string=x)|%!s(int=5)|%!d(float64=1.5)|%!q(bool=true)|%!d(<nil>) <nil> %!s(<nil>)",
        ),
        (
            '{{printf "%d" .a.c}}|{{printf "%s" .a.e}}|{{printf "%q" .list}}',
            '[1 %!d(float64=2.5) %!d(string=x)]|map[k.v:dotted z:%!s(bool=true)]|[map["n":\'\\x01\' "name":"one"] map["n":\'\\x02\' "name":"two"] map["n":\'\\x03\' "name":"three"]]',
        ),
        (
            '{{printf "%d %d" 1}}|{{printf "%d" 1 "x" nil}}|{{printf "%"}}|{{printf "%z" 1}}',
            "1 %!d(MISSING)|1%!(EXTRA string=x, <nil>)|%!(NOVERB)|%!z(int=1)",
        ),
        (
            '{{printf "%5d|%-4s|%04d|%+d|%.2s|%x|%X|%o|%b|%c|%U|%t" 7 "ab" 42 5 "abc" 255 "hi" 8 5 65 65 false}}',
            "    7|ab  |0042|+5|ab|ff|6869|10|101|A|U+0041|false",
        ),
        (
            '{{printf "%e|%f|%.1f|%g|%v|%6.2f" 1.5 2.25 3.14159 1e21 .big 3.14159}}',
            "1.500000e+00|2.250000|3.1|1e+21|1234567|  3.14",
        ),
        ("{{print .nope nil .a.d 1}} {{println .nope 2}}", "<nil> <nil> <nil> 1 <nil> 2\n"),
        ("{{$x := .list}}{{range $x}}{{.n}}{{end}}", "123"),
        ("a  {{- .a.b -}}  b{{/* comment */}}", "a1b"),
        ('{{"\\t"}}{{`raw\\n`}}', "\traw\\n"),
        ('{{base64decode "aGVsbG8="}}', "hello"),
        # printf: Go syntax, * widths and precisions, argument indexes, pointers of maps and lists
        (
            '{{printf "%#v|%#v|%#v|%#v" .a .two "q\\"" .a.d}}',
            'map[string]interface {}{"b":1, "c":[]interface {}{1, 2.5, "x"}, "d":interface {}(nil), '
            '"e":map[string]interface {}{"k.v":"dotted", "z":true}}|[]interface {}{1, 2}|"q\\""|<nil>',
        ),
        (
            '{{printf "%*d|%-*d|%.*f|%*d|%.*d" 5 3 5 3 2 1.23456 "x" 4 -1 5}}',
            "    3|3    |1.23|%!(BADWIDTH)4|%!(BADPREC)5",
        ),
        (
            '{{printf "%[2]d %[1]d %d|%[3]d|%[1]d" 1 2}}|{{printf "%[2]*[1]d|%[1]" 7 5}}|{{printf "%d" 1 2}}',
            "2 1 2|%!d(BADINDEX)|1|    7|%!(NOVERB)|1%!(EXTRA int=2)",
        ),
        ('{{printf "%p|%p" 5 nil}}|{{printf "%[1]d %[1]f" 12}}', "%!p(int=5)|%!p(<nil>)|12 %!f(int=12)"),
        # literals as Go reads them; chained fields of a parenthesised pipeline; range over an integer
        ("{{'a'}} {{0x1F}} {{017}} {{1_000}} {{.5}} {{\"\\x41\\u00e9\"}}", "97 31 15 1000 0.5 Aé"),
        (
            "{{(index .list 1).name}} {{range 3}}{{.}}{{end}} {{range $i := 0}}x{{else}}none{{end}}",
            "two 012 none",
        ),
        # variables: := in scope until the block's end, = assigns the nearest; a trailing | is let be
        (
            "{{$x := 1}}{{range .two}}{{$x = .}}{{end}}{{if true}}{{$x := 9}}{{end}}{{$x}} {{.big | }}",
            "2 1234567",
        ),
        ('{{base64decode "aGVs\\nbG8="}}', "hello"),
    ],
)
def test_go_template(template: str, expected: str) -> None:
    assert render_template(template, DATA, go_value=go_value) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{nofunc .x}}",
            'error parsing template {{nofunc .x}}, template: output:1: function "nofunc" not defined',
        ),
        ("{{end}}", "error parsing template {{end}}, template: output:1: unexpected {{end}}"),
        ("{{.x", "error parsing template {{.x, template: output:1: unclosed action"),
        ("{{if .a}}x", "error parsing template {{if .a}}x, template: output:1: unexpected EOF"),
        # where: line and byte column of the node Go was evaluating, and that node as Go prints it
        *(
            (template, f"error executing template {go_quote(template)}: template: output:{where}: {message}")
            for template, where, message in [
                (
                    "{{.big.x}}",
                    '1:6: executing "output" at <.big.x>',
                    "can't evaluate field x in type interface {}",
                ),
                (
                    "{{lt 1 1.5}}",
                    '1:2: executing "output" at <lt 1 1.5>',
                    "error calling lt: incompatible types for comparison: int and float64",
                ),
                (
                    "{{eq .a.b 1.0}}",
                    '1:2: executing "output" at <eq .a.b 1.0>',
                    "error calling eq: incompatible types for comparison: int64 and float64",
                ),
                ("{{len 5}}", '1:2: executing "output" at <len 5>', "error calling len: len of type int"),
                (
                    "{{len .a.b}}",
                    '1:2: executing "output" at <len .a.b>',
                    "error calling len: len of type int64",
                ),
                (
                    "{{len .a.d}}",
                    '1:2: executing "output" at <len .a.d>',
                    "error calling len: len of nil pointer",
                ),
                (
                    "{{len .nope}}",
                    '1:2: executing "output" at <len .nope>',
                    "error calling len: reflect: call of reflect.Value.Type on zero Value",
                ),
                (
                    "{{index 5 0}}",
                    '1:2: executing "output" at <index 5 0>',
                    "error calling index: can't index item of type int",
                ),
                (
                    "{{index .a.d 0}}",
                    '1:2: executing "output" at <index .a.d 0>',
                    "error calling index: index of untyped nil",
                ),
                (
                    "{{index .list .empty}}",
                    '1:2: executing "output" at <index .list .empty>',
                    "error calling index: cannot index slice/array with type string",
                ),
                (
                    "{{index .list 1.0}}",
                    '1:2: executing "output" at <index .list 1.0>',
                    "error calling index: cannot index slice/array with type float64",
                ),
                (
                    "{{index .list nil}}",
                    '1:2: executing "output" at <index .list nil>',
                    "error calling index: cannot index slice/array with nil",
                ),
                (
                    "{{index .list 3}}",
                    '1:2: executing "output" at <index .list 3>',
                    "error calling index: index out of range: 3",
                ),
                (
                    "{{index .a 1}}",
                    '1:2: executing "output" at <index .a 1>',
                    "error calling index: value has type int; should be string",
                ),
                ("{{printf 5}}", '1:9: executing "output" at <5>', "expected string; found 5"),
                # a node below a chain of fields is placed at the chain's second name, as Go's parser does
                (
                    "é\n  {{.list}}{{.a.b.c}}",
                    '2:15: executing "output" at <.a.b.c>',
                    "can't evaluate field c in type interface {}",
                ),
                ("{{ 5 | len }}", '1:7: executing "output" at <len>', "error calling len: len of type int"),
                ("{{len}}", '1:2: executing "output" at <len>', "wrong number of args for len: want 1 got 0"),
                (
                    "{{index}}",
                    '1:2: executing "output" at <index>',
                    "wrong number of args for index: want at least 1 got 0",
                ),
                (
                    "{{eq 1}}",
                    '1:2: executing "output" at <eq 1>',
                    "error calling eq: missing argument for comparison",
                ),
                (
                    "{{printf .a}}",
                    '1:9: executing "output" at <.a>',
                    "wrong type for value; expected string; got map[string]interface {}",
                ),
                ("{{printf .nope}}", '1:9: executing "output" at <.nope>', "invalid value; expected string"),
                (
                    "{{printf .a.d}}",
                    '1:11: executing "output" at <.a.d>',
                    "wrong type for value; expected string; got interface {}",
                ),
                (
                    "{{$x := 5}}{{$x.y}}",
                    '1:15: executing "output" at <$x.y>',
                    "can't evaluate field y in type int",
                ),
                (
                    "{{(index .list 0).name.x}}",
                    '1:15: executing "output" at <0>',
                    "can't evaluate field x in type interface {}",
                ),
                (
                    "{{with .empty}}{{else}}{{.a.d.x}}{{end}}",
                    '1:27: executing "output" at <.a.d.x>',
                    "nil pointer evaluating interface {}.x",
                ),
                ("{{nil}}", '1:2: executing "output" at <nil>', "nil is not a command"),
                ("{{.a 5}}", '1:2: executing "output" at <.a>', "a is not a method but has arguments"),
                ("{{.a.e 5}}", '1:4: executing "output" at <.a.e>', "e is not a method but has arguments"),
                ("{{5 .a}}", '1:2: executing "output" at <5>', "can't give argument to non-function 5"),
                ("{{range 2.5}}{{end}}", '1:8: executing "output" at <2.5>', "range can't iterate over 2.5"),
                (
                    "{{range $i, $v := 3}}{{end}}",
                    '1:18: executing "output" at <3>',
                    "can't use 3 to iterate over more than one variable",
                ),
                ("{{$z = 1}}", '1:7: executing "output" at <1>', "undefined variable: $z"),
                (
                    '{{base64decode "YQ="}}',
                    '1:2: executing "output" at <base64decode "YQ=">',
                    "error calling base64decode: base64 decode failed: illegal base64 data at input byte 3",
                ),
            ]
        ),
        *(
            (template, f"error parsing template {template}, template: output:{message}")
            for template, message in [
                ("{{$y}}", '1: undefined variable "$y"'),
                ("a\n{{if}}{{end}}", "2: missing value for if"),
                ("{{.a | | .b}}", '1: unexpected "|" in command'),
                ("{{5 | 6}}", "1: non executable command in pipeline stage 2"),
                ('{{"\\q"}}', "1: invalid syntax"),
            ]
        ),
    ],
)
def test_go_template_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_template(template, DATA, go_value=go_value)
    assert str(caught.value) == message


def test_a_failed_template_keeps_what_it_printed_and_kubectls_report() -> None:
    """What printed before the failure, then kubectl's report: error, template, JSON, the data as %+v."""
    from okdrelease.gocompat.gotemplate import TemplateExecError, failure_report

    template = "{{.two}} {{.a.e.z}}{{len 5}}after"
    with pytest.raises(TemplateExecError) as caught:
        render_template(template, {"two": [1.0, 2.0], "a": {"e": {"z": True}}}, go_value=go_value)
    assert caught.value.partial == "[1 2] true"
    assert failure_report(caught.value, "{RAW}", go_value) == (
        '[1 2] trueError executing template: template: output:1:21: executing "output" at <len 5>: '
        "error calling len: len of type int. Printing more information for debugging the template:\n"
        f"\ttemplate was:\n\t\t{template}\n"
        "\traw data was:\n\t\t{RAW}\n"
        "\tobject given to template engine was:\n\t\tmap[a:map[e:map[z:true]] two:[1 2]]\n\n"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            '{{define "x"}}<{{.}}|{{$}}>{{end}}{{template "x" .big}}{{template "x"}}',
            "<1234567|1234567><<no value>|<no value>>",
        ),
        ('{{block "b" .a.e}}{{.z}}{{end}}{{template "b" .a}}', "true<no value>"),
        ('{{range .list}}{{if eq .name "two"}}{{continue}}{{end}}{{.name}};{{end}}', "one;three;"),
        (
            "{{range $i, $e := .list}}{{with $e}}{{if eq $i 1}}{{break}}{{end}}{{end}}{{$e.name}}{{end}}|{{range .nope}}{{else}}none{{end}}",
            "one|none",
        ),
        ("{{range .two}}{{range $.list}}{{break}}{{end}}{{.}}{{end}}", "12"),
        (' \n{{define "output"}}replaced{{end}}', "replaced"),
        ('{{define "x"}}{{end}}{{define "x"}}second{{end}}{{define "x"}} {{end}}{{template "x"}}', "second"),
    ],
)
def test_go_template_named_templates_and_loops(template: str, expected: str) -> None:
    assert render_template(template, DATA, go_value=go_value) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{continue}}", "1: {{continue}} outside {{range}}"),
        ('{{range .list}}{{define "x"}}{{end}}{{end}}', "1: unexpected <define> in command"),
        ('{{range .list}}{{define "x"}}{{break}}{{end}}{{end}}', "1: unexpected <define> in command"),
        ("{{range .list}}{{break .a}}{{end}}", '1: unexpected ".a" in {{break}}'),
        (
            '{{range .list}}{{continue "a long string"}}{{end}}',
            '1: unexpected "\\"a long st"... in {{continue}}',
        ),
        (
            '{{define "x"}}\n{{end}}{{define "x"}}y\n\n{{end}}{{define "x"}}z{{end}}',
            '4: template: multiple definition of template "x"',
        ),
        ('{{block "x" .}}{{else}}{{end}}', "1: unexpected {{else}} in block clause"),
        ("{{template nil}}", "1: unexpected <nil> in template clause"),
        ('{{template "x" |}}', '1: unexpected "|" in template clause'),
    ],
)
def test_go_template_misplaced_actions(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_template(template, DATA, go_value=go_value)
    assert str(caught.value) == f"error parsing template {template}, template: output:{message}"


def test_go_template_calls_nest_as_deep_as_gos() -> None:
    """Go stops at 100,000 nested calls, after printing what each printed; Python's own limit is put back."""
    import sys

    from okdrelease.gocompat.gotemplate import TemplateExecError

    limit = sys.getrecursionlimit()
    template = '{{define "r"}}{{if .}}.{{template "r" .}}{{end}}{{end}}{{template "r" 1}}'
    with pytest.raises(TemplateExecError) as caught:
        render_template(template, DATA, go_value=go_value)
    assert caught.value.reason == (
        'template: output:1:34: executing "r" at <{{template "r" .}}>: exceeded maximum template depth (100000)'
    )
    assert caught.value.partial == "." * 100000
    assert sys.getrecursionlimit() == limit
