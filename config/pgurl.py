"""libpq's connection URL, as the API's event-loop connections (asyncpg) must read it.

psycopg hands a ``postgresql://`` URL to libpq; the API's parent data routes also open
asyncpg connections to the same databases (``cache.loopreads``), and asyncpg reads a URL
by rules of its own. The rules they must share are written here, once: what ``options``
sets, and which of libpq's parameters asyncpg cannot honour (validated with the config,
before anything starts).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

# libpq's parameters that change where or how securely a connection is made, which
# asyncpg has no equivalent for: a URL with them is refused, never silently connected
# differently (hostaddr: the address to use instead of looking up the host).
LOOP_REFUSED = frozenset(
    {
        "hostaddr", "channel_binding", "require_auth", "gssencmode", "gssdelegation", "sslsni",
        "sslcertmode", "sslcrldir", "requirepeer", "sslkeylogfile", "load_balance_hosts", "replication",
    }
)  # fmt: skip


def session_options(value: str) -> dict[str, str]:
    """libpq's ``options``: command-line switches for the server, split on spaces (a
    backslash keeps the next character), of which the session settings are ``-c name=value``
    (or ``-cname=value``) and ``--name=value``; dashes in a name read as underscores, as the
    server reads them. Any other switch is refused (ValueError)."""
    words: list[str] = []
    word: list[str] = []
    escaped = started = False
    for ch in value:
        if escaped:
            word.append(ch)
            escaped, started = False, True
        elif ch == "\\":
            escaped = True
        elif ch.isspace():
            if started:
                words.append("".join(word))
            word, started = [], False
        else:
            word.append(ch)
            started = True
    if started:
        words.append("".join(word))
    found: dict[str, str] = {}
    it = iter(words)
    for w in it:
        if w == "-c":
            w = "-c" + next(it, "")
        if w.startswith(("-c", "--")):
            name, eq, setting = w[2:].partition("=")
            if name and eq:
                found[name.replace("-", "_")] = setting
                continue
        raise ValueError(f"options: {w!r} is not a session setting (-c name=value or --name=value)")
    return found


def check_loop_url(url: str) -> None:
    """ValueError naming the parameter of a PostgreSQL URL the event loop's connections
    could not honour (:data:`LOOP_REFUSED`), or ``options`` that set no session setting."""
    if not url.startswith("postgresql"):
        return
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if name in LOOP_REFUSED:
            raise ValueError(
                f"the parameter {name} is not supported: the API's event-loop connections "
                "(asyncpg) cannot honour it, so they would connect differently from the rest"
            )
        if name == "options":
            session_options(value)
