"""``new --created`` and SOURCE_DATE_EPOCH: the years RFC 3339 and Go's times hold, written in four digits."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from okdrelease.errors import UsageError
from okdrelease.gocompat.gotime import format_time
from okdrelease.payload.plan import default_created, parse_created
from tests.test_cli import ROOT, run_cli

SAMPLE = ROOT / "testdata" / "sample-payload"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (dt.datetime(1, 1, 1, tzinfo=dt.UTC), "0001-01-01T00:00:00Z"),
        (dt.datetime(999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "0999-12-31T23:59:59Z"),
        (dt.datetime(2024, 1, 18, 22, 35, 23, tzinfo=dt.UTC), "2024-01-18T22:35:23Z"),
        (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "9999-12-31T23:59:59Z"),
    ],
)
def test_format_time_writes_four_digit_years(moment: dt.datetime, text: str) -> None:
    assert format_time(moment) == text


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_created_outside_the_years_in_utc_is_a_usage_error(
    text: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["new", "--from-oci-layout", str(SAMPLE), "--name", "4.16.1", "--created", text]
    code, out, err = run_cli(capsys, *args, "--to-image", f"oci:{tmp_path / 'rel'}:x")
    assert (code, out) == (2, "")
    assert err.endswith(f"error: --created '{text}' is not a time in the years 0001 to 9999 in UTC\n")
    assert not (tmp_path / "rel").exists()


@pytest.mark.parametrize("epoch", ["99999999999999999", "-99999999999"])
def test_source_date_epoch_outside_the_years_is_named(epoch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    with pytest.raises(
        UsageError, match=f"^SOURCE_DATE_EPOCH '{epoch}' is not a time in the years 0001 to 9999$"
    ):
        default_created()


def test_source_date_epoch_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "-62135596800")  # 0001-01-01T00:00:00Z
    assert format_time(default_created()) == "0001-01-01T00:00:00Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "253402300799")  # 9999-12-31T23:59:59Z
    assert format_time(default_created()) == "9999-12-31T23:59:59Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1.5")
    with pytest.raises(UsageError, match=r"^SOURCE_DATE_EPOCH must be an integer, got '1\.5'$"):
        default_created()


def test_release_created_in_year_one_is_read_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Go's zero time as the release's creation time: written as Go writes it, so info reads it back
    (before, the config said ``1-01-01T00:00:00Z``, which info and skopeo refuse)."""
    target = f"oci:{tmp_path / 'rel'}:x"
    args = ["new", "--from-oci-layout", str(SAMPLE), "--name", "4.16.1", "--created", "0001-01-01T00:00:00Z"]
    code, out, err = run_cli(capsys, *args, "--to-image", target)
    assert code == 0, err
    assert out.split()[1:] == ["4.16.1", "0001-01-01T00:00:00Z"]
    code, out, err = run_cli(capsys, "info", "-o", "json", target)
    assert code == 0, err
    assert json.loads(out)["config"]["created"] == "0001-01-01T00:00:00Z"
    assert parse_created("0001-01-01T00:00:00Z") == dt.datetime(1, 1, 1, tzinfo=dt.UTC)
