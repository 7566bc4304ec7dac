"""The password preset as a family reads it: its rules before typing, each unmet rule after.

:func:`gateway.access.passwords.unmet` names rules in English for the API; here each
becomes a catalog message, so the page lists them in the reader's language.
"""

from __future__ import annotations

import re

from gateway.access.passwords import MAX_LENGTH, Preset
from gateway.web.render import N_, Ctx

# What unmet() says → the catalog's message for it (numbers filled in from the match).
UNMET = {
    "an upper-case letter": N_("an upper-case letter (A–Z)"),
    "a lower-case letter": N_("a lower-case letter (a–z)"),
    "a digit": N_("a digit (0–9)"),
    "not containing your name or username": N_("not containing your name or username"),
    "not a common or easily guessed password": N_("not a common or easily guessed password"),
    "not a password you have used before": N_("not a password you have used before"),
}
_LENGTH = re.compile(r"^at (least|most) (\d+) characters$")


def unmet_messages(ctx: Ctx, unmet: list[str]) -> list[str]:
    out = []
    for rule in unmet:
        m = _LENGTH.match(rule)
        if m and m.group(1) == "least":
            out.append(ctx._("at least %(n)s characters", n=m.group(2)))
        elif m:
            out.append(ctx._("at most %(n)s characters", n=m.group(2)))
        else:
            out.append(ctx._(UNMET[rule]))
    return out


def rules(ctx: Ctx, preset: Preset, mfa: bool) -> list[str]:
    """Every rule of the preset, as shown before the person types."""
    need = preset.min_length_with_mfa if mfa else preset.min_length
    out = [ctx._("at least %(n)s characters", n=need)]
    if preset.min_length_with_mfa < preset.min_length and not mfa:
        out.append(
            ctx._(
                "or at least %(n)s characters once two-step sign-in is set up", n=preset.min_length_with_mfa
            )
        )
    for flag, rule in (
        (preset.require_upper, "an upper-case letter"),
        (preset.require_lower, "a lower-case letter"),
        (preset.require_digit, "a digit"),
        (preset.forbid_own_names, "not containing your name or username"),
        (preset.blocklist, "not a common or easily guessed password"),
        (bool(preset.history), "not a password you have used before"),
    ):
        if flag:
            out.append(ctx._(UNMET[rule]))
    out.append(ctx._("long passphrases are welcome: up to %(n)s characters, spaces allowed", n=MAX_LENGTH))
    if preset.expires_after_days:
        out.append(
            ctx._(
                "it expires after %(days)s days: you will be asked to choose a new one",
                days=preset.expires_after_days,
            )
        )
    return out
