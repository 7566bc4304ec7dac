"""Structural checks of a mapped layout, before any file is opened (options validation).

Every problem names the YAML key it belongs to: a record column that is not one of
the record's columns, a required column left unmapped, a source or join that does not
exist, an access rule testing a link attribute the mapping does not fill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.cloudschool.mapped.options import (
    CONTACT_COLUMNS,
    CONTACT_REQUIRED,
    LINK_ATTRIBUTES,
    LINK_COLUMNS,
    LINK_REQUIRED,
    Expr,
    RecordMapping,
)
from connectors.rules import Policy, label_problems

if TYPE_CHECKING:
    from connectors.cloudschool.options import Options

# What the preset's own contacts file carries, for a rule written over the preset.
PRESET_ATTRIBUTES = {
    "relationship",
    "priority",
    "parental_responsibility",
    "portal_access",
    "lives_with",
    "court_order",
}


def columns_of(entity: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(columns, required columns) of a mapped record: the preset's, or the split contact list's."""
    if entity == "contacts":
        return CONTACT_COLUMNS, CONTACT_REQUIRED
    if entity == "links":
        return LINK_COLUMNS, LINK_REQUIRED
    from connectors.cloudschool.mapping import PRESET  # the preset module imports the options

    spec = PRESET[entity]
    # A contact list has no admission date: the mapped layout may leave it out.
    required = tuple(c for c in spec.required if c != "AdmissionDate")
    return spec.columns, required


def layout_problems(options: Options) -> list[str]:
    if options.access is not None and label_problems(options.access):
        return label_problems(options.access)
    if not options.records:
        problems = (
            [] if not options.sources else ["sources are read only by records: map at least one record"]
        )
        if options.access is not None:
            missing = Policy(options.access).unmapped(PRESET_ATTRIBUTES)
            problems += [f"access: the preset has no {name} column" for name in missing]
        return problems
    problems = []
    if options.files:
        problems.append("files: overrides the preset layout; a mapped layout (records) names its own files")
    for entity, found in options.records.items():
        for i, m in enumerate(found if isinstance(found, list) else [found]):
            at = f"records.{entity}" + (f"[{i}]" if isinstance(found, list) else "")
            problems += _mapping_problems(options, entity, m, at)
    links = options.mappings("links")
    if links and options.access is None:
        problems.append(
            "access: a mapped layout with links states the district's access rule (see "
            "connectors/cloudschool/README.md); nobody gets access by default"
        )
    elif links and options.access is not None:
        filled = set.intersection(
            *({LINK_ATTRIBUTES[c] for c in m.fields if c in LINK_ATTRIBUTES} for m in links)
        )
        for name in Policy(options.access).unmapped(filled):
            column = next(c for c, a in LINK_ATTRIBUTES.items() if a == name)
            problems.append(
                f"access: the rule tests {name}, but records.links does not map {column} "
                "(a test of a field the export lacks would never hold)"
            )
    return problems


def _mapping_problems(options: Options, entity: str, m: RecordMapping, at: str) -> list[str]:
    problems = []
    columns, required = columns_of(entity)
    if m.source not in options.sources:
        problems.append(f"{at}.from: no source named {m.source!r} (sources: {', '.join(options.sources)})")
    for alias, join in m.join.items():
        if join.source not in options.sources:
            problems.append(f"{at}.join.{alias}.source: no source named {join.source!r}")
        if alias in options.sources and alias != join.source:
            problems.append(f"{at}.join.{alias}: an alias may not be another source's name")
    for name in m.fields:
        if name not in columns:
            problems.append(f"{at}.fields.{name}: not a column of {entity} (one of {', '.join(columns)})")
    for name in required:
        if name not in m.fields:
            problems.append(f"{at}.fields: {name} is required")
    for name, f in m.fields.items():
        if isinstance(f, Expr) and f.column is not None and "." in f.column:
            alias = f.column.split(".", 1)[0]
            if alias not in m.join and alias in options.sources:
                problems.append(f"{at}.fields.{name}: {alias!r} is a source, not a join of this mapping")
    return problems
