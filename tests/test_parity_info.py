"""``okdrelease info`` against the real ``oc adm release info`` on a release oc built from real OKD operators.

Every output form oc has: the text views, ``--size`` (header block, oc's column formats, the total
line), ``--verify``, ``-o json`` with and without ``--include-images`` (image names are pull specs,
``config.size`` is the sum of the layers), ``-o name|pullspec|digest``, ``--contents`` and the
JSONPath and Go template outputs. stdout, stderr and the exit code must be oc's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from oc_oracle import (
    ABSENT,
    CONFIG_CASES,
    CONFIG_REFUSED,
    CONFIG_UNWRITABLE,
    CREATED_READ,
    CREATED_REFUSED,
    OcRig,
    oc_release_rig,
    okd_run,
    with_component_configs,
    with_component_times,
    with_config,
    with_created,
    without_created,
)

__all__ = ["oc_release_rig"]

TEMPLATES = [
    "jsonpath={.metadata}|{.nope}|{.metadata.previous}|{.displayVersions.kubernetes}"
    '|{.references.spec.tags[0:2].name}|{.references.spec.tags[?(@.name=="cli")].from.name}'
    "|{..creationTimestamp}|{.config.config.Labels}|{.images}|{.references.spec.tags[-1].name} {$.digest}",
    'jsonpath={range .references.spec.tags[*]}{.name}{"\\t"}'
    '{.annotations.io\\.openshift\\.build\\.commit\\.id}{"\\n"}{end}',
    "jsonpath-as-json={.metadata.previous}",
    "template={{.nope}}|{{.metadata.nope}}|{{.images}}|{{.metadata}}|{{.config.config.Labels}}"
    "|{{len .references.spec.tags}}|{{.references.metadata.creationTimestamp}}",
    "go-template={{range $i, $t := .references.spec.tags}}{{if lt $i 3}}{{$i}} {{$t.name}} "
    '{{index $t.annotations "io.openshift.build.source-location"}}{{"\\n"}}{{end}}{{end}}'
    '{{with .metadata}}{{.version}}{{else}}none{{end}} {{printf "%s-%v" .digest 5}} {{len .config.history}}'
    '{{range $k, $v := .versionsTags}} {{$k}}={{$v}}{{end}}{{if eq .metadata.kind "x"}}no'
    "{{else if .metadata.version}} yes{{end}}",
    "template={{- range .displayVersions -}} {{.Version}} {{- end }}",
    'template={{.config.architecture | printf "%q"}} {{not .images}} {{and .digest .image}} '
    '{{or .images "fallback"}} {{print 1 2 "a" 3}}',
]

FORMS = [
    [],
    ["--pullspecs"],
    ["--commits"],
    ["--commit-urls"],
    ["--size"],
    ["--verify"],
    ["-o", "json"],
    ["--include-images", "-o", "json"],
    ["-o", "name"],
    ["-o", "pullspec"],
    ["-o", "digest"],
    ["--contents"],
    ["--image-for", "cli"],
    *[["-o", template] for template in TEMPLATES],
    ["--include-images", "-o", "jsonpath={.images.cli.config.size} {.images.cli.name}"],
]


@pytest.mark.parametrize("args", FORMS, ids=[" ".join(form) or "default" for form in FORMS])
def test_info_is_ocs(oc_release_rig: OcRig, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Same stdout, stderr (nothing: no progress lines) and exit code as oc."""
    oc = oc_release_rig.oc_run(["info", *args, oc_release_rig.realistic])
    okd = okd_run(["info", *args, oc_release_rig.realistic], capsys)
    assert oc.code == 0, oc.err
    assert okd == oc


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            "yaml",
            "error: --output only supports json, pullspec, digest, name, go-template, go-template-file, "
            "template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file\n",
        ),
        ("jsonpath", "error: template format specified but no template given\n"),
    ],
)
def test_info_refuses_outputs_as_oc(
    oc_release_rig: OcRig, output: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """oc's message for an unknown or empty output format (okdrelease exits 2 for usage errors, oc 1)."""
    oc = oc_release_rig.oc_run(["info", "-o", output, oc_release_rig.realistic])
    okd = okd_run(["info", "-o", output, oc_release_rig.realistic], capsys)
    assert (oc.code, oc.out, oc.err) == (1, "", message)
    assert (okd.code, okd.out, okd.err) == (2, "", message)


def _mask_ages(text: str) -> str:
    """The Created: row of a comparison holds ages that move while the two tools run."""
    return re.sub(r"(?m)^Created:.*$", "Created: <ages>", text)


@pytest.mark.parametrize("extra", [[], ["--commits"], ["-o", "json"], ["--contents"]])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_changes_from_is_ocs(
    oc_release_rig: OcRig, extra: list[str], direction: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--changes-from between two releases oc built: sections, justification, commit URLs, JSON, the hint."""
    old, new = oc_release_rig.realistic, oc_release_rig.every_file
    if direction == "backward":
        old, new = new, old
    oc = oc_release_rig.oc_run(["info", "--changes-from", old, *extra, new])
    okd = okd_run(["info", "--changes-from", old, *extra, new], capsys)
    expected = _mask_ages(oc.out).replace(f"{oc_release_rig.oc} adm release extract", "okdrelease extract")
    assert (okd.code, _mask_ages(okd.out), okd.err) == (oc.code, expected, oc.err)
    if not extra:
        assert re.search(r"(?m)^Created:\s+\d+[smhdy]\s+\d+[smhdy]$", okd.out)


#: The forms that show the release's creation time.
CREATED_FORMS = [[], ["-o", "json"], ["--include-images", "-o", "json"], ["-o", TEMPLATES[0]]]


@pytest.mark.parametrize("args", CREATED_FORMS, ids=[" ".join(form) or "default" for form in CREATED_FORMS])
def test_info_of_a_release_without_created_is_ocs(
    oc_release_rig: OcRig, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A release config without ``created``: Go's zero time wherever oc shows it."""
    release, _by_digest = without_created(oc_release_rig)
    oc = oc_release_rig.oc_run(["info", *args, release])
    okd = okd_run(["info", *args, release], capsys)
    assert oc.code == 0, oc.err
    assert okd == oc
    if not args:
        assert "\nCreated:   0001-01-01T00:00:00Z\n" in okd.out


@pytest.mark.parametrize("form", [[], ["-o", "json"]], ids=["text", "json"])
@pytest.mark.parametrize("created", CREATED_READ + CREATED_REFUSED, ids=repr)
def test_info_shows_the_created_time_as_oc(
    oc_release_rig: OcRig, created: object, form: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The release config's ``created`` in info's ``Created:`` row as oc reads and prints it (in UTC,
    year 0 kept: 0001-01-01T00:00:00Z before) and in -o json as Go's MarshalJSON writes it (the text
    as written before: a ',' fraction, a one-digit hour, ten fraction digits, an offset of 24 hours);
    oc's error for a value Go refuses (info succeeded)."""
    tag = f"info-created-{(CREATED_READ + CREATED_REFUSED).index(created)}"
    release, _by_digest = with_created(oc_release_rig, created, tag)
    oc = oc_release_rig.oc_run(["info", *form, release])
    okd = okd_run(["info", *form, release], capsys)
    assert okd == oc
    # -o json writes it with MarshalJSON, which refuses a 24-hour offset
    unwritable = bool(form) and created == "2024-01-01T00:00:00+24:00"
    assert oc.code == (1 if created in CREATED_REFUSED or unwritable else 0), oc.err


#: ``created`` of the components in the --size parity case: a blank AGE for Go's zero time however
#: written (292y before), 292y for year 0 (blank before), absent and null blank.
COMPONENT_TIMES = [
    "0001-01-01T00:00:00Z",
    "0000-06-01T00:00:00Z",
    ABSENT,
    "0001-01-01T01:00:00+01:00",
    "2024-01-01T00:00:00+02:00",
    "0000-01-01T00:00:00Z",
    None,
]


@pytest.mark.parametrize(
    ("name", "times"),
    [("read", COMPONENT_TIMES), ("empty", ["2024-01-01T00:00:00Z", ""])],
    ids=["read", "refused"],
)
def test_size_ages_are_ocs(
    oc_release_rig: OcRig, name: str, times: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    """--size's AGE column: blank exactly where oc's ``Created.IsZero()``; a component ``created`` Go
    refuses fails the view as in oc (the table was printed with a blank age before)."""
    release = with_component_times(oc_release_rig, times, f"size-{name}")
    oc = oc_release_rig.oc_run(["info", "--size", release])
    okd = okd_run(["info", "--size", release], capsys)
    assert okd == oc
    assert oc.code == (0 if name == "read" else 1), oc.err


@pytest.mark.parametrize("form", [[], ["-o", "json"], ["-o", TEMPLATES[3]]], ids=["text", "json", "template"])
@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_info_decodes_the_release_config_as_oc(
    oc_release_rig: OcRig, case: str, form: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The release config decoded as oc decodes it: its errors (info succeeded before), its -o json."""
    release, _by_digest = with_config(oc_release_rig, CONFIG_CASES[case], f"config-{case}")
    oc = oc_release_rig.oc_run(["info", *form, release])
    okd = okd_run(["info", *form, release], capsys)
    assert okd == oc
    refused = case in CONFIG_REFUSED or (case in CONFIG_UNWRITABLE and bool(form))
    assert oc.code == (1 if refused else 0), oc.err


#: Component configs: one oc cannot decode fails every view that fetches the images, in oc's words and
#: naming no image (a per-tag warning, or nothing, before); odd ones written by -o json as oc writes them.
COMPONENT_CONFIGS: dict[str, list[dict[str, object]]] = {
    "created-empty": [{}, {"created": ""}],
    "history-refused": [{"history": [{"created": "2024-01-01T00:00:00+25:00"}]}, {}],
    "history-unwritable": [{"history": [{"created": "2024-01-01T00:00:00+24:00"}]}],
    "odd": [
        {
            "created": "2024-01-01T12:00:00,5+02:00",
            "history": [{"created": "2024-01-01T1:00:00Z"}, None],
            "config": {"Env": [None]},
            "variant": "v8",
        }
    ],
}
IMAGE_FORMS = [
    ["--size"],
    ["--include-images"],
    ["--include-images", "-o", "json"],
    ["--include-images", "-o", "name"],
    ["--include-images", "-o", "jsonpath={.images.c0.config.history}"],
    ["-o", "json"],
]


@pytest.mark.parametrize("form", IMAGE_FORMS, ids=" ".join)
@pytest.mark.parametrize("case", sorted(COMPONENT_CONFIGS))
def test_component_configs_are_decoded_as_oc(
    oc_release_rig: OcRig, case: str, form: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    release = with_component_configs(oc_release_rig, COMPONENT_CONFIGS[case], f"components-{case}")
    oc = oc_release_rig.oc_run(["info", *form, release])
    okd = okd_run(["info", *form, release], capsys)
    assert okd == oc
    fetched = form[0] != "-o"
    refused = case.endswith("refused") or case == "created-empty"
    unwritable = case == "history-unwritable" and form[-1].startswith("json")  # -o json and jsonpath marshal
    assert oc.code == (1 if fetched and (refused or unwritable) else 0), oc.err


@pytest.mark.parametrize("case", ["created-empty", "history-refused"])
def test_verify_fails_on_a_component_config_as_oc(
    oc_release_rig: OcRig, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--verify reads every component's config too (it succeeded before)."""
    release = with_component_configs(oc_release_rig, COMPONENT_CONFIGS[case], f"components-{case}")
    oc = oc_release_rig.oc_run(["info", "--verify", release])
    okd = okd_run(["info", "--verify", release], capsys)
    assert okd == oc
    assert oc.code == 1 and oc.err.startswith("error: unable to parse image configuration: parsing time "), oc


def test_verify_prints_the_stream_time_as_oc(
    oc_release_rig: OcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    """--verify's time is image-references' creationTimestamp as oc prints a metav1.Time: Go's zero time
    when it is null (blank before); one line per release."""
    release = with_component_configs(oc_release_rig, COMPONENT_CONFIGS["odd"], "components-odd")
    args = ["info", "--verify", release, oc_release_rig.realistic]
    oc = oc_release_rig.oc_run(args)
    okd = okd_run(args, capsys)
    assert okd == oc
    assert oc.code == 0 and " 0001-01-01T00:00:00Z 4.1.0\n" in oc.out, oc


#: --changes-from forms: oc reads both releases' images for --size, --verify and --include-images (the
#: JSON holds them; a component config it cannot decode fails), checks only the release for --verify,
#: prints the --contents hint without reading, and refuses outputs other than JSON.
CHANGES_FORMS = [
    [],
    ["--include-images", "-o", "json"],
    ["--include-images"],
    ["--size"],
    ["--verify"],
    ["--contents"],
    ["-o", "name"],
    ["--include-images", "-o", "jsonpath={.from.images}"],
]


@pytest.mark.parametrize("form", CHANGES_FORMS, ids=[" ".join(form) or "default" for form in CHANGES_FORMS])
@pytest.mark.parametrize(
    ("old", "new"),
    [("odd", "plain"), ("odd", "created-empty"), ("created-empty", "plain"), ("history", "created-empty")],
)
def test_changes_from_reads_releases_as_oc(
    oc_release_rig: OcRig, old: str, new: str, form: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, --changes-from never read component images (no images in -o json, no config errors),
    compared with --verify, read both releases for --contents, printed the text view for any -o, and
    named the old release's error first where oc names the new one's."""
    releases = {
        "odd": with_component_configs(oc_release_rig, COMPONENT_CONFIGS["odd"], "components-odd"),
        "plain": with_component_configs(
            oc_release_rig, [{"created": "2024-01-02T00:00:00Z"}, {}], "components-plain"
        ),
        "created-empty": with_component_configs(
            oc_release_rig, COMPONENT_CONFIGS["created-empty"], "components-created-empty"
        ),
        "history": with_config(oc_release_rig, CONFIG_REFUSED["history-string"], "config-history-string")[0],
    }
    args = ["info", "--changes-from", releases[old], *form, releases[new]]
    oc = oc_release_rig.oc_run(args)
    okd = okd_run(args, capsys)
    expected = _mask_ages(oc.out).replace(f"{oc_release_rig.oc} adm release extract", "okdrelease extract")
    assert (okd.code, _mask_ages(okd.out), okd.err) == (oc.code, expected, oc.err)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_changes_from_a_release_without_created_is_ocs(
    oc_release_rig: OcRig, direction: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--changes-from with one release created at Go's zero time: its age as oc gives it."""
    old, _by_digest = without_created(oc_release_rig)
    new = oc_release_rig.every_file
    if direction == "backward":
        old, new = new, old
    oc = oc_release_rig.oc_run(["info", "--changes-from", old, new])
    okd = okd_run(["info", "--changes-from", old, new], capsys)
    expected = _mask_ages(oc.out).replace(f"{oc_release_rig.oc} adm release extract", "okdrelease extract")
    assert (okd.code, _mask_ages(okd.out), okd.err) == (oc.code, expected, oc.err)
    # Go's Time.Sub saturates: the zero time is 292 years old (the other release was built this session)
    ages = (
        r"(?m)^Created:\s+292y\s+\d+[smh]$" if direction == "forward" else r"(?m)^Created:\s+\d+[smh]\s+292y$"
    )
    assert re.search(ages, oc.out) and re.search(ages, okd.out), (oc.out[:300], okd.out[:300])


@pytest.mark.parametrize(
    "output", ["template={{nofunc .x}}", "template={{end}}", "template={{.x", "go-template={{if .a}}x"]
)
def test_template_parse_errors_are_ocs(
    oc_release_rig: OcRig, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A template that does not parse: oc's one error line and exit code."""
    oc = oc_release_rig.oc_run(["info", "-o", output, oc_release_rig.realistic])
    okd = okd_run(["info", "-o", output, oc_release_rig.realistic], capsys)
    assert oc.code == 1 and oc.err.startswith("error: error parsing template ")
    assert okd == oc


def test_release_metadata_section_is_ocs(oc_release_rig: OcRig, capsys: pytest.CaptureFixture[str]) -> None:
    """Upgrades sorted by semver, no Next line (oc prints none), null metadata as <nil>, empty values left out."""
    oc = oc_release_rig.oc_run(["info", oc_release_rig.every_file])
    okd = okd_run(["info", oc_release_rig.every_file], capsys)
    assert oc.code == 0, oc.err
    assert okd == oc
    section = okd.out.split("Release Metadata:\n", 1)[1].split("\n\n", 1)[0]
    assert section == (
        "  Version:  4.15.0-0.parity\n"
        "  Upgrades: 4.14.0, 4.14.2, 4.14.10\n"
        "  Metadata:\n"
        "    nested: map[b:true s:x]\n"
        "    nil:    <nil>\n"
        "    nums:   [1 2.5 1e+21]\n"
        "    url:    https://example.com/4.15"
    )


@pytest.mark.parametrize(
    ("form", "text"),
    [
        ("jsonpath-file", '{range .references.spec.tags[*]}{.name}{"\\n"}{end}'),
        ("templatefile", "{{.metadata.version}} {{len .references.spec.tags}}\n"),
        ("go-template-file", "{{range .references.spec.tags}}{{.name}} {{end}}"),
    ],
)
def test_template_files_are_ocs(
    oc_release_rig: OcRig, form: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o jsonpath-file=, templatefile= and go-template-file= read the template from a file, as oc does."""
    path = tmp_path / "template.txt"
    path.write_text(text)
    args = ["info", "-o", f"{form}={path}", oc_release_rig.realistic]
    oc = oc_release_rig.oc_run(args)
    okd = okd_run(args, capsys)
    assert oc.code == 0, oc.err
    assert oc.out.strip()
    assert okd == oc
