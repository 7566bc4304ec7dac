"""What the simulator answers: a status, a body, headers, and the faults of its delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # the server closes the connection after half the body


def json_response(status: int, value: Any, **headers: str) -> SimResponse:
    return SimResponse(status, orjson.dumps(value), {"content-type": "application/json", **headers})


def message(status: int, text: str) -> SimResponse:
    return json_response(status, {"message": text})
