"""The district's written access rule (connectors/rules.py): decided in order, deny by
default, blanks never guessed, read back in plain words with a fingerprint of its content."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from connectors.rules import FLAGS_RULE, Policy, Rule
from tests.support.exports import PARENTMAIL_RULE

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
