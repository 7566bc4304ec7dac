"""The district's written access rule: which student–contact links give a guardian access.

No real school export carries a portal-access flag, and few carry parental
responsibility or a court order, so a CSV-style source states in YAML how entitlement
follows from what it does carry, as an ordered list of rules:

```yaml
access:
  - refuse: court order recorded
    when: {court_order: true}
  - grant: parents and guardians enabled in the SIS
    when: {relationship: [parent, guardian], enabled: true}
```

The first rule whose condition holds decides; a link no rule matches is refused (deny
by default). ``when`` tests the link's attributes (:data:`LINK_FIELDS`) and every test
in it must hold; ``when_any`` lists alternatives, one of which must hold; a rule with
neither always holds (a constant). A test is a value (``true``, ``1``, ``Mother``), a
list of values (any of them), or a comparison: ``{not: [...]}``, ``{at_most: N}``,
``{at_least: N}``, ``{contains: [words]}``, ``{blank: true}``. Text compares without
case or surrounding spaces. A blank attribute equals no value: where a blank means
"no", the source's mapping says so (a default), never this module.

Each decision names the rule that made it, ``portico config validate`` counts what
each rule grants and refuses over the export, and the rule's fingerprint is printed by
``portico status`` and recorded in the audit chain when it changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

# The attributes of a link a rule may test, and their kind.
LINK_FIELDS: dict[str, Literal["text", "number", "flag"]] = {
    "relationship": "text",  # the source's relationship or role word: Mother, parent, guardian ...
    "priority": "number",  # contact priority (1 = first contact)
    "enabled": "flag",  # the contact's account is enabled in the source (OneRoster enabledUser)
    "primary_guardian": "flag",
    "parental_responsibility": "flag",
    "court_order": "flag",  # a court order or other restriction is recorded
    "lives_with": "flag",
    "portal_access": "flag",  # a portal-access flag, where the source has one
}

Value = bool | int | str
Attributes = Mapping[str, Value | None]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Compare(_Strict):
    """A comparison test: every key given must hold."""

    none_of: list[Value] | None = Field(default=None, alias="not")
    at_most: int | None = None
    at_least: int | None = None
    contains: list[str] | None = None  # text holding any of these words
    blank: bool | None = None  # true: the attribute is blank; false: it is not

    @model_validator(mode="after")
    def _something(self) -> Compare:
        if not self.model_fields_set:
            raise ValueError("a comparison needs one of: not, at_most, at_least, contains, blank")
        return self


Test = Value | list[Value] | Compare


class Rule(_Strict):
    """One line of the rule: grant or refuse, and when."""

    grant: str | None = Field(default=None, min_length=1, max_length=80)
    refuse: str | None = Field(default=None, min_length=1, max_length=80)
    when: dict[str, Test] = Field(default_factory=dict)
    when_any: list[dict[str, Test]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if (self.grant is None) == (self.refuse is None):
            raise ValueError("each rule is either 'grant: <why>' or 'refuse: <why>'")
        for tests in (self.when, *self.when_any):
            for name, test in tests.items():
                _check(name, test)
        return self

    @property
    def grants(self) -> bool:
        return self.grant is not None

    @property
    def label(self) -> str:
        return self.grant if self.grant is not None else str(self.refuse)

    def holds(self, attrs: Attributes) -> bool:
        if not all(_holds(test, attrs.get(name)) for name, test in self.when.items()):
            return False
        return not self.when_any or any(
            all(_holds(test, attrs.get(name)) for name, test in alt.items()) for alt in self.when_any
        )

    def fields(self) -> set[str]:
        return set(self.when).union(*(set(alt) for alt in self.when_any))


def _check(name: str, test: Test) -> None:
    kind = LINK_FIELDS.get(name)
    if kind is None:
        raise ValueError(f"{name!r} is not a link attribute (one of {', '.join(LINK_FIELDS)})")
    values: list[Value] = []
    if isinstance(test, Compare):
        values = list(test.none_of or [])
        if (test.at_most is not None or test.at_least is not None) and kind != "number":
            raise ValueError(f"{name} is a {kind}: at_most and at_least compare numbers")
        if test.contains is not None and kind != "text":
            raise ValueError(f"{name} is a {kind}: contains looks inside text")
    elif isinstance(test, list):
        values = test
    else:
        values = [test]
    for v in values:
        ok = (
            isinstance(v, bool)
            if kind == "flag"
            else (isinstance(v, int) and not isinstance(v, bool))
            if kind == "number"
            else isinstance(v, str)
        )
        if not ok:
            expected = {"flag": "true or false", "number": "a whole number", "text": "text"}[kind]
            raise ValueError(f"{name} is a {kind}: test it with {expected}")


def _same(test: Value, value: Value) -> bool:
    if isinstance(test, str) and isinstance(value, str):
        return test.strip().casefold() == value.strip().casefold()
    return type(test) is type(value) and test == value


def _holds(test: Test, value: Value | None) -> bool:
    if isinstance(test, Compare):
        if test.blank is not None and (value is None) != test.blank:
            return False
        if value is None:
            return test.blank is True and test.model_fields_set == {"blank"}
        if test.none_of is not None and any(_same(t, value) for t in test.none_of):
            return False
        if test.at_most is not None and not (isinstance(value, int) and value <= test.at_most):
            return False
        if test.at_least is not None and not (isinstance(value, int) and value >= test.at_least):
            return False
        if test.contains is not None:
            text = str(value).casefold()
            if not any(word.strip().casefold() in text for word in test.contains):
                return False
        return True
    if value is None:
        return False
    if isinstance(test, list):
        return any(_same(t, value) for t in test)
    return _same(test, value)


@dataclass(frozen=True)
class Decision:
    granted: bool
    rule: str  # the label of the rule that decided, or OTHERWISE
    index: int  # its position (0-based); len(rules) for OTHERWISE


OTHERWISE = "no rule matched"


def label_problems(rules: Sequence[Rule]) -> list[str]:
    """Each rule's label names it in counts and decisions, so labels must differ."""
    seen: set[str] = set()
    out = []
    for r in rules:
        key = r.label.strip().casefold()
        if key in seen:
            out.append(f"access: two rules are labelled {r.label!r}; give each its own")
        seen.add(key)
    return out


class Policy:
    """An ordered access rule (see module docstring)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    def blank_tested(self) -> set[str]:
        """Attributes some rule tests for blankness: a blank there is an answer, not a gap."""
        return {
            name
            for r in self.rules
            for tests in (r.when, *r.when_any)
            for name, t in tests.items()
            if isinstance(t, Compare) and t.blank is not None
        }

    def decide(self, attrs: Attributes) -> Decision:
        for i, rule in enumerate(self.rules):
            if rule.holds(attrs):
                return Decision(rule.grants, rule.label, i)
        return Decision(False, OTHERWISE, len(self.rules))

    def fields(self) -> set[str]:
        return set().union(*(r.fields() for r in self.rules)) if self.rules else set()

    def unmapped(self, available: set[str]) -> list[str]:
        """Attributes the rule tests that the source does not carry (a config error: a
        test of a field the source lacks would silently never hold)."""
        return sorted(self.fields() - available)

    def describe(self) -> list[str]:
        """The rule in plain words, one line per rule, then what happens otherwise."""
        lines = []
        for i, r in enumerate(self.rules, 1):
            verb = "grant" if r.grants else "refuse"
            cond = _words(r)
            lines.append(f'{i}. {verb} "{r.label}"' + (f" when {cond}" if cond else " (always)"))
        lines.append(f"{len(self.rules) + 1}. otherwise refuse")
        return lines

    def fingerprint(self) -> str:
        """16 hex digits identifying the rule's content (printed and audited)."""
        body = orjson.dumps(
            [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in self.rules],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(body).hexdigest()[:16]


def _show(v: Value) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _test_words(name: str, test: Test) -> str:
    if isinstance(test, Compare):
        parts = []
        if test.blank is not None:
            parts.append(f"{name} is {'blank' if test.blank else 'not blank'}")
        if test.none_of is not None:
            parts.append(f"{name} is none of {', '.join(_show(v) for v in test.none_of)}")
        if test.at_most is not None:
            parts.append(f"{name} is at most {test.at_most}")
        if test.at_least is not None:
            parts.append(f"{name} is at least {test.at_least}")
        if test.contains is not None:
            parts.append(f"{name} contains {' or '.join(test.contains)}")
        return " and ".join(parts)
    if isinstance(test, list):
        return f"{name} is one of {', '.join(_show(v) for v in test)}"
    return f"{name} is {_show(test)}"


def _words(rule: Rule) -> str:
    base = " and ".join(_test_words(n, t) for n, t in rule.when.items())
    if not rule.when_any:
        return base
    alts = " or ".join(
        f"({' and '.join(_test_words(n, t) for n, t in alt.items())})" for alt in rule.when_any
    )
    return f"{base} and ({alts})" if base else alts


@dataclass
class Tally:
    """What a policy decided over a sample of links: per rule, and in all."""

    policy: Policy
    per_rule: list[int] = field(default_factory=list)
    links: int = 0
    granted: int = 0
    contacts_granted: set[str] = field(default_factory=set)
    contacts_seen: set[str] = field(default_factory=set)
    set_aside: int = 0  # links the source could not state (a bad cell): neither granted nor refused

    per_rule_contacts: list[set[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.per_rule:
            self.per_rule = [0] * (len(self.policy.rules) + 1)
            self.per_rule_contacts = [set() for _ in self.per_rule]

    def add(self, rule: str | None, granted: bool, contact_id: str) -> None:
        """One link as published: the label of the rule that decided it, and the decision."""
        labels = [r.label for r in self.policy.rules]
        self.links += 1
        at = labels.index(rule) if rule in labels else len(labels)
        self.per_rule[at] += 1
        self.per_rule_contacts[at].add(contact_id)
        self.contacts_seen.add(contact_id)
        if granted:
            self.granted += 1
            self.contacts_granted.add(contact_id)

    def lines(self) -> list[str]:
        """The rule, each line with what it decided over the sample."""
        out = []
        for line, n, who in zip(self.policy.describe(), self.per_rule, self.per_rule_contacts, strict=True):
            verb = "granted" if line.split(" ", 2)[1] == "grant" else "refused"
            people = f"{len(who)} contact{'s' if len(who) != 1 else ''}"
            out.append(f"{line}: {verb} {n} link{'s' if n != 1 else ''} ({people})")
        out.append(
            f"in all: {self.granted} of {self.links} links granted; "
            f"{len(self.contacts_granted)} of {len(self.contacts_seen)} contacts get access"
            + (
                f"; {self.set_aside} contact or link rows set aside (see portico sync show)"
                if self.set_aside
                else ""
            )
        )
        return out


# The rule that reproduces a source's own flags, for sources that carry them all.
FLAGS_RULE = Policy(
    [
        Rule(refuse="court order recorded", when={"court_order": True}),
        Rule(
            grant="parental responsibility and portal access",
            when={"parental_responsibility": True, "portal_access": True},
        ),
    ]
)
