"""The example configs in config/ are valid: what the README tells IT to copy must load."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import load
from connectors import registry
from tests.support import REPO

EXAMPLES = sorted((REPO / "config").glob("*.example.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_config_passes_schema_and_connector_option_checks(path: Path) -> None:
    loaded = load(path)
    for i, cs in enumerate(loaded.config.connectors):
        ct = registry.get(cs.type)
        _, problems = loaded.validate_model(ct.options_model, cs.options, ("connectors", i, "options"))
        assert problems == [], problems


def test_there_are_examples_for_both_connector_types() -> None:
    types = {c.type for p in EXAMPLES for c in load(p).config.connectors}
    assert {"powerschool", "cloudschool"} <= types
