"""The district's own words where families need them (``portal.*_notice`` in config), else
Portico's translated defaults, written from the districts' acceptable-use policies."""

from __future__ import annotations

from gateway.web.render import N_, Ctx

DEFAULTS = {
    # Preston School's policy: data is not live; do not call before 10.30.
    "attendance_notice": N_(
        "Attendance is not live: today's marks appear after %(time)s, and a mark can take a little "
        "longer to be entered. Please do not call the school about a missing mark before %(time)s."
    ),
    # The same policy: ask your child first; the subject teacher is the first contact.
    "behaviour_notice": N_(
        "Please ask your child about a behavior or achievement point before contacting the school. "
        "To discuss a point, the subject teacher is the first person to contact; for a point given "
        "outside a lesson, contact your child's pastoral lead."
    ),
    # Stonington and Minneapolis: never share the password; no automatic sign-in.
    "password_notice": N_(
        "Keep your password to yourself: never share it with anyone, your children included, and do "
        "not set your browser to sign you in automatically."
    ),
    # Stonington and Minneapolis: report security problems at once, without demonstrating them.
    "security_notice": N_(
        "If you find a security problem with the portal, tell the district straight away, and do not "
        "show or demonstrate it to anyone else."
    ),
}
LAG_ONLY = N_("Attendance is not live: a mark appears about %(minutes)s minutes after the school records it.")


def district_text(ctx: Ctx, key: str) -> str | None:
    """The notice ``key`` in the page's language: the district's wording if it wrote one."""
    written: dict[str, str] = getattr(ctx.portico.config.portal, key)
    rule = ctx.portico.config.visibility.attendance
    time = ctx.fmt.time(rule.same_day_not_before) if rule.same_day_not_before else ""
    for lang in (ctx.locale, ctx.locale.split("_")[0]):
        if lang in written:
            return written[lang].replace("{time}", time)
    if key == "attendance_notice" and not rule.same_day_not_before:
        minutes = int(rule.lag.total_seconds() // 60)
        return ctx._(LAG_ONLY, minutes=minutes) if minutes else None
    return ctx._(DEFAULTS[key], time=time) if key == "attendance_notice" else ctx._(DEFAULTS[key])
