"""Mapped rows to canonical records: the preset's converters, plus contacts and links apart.

A mapped record's row has the record's columns in order (``check.columns_of``), so the
preset's converters read it as they read a preset file. The preset keeps contacts and
links in one file; a mapped export may not, so they have converters of their own, and a
link is decided by the district's access rule over whatever the mapping fills.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from connectors import records as rec
from connectors.cloudschool import streams as preset
from connectors.cloudschool.mapped.options import LINK_ATTRIBUTES, LINK_COLUMNS, RecordMapping
from connectors.cloudschool.normalize import Converter, Ctx, Index, link_of, need
from connectors.cloudschool.values import BadCell, DateParser, DateTimeParser, Flags, opt, parse_int
from connectors.rules import LINK_FIELDS

if TYPE_CHECKING:
    from connectors.cloudschool.options import Options


def contacts_only(ix: Index, ctx: Ctx) -> Converter:
    i_id, i_title, i_first, i_last, i_email, i_phone = (
        ix(c)
        for c in ("ContactID", "Title", "ContactForename", "ContactSurname", "PrimaryEmail", "MobileNumber")
    )

    def convert(row: list[str]) -> rec.Contact:
        return rec.Contact(
            source_id=need(row[i_id], "ContactID"),
            first_name=need(row[i_first], "ContactForename"),
            last_name=need(row[i_last], "ContactSurname"),
            title=opt(row[i_title]),
            email=opt(row[i_email]),
            phone=opt(row[i_phone]),
        )

    return convert


def links_only(ix: Index, ctx: Ctx) -> Converter:
    """A link and the district's rule applied to what the row says. A blank flag the rule
    tests sets the row aside (a blank is never guessed to mean yes or no: the mapping
    says so with a default)."""
    pos = {c: ix(c) for c in LINK_COLUMNS}
    policy, flag = ctx.policy, ctx.flags
    must_say = {a for a in policy.fields() if LINK_FIELDS[a] == "flag"} - policy.blank_tested()

    def convert(row: list[str]) -> rec.StudentContact:
        sid, cid = need(row[pos["StudentID"]], "StudentID"), need(row[pos["ContactID"]], "ContactID")
        attrs: dict[str, str | int | bool | None] = {}
        for column, name in LINK_ATTRIBUTES.items():
            cell = row[pos[column]].strip()
            kind = LINK_FIELDS[name]
            if not cell:
                if name in must_say:
                    raise BadCell(
                        column, "blank, and the access rule tests it (say what a blank means: default)"
                    )
                attrs[name] = None
            elif kind == "flag":
                attrs[name] = flag(cell, column)
            elif kind == "number":
                attrs[name] = parse_int(cell, column, minimum=0)
            else:
                attrs[name] = cell
        return link_of(sid, cid, attrs, policy)

    return convert


# The preset's converters, with a contact list's contacts and links read apart.
CONVERTERS = {**preset.CONVERTERS, "contacts": contacts_only, "links": links_only}


def ctx_for(options: Options, mapping: RecordMapping, today: dt.date) -> Ctx:
    spec = options.sources[mapping.source]
    date_fmt = spec.date_format or options.date_format
    return Ctx(
        options,
        today,
        DateParser(date_fmt),
        DateTimeParser(spec.datetime_format or options.datetime_format, date_fmt, options.timezone),
        Flags(spec.flag_true or options.flag_true, spec.flag_false or options.flag_false),
        options.policy(),
    )
