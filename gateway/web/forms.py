"""Form posts: read bounded, parsed as ``application/x-www-form-urlencoded``, checked field by field.

A form body larger than :data:`MAX_BODY` is refused (413) without being read further;
a field longer than its limit, or missing, is named in the page's error summary,
never echoed back when it is a password. A field holding a NUL character is a 400
(:data:`gateway.api.params.NUL`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.requests import Request

from gateway.api.params import holds_nul, nul_pair
from gateway.api.problems import Problem

MAX_BODY = 16 * 1024
MAX_FIELDS = 20


class TooLarge(Problem):
    def __init__(self) -> None:
        super().__init__(413, "too-large", "Too large", "The form is larger than this page accepts.")


async def read(request: Request, max_fields: int = MAX_FIELDS) -> dict[str, str]:
    """The posted fields (the first value of each), or 400/413 as a :class:`Problem`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind and request.headers.get("content-length", "0") == "0":
        return {}  # an empty post: no fields (and so no CSRF token)
    if kind != "application/x-www-form-urlencoded":
        raise Problem(400, "invalid-request", "Invalid request", "Expected a form post.")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise TooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge()
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "invalid-request", "Invalid request", "The form could not be read.") from None
    nul = nul_pair(pairs, "form")
    if nul is not None:
        raise holds_nul(nul)
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


@dataclass
class Errors:
    """Field errors for the error summary: (field id, message already translated)."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_id: str, message: str) -> None:
        self.items.append((field_id, message))

    def of(self, field_id: str) -> list[str]:
        return [m for f, m in self.items if f == field_id]

    def __bool__(self) -> bool:
        return bool(self.items)


def text(
    fields: dict[str, str], name: str, errors: Errors, missing: str, *, max_length: int, too_long: str
) -> str:
    """A required text field, stripped; its problem added to ``errors``."""
    value = fields.get(name, "").strip()
    if not value:
        errors.add(name, missing)
    elif len(value) > max_length:
        errors.add(name, too_long)
    return value
