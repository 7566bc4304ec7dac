"""What makes the portal safe in a browser: session cookies, CSRF tokens and page headers.

- The session cookie holds the same opaque session token as an API bearer token
  (:mod:`gateway.access.sessions`): one session store, one set of timeouts. It has no
  ``Max-Age`` or ``Expires`` (it ends with the browser: no persistent login), is
  ``HttpOnly`` and ``SameSite=Strict``, and ``Secure`` (with the ``__Host-`` prefix)
  unless the portal is opened on a loopback address.
- Every form carries a CSRF token: an HMAC of the session token when signed in, else of
  a random per-browser form cookie (sign-in, activation, reset). A post without the
  matching token is refused before anything else is read.
- Every page says: no script at all, frames never, no referrer, and (personal pages)
  never store.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

SESSION = "portico_session"
FORM = "portico_form"
LANGUAGE = "portico_lang"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# No script may run; styles and images only from Portico; forms post only to Portico.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def secure(request: Request) -> bool:
    """Secure cookies everywhere but loopback (where browsers may have no TLS to offer)."""
    found = request.scope.get("portico.secure")
    if found is None:  # the Host header's name, without building the whole URL
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        found = request.scope["portico.secure"] = name.lower() not in LOOPBACK
    return bool(found)


def _name(request: Request, base: str) -> str:
    # __Host-: only ever set by this origin over TLS, for the whole path, no Domain.
    return f"__Host-{base}" if secure(request) else base


def session_token(request: Request) -> str | None:
    value = request.cookies.get(_name(request, SESSION))
    return value if value and len(value) <= 200 else None


def _set(response: Response, request: Request, base: str, value: str, max_age: int | None = None) -> None:
    name = _name(request, base)
    samesite: Literal["strict", "lax"] = "strict" if base != LANGUAGE else "lax"
    if _PLAIN.fullmatch(value):
        before, after = _cookie_around(name, max_age, secure(request), samesite)
        response.raw_headers.append((b"set-cookie", before + value.encode("latin-1") + after))
        return
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=secure(request), httponly=True, samesite=samesite
    )


# Values http.cookies writes as they are (tokens, language tags): their Set-Cookie is the
# same text around them each time, made once by Starlette's set_cookie itself (which
# builds a SimpleCookie per call: about 150,000 instructions a page that sets one).
_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,200}")
_PROBE = "PorticoValue0"


@functools.lru_cache(maxsize=32)
def _cookie_around(
    name: str, max_age: int | None, secure: bool, samesite: Literal["strict", "lax"]
) -> tuple[bytes, bytes]:
    probe = Response()
    probe.set_cookie(name, _PROBE, max_age=max_age, path="/", secure=secure, httponly=True, samesite=samesite)
    before, after = probe.raw_headers[-1][1].split(_PROBE.encode(), 1)
    return before, after


def start_session(response: Response, request: Request, token: str) -> None:
    """The browser keeps the session until it closes, or the server ends it first."""
    _set(response, request, SESSION, token)


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        _name(request, SESSION), path="/", secure=secure(request), httponly=True, samesite="strict"
    )


def set_language(response: Response, request: Request, locale: str) -> None:
    # A preference, not a login: kept for a year.
    _set(response, request, LANGUAGE, locale, max_age=365 * 24 * 3600)


def language(request: Request) -> str | None:
    return request.cookies.get(_name(request, LANGUAGE))


def _mac(key: str) -> str:
    # hmac.digest: the same HMAC-SHA256 in one native call (hmac.new builds two hash
    # objects in Python: about 40,000 instructions a page).
    return hmac.digest(key.encode(), b"portico-csrf", "sha256").hex()


class Csrf:
    """The token for this request's forms, and the form cookie to set if there was none."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.session = session_token(request)
        form = request.cookies.get(_name(request, FORM))
        self.new_form_key = None if form and 20 <= len(form) <= 100 else secrets.token_urlsafe(32)
        self.form_key: str = self.new_form_key or form or ""

    @property
    def token(self) -> str:
        return _mac(self.session or self.form_key)

    def accepts(self, submitted: str | None) -> bool:
        """A post is accepted when its token matches the session's, or the form cookie's."""
        if not submitted or len(submitted) > 100:
            return False
        keys = [k for k in (self.session, None if self.new_form_key else self.form_key) if k]
        return any(hmac.compare_digest(_mac(k), submitted) for k in keys)

    def remember(self, response: Response) -> None:
        if self.new_form_key is not None:
            _set(response, self.request, FORM, self.new_form_key)
