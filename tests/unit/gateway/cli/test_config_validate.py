"""`portico config validate` finds every kind of mistake in one run, each with its line;
`portico config show` prints the configuration in effect with secrets redacted."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from click.testing import CliRunner

from cache.keys.crypto import new_kek_line
from gateway.cli import main

BROKEN = """\
district:
  name: Broken District
  timezone: Mars/Base
  name: Again
cache:
  url: sqlite:///cache.db
  kek: {file: kek.key}
  stale_after: soon
connectors:
  - name: sis
    type: powerschool
    schedule: {cron: "61 * * * *"}
    options:
      base_url: http://127.0.0.1:9
      client_id: {env: PORTICO_TEST_UNSET_CLIENT_ID}
      client_secret: hunter2-literal
      page_size: many
  - name: office
    type: cloudschool
    schedule: {cron: "*/15 6-25 * * 1-5"}
    options: {path: not-there, school_id: "1", school_name: Office, timezone: Europe/London}
  - name: third
    type: carrier-pigeon
api:
  port: 99999
  prot: 1
mail:
  backend: smtp
  smtp_password: {file: smtp-password.txt}
"""

# What one run must report: line, key path, and the plain words expected.
EXPECTED = [
    "portico.yaml:3: district.timezone: unknown time zone 'Mars/Base'",
    "portico.yaml:4: district.name: key appears twice (first on line 2)",
    "portico.yaml:7: cache.kek: key file kek.key is readable by every user (mode 644); "
    "make it readable only by Portico's user: chmod 600 kek.key",
    "portico.yaml:8: cache.stale_after: expected a duration",
    "portico.yaml:12: connectors[sis].schedule.cron: the minute field '61' is out of range; minutes run 0-59",
    "portico.yaml:15: connectors[sis].options.client_id: environment variable PORTICO_TEST_UNSET_CLIENT_ID is not set",
    "portico.yaml:16: connectors[sis].options.client_secret: secrets are never written in the YAML: "
    "write {env: NAME} (an environment variable) or {file: PATH}",
    "portico.yaml:17: connectors[sis].options.page_size: expected a whole number",
    "portico.yaml:20: connectors[office].schedule.cron: the hour field '6-25' is out of range; hours run 0-23",
    "portico.yaml:21: connectors[office].options.path: not-there: export folder not found",
    "portico.yaml:23: connectors[third].type: unknown connector type 'carrier-pigeon'",
    "portico.yaml:25: api.port: expected a number at most 65535",
    "portico.yaml:26: api.prot: unknown key",
    "portico.yaml:29: mail.smtp_password: secret file smtp-password.txt does not exist",
    "environment variable PORTICO_API__MAX_PAGE_SIZE: api.max_page_size: expected a whole number",
]


def test_a_config_with_every_kind_of_mistake_is_reported_in_one_run_with_lines(tmp_path: Path) -> None:
    (tmp_path / "portico.yaml").write_text(BROKEN)
    (tmp_path / "kek.key").write_text(new_kek_line() + "\n")
    os.chmod(tmp_path / "kek.key", 0o644)
    env = {"COLUMNS": "250", "PORTICO_API__MAX_PAGE_SIZE": "lots", "PORTICO_TEST_UNSET_CLIENT_ID": None}
    result = CliRunner(env=env).invoke(main, ["config", "validate", str(tmp_path / "portico.yaml")])
    assert result.exit_code == 2, result.output
    lines = [line.strip()[2:] for line in result.output.splitlines() if line.strip().startswith("- ")]
    assert f"{len(EXPECTED)} problems" in result.output
    for expected in EXPECTED:
        assert sum(1 for line in lines if expected in line) == 1, (expected, result.output)
    assert len(lines) == len(EXPECTED), result.output
    assert "hunter2-literal" not in result.output
    assert "Input should" not in result.output and "SecretRef" not in result.output
    assert "Traceback" not in result.output


def _good(tmp_path: Path) -> Path:
    key = tmp_path / "kek.key"
    key.write_text(new_kek_line() + "\n")
    key.chmod(0o600)
    path = tmp_path / "portico.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "district": {"name": "Show District", "timezone": "Europe/London"},
                "cache": {
                    "url": "postgresql://portico:db-password-value@db.internal/portico",
                    "kek": {"file": "kek.key"},
                },
                "connectors": [
                    {
                        "name": "sis",
                        "type": "powerschool",
                        "schedule": {"cron": "*/15 6-18 * * 1-5"},
                        "options": {
                            "base_url": "http://127.0.0.1:9",
                            "client_id": {"env": "PS_ID"},
                            "client_secret": {"env": "PS_SECRET"},
                        },
                    }
                ],
                "mail": {
                    "backend": "smtp",
                    "smtp_username": "portico",
                    "smtp_password": {"env": "SMTP_PASSWORD"},
                },
            }
        )  # fmt: skip
    )
    return path


def test_a_valid_config_passes_and_a_secret_the_environment_lacks_is_named(tmp_path: Path) -> None:
    path = _good(tmp_path)
    env = {"PS_ID": "id-value", "PS_SECRET": "secret-value", "SMTP_PASSWORD": "mail-value"}
    ok = CliRunner(env=env).invoke(main, ["config", "validate", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    missing = CliRunner(env={**env, "SMTP_PASSWORD": None}).invoke(main, ["config", "validate", str(path)])
    assert missing.exit_code == 2
    assert "mail.smtp_password: environment variable SMTP_PASSWORD is not set" in missing.output
    for value in env.values():
        assert value not in ok.output + missing.output


def test_config_show_prints_the_effective_config_with_overrides_and_no_secret(tmp_path: Path) -> None:
    path = _good(tmp_path)
    env = {
        "PORTICO_API__PORT": "8443",
        "PORTICO_CONNECTORS__SIS__OPTIONS__TIMEOUT": "7",
        "PS_SECRET": "secret-value",
    }
    result = CliRunner(env=env).invoke(main, ["--config", str(path), "config", "show"])
    assert result.exit_code == 0, result.output
    assert "# PORTICO_API__PORT sets api.port" in result.output
    shown = yaml.safe_load(result.output)
    assert shown["api"]["port"] == 8443
    assert shown["connectors"][0]["options"]["timeout"] == 7.0
    assert shown["connectors"][0]["options"]["client_secret"] == {"env": "PS_SECRET"}
    assert shown["cache"]["url"] == "postgresql://portico:<redacted>@db.internal/portico"
    assert shown["access"]["session_idle_timeout"] == "PT20M"  # defaults are filled in
    assert "db-password-value" not in result.output and "secret-value" not in result.output


def test_config_show_prints_mapped_exports_and_access_rules_it_can_read_back(tmp_path: Path) -> None:
    from config.loader import load
    from connectors import registry
    from tests.support.exports import ONEROSTER_RULE, PARENTMAIL_RECORDS, PARENTMAIL_RULE, PARENTMAIL_SOURCE

    school = {"school_id": "100", "school_name": "Hollybrook", "timezone": "Europe/London"}
    path = _good(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["connectors"] += [
        {"name": "hollybrook", "type": "cloudschool", "options": {
            "path": "export", **school, "sources": {"pm": PARENTMAIL_SOURCE}, "records": PARENTMAIL_RECORDS,
            "access": PARENTMAIL_RULE,
        }},
        {"name": "roster", "type": "oneroster", "options": {"path": "roster", "timezone": "Europe/London",
                                                             "access": ONEROSTER_RULE}},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "show", str(path)])
    assert result.exit_code == 0, result.output
    shown = tmp_path / "shown.yaml"
    shown.write_text(result.output)
    # What it prints is itself a valid config, with the same settings.
    again = load(shown, env={})
    assert registry.validate_connectors(again) == []
    assert again.config.connectors[1].options["access"][0]["grant"] == PARENTMAIL_RULE[0]["grant"]
    assert again.config.connectors[2].type == "oneroster"


# Every secret the example configuration names, where `config show` must print it: as the
# reference itself, never what it refers to.
EXAMPLE = Path(__file__).resolve().parents[4] / "config" / "portico.example.yaml"
EXAMPLE_SECRETS = {
    ("cache", "kek"): {"file": "/etc/portico/kek.key"},
    ("connectors", 0, "options", "client_id"): {"env": "PORTICO_PS_CLIENT_ID"},
    ("connectors", 0, "options", "client_secret"): {"file": "/etc/portico/powerschool-secret"},
    ("api", "metrics", "token"): {"env": "PORTICO_METRICS_TOKEN"},
    ("mail", "smtp_password"): {"env": "PORTICO_SMTP_PASSWORD"},
}


def _secret_refs(value: object, at: tuple[object, ...] = ()) -> dict[tuple[object, ...], object]:
    """Where ``value`` (a loaded model) holds a SecretRef, by key path."""
    from pydantic import BaseModel

    from config.secrets import SecretRef

    if isinstance(value, SecretRef):
        return {at: value}
    found: dict[tuple[object, ...], object] = {}
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= _secret_refs(getattr(value, name), (*at, name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found |= _secret_refs(item, (*at, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= _secret_refs(item, (*at, key))
    return found


def _at(data: object, path: tuple[object, ...]) -> object:
    for part in path:
        data = data[part]  # type: ignore[index]
    return data


def test_config_show_prints_every_secret_of_the_example_config_as_its_reference() -> None:
    from config.loader import load
    from connectors import registry

    # The table above is every secret the example holds, by the fields' type.
    loaded = load(EXAMPLE, env={})
    in_model = _secret_refs(loaded.config)
    for i, cs in enumerate(loaded.config.connectors):
        options = registry.get(cs.type).options_model.model_validate(cs.options)
        in_model |= {("connectors", i, "options", *at): ref for at, ref in _secret_refs(options).items()}
    assert set(in_model) == set(EXAMPLE_SECRETS)

    env = {
        "PORTICO_PS_CLIENT_ID": "resolved-client-id-4711",
        "PORTICO_METRICS_TOKEN": "resolved-metrics-token-4711",
        "PORTICO_SMTP_PASSWORD": "resolved-smtp-password-4711",
    }
    result = CliRunner(env=env).invoke(main, ["config", "show", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    for path, ref in EXAMPLE_SECRETS.items():
        assert _at(shown, path) == ref, path
    for value in env.values():
        assert value not in result.output


def test_config_show_never_prints_a_secret_file_or_a_url_password(tmp_path: Path) -> None:
    path = _good(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["cache"]["keystore_url"] = "postgresql://keys:keystore-pw-value@db.internal:5432/keys?sslmode=require"
    path.write_text(yaml.safe_dump(raw))
    env = {"PS_ID": "id-value-4711", "PS_SECRET": "secret-value-4711", "SMTP_PASSWORD": "mail-value-4711"}
    result = CliRunner(env=env).invoke(main, ["config", "show", str(path)])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["cache"]["url"] == "postgresql://portico:<redacted>@db.internal/portico"
    assert (
        shown["cache"]["keystore_url"] == "postgresql://keys:<redacted>@db.internal:5432/keys?sslmode=require"
    )
    assert shown["cache"]["kek"] == {"file": "kek.key"}
    kek = (tmp_path / "kek.key").read_text().split()[-1]
    for value in [*env.values(), kek, "keystore-pw-value", "db-password-value"]:
        assert value not in result.output


def test_config_show_prints_settings_whose_names_sound_secret(tmp_path: Path) -> None:
    path = _good(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["connectors"][0]["options"]["token_path"] = "/custom/oauth/token"
    raw["access"] = {"password_policy": "school-aup", "family_token_max_lifetime": "P30D"}
    raw["portal"] = {"password_notice": {"en": "Passwords expire each term."}}
    raw["api"] = {"throttles": {"requests_per_family_token": {"count": 42, "per": "PT1H"}}}
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "show", str(path)])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["connectors"][0]["options"]["token_path"] == "/custom/oauth/token"
    assert shown["access"]["password_policy"] == "school-aup"
    assert shown["access"]["family_token_max_lifetime"] == "P30D"
    assert shown["portal"]["password_notice"] == {"en": "Passwords expire each term."}
    assert shown["api"]["throttles"]["requests_per_family_token"]["count"] == 42


def test_what_is_a_secret_is_decided_by_type_not_by_name() -> None:
    from pydantic import BaseModel

    from config.secrets import SecretRef
    from gateway.cli.config_cmds import shown

    class Inner(BaseModel):
        credential_store: SecretRef
        secret_word_count: int = 3

    class Options(BaseModel):
        token_lifetime: int = 3600
        max_tokens: int = 12
        password_hint: str = "the name of your first pet"
        api_key: SecretRef
        upstream_url: str = "https://svc:hunter2@api.example.org/v1"
        plain_url: str = "https://api.example.org:8443/v1"
        more: list[Inner]
        by_name: dict[str, SecretRef]

    options = Options(
        api_key=SecretRef(env="API_KEY"),
        more=[Inner(credential_store=SecretRef(file="store.key"))],
        by_name={"a": SecretRef(env="A")},
    )
    assert shown(options) == {
        "token_lifetime": 3600,
        "max_tokens": 12,
        "password_hint": "the name of your first pet",
        "api_key": {"env": "API_KEY"},
        "upstream_url": "https://svc:<redacted>@api.example.org/v1",
        "plain_url": "https://api.example.org:8443/v1",
        "more": [{"credential_store": {"file": "store.key"}, "secret_word_count": 3}],
        "by_name": {"a": {"env": "A"}},
    }
