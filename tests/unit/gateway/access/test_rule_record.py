"""The access rule in force: checked before any parent gets access (``portico config
validate`` shows what each line grants and refuses), shown by ``portico status``, and
recorded in the audit chain when it changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import TypeAdapter

from cache.store import open_cache
from cache.tables.audit import EVENTS
from config.loader import load
from config.secrets import SecretResolver
from connectors.rules import Policy, Rule
from gateway.access.rule_record import last_recorded
from gateway.cli import main
from gateway.privacy import audit
from tests.support.config import raw_config, upgrade_schema, write_yaml
from tests.support.exports import PARENTMAIL_RECORDS, PARENTMAIL_RULE, PARENTMAIL_SOURCE, uk_folder


def policy(rules: list[dict[str, object]]) -> Policy:
    return Policy(TypeAdapter(list[Rule]).validate_python(rules))


@pytest.fixture
def config_file(tmp_path: Path, sqlite_url: str) -> Path:
    """A YAML config reading a ParentMail list with the district's rule, its databases upgraded."""
    uk_folder(tmp_path / "export", "parentmail-student-import.csv")
    options = {
        "path": "export", "school_id": "9994001", "school_name": "Hollybrook Academy", "settle_seconds": 0,
        "sources": {"pm": PARENTMAIL_SOURCE}, "records": PARENTMAIL_RECORDS, "access": PARENTMAIL_RULE,
    }  # fmt: skip
    raw = raw_config(
        tmp_path,
        sqlite_url,
        district={"name": "Ashdown Learning Trust", "timezone": "Europe/London"},
        connectors=[{"name": "hollybrook", "type": "cloudschool", "options": options}],
        logging={"format": "json"},
    )
    path = write_yaml(tmp_path / "portico.yaml", raw)
    upgrade_schema(load(path).config)
    return path


def cli(path: Path, *args: str) -> Result:
    return CliRunner(env={"COLUMNS": "250"}).invoke(
        main, ["--config", str(path), *args], catch_exceptions=False
    )


def test_config_validate_shows_what_each_rule_grants_and_refuses_over_the_export(config_file: Path) -> None:
    res = CliRunner().invoke(main, ["config", "validate", str(config_file)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    fingerprint = policy(PARENTMAIL_RULE).fingerprint()
    assert f"hollybrook: access rule {fingerprint}, over the export now:" in res.output
    assert '1. grant "the first contact, when a parent or guardian"' in res.output
    assert (
        "Step Father: granted 5 links (4 contacts)" in res.output
    )  # Ngozi is first contact for two children
    assert "2. otherwise refuse: refused 4 links (4 contacts)" in res.output
    assert "in all: 5 of 9 links granted; 4 of 7 contacts get access" in res.output
    assert "Ngozi" not in res.output and "@example" not in res.output  # counts, never people


def test_the_rule_in_force_is_printed_by_status_and_audited_once_per_change(config_file: Path) -> None:
    before = cli(config_file, "status")
    assert "not yet recorded" in before.output
    assert cli(config_file, "sync").exit_code == 0
    loaded = load(config_file)
    cache = open_cache(loaded.config, SecretResolver(base_dir=config_file.parent))
    try:
        first = policy(PARENTMAIL_RULE).fingerprint()
        with cache.engine.connect() as conn:
            recorded = last_recorded(conn, "hollybrook")
        assert recorded is not None and recorded.fingerprint == first
        after = cli(config_file, "status")
        assert f"access rule {first} (recorded in the audit chain" in after.output
        assert "2. otherwise refuse" in after.output
        cli(config_file, "sync")  # the same rule again: nothing new in the audit chain
        raw = yaml.safe_load(config_file.read_text())
        raw["connectors"][0]["options"]["access"] = [{**PARENTMAIL_RULE[0], "when": {"priority": [1, 2]}}]
        config_file.write_text(yaml.safe_dump(raw, sort_keys=False))
        (config_file.parent / "export" / "student-import.csv").touch()
        cli(config_file, "sync")
        with cache.engine.connect() as conn:
            events = (
                conn.execute(EVENTS.select().where(EVENTS.c.category == "access-rule").order_by(EVENTS.c.id))
                .mappings()
                .all()
            )
            assert audit.verify(conn).ok
        assert [(e["action"], e["outcome"], e["actor_kind"]) for e in events] == [
            ("rule-set", first, "system"),
            ("rule-changed", policy(raw["connectors"][0]["options"]["access"]).fingerprint(), "system"),
        ]
    finally:
        cache.dispose()
