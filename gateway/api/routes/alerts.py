"""``/v1/account/alerts``: the caller's alert choices, per child and kind (docs/alerts.md).

Only children the caller may see now are listed or accepted: an id that is not one of
them is a bad field, the same whether the child exists or not.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from cache.read.reader import Reader, StudentHandle
from cache.snapshots.runs import load_state
from config.settings import PorticoConfig
from gateway.alerts import prefs as prefs_
from gateway.api.deps import App, Conn, CurrentAccount, data_principal
from gateway.api.envelope import json_response
from gateway.api.problems import bad_request
from gateway.api.routing import DatabaseRoute
from gateway.api.schemas import AlertPreferencesIn

router = APIRouter(prefix="/v1", tags=["account"], route_class=DatabaseRoute)


def first_name(s: StudentHandle) -> str:
    return str(s.data.get("preferred_first_name") or s.data.get("legal_first_name") or "")


def document(config: PorticoConfig, chosen: prefs_.Prefs, visible: list[StudentHandle]) -> dict[str, Any]:
    """The preferences as the API shows them: every mode in force, and what was chosen."""
    settings = config.alerts
    quiet = chosen.quiet_hours(settings)
    as_json = chosen.as_json()
    return {
        "children": [
            {
                "id": s.ref,
                "first_name": first_name(s),
                "kinds": {k: chosen.mode(settings, s.ref, k) for k in settings.kinds},
            }
            for s in visible
        ],
        "threshold": chosen.score_threshold(settings),
        "threshold_chosen": chosen.threshold,
        "quiet_hours": None
        if quiet is None
        else {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M")},
        "quiet_hours_chosen": as_json["quiet"],
        "language": chosen.language,
        "kinds": list(settings.kinds),
        "modes": list(prefs_.MODES),
        "detail": settings.detail,
        "digests": {
            "daily_at": settings.daily_at.strftime("%H:%M"),
            "weekly_on": settings.weekly_on,
            "weekly_at": settings.weekly_at.strftime("%H:%M"),
            "timezone": config.district.timezone,
        },
    }


async def _visible(account: CurrentAccount, conn: Conn, app: App) -> list[StudentHandle]:
    principal = await data_principal(account, app)
    state = load_state(conn, account.source)
    if state is None or state.published_run is None:
        return []
    return Reader(conn, app.cache.keyring, app.attached).students(principal, state.published_run, app.today())


@router.get("/account/alerts")
async def get_alerts(account: CurrentAccount, conn: Conn, app: App) -> Response:
    """Every child the caller may see now, with the mode of each kind of alert, and the rest."""
    visible = await _visible(account, conn, app)
    return json_response({"data": document(app.config, prefs_.load(conn, account.id), visible)})


@router.put("/account/alerts")
async def put_alerts(body: AlertPreferencesIn, account: CurrentAccount, conn: Conn, app: App) -> Response:
    """Replace the caller's choices; a bad field is a 400 naming it, and nothing is stored."""
    visible = await _visible(account, conn, app)
    try:
        chosen = prefs_.parse(
            body.model_dump(mode="json"), app.config.alerts, {s.ref: s.ref for s in visible}
        )
    except prefs_.Invalid as exc:
        raise bad_request(str(exc), exc.errors) from None
    prefs_.save(conn, account.id, chosen, app.clock())
    conn.commit()
    return json_response({"data": document(app.config, chosen, visible)})
