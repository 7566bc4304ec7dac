"""The shape of Portico's YAML config, as pydantic models that forbid unknown keys.

Durations are ISO 8601 (``PT30M``, ``P1D``) or plain seconds; secrets are
``{env: NAME}`` or ``{file: PATH}`` references (:mod:`config.secrets`). Connector
``options`` are validated against the connector type's own model by
:func:`config.loader.load` callers that know the registry (``portico config validate``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from config.cron import cron_problem
from config.pgurl import check_loop_url
from config.secrets import SecretRef


class Strict(BaseModel):
    # Unknown keys are errors: a misspelt key silently ignored is a policy not applied.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (expected an IANA name like Europe/London)") from None
    return value


# An IANA time zone name, checked where it is read (the district's, a schedule's, a connector's).
TimeZoneName = Annotated[str, AfterValidator(_check_tz)]


class DistrictSettings(Strict):
    name: str = Field(min_length=1)
    timezone: TimeZoneName = "UTC"


class CacheSettings(Strict):
    url: str = "sqlite:///portico-cache.db"
    # Where wrapped data keys live. Kept apart from the cache so a copy of the cache
    # alone cannot be decrypted and a destroyed key is gone from old cache copies too.
    keystore_url: str | None = None
    kek: SecretRef
    stale_after: dt.timedelta = dt.timedelta(hours=6)

    @field_validator("url", "keystore_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("expected a sqlite:///path or postgresql://host/db URL")
        if value is not None:
            check_loop_url(value)
        return value


class Blackout(Strict):
    """A window with no scheduled syncs: yearly dates (``MM-DD``) and/or daily times."""

    from_date: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")
    to_date: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")
    from_time: dt.time | None = None
    to_time: dt.time | None = None

    @model_validator(mode="after")
    def _complete(self) -> Blackout:
        if (self.from_date is None) != (self.to_date is None):
            raise ValueError("from_date and to_date go together")
        if (self.from_time is None) != (self.to_time is None):
            raise ValueError("from_time and to_time go together")
        if self.from_date is None and self.from_time is None:
            raise ValueError("a blackout needs from_date/to_date, from_time/to_time, or both")
        return self


class Schedule(Strict):
    interval: dt.timedelta | None = None
    cron: str | None = None
    jitter: dt.timedelta = dt.timedelta(0)
    timezone: TimeZoneName | None = None  # defaults to the district's
    blackout: list[Blackout] = Field(default_factory=list)
    # A full pull on this cadence finds deletes the source has no endpoint for.
    full_every: dt.timedelta = dt.timedelta(days=1)
    # A run that could not start on time (process down, previous run still going) still
    # runs if it is at most this late; several missed runs coalesce into one.
    misfire_grace: dt.timedelta = dt.timedelta(minutes=30)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        # Parsed by the same code and APScheduler trigger the scheduler uses (config/cron.py).
        problem = None if value is None else cron_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: dt.timedelta | None) -> dt.timedelta | None:
        if value is not None and value <= dt.timedelta(0):
            raise ValueError("an interval is longer than zero (e.g. PT15M)")
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> Schedule:
        if (self.interval is None) == (self.cron is None):
            raise ValueError("a schedule has exactly one of 'interval' or 'cron'")
        return self


class GuardRule(Strict):
    """Deletes (records removed) and shrinkage (net loss: removed minus added) per kind."""

    max_drop_share: float = Field(default=0.10, ge=0, le=1)
    max_drop_count: int | None = Field(default=None, ge=0)
    max_shrink_share: float | None = Field(default=None, ge=0, le=1)
    max_shrink_count: int | None = Field(default=None, ge=0)


class Guards(Strict):
    """Thresholds that hold a snapshot for approval instead of publishing it."""

    default: GuardRule = GuardRule()
    per_kind: dict[str, GuardRule] = Field(default_factory=dict)
    guarded_kinds: list[str] = Field(default_factory=lambda: ["student", "contact", "link"])
    max_rejected: int = Field(default=100, ge=0)

    def rule(self, kind: str) -> GuardRule:
        return self.per_kind.get(kind, self.default)


class Breaker(Strict):
    """Circuit breaker: after ``failures`` failed runs in a row, rest for ``cooldown``."""

    failures: int = Field(default=3, ge=1)
    cooldown: dt.timedelta = dt.timedelta(minutes=30)
    # Each failed probe doubles the rest, up to this ceiling.
    max_cooldown: dt.timedelta = dt.timedelta(hours=6)


class ConnectorSettings(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    type: str
    enabled: bool = True
    # Another connector whose students this source's records belong to (by that source's
    # student ids): rosters from one export, attendance and behaviour from another, one
    # child. Such a source publishes no students, contacts or links of its own.
    students_of: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    schedule: Schedule | None = None
    guards: Guards = Guards()
    breaker: Breaker = Breaker()
    options: dict[str, Any] = Field(default_factory=dict)


class VisibilityRule(Strict):
    lag: dt.timedelta = dt.timedelta(0)
    same_day_not_before: dt.time | None = None


class Visibility(Strict):
    attendance: VisibilityRule = VisibilityRule(
        lag=dt.timedelta(minutes=30), same_day_not_before=dt.time(10, 30)
    )
    timetable: VisibilityRule = VisibilityRule()
    grades: VisibilityRule = VisibilityRule(lag=dt.timedelta(hours=24))
    assignments: VisibilityRule = VisibilityRule(lag=dt.timedelta(hours=24))
    behaviour: VisibilityRule = VisibilityRule(lag=dt.timedelta(hours=1))
    notices: VisibilityRule = VisibilityRule()
    reports: VisibilityRule = VisibilityRule()


class AupSettings(Strict):
    """The acceptable-use policy: its version and its text, written here or in a UTF-8 text
    file (``file``, relative to the config file: the loader reads it into ``text``)."""

    version: str = Field(min_length=1)
    text: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one_text(self) -> AupSettings:
        if self.text is not None and self.file is not None:
            raise ValueError("give the policy as text or as a file, not both")
        return self


class AccessSettings(Strict):
    password_policy: Literal["school-aup", "nist"] = "nist"  # noqa: S105 - a preset's name, not a password
    mfa: Literal["off", "optional", "required"] = "optional"
    session_idle_timeout: dt.timedelta = dt.timedelta(minutes=20)
    session_absolute_timeout: dt.timedelta = dt.timedelta(hours=8)
    invitation_ttl: dt.timedelta = dt.timedelta(days=7)
    reset_ttl: dt.timedelta = dt.timedelta(hours=1)
    # Parent access when a student comes of age. "june-30" (Minneapolis policy 1050):
    # continues to 30 June of the school year in which the student turns 18 unless
    # the student asks in writing; "continues": never ends on age alone. There is no
    # "ends on the birthday" option: the cut-off date is a plaintext column used inside
    # the authorisation query, and a birthday there would put dates of birth in clear.
    adult_age: int = Field(default=18, ge=14, le=21)
    adult_parent_access: Literal["june-30", "continues"] = "june-30"
    students_may_sign_in: bool = True
    # The longest a family token (read-only, for a parent's own tools) may live; a parent
    # chooses any expiry up to it (docs/feeds-and-tokens.md).
    family_token_max_lifetime: dt.timedelta = dt.timedelta(days=365)
    # How far a calendar feed reaches back and ahead of today.
    calendar_days_back: int = Field(default=14, ge=0, le=366)
    calendar_days_ahead: int = Field(default=120, ge=1, le=366)
    # When password-expiry reminders go out each day, in the district's time zone.
    reminder_time: dt.time = dt.time(7, 30)
    aup: AupSettings = AupSettings(
        version="1", text="Use of the portal means agreeing to the district's acceptable-use policy."
    )


class MetricsSettings(Strict):
    enabled: bool = True
    token: SecretRef | None = None


# Bodies larger than ``api.limits.body_bytes`` some routes accept: a correction request's
# message (4,000 characters) in the API's JSON, and in the portal's form (the portal's own
# form limit, gateway/web/forms.py, answers past it with a page of its own).
ROUTE_BODY_BYTES = {
    "/v1/students/{student_id}/corrections": 32768,
    "/children/{student_id}/corrections": 16384,
    "/v1/account/alerts": 32768,
    "/account/alerts": 16384,
}


class RequestLimits(Strict):
    """Request sizes refused at the edge (413, 414, 431) before a body is read."""

    # The path and query string as sent, in bytes.
    url_bytes: int = Field(default=2048, ge=256, le=65536)
    header_count: int = Field(default=64, ge=8, le=1000)
    # Every header name and value together, in bytes (a bearer token, a cookie or two).
    header_bytes: int = Field(default=16384, ge=1024, le=1048576)
    # Any route not listed in ``route_body_bytes``: sign-in, activation, password change
    # and reset, acceptable-use and TOTP bodies are a few hundred bytes.
    body_bytes: int = Field(default=4096, ge=0, le=16777216)
    # Per route template, as the API documents it.
    route_body_bytes: dict[str, int] = Field(default_factory=lambda: dict(ROUTE_BODY_BYTES))


class Rate(Strict):
    """At most ``count`` actions per ``per`` (a fixed window per key)."""

    count: int = Field(ge=1)
    per: dt.timedelta


class Throttles(Strict):
    """Limits on costly or guessable actions, shared by every API replica (in the database)."""

    # Failed current-password checks (password change) and TOTP codes per account
    # before waits start (1 s, 2 s, 4 s ... up to 15 minutes), as for sign-in.
    password_check_free: int = Field(default=5, ge=1, le=100)
    totp_free: int = Field(default=5, ge=1, le=100)
    reset_per_account: Rate = Rate(count=3, per=dt.timedelta(hours=1))
    reset_per_address: Rate = Rate(count=20, per=dt.timedelta(hours=1))
    corrections_per_account: Rate = Rate(count=10, per=dt.timedelta(days=1))
    exports_per_account: Rate = Rate(count=20, per=dt.timedelta(hours=1))
    # Calendar feeds and family tokens: fetches of one feed, requests with one token, and
    # feeds and tokens an account may create (docs/feeds-and-tokens.md).
    feed_fetches_per_feed: Rate = Rate(count=60, per=dt.timedelta(hours=1))
    requests_per_family_token: Rate = Rate(count=600, per=dt.timedelta(hours=1))
    feeds_and_tokens_created_per_account: Rate = Rate(count=20, per=dt.timedelta(days=1))


def _check_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
        ) from None
    return value


class ApiSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    docs: bool = False
    max_range: dt.timedelta = dt.timedelta(days=366)
    default_page_size: int = Field(default=100, ge=1, le=1000)
    max_page_size: int = Field(default=500, ge=1, le=5000)
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (addresses or
    # networks). Empty: none, and the connecting address is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Strict-Transport-Security on answers to requests that came over HTTPS.
    hsts_max_age: dt.timedelta = dt.timedelta(days=365)
    limits: RequestLimits = RequestLimits()
    throttles: Throttles = Throttles()
    metrics: MetricsSettings = MetricsSettings()

    _proxies = field_validator("trusted_proxies")(lambda v: [_check_network(x) for x in v])


class MailSettings(Strict):
    backend: Literal["smtp", "outbox"] = "outbox"
    from_address: str = "portico@localhost"
    outbox_dir: str = "outbox"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretRef | None = None


class SchoolContact(Strict):
    """The person at a school who receives correction requests."""

    school_id: str
    email: str


class PrivacySettings(Strict):
    leaver_retention: dt.timedelta = dt.timedelta(days=365)
    # How long audit events and denied-read counts are kept (``portico audit prune``).
    audit_retention: dt.timedelta = dt.timedelta(days=3 * 365)
    # Records of disclosure (allowed reads and exports of a student's data) stay while
    # the student's records are held, however old: FERPA (34 CFR 99.32(a)(2)) keeps the
    # record of disclosures as long as the education record. False: they age out with
    # every other event after ``audit_retention``.
    keep_disclosures_while_record_held: bool = True
    data_contacts: list[SchoolContact] = Field(default_factory=list)
    district_data_contact: str | None = None


class PortalSettings(Strict):
    """The web portal: its public address (for emailed links) and the district's own words.

    Each text maps a locale (``en``, ``en_GB``, ``es``...) to the district's wording; a page
    in a language the district did not write uses Portico's translated default. In
    ``attendance_notice``, ``{time}`` becomes the same-day time of ``visibility.attendance``.
    """

    # Where families open the portal, as linked from invitation and reset emails;
    # default: http://<api.host>:<api.port>.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    attendance_notice: dict[str, str] = Field(default_factory=dict)
    behaviour_notice: dict[str, str] = Field(default_factory=dict)
    password_notice: dict[str, str] = Field(default_factory=dict)
    security_notice: dict[str, str] = Field(default_factory=dict)


AlertKind = Literal[
    "absence",
    "unauthorised_absence",
    "late",
    "assignment_missing",
    "assignment_late",
    "low_score",
    "behaviour",
    "achievement",
    "notice",
    "report",
]
AlertMode = Literal["instant", "daily", "weekly", "off"]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)


def _default_modes() -> dict[AlertKind, AlertMode]:
    return {"absence": "instant", "unauthorised_absence": "instant"}


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class QuietHours(Strict):
    """No instant alert is sent from ``start`` to ``end`` (district time; may span midnight)."""

    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time")
        return self


class AlertSettings(Strict):
    """Alerts and digests to families (docs/alerts.md): what is offered, the defaults, when
    digests go out (district time), and how much an email may say."""

    enabled: bool = True
    # The kinds families may choose from; the others are never detected or sent.
    kinds: list[AlertKind] = Field(default_factory=lambda: list(ALERT_KINDS))
    # A kind's mode for a child whose family chose nothing; kinds not listed: ``default_mode``.
    defaults: dict[AlertKind, AlertMode] = Field(default_factory=_default_modes)
    default_mode: AlertMode = "daily"
    # A score below this percentage is a "low_score" alert (families may choose their own).
    score_threshold: float = Field(default=50.0, ge=0, le=100)
    quiet_hours: QuietHours | None = QuietHours(start=dt.time(21, 0), end=dt.time(7, 0))
    daily_at: dt.time = dt.time(17, 0)
    weekly_on: Weekday = "friday"
    weekly_at: dt.time = dt.time(17, 0)
    # first_name_and_kind: "Alex: an absence was recorded"; portal_only: "there is something
    # new in the portal", with no name and no kind.
    detail: Literal["first_name_and_kind", "portal_only"] = "first_name_and_kind"
    # How often the sender looks for due alerts, and how long a claimed message is left to
    # its sender before another may take it (a sender killed mid-send is retried after it).
    send_every: dt.timedelta = Field(default=dt.timedelta(minutes=1), gt=dt.timedelta(0))
    claim_lease: dt.timedelta = Field(default=dt.timedelta(minutes=5), gt=dt.timedelta(0))
    # SMTP failures: retried after retry_base, doubling each time up to retry_max, then failed.
    max_attempts: int = Field(default=8, ge=1, le=50)
    retry_base: dt.timedelta = Field(default=dt.timedelta(minutes=1), gt=dt.timedelta(0))
    retry_max: dt.timedelta = Field(default=dt.timedelta(hours=2), gt=dt.timedelta(0))
    # How long a finished outbox row (sent, dropped, failed) is kept; the worker prunes older
    # ones daily (``portico alerts prune``). A row whose record version is still current is
    # kept whatever its age: its key is what stops that version being announced twice.
    keep_sent: dt.timedelta = Field(
        default=dt.timedelta(days=30), ge=dt.timedelta(days=1), le=dt.timedelta(days=3650)
    )

    @model_validator(mode="after")
    def _defaults_offered(self) -> AlertSettings:
        for kind in self.defaults:
            if kind not in self.kinds:
                raise ValueError(f"defaults: {kind!r} is not among the kinds offered (alerts.kinds)")
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError("kinds: a kind is listed twice")
        return self

    def default_for(self, kind: str) -> str:
        for named, mode in self.defaults.items():
            if named == kind:
                return mode
        return self.default_mode


class LoggingSettings(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class PorticoConfig(Strict):
    district: DistrictSettings
    cache: CacheSettings
    connectors: list[ConnectorSettings] = Field(min_length=1)
    visibility: Visibility = Visibility()
    access: AccessSettings = AccessSettings()
    api: ApiSettings = ApiSettings()
    mail: MailSettings = MailSettings()
    privacy: PrivacySettings = PrivacySettings()
    portal: PortalSettings = PortalSettings()
    alerts: AlertSettings = AlertSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _unique_names(self) -> PorticoConfig:
        seen: set[str] = set()
        for c in self.connectors:
            if c.name in seen:
                raise ValueError(f"connector name {c.name!r} is used twice")
            seen.add(c.name)
        by_name = {c.name: c for c in self.connectors}
        for c in self.connectors:
            if c.students_of is None:
                continue
            owner = by_name.get(c.students_of)
            if owner is None or owner is c:
                raise ValueError(f"connector {c.name!r}: students_of names no other connector")
            if owner.students_of is not None:
                raise ValueError(
                    f"connector {c.name!r}: students_of names {owner.name!r}, which itself takes its "
                    "students from another connector (name the one that publishes the students)"
                )
        return self

    def attached(self) -> dict[str, tuple[str, ...]]:
        """Source -> the sources whose records belong to its students (``students_of``)."""
        out: dict[str, tuple[str, ...]] = {}
        for c in self.connectors:
            if c.students_of is not None:
                out[c.students_of] = (*out.get(c.students_of, ()), c.name)
        return out

    def portal_url(self, path: str = "/") -> str:
        """An absolute link into the web portal (emails carry these)."""
        base = self.portal.public_url or f"http://{self.api.host}:{self.api.port}"
        return base.rstrip("/") + path

    def connector(self, name: str) -> ConnectorSettings:
        for c in self.connectors:
            if c.name == name:
                return c
        raise KeyError(name)
