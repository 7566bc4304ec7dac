"""Pages: the per-request context (language, formats, CSRF, the session), templates, and
how errors become pages (the uniform 404, sign-in redirects, the policy gates).

Every page handler is ``async def handler(ctx: Ctx) -> Response`` registered with
:func:`route`; posts are read (bounded) and their CSRF token checked before the handler
runs. Data is read through the API's own :class:`~gateway.api.deps.View`, so the
session, the acceptable-use, expiry and MFA gates, the relationship check and the audit
are the API's, not a copy.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.runtime import new_context
from markupsafe import Markup, escape
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from cache.snapshots.runs import is_stale
from cache.tables.accounts import Account
from config.errors import SnapshotUnavailableError
from gateway.access import sessions
from gateway.api.deps import Portico, View, open_view, portico_of
from gateway.api.problems import Problem
from gateway.api.routing import offloaded
from gateway.web import browser, forms, i18n

log = structlog.get_logger("portico.web")
Handler = Callable[["Ctx"], Awaitable[Response]]
ROUTES: list[Route] = []
# Paths whose posts carry no CSRF token: the one-click unsubscribe (its URL is its capability).
CSRF_EXEMPT: set[str] = set()
# Where each policy gate sends a signed-in person who has not passed it yet.
GATES = {"aup-not-accepted": "/aup", "password-expired": "/account/password", "mfa-required": "/account/totp"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: marks a message for extraction
    return message


class Texts:
    """Marked messages (``N_``) by key: the words of markup written in Python (a family
    home's card, a month's calendar) and of a template's tables (the attendance key).
    Each language's tables are made once, and kept, by that language's
    :class:`Translator`."""

    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages

    def __call__(self, locale: str) -> dict[str, str]:
        """Each message translated and escaped (from the translator's memo), as plain
        text: for markup written in f-strings, which format a :class:`Markup` by a call."""
        return translator(locale).escaped_table(self)

    def plain(self, locale: str) -> dict[str, str]:
        """Each message translated, not escaped: for a template, whose autoescape escapes
        each where it places it (C code; a :class:`Markup` it would ask for its HTML, a
        call in Python)."""
        return translator(locale).plain_table(self)


class ConstantMessages(Extension):
    """``_("literal")`` compiled as its translation: each environment serves one locale, so a
    message without values is the same text on every page (a page has dozens).

    ``{{ _("literal") }}`` becomes the escaped text itself; ``_("literal")`` inside an
    expression (a macro's argument, a list) becomes a string literal of the translation,
    which autoescape escapes where it is written, as it would the call's escaped result.
    """

    ALONE = ["variable_begin", "name", "lparen", "string", "rparen", "variable_end"]
    CALL = ["name", "lparen", "string", "rparen"]

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        lookup = i18n.translations(getattr(self.environment, "message_locale")).ugettext  # noqa: B009
        tokens = list(stream)
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if [x.type for x in tokens[i : i + 6]] == self.ALONE and tokens[i + 1].value == "_":
                yield Token(t.lineno, "data", str(escape(lookup(tokens[i + 3].value))))
                i += 6
            elif (
                [x.type for x in tokens[i : i + 4]] == self.CALL
                and t.value == "_"
                and (i == 0 or tokens[i - 1].type != "dot")
            ):
                yield Token(t.lineno, "string", lookup(tokens[i + 2].value))
                i += 4
            else:
                yield t
                i += 1


@functools.cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("gateway.web", "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n", ConstantMessages],
        undefined=StrictUndefined,
        auto_reload=False,  # templates are package files: read once per process
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = translator(locale).translate
    env.extend(message_locale=locale)  # for ConstantMessages, when a template is compiled
    # The language switcher's options, this language's selected: the same on every page.
    tag = locale.replace("_", "-")
    env.globals["language_options"] = Markup(  # noqa: S704 - each value escaped
        "".join(
            f'<option value="{escape(loc)}" lang="{escape(loc.replace("_", "-"))}"'
            f"{' selected' if loc.replace('_', '-') == tag else ''}>{escape(i18n.NATIVE[loc])}</option>"
            for loc in i18n.LOCALES
        )
    )
    env.globals["static"] = static_url
    env.globals["stylesheet"] = static_url("portico.css")  # a constant: no call on each page
    return env


class Translator:
    """One language's translations, each made once and kept here only (the catalog is
    fixed): each message escaped, for ``_()`` in that language's templates
    (:attr:`translate`) and for the escaped tables of :class:`Texts`; and the plain tables
    of :class:`Texts`, which a template escapes where it places them."""

    def __init__(self, locale: str) -> None:
        lookup = i18n.translations(locale).ugettext
        known: dict[str, Markup] = {}  # message -> its escaped translation

        def escaped(message: str) -> Markup:
            text = known.get(message)
            if text is None:
                text = escape(lookup(message))  # the catalog's text is text, never markup
                if len(known) < 10_000:  # a bound on memory: messages are the code's own strings
                    known[message] = text
            return text

        def translate(message: str, **values: Any) -> Markup:
            """``_()`` in templates: the catalog's text with its ``%(name)s`` values filled
            in, escaped. The same contract as Jinja2's "newstyle" gettext, without its
            per-call context machinery (a page calls it some thirty times)."""
            text = known.get(message)
            if text is None:
                text = escaped(message)
            return text % values if values else text  # each value escaped by Markup's %

        self.lookup = lookup
        self.escaped = escaped
        self.translate = translate
        self._escaped: dict[Texts, dict[str, str]] = {}
        self._plain: dict[Texts, dict[str, str]] = {}

    def escaped_table(self, texts: Texts) -> dict[str, str]:
        found = self._escaped.get(texts)
        if found is None:
            escaped = self.escaped
            found = self._escaped[texts] = {key: str(escaped(m)) for key, m in texts.messages.items()}
        return found

    def plain_table(self, texts: Texts) -> dict[str, str]:
        found = self._plain.get(texts)
        if found is None:
            lookup = self.lookup
            found = self._plain[texts] = {key: lookup(m) for key, m in texts.messages.items()}
        return found


@functools.cache
def translator(locale: str) -> Translator:
    """The language's :class:`Translator`: one a process."""
    return Translator(locale)


@functools.cache
def _page(locale: str, name: str) -> tuple[Template, dict[str, Any]]:
    """A page's template in ``locale`` and its globals as one dict, made once (the
    environment never reloads a template)."""
    page = environment(locale).get_template(name)
    return page, dict(page.globals)


@functools.cache
def static_url(name: str) -> str:
    """A static file's URL, versioned by its content (cached by browsers until it changes)."""
    digest = hashlib.sha256((Path(__file__).parent / "static" / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def here(request: Request) -> str:
    """``request.url.path`` without building the URL (a parse of the whole address, each
    page): Starlette writes the scope's path into it with ``?``, ``#`` and ``\\`` escaped,
    and reading it back drops tabs and line breaks (``urlsplit``); for a path that has
    those, Starlette's own answer."""
    path: str = request.scope["path"]
    if "\t" in path or "\r" in path or "\n" in path:
        return request.url.path
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


class Ctx:
    """One request's page context."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.portico: Portico = portico_of(request)
        self.locale = i18n.negotiate(request.headers.get("accept-language"), browser.language(request))
        self.translations = i18n.translations(self.locale)
        self.fmt = i18n.formatter(self.locale, self.portico.tz)
        self.csrf = browser.Csrf(request)
        self.form: dict[str, str] = {}
        self.token = browser.session_token(request)
        self._view: View | None = None
        self._conn: Connection | None = None

    def _(self, message: str, **values: Any) -> str:
        text = self.translations.ugettext(message)
        return text % values if values else text

    # --- the session ---------------------------------------------------------------------

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            self._conn = self.portico.cache.connections.take()
        return self._conn

    def account(self) -> Account:
        """The signed-in account (no data gates: account pages), else a redirect to sign in."""
        account = sessions.resolve(self.conn, self.token, self.portico.config.access) if self.token else None
        if account is None:
            raise Problem(401, "unauthorized", "Unauthorized")
        return account

    async def view(self) -> View:
        """The signed-in person's view of their data, through every gate the API applies."""
        if self._view is None:
            if not self.token:
                raise Problem(401, "unauthorized", "Unauthorized")
            self._view = await open_view(self.request, self.token)
        return self._view

    def close(self) -> None:
        if self._view is not None:
            self._view.close()
        if self._conn is not None:
            self.portico.cache.connections.give(self._conn)
            self._conn = None

    # --- responses -----------------------------------------------------------------------

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        values.setdefault("age", None)
        values.setdefault("signed_in", self.token is not None)
        page, constants = _page(self.locale, template)
        lang = self.locale.replace("_", "-")
        env = page.environment
        # Template.render's context, made from one dict: it copies the template's globals
        # (a ChainMap, read key by key in Python) into every page's context.
        context = new_context(
            env,
            page.name,
            page.blocks,
            {
                **constants,
                "lang": lang,
                "ctx": self,
                "fmt": self.fmt,
                "csrf": self.csrf.token,
                "district": self.portico.config.district.name,
                "here": here(self.request),
                **values,
            },
            shared=True,
            globals=constants,
        )
        try:
            body = env.concat(page.root_render_func(context))
        except Exception:
            env.handle_exception()  # as Template.render: the template's lines in the traceback
        response = HTMLResponse(body, status_code=status, headers=browser.PAGE_HEADERS)
        response.headers["Content-Language"] = lang
        self.csrf.remember(response)
        return response

    def age(self, view: View) -> dict[str, Any]:
        """How old the data on a page is, and whether it is stale (every data page shows it)."""
        state = view.state
        fmt = self.fmt
        stale = is_stale(state, self.portico.config.cache.stale_after)
        # The page's lines written here, not by calls from the template (each costs several
        # times a call from here); the template escapes them whole, as it escaped the
        # message and each value before (escaping is per character: the same bytes).
        return {
            "stale": stale,
            "stale_line": self._(
                "The school's system has not been read since %(when)s; what you see may have changed since.",
                when=fmt.datetime(state.synced_at),
            )
            if stale
            else None,
            "line": self._(
                "Records as of %(as_of)s (last updated %(synced)s).",
                as_of=fmt.datetime(state.as_of),
                synced=fmt.datetime(state.synced_at),
            ),
        }

    def redirect(self, path: str) -> Response:
        response = RedirectResponse(path, status_code=303, headers=browser.PAGE_HEADERS)
        self.csrf.remember(response)
        return response

    def error(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
        response = self.render("error.html", status=status, title=title, detail=detail)
        response.headers.update(headers or {})
        return response


def not_found(ctx: Ctx) -> Response:
    """The one 404 page: the same for a child who is not yours and one who does not exist."""
    return ctx.error(404, ctx._("Page not found"), ctx._("There is no such page, or it is not yours to see."))


def _problem_page(ctx: Ctx, p: Problem) -> Response:
    if p.status == 401:
        here = ctx.request.url.path
        target = "/sign-in" + (f"?next={quote(here)}" if ctx.request.method == "GET" and here != "/" else "")
        response = ctx.redirect(target)
        if ctx.token:  # the session ended (idle, absolute, signed out elsewhere): forget it
            browser.end_session(response, ctx.request)
        return response
    if p.status == 403 and p.type in GATES:
        return ctx.redirect(GATES[p.type])
    if p.status == 404:
        return not_found(ctx)
    if p.status == 429:
        return ctx.error(
            429,
            ctx._("Too many attempts"),
            ctx._(
                "Too many attempts: wait %(seconds)s seconds, then try again.",
                seconds=p.headers.get("Retry-After", "60"),
            ),
            headers={"Retry-After": p.headers.get("Retry-After", "60")},
        )
    if p.status == 413:
        return ctx.error(413, ctx._("Too much text"), ctx._("The form is larger than this page accepts."))
    return ctx.error(400, ctx._("Something is not right"), ctx._("This request could not be understood."))


def route(
    path: str, methods: tuple[str, ...] = ("GET",), *, max_fields: int = forms.MAX_FIELDS, csrf: bool = True
) -> Callable[[Handler], Handler]:
    """Register a page handler; its posts must carry the form's CSRF token (unless ``csrf`` is
    False: a one-click unsubscribe, whose URL is its own capability, posted by a mail client)."""

    def register(handler: Handler) -> Handler:
        async def answer(ctx: Ctx) -> Response:
            try:
                if ctx.request.method == "POST" and csrf and not ctx.csrf.accepts(ctx.form.get("csrf")):
                    return ctx.error(
                        403,
                        ctx._("This form has expired"),
                        ctx._("Go back, reload the page and send the form again."),
                    )
                return await handler(ctx)
            except Problem as p:
                return _problem_page(ctx, p)
            except SnapshotUnavailableError:
                return ctx.error(
                    503,
                    ctx._("Not ready yet"),
                    ctx._("The school's records have not been loaded yet. Try again in a few minutes."),
                    headers={"Retry-After": "60"},
                )
            except Exception as exc:
                log.error("web.unhandled", error_class=type(exc).__name__, path_template=path)
                return ctx.error(
                    500,
                    ctx._("Something went wrong"),
                    ctx._("Something went wrong on our side. Try again later."),
                )
            finally:
                ctx.close()

        async def serve(request: Request) -> Response:
            ctx = Ctx(request)
            if request.method == "POST":
                try:  # read here, on the serving loop (a worker thread cannot await its receive)
                    ctx.form = await forms.read(request, max_fields)
                except Problem as p:
                    return _problem_page(ctx, p)
            # The page's database work where the API's runs (gateway.api.offload): on a
            # database server, on a worker thread, its audit commits awaited here.
            workers = ctx.portico.workers
            if workers is None:
                return await answer(ctx)
            return await offloaded(workers, request, lambda: answer(ctx))

        ROUTES.append(Route(path, serve, methods=list(methods), name="web:" + handler.__name__))
        if not csrf:
            CSRF_EXEMPT.add(path)
        return handler

    return register


def next_path(raw: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another origin)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw and len(raw) < 300:
        return raw
    return "/"
