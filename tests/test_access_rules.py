"""The district's written access rule: decided in order, deny by default, checked before any
parent gets access (``portico config validate``), shown by ``portico status``, and recorded
in the audit chain when it changes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic import TypeAdapter, ValidationError

from cache.keys.crypto import new_kek_line
from cache.store import open_cache
from cache.tables.audit import EVENTS
from config.loader import load
from config.secrets import SecretResolver
from connectors.rules import FLAGS_RULE, Policy, Rule
from gateway.access.rule_record import last_recorded
from gateway.cli import main
from gateway.privacy import audit
from tests.exports_support import PARENTMAIL_RECORDS, PARENTMAIL_RULE, PARENTMAIL_SOURCE, uk_folder

RULES = TypeAdapter(list[Rule])


def policy(rules: list[dict[str, Any]]) -> Policy:
    return Policy(RULES.validate_python(rules))


def test_the_first_rule_that_holds_decides_and_a_link_no_rule_matches_is_refused() -> None:
    p = policy(
        [
            {"refuse": "court order", "when": {"court_order": True}},
            {"grant": "parents", "when": {"relationship": ["Mother", "father"], "priority": {"at_most": 2}}},
            {
                "grant": "named guardians",
                "when_any": [{"relationship": {"contains": ["guardian"]}}, {"primary_guardian": True}],
            },
        ]
    )
    decide = lambda **a: (p.decide(a).granted, p.decide(a).rule)  # noqa: E731
    assert decide(relationship="mother ", priority=1, court_order=False) == (
        True,
        "parents",
    )  # case and spaces
    assert decide(relationship="Mother", priority=1, court_order=True) == (
        False,
        "court order",
    )  # order matters
    assert decide(relationship="Mother", priority=3) == (False, "no rule matched")
    assert decide(relationship="Special Guardian") == (True, "named guardians")
    assert decide(relationship="Aunt", primary_guardian=True) == (True, "named guardians")
    assert decide() == (False, "no rule matched")  # deny by default


def test_a_blank_attribute_equals_no_value_but_a_blank_test_can_ask_for_it() -> None:
    p = policy(
        [
            {"grant": "no restriction recorded", "when": {"court_order": {"blank": True}}},
            {"grant": "flag", "when": {"enabled": True}},
        ]
    )
    assert p.decide({"court_order": None}).granted
    assert not p.decide({"court_order": False, "enabled": None}).granted
    assert (
        policy([{"grant": "not a grandparent", "when": {"relationship": {"not": ["Grandmother"]}}}])
        .decide({"relationship": None})
        .granted
        is False
    )


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"grant": "x", "refuse": "y"}], "either 'grant: <why>' or 'refuse: <why>'"),
        ([{"grant": "x", "when": {"custody": True}}], "'custody' is not a link attribute"),
        ([{"grant": "x", "when": {"enabled": "yes"}}], "enabled is a flag: test it with true or false"),
        ([{"grant": "x", "when": {"relationship": {"at_most": 1}}}], "at_most and at_least compare numbers"),
        ([{"grant": "x", "when": {"priority": {}}}], "a comparison needs one of"),
    ],
)
def test_a_rule_that_cannot_mean_what_it_says_is_refused_with_the_reason(
    rules: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        RULES.validate_python(rules)


def test_a_rule_reads_back_in_plain_words_and_its_fingerprint_follows_its_content() -> None:
    p = policy(PARENTMAIL_RULE)
    assert p.describe() == [
        '1. grant "the first contact, when a parent or guardian" when priority is 1 and relationship is one of '
        "Mother, Father, Guardian, Step Mother, Step Father",
        "2. otherwise refuse",
    ]
    assert p.fingerprint() == policy(PARENTMAIL_RULE).fingerprint()
    assert p.fingerprint() != policy([{**PARENTMAIL_RULE[0], "when": {"priority": 2}}]).fingerprint()
    assert FLAGS_RULE.describe()[0] == '1. refuse "court order recorded" when court_order is yes'


@pytest.fixture
def config_file(tmp_path: Path, sqlite_url: str) -> Path:
    uk_folder(tmp_path / "export", "parentmail-student-import.csv")
    key = tmp_path / "kek.key"
    key.write_text(new_kek_line("kek-test") + "\n")
    options = {
        "path": "export", "school_id": "9994001", "school_name": "Hollybrook Academy", "settle_seconds": 0,
        "sources": {"pm": PARENTMAIL_SOURCE}, "records": PARENTMAIL_RECORDS, "access": PARENTMAIL_RULE,
    }  # fmt: skip
    raw = {
        "district": {"name": "Ashdown Learning Trust", "timezone": "Europe/London"},
        "cache": {
            "url": sqlite_url,
            "kek": {"file": str(key)},
            "keystore_url": f"sqlite:///{tmp_path / 'keys.db'}",
        },
        "connectors": [{"name": "hollybrook", "type": "cloudschool", "options": options}],
        "logging": {"format": "json"},
    }
    path = tmp_path / "portico.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
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
    assert "Step Father: granted 5 links (4 contacts)" in res.output  # Ngozi is first contact for two children
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
