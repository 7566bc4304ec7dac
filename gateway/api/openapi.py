"""The published contract (``/openapi.json``) as the API really answers.

FastAPI's document is finished here: the bearer scheme, and on each operation that
needs it, a schema for every success body (:mod:`gateway.api.schemas`), and the errors
as the ``application/problem+json`` they are: 400 for a bad request (never FastAPI's
422), 401, 403 (the acceptable-use, expiry and MFA gates), the uniform 404, 429 where a
throttle applies, 503, and the edge's 413, 414 and 431 on every operation.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.api.schemas import BODIES, Problem

# Operations anyone may call (everything else needs a bearer token).
PUBLIC = {
    ("post", "/v1/auth/login"), ("post", "/v1/auth/activate"), ("post", "/v1/auth/password-reset"),
    ("post", "/v1/auth/password-reset/confirm"), ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"),
}  # fmt: skip
REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "The request is not valid: each bad field is named in `errors`.",
    "401": "Sign in first: no bearer token, or one that has ended.",
    "403": "Not allowed yet: the acceptable-use policy, an expired password or two-step sign-in (see `type`).",
    "404": "No such resource, or not yours: the same answer for both.",
    "409": "Already done.",
    "413": "The request body is larger than this operation accepts (`api.limits`).",
    "414": "The URL is too long (`api.limits.url_bytes`).",
    "429": "Too many attempts or requests: wait `Retry-After` seconds.",
    "431": "Too many header fields, or too large (`api.limits`).",
    "503": "Nothing has been synced yet.",
}
# Refused at the edge (gateway.api.edge) before any operation runs: possible everywhere.
EDGE = ["413", "414", "431"]
# Operations with a throttle (docs/edge.md lists them with their limits).
THROTTLED = {
    ("post", "/v1/auth/login"), ("post", "/v1/auth/password"), ("post", "/v1/auth/password-reset"),
    ("post", "/v1/me/totp/confirm"), ("post", "/v1/students/{student_id}/corrections"),
    ("get", "/v1/students/{student_id}/export"),
}  # fmt: skip


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def finish(document: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    bodies: list[type[BaseModel]] = [*dict.fromkeys(BODIES.values()), Problem]
    models: list[tuple[type[BaseModel], Literal["serialization"]]] = [(m, "serialization") for m in bodies]
    refs, defs = models_json_schema(models, ref_template=REF)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(defs.get("$defs", {}))
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The access_token from POST /v1/auth/login: opaque, ended by logout and timeouts.",
        }
    }
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            body = BODIES.get((method, path))
            if body is not None:
                ok = "201" if "201" in responses else "200"
                responses[ok] = {
                    "description": responses.get(ok, {}).get("description", "Success"),
                    "content": {"application/json": {"schema": refs[(body, "serialization")]}},
                }
            if path.endswith("/export"):
                responses["200"]["content"]["application/zip"] = {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "?format=csv: one CSV file per kind",
                    }
                }
            if path == "/metrics":
                responses["200"] = {
                    "description": "Prometheus text",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            codes = ["400", *EDGE]
            if (method, path) not in PUBLIC:
                op["security"] = [{"bearer": []}]
                codes += ["401"]
                if path.startswith("/v1/students") or path in ("/v1/notices", "/v1/account/alerts"):
                    codes += ["403", "503"]
            if "{student_id}" in path or "{report_id}" in path:
                codes.append("404")
            if (method, path) == ("post", "/v1/auth/login"):
                codes.append("401")  # the one answer for an unknown user and a wrong password
            if (method, path) in THROTTLED:
                codes.append("429")
            if (method, path) == ("post", "/v1/me/totp"):
                codes += ["404", "409"]  # two-step sign-in off; already set up
            for code in codes:
                responses.setdefault(code, _problem(ERRORS[code]))
    return doc
