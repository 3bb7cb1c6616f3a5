"""``diff`` errors: which of the two images is not a release, and a bad --filter-by-os is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_new_release import NAME, SAMPLE, run, sample_args

COMPONENT = f"oci:{SAMPLE}:cli"  # a component image of the sample: no release payload files


def test_diff_names_the_image_without_image_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = f"oci:{tmp_path / 'rel'}:{NAME}"
    code, _, err = run(capsys, *sample_args(release))
    assert code == 0, err
    assert run(capsys, "diff", release, COMPONENT) == (
        1,
        "",
        f"error: new release image {COMPONENT} did not contain an image-references file\n",
    )
    assert run(capsys, "diff", COMPONENT, release) == (
        1,
        "",
        f"error: old release image {COMPONENT} did not contain an image-references file\n",
    )
    assert run(capsys, "diff", "--exit-code", release, COMPONENT)[0] == 2  # a failure, not "different"


def test_diff_filter_by_os_that_is_no_expression_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diff", "--filter-by-os", "a{99999}", COMPONENT, COMPONENT)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (
        "error: --filter-by-os was not a valid regular expression: error parsing regexp: invalid repeat count:"
        " `{99999}`"
    )
    new_code, _, new_err = run(capsys, "new", "--filter-by-os", "a{99999}", "--from-oci-layout", str(SAMPLE))
    assert (new_code, new_err.splitlines()[-1]) == (code, err.splitlines()[-1])  # as new says it
