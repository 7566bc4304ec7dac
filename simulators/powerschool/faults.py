"""Fault knobs of the PowerSchool-like simulator: settable from tests and from the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields


@dataclass
class Faults:
    """Misbehaviour to inject; the ``*_next`` knobs count down as requests hit them."""

    rate_limit_next: int = 0  # answer 429 to this many resource requests
    retry_after: str = "1"  # Retry-After on those 429s: seconds or an HTTP-date
    server_errors_next: int = 0  # a burst of 5xx
    server_error_status: int = 503
    drop_next: int = 0  # close the connection mid-body
    expire_tokens_after: int | None = None  # revoke every token after this many more requests
    token_max_requests: int | None = None  # each token dies after serving this many requests
    revoked: bool = False  # tokens are issued but every resource answers 401 (rights withdrawn)
    delay: float = 0.0  # seconds before each resource response (slow pages)
    count_skew: dict[str, int] = field(default_factory=dict)  # kind -> added to its /count
    expires_in: int = 3600  # token lifetime announced (sent as a string, as some servers do)

    @classmethod
    def parse(cls, items: Iterable[str]) -> Faults:
        """Faults from ``key=value`` strings, as the CLI's ``--fault`` gives them:
        ``rate_limit_next=3``, ``retry_after=5``, ``delay=0.5``, ``count_skew.attendance=1``."""
        faults = cls()
        kinds = {f.name: f.type for f in fields(cls)}
        for item in items:
            key, sep, value = item.partition("=")
            name, _, kind = key.strip().partition(".")
            if not sep or name not in kinds or (name == "count_skew") != bool(kind):
                raise ValueError(f"unknown fault {key.strip()!r}; known: {', '.join(sorted(kinds))}")
            if name == "count_skew":
                faults.count_skew[kind] = int(value)
                continue
            typ = str(kinds[name])
            parsed: object = value
            if typ.startswith("int"):
                parsed = int(value)
            elif typ == "float":
                parsed = float(value)
            elif typ == "bool":
                parsed = value.strip().lower() in ("1", "true", "yes", "y")
            setattr(faults, name, parsed)
        return faults
