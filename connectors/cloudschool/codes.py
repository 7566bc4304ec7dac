"""England's attendance register codes since 19 August 2024: the default code table.

Sources: *The School Attendance (Pupil Registration) (England) Regulations 2024*
(SI 2024/208), regulation 10 and its tables (https://www.legislation.gov.uk/uksi/2024/208/regulation/10/made),
and the DfE statutory guidance *Working together to improve school attendance* (August
2024), which gives each code's statistical meaning. Meanings here are paraphrased for
families. Categories are the statistical ones: present (``L``, late before the register
closed, is present and kept apart as ``late``), approved educational activity,
authorised absence, unauthorised absence, and not counted in possible sessions
(``not_required``). ``tests/support/data/dfe-attendance-codes-2024.csv`` lists how each row
was checked.

Codes withdrawn on 19 August 2024 (``H``, ``J``, ``Y``) are
accepted on records dated before their withdrawal, with a note, and set aside on later
dates unless the district maps them itself. ``-`` is no DfE code: MIS exports write it
for a register not yet taken, so it is skipped (see options.CodeCategory).
"""

from __future__ import annotations

import datetime as dt

WITHDRAWN_2024 = dt.date(2024, 8, 19)

# code -> (category, meaning, late, withdrawn on)
DFE_2024: dict[str, tuple[str, str, bool, dt.date | None]] = {
    "/": ("present", "Present (morning)", False, None),
    "\\": ("present", "Present (afternoon)", False, None),
    "L": ("late", "Late, arrived before the register closed", True, None),
    "K": (
        "approved_educational_activity",
        "Attending education arranged by the local authority",
        False,
        None,
    ),
    "V": ("approved_educational_activity", "On an educational visit or trip", False, None),
    "P": ("approved_educational_activity", "Taking part in an approved sporting activity", False, None),
    "W": ("approved_educational_activity", "On work experience", False, None),
    "B": ("approved_educational_activity", "At another approved educational activity", False, None),
    "C1": ("authorised_absence", "Leave for a regulated performance or employment abroad", False, None),
    "M": ("authorised_absence", "Medical or dental appointment", False, None),
    "J1": ("authorised_absence", "Interview for a job or a place at another school or college", False, None),
    "S": ("authorised_absence", "Study leave for a public examination", False, None),
    "C2": ("authorised_absence", "Not in school: agreed part-time timetable", False, None),
    "C": ("authorised_absence", "Leave of absence for exceptional circumstances", False, None),
    "T": ("authorised_absence", "Parent travelling for work", False, None),
    "R": ("authorised_absence", "Religious observance", False, None),
    "I": ("authorised_absence", "Illness", False, None),
    "E": ("authorised_absence", "Suspended or excluded, no alternative provision", False, None),
    "G": ("unauthorised_absence", "Holiday not agreed by the school", False, None),
    "N": ("unauthorised_absence", "Reason for absence not yet given", False, None),
    "O": ("unauthorised_absence", "Absent, not authorised", False, None),
    "U": ("unauthorised_absence", "Arrived after the register closed", True, None),
    "D": ("not_required", "Dual registered: attending another school", False, None),
    "X": ("not_required", "Not of compulsory school age and not required to attend", False, None),
    "Q": ("not_required", "Unable to attend: no access arrangements in place", False, None),
    "Y1": ("not_required", "Unable to attend: school transport not available", False, None),
    "Y2": ("not_required", "Unable to attend: widespread travel disruption", False, None),
    "Y3": ("not_required", "Unable to attend: part of the school closed", False, None),
    "Y4": ("not_required", "Unable to attend: school closed unexpectedly", False, None),
    "Y5": ("not_required", "Unable to attend: in criminal justice detention", False, None),
    "Y6": ("not_required", "Unable to attend: public health guidance or law", False, None),
    "Y7": ("not_required", "Unable to attend: another unavoidable cause", False, None),
    "Z": ("not_required", "Not yet on the school's admission register", False, None),
    "#": ("not_required", "School closed (planned)", False, None),
    # Withdrawn codes, for records from before their withdrawal.
    "H": ("authorised_absence", "Holiday agreed by the school", False, WITHDRAWN_2024),
    "J": ("approved_educational_activity", "Interview", False, WITHDRAWN_2024),
    "Y": ("not_required", "Unable to attend: exceptional circumstances", False, WITHDRAWN_2024),
    # Not a DfE code: the register has not been taken yet.
    "-": ("skip", "No mark entered yet", False, None),
}


def withdrawn_note(code: str, on: dt.date) -> str:
    """The note a mark with a withdrawn code carries (families see it beside the mark)."""
    return f"Code {code} is no longer used (withdrawn {on:%-d %B %Y}); it was recorded before then."
