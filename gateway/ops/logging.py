"""Structured logs (JSON in production, console in development) that pass through redaction.

Every event, Portico's own (structlog) and third-party ones (uvicorn, SQLAlchemy,
httpx through the standard library), goes through :func:`redact`: values under
sensitive keys are replaced, and any string value is scrubbed of email addresses,
bearer tokens, secrets in query strings and long opaque tokens. Portico's own
events carry ids and counts only; redaction is the second line of defence.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from config.settings import LoggingSettings

REDACTED = "[redacted]"
# A key containing any of these names a secret or a person's data.
_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "email",
    "phone",
    "birth",
    "username",
    "first_name",
    "last_name",
    "full_name",
    "address",
    "totp",
)
_KEYS = {"name", "dob", "names", "message_text", "body", "comment", "comments", "description", "narrative"}
# Keys structlog and the stdlib bridge use for themselves.
_OWN = {"event", "logger", "level", "timestamp", "exception", "stack", "logger_name"}
_SCRUB = (
    (re.compile(r"\$argon2[^\s'\",)]*"), "[password-hash]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b(token|access_token|password|secret|key|code)=[^&\s\"']+"), r"\1=[redacted]"),
    (re.compile(r"[A-Za-z0-9_-]{32,}"), "[token]"),
)


def sensitive_key(key: str) -> bool:
    k = key.lower()
    if k in _OWN:
        return False
    return k in _KEYS or any(part in k for part in _KEY_PARTS)


def scrub(value: str) -> str:
    for pattern, repl in _SCRUB:
        value = pattern.sub(repl, value)
    return value


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and sensitive_key(k) else _clean(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set)):
        return [_clean(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop sensitive keys' values, scrub every string."""
    for key in list(event):
        if sensitive_key(key):
            event[key] = REDACTED
        else:
            event[key] = _clean(event[key])
    return event


class _NoServerAccessLines(logging.Filter):
    """uvicorn's access lines print the raw path (the ids in it) and query: Portico's edge
    writes its own (``http.request``, with the route template), so uvicorn's are dropped
    even where a server was started with its access log on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's loggers through redaction to one stream."""
    out = stream or sys.stdout
    level = getattr(logging, settings.level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_portico", False):
            root.removeHandler(h)
    handler._portico = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler says "Running job"/"executed successfully" each time; Portico logs runs itself.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    # Alembic announces its dialect and each step at INFO; `portico db upgrade` reports
    # what it did itself, so these show only when debugging.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    # httpx logs one "HTTP Request:" line per call at INFO (a sync makes hundreds): the
    # connectors report what matters themselves, so these show only when debugging.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    route_uvicorn_logs()


def route_uvicorn_logs() -> None:
    """Send uvicorn's loggers through ours (run uvicorn with ``log_config=None``, or call this after)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoServerAccessLines) for f in access.filters):
        access.addFilter(_NoServerAccessLines())
    # uvicorn's default logging config gives these their own stderr handlers, unredacted.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
        lg.setLevel(logging.NOTSET)


def reset_logging() -> None:
    """Undo :func:`configure_logging` (tests)."""
    structlog.reset_defaults()
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_portico", False):
            root.removeHandler(h)
    root.setLevel(logging.WARNING)
