"""Config errors name the file, the key path and the line, all at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load

GOOD = """\
district:
  name: Test District
  timezone: America/Chicago
cache:
  url: sqlite:///cache.db
  kek: {file: kek.key}
connectors:
  - name: sis
    type: powerschool
    options: {base_url: "http://127.0.0.1:9"}
visibility:
  attendance: {lag: PT45M, same_day_not_before: 10:30}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "portico.yaml"
    p.write_text(text)
    return p


def test_a_good_config_loads_with_durations_and_times(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, GOOD))
    assert loaded.config.visibility.attendance.lag == dt.timedelta(minutes=45)
    assert loaded.config.visibility.attendance.same_day_not_before == dt.time(10, 30)
    assert loaded.config.connectors[0].name == "sis"


def test_every_problem_is_reported_at_once_with_key_path_and_line(tmp_path: Path) -> None:
    bad = GOOD.replace("timezone: America/Chicago", "timezone: Mars/Base").replace(
        "    type: powerschool\n", "    type: powerschool\n    schedul: {interval: PT5M}\n"
    )
    bad = bad.replace("lag: PT45M", "lag: soon")
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, bad))
    text = str(info.value)
    assert len(info.value.problems) == 3
    assert "portico.yaml:3: district.timezone: unknown time zone" in text
    assert "connectors[sis].schedul: unknown key" in text
    assert "visibility.attendance.lag" in text


def test_a_secret_written_into_the_yaml_is_refused(tmp_path: Path) -> None:
    bad = GOOD.replace("kek: {file: kek.key}", "kek: c2VjcmV0LXZhbHVl")
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, bad))
    assert "cache.kek" in str(info.value)
    assert "c2VjcmV0LXZhbHVl" not in str(info.value)


def test_duplicate_keys_are_errors_not_silently_overwritten(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, GOOD + "visibility:\n  grades: {lag: P1D}\n"))
    assert "visibility: key appears twice" in str(info.value)


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, "district: [unclosed\n"))
    assert "portico.yaml:2" in str(info.value) or "portico.yaml:1" in str(info.value)


AUP = "access:\n  aup:\n    version: '2027-1'\n"


def test_the_acceptable_use_policy_is_read_from_its_file_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "policy.txt").write_text("Keep your password to yourself.\nReport problems at once.\n")
    loaded = load(write(tmp_path, GOOD + AUP + "    file: policy.txt\n"))
    aup = loaded.config.access.aup
    assert aup.text == "Keep your password to yourself.\nReport problems at once."
    assert aup.version == "2027-1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the policy file"),
        (b"", "the policy file is empty"),
        (b"\xff\xfe policy", "not UTF-8 text"),
        (b"x" * 100_001, "larger than 100,000 bytes"),
    ],
)
def test_a_policy_file_that_cannot_be_used_is_named_with_its_key_and_line(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "policy.txt").write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load(write(tmp_path, GOOD + AUP + "    file: policy.txt\n"))
    (problem,) = exc.value.problems
    assert (
        problem.key == "access.aup.file"
        and problem.line == GOOD.count("\n") + 4
        and message in problem.message
    )


def test_the_policy_is_given_as_text_or_as_a_file_not_both(tmp_path: Path) -> None:
    (tmp_path / "policy.txt").write_text("Rules.")
    with pytest.raises(ConfigError, match="not both"):
        load(write(tmp_path, GOOD + AUP + "    text: Rules.\n    file: policy.txt\n"))
