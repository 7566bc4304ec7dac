"""The alerts page (``/account/alerts``) and the one-click unsubscribe (``/u/TOKEN``).

The page is the API's ``/v1/account/alerts`` as a form: per child and kind a mode, the
score threshold, quiet hours and the language of the emails; it checks what is posted
with the same :func:`gateway.alerts.prefs.parse` and names every bad field. The
unsubscribe link works without a session or a CSRF token (RFC 8058: a mail client posts
``List-Unsubscribe=One-Click`` to it): its token is its authority, and a ``GET`` only
shows the button.
"""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names
from starlette.responses import Response

from gateway.alerts import prefs as prefs_
from gateway.alerts import unsubscribe
from gateway.api.problems import Problem
from gateway.api.routes.alerts import document
from gateway.web import i18n
from gateway.web.forms import Errors
from gateway.web.render import N_, Ctx, route

KIND_LABELS = {
    "absence": N_("Absence"),
    "unauthorised_absence": N_("Unexcused absence"),
    "late": N_("Late arrival"),
    "assignment_missing": N_("Missing assignment"),
    "assignment_late": N_("Assignment handed in late"),
    "low_score": N_("Score below your threshold"),
    "behaviour": N_("Behavior event"),
    "achievement": N_("Achievement"),
    "notice": N_("New notice"),
    "report": N_("New progress report"),
}
MODE_LABELS = {
    "instant": N_("At once"),
    "daily": N_("Daily summary"),
    "weekly": N_("Weekly summary"),
    "off": N_("Off"),
}
SCOPE_LABELS = {**KIND_LABELS, "daily": N_("Daily summary"), "weekly": N_("Weekly summary")}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_FIELDS = 600  # 50 children of 10 kinds, and the settings


def _submitted(ctx: Ctx, children: list[dict[str, Any]]) -> dict[str, Any]:
    """The form as the API's document (so one parser checks both)."""
    f = ctx.form
    threshold: Any = f.get("threshold", "").strip()
    if threshold == "":
        threshold = None
    else:
        try:
            threshold = float(threshold)
        except ValueError:
            threshold = "?"
    quiet_choice = f.get("quiet", "district")
    quiet: Any = None
    if quiet_choice == "off":
        quiet = "off"
    elif quiet_choice == "custom":
        quiet = {"start": f.get("quiet_start", ""), "end": f.get("quiet_end", "")}
    elif quiet_choice != "district":
        quiet = "?"
    return {
        "children": [
            {"id": c["id"], "kinds": {k: f.get(f"{c['id']}.{k}", v) for k, v in c["kinds"].items()}}
            for c in children
        ],
        "threshold": threshold,
        "quiet_hours": quiet,
        "language": f.get("language") or None,
    }


_FIELD_OF = {"threshold": "threshold", "quiet_hours": "quiet", "language": "language"}


@route("/account/alerts", ("GET", "POST"), max_fields=MAX_FIELDS)
async def alerts_page(ctx: Ctx) -> Response:
    view = await ctx.view()
    config = ctx.portico.config
    visible = view.reader.students(view.principal, view.published, view.today)
    account_id = view.principal.account_id
    chosen = prefs_.load(ctx.conn, account_id)
    doc = document(config, chosen, visible)
    errors = Errors()
    custom = False
    if ctx.request.method == "POST":
        body = _submitted(ctx, doc["children"])
        try:
            chosen = prefs_.parse(body, config.alerts, {s.ref: s.ref for s in visible})
        except prefs_.Invalid as exc:
            for e in exc.errors:
                name = e["field"].split(".")[0].split("[")[0]
                if name.startswith("quiet_hours"):
                    errors.add(
                        "quiet_start",
                        ctx._("Enter the quiet hours as two different times, like 21:00 and 07:00."),
                    )
                elif name == "threshold":
                    errors.add("threshold", ctx._("Enter a percentage from 0 to 100, or leave it empty."))
                else:
                    errors.add("language", ctx._("Choose from the lists on this page."))
            # The page comes back as it was sent, so nothing chosen is lost.
            for child, sent in zip(doc["children"], body["children"], strict=True):
                child["kinds"] = {
                    k: m if m in prefs_.MODES else child["kinds"][k] for k, m in sent["kinds"].items()
                }
            doc["threshold_chosen"] = ctx.form.get("threshold", "")[:20]
            doc["language"] = body["language"] if body["language"] in prefs_.LANGUAGES else doc["language"]
            sent_quiet = body["quiet_hours"]
            chosen = prefs_.Prefs(quiet=sent_quiet if sent_quiet == "off" else None)
            if isinstance(sent_quiet, dict):
                doc["quiet_hours"] = {k: str(v)[:5] for k, v in sent_quiet.items()}
                custom = True
        else:
            prefs_.save(ctx.conn, account_id, chosen, ctx.portico.clock())
            ctx.conn.commit()
            return ctx.redirect("/account/alerts?done=1")
    s = config.alerts
    day = WEEKDAYS.index(s.weekly_on)
    names = get_day_names("wide", locale=ctx.locale)
    quiet = chosen.as_json()["quiet"]
    return ctx.render(
        "alerts.html",
        status=400 if errors else 200,
        errors=errors,
        done=ctx._("Your alert choices have been saved.") if ctx.request.query_params.get("done") else None,
        doc=doc,
        kind_labels={k: ctx._(v) for k, v in KIND_LABELS.items()},
        mode_labels={k: ctx._(v) for k, v in MODE_LABELS.items()},
        languages=[(loc, i18n.NATIVE[loc]) for loc in i18n.LOCALES],
        quiet_choice="off"
        if quiet == "off"
        else "custom"
        if custom or isinstance(quiet, dict)
        else "district",
        quiet_custom=quiet if isinstance(quiet, dict) else doc["quiet_hours"] or {"start": "", "end": ""},
        schedule=ctx._(
            "Daily summaries are sent at %(daily)s, weekly summaries on %(weekday)s at %(weekly)s (%(zone)s time).",
            daily=ctx.fmt.time(s.daily_at),
            weekday=names[day],
            weekly=ctx.fmt.time(s.weekly_at),
            zone=config.district.timezone,
        ),
        portal_only=s.detail == "portal_only",
    )


@route("/u/{token}", ("GET", "POST"), csrf=False)
async def unsubscribe_page(ctx: Ctx) -> Response:
    keyring = ctx.portico.cache.keyring
    found = unsubscribe.verify(keyring, str(ctx.request.path_params.get("token", "")))
    if found is None:
        raise Problem(404, "not-found", "Not found")
    account_id, scope = found
    done = False
    if ctx.request.method == "POST":
        unsubscribe.apply(ctx.conn, ctx.portico.config, account_id, scope, ctx.portico.clock())
        ctx.conn.commit()
        done = True
    return ctx.render("unsubscribe.html", done=done, what=ctx._(SCOPE_LABELS[scope]))
