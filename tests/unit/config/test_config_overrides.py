"""PORTICO_<SECTION>__<KEY> environment overrides, duplicate keys with their lines, cron as
the scheduler reads it, and problems said in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.cron import cron_problem
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
  - name: sis-main
    type: powerschool
    schedule: {cron: "0 6 * * 1-5"}
    options: {base_url: "http://127.0.0.1:9"}
"""


def write(tmp_path: Path, text: str = GOOD) -> Path:
    p = tmp_path / "portico.yaml"
    p.write_text(text)
    return p


def test_environment_variables_override_nested_keys_and_connectors_by_name(tmp_path: Path) -> None:
    loaded = load(
        write(tmp_path),
        env={
            "PORTICO_API__PORT": "8081",
            "PORTICO_CACHE__URL": "postgresql://db.internal/portico",
            "PORTICO_CACHE__KEK": "{env: PORTICO_KEK}",
            "PORTICO_API__TRUSTED_PROXIES": "[10.0.0.5, 10.1.0.0/16]",
            "PORTICO_CONNECTORS__SIS_MAIN__SCHEDULE__CRON": "30 7 * * *",
            "PORTICO_CONFIG": "ignored: no double underscore",
        },
    )
    c = loaded.config
    assert c.api.port == 8081
    assert c.cache.url == "postgresql://db.internal/portico"
    assert c.cache.kek.env == "PORTICO_KEK"
    assert c.api.trusted_proxies == ["10.0.0.5", "10.1.0.0/16"]
    assert c.connectors[0].schedule is not None and c.connectors[0].schedule.cron == "30 7 * * *"
    assert loaded.overrides[("api", "port")] == "PORTICO_API__PORT"


def test_a_bad_override_is_reported_naming_the_variable_not_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(
            write(tmp_path),
            env={
                "PORTICO_API__PORT": "eighty",
                "PORTICO_API__PROT": "1",
                "PORTICO_CONNECTORS__NOPE__ENABLED": "false",
                "PORTICO_CONNECTORS__SIS_MAIN__SCHEDULE__CRON": "0 24 * * *",
                "PORTICO_CACHE__KEK": "literal-key-material",
            },
        )
    text = str(info.value)
    assert "environment variable PORTICO_API__PORT: api.port: expected a whole number" in text
    assert "environment variable PORTICO_API__PROT: api.prot: unknown key" in text
    assert "environment variable PORTICO_CONNECTORS__NOPE__ENABLED: connectors: no entry named 'nope'" in text
    assert (
        "environment variable PORTICO_CONNECTORS__SIS_MAIN__SCHEDULE__CRON: connectors[sis-main].schedule.cron: "
        "the hour field '24' is out of range; hours run 0-23"
    ) in text
    assert "environment variable PORTICO_CACHE__KEK: cache.kek: secrets are never written" in text
    assert "literal-key-material" not in text
    assert len(info.value.problems) == 5


def test_a_duplicate_key_names_both_lines_and_the_rest_is_still_checked(tmp_path: Path) -> None:
    text = GOOD.replace("  timezone: America/Chicago\n", "  timezone: America/Chicago\n  name: Again\n")
    text = text.replace("url: sqlite:///cache.db", "url: mysql://x")
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    lines = [str(p) for p in info.value.problems]
    assert any("portico.yaml:4: district.name: key appears twice (first on line 2)" in line for line in lines)
    assert any("portico.yaml:6: cache.url: expected a sqlite:///path" in line for line in lines)


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("61 * * * *", "the minute field '61' is out of range; minutes run 0-59"),
        ("*/15 6-25 * * 1-5", "the hour field '6-25' is out of range; hours run 0-23"),
        ("0 6 32 * *", "the day of month field '32' is out of range"),
        ("0 6 * 13 *", "the month field '13' is out of range"),
        ("0 6 * * 8", "the day of week field '8' is out of range"),
        ("0 6 * * fri-mon", "the day of week field 'fri-mon' is a range that runs backwards"),
        ("0 six * * *", "the hour field 'six' is not a number"),
        ("0 6 * *", "cron takes five fields"),
    ],
)
def test_cron_is_read_as_the_scheduler_reads_it_and_names_the_field(
    tmp_path: Path, cron: str, expected: str
) -> None:
    assert expected in (cron_problem(cron) or "")
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, GOOD.replace("0 6 * * 1-5", cron)))
    assert f"portico.yaml:10: connectors[sis-main].schedule.cron: {expected}" in str(info.value)


def test_cron_the_scheduler_accepts_passes() -> None:
    for cron in ("*/15 6-18 * * 1-5", "0 7 * * 0", "0 7 * * 7", "30 2 1 jan,jul *", "0 7 * * mon-fri"):
        assert cron_problem(cron) is None, cron


def test_problems_are_in_plain_words_not_pydantic_s(tmp_path: Path) -> None:
    text = GOOD + (
        "api:\n  port: many\n  docs: maybe\n  max_range: a while\n"
        "visibility:\n  attendance: late\nmail:\n  smtp_password: hunter2\n"
    )
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, text))
    found = {p.key: p.message for p in info.value.problems}
    assert found["api.port"] == "expected a whole number"
    assert found["api.docs"] == "expected true or false"
    assert found["api.max_range"].startswith("expected a duration: ISO 8601 such as PT30M")
    assert found["visibility.attendance"].startswith("expected a section of keys")
    assert found["mail.smtp_password"].startswith(
        "secrets are never written in the YAML: write {env: NAME} (an environment variable) or {file: PATH}"
    )
    assert all("Input should" not in m and "SecretRef" not in m for m in found.values())
    assert "hunter2" not in str(info.value)
