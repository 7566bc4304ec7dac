"""Every problem of a config in one pass: what ``config validate`` and each command's start run.

The schema (with every schedule's cron read as the scheduler reads it, ``config/cron.py``)
and every connector's options are checked whatever else is wrong: a bad section does not
hide a bad connector. With ``world``, what lies outside the file is checked too: the key
file (present, not readable by other users, holding keys), every secret reference
(resolvable; the value is never shown) and each connector's export folder.

Each problem is ``file:line: key.path: what was expected``; a value set by a
``PORTICO_...`` environment variable names the variable instead of a line.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cache.keys.crypto import KekRing
from config.errors import ConfigError, ConfigProblem, PorticoError
from config.loader import Draft, LoadedConfig, Path_, draft
from config.secrets import SecretRef, SecretResolver
from connectors import registry

# The secrets the top-level schema holds, by key path.
_TOP_SECRETS: tuple[Path_, ...] = (("cache", "kek"), ("mail", "smtp_password"), ("api", "metrics", "token"))


def check(
    path: str | Path, *, world: bool, env: Mapping[str, str] | None = None
) -> tuple[LoadedConfig | None, list[ConfigProblem]]:
    """The loaded config when it has no problem, and every problem found (in line order)."""
    try:
        d = draft(path, env)
    except ConfigError as exc:
        return None, exc.problems
    problems = list(d.problems)
    loaded = d.loaded()
    if loaded is not None:
        # The registry's own check when the rest is valid (tests stand in for it there).
        problems.extend(registry.validate_connectors(loaded))
        options = _connector_options(d, [])
    else:
        options = _connector_options(d, problems)
    if world:
        resolver = SecretResolver(env=env, base_dir=d.base_dir)
        for at, ref in [*_top_refs(d), *_option_refs(d)]:
            message = secret_problem(ref, resolver, d.base_dir, kek=at == ("cache", "kek"))
            if message is not None:
                problems.append(d.problem(at, message))
        problems.extend(_world(d, options))
    problems.sort(key=lambda p: (p.file != d.file, p.file, p.line or 0))
    return (loaded if not problems else None), problems


def _connector_options(d: Draft, problems: list[ConfigProblem]) -> list[tuple[Path_, BaseModel]]:
    """Each connector's options validated against its type's model, read from the file as
    it is (the rest of the config may be invalid); problems are added to ``problems``."""
    out: list[tuple[Path_, BaseModel]] = []
    items = d.raw.get("connectors") if isinstance(d.raw, dict) else None
    if not isinstance(items, list):
        return out
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            continue  # the schema reports it
        try:
            ct = registry.get(item["type"])
        except KeyError:
            problems.append(
                d.problem(
                    ("connectors", i, "type"),
                    f"unknown connector type {item['type']!r}; available: {', '.join(registry.available())}",
                )
            )
            continue
        raw_options = item.get("options", {})
        if not isinstance(raw_options, dict):
            continue  # the schema reports it
        at: Path_ = ("connectors", i, "options")
        model, found = d.validate_model(ct.options_model, raw_options, at)
        problems.extend(found)
        if model is not None:
            out.append((at, model))
    return out


def _world(d: Draft, options: list[tuple[Path_, BaseModel]]) -> list[ConfigProblem]:
    """Each connector type's own check of what is outside the file (export folders, columns)."""
    problems: list[ConfigProblem] = []
    items = d.raw["connectors"]
    for at, model in options:
        ct = registry.get(items[at[1]]["type"])
        try:
            found = ct.check_config(model, d.base_dir)
        except PorticoError as exc:
            found = [((), str(exc))]
        problems.extend(d.problem((*at, *key), message) for key, message in found)
    return problems


def _top_refs(d: Draft) -> Iterator[tuple[Path_, SecretRef]]:
    for at in _TOP_SECRETS:
        node: Any = d.raw
        for part in at:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            try:
                yield at, SecretRef.model_validate(node)
            except ValueError:
                continue  # the schema reports it


def _option_refs(d: Draft) -> Iterator[tuple[Path_, SecretRef]]:
    """Every secret reference in the connectors' options, valid options or not."""
    items = d.raw.get("connectors") if isinstance(d.raw, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            yield from _refs(item.get("options"), ("connectors", i, "options"))


def _refs(value: Any, at: Path_) -> Iterator[tuple[Path_, SecretRef]]:
    """Mappings written as secret references (``{env: ...}`` or ``{file: ...}``) in ``value``."""
    if isinstance(value, dict):
        if value and set(value) <= {"env", "file"}:
            try:
                ref = SecretRef.model_validate(value)
            except ValueError:
                return  # the options' model reports it
            yield at, ref
            return
        for key, item in value.items():
            yield from _refs(item, (*at, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _refs(item, (*at, i))


def secret_problem(ref: SecretRef, resolver: SecretResolver, base_dir: Path, *, kek: bool) -> str | None:
    """What stops ``ref`` being read (never its value), or None."""
    if ref.file is not None:
        path = Path(ref.file)
        path = path if path.is_absolute() else base_dir / path
        what = "key file" if kek else "secret file"
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            hint = (
                f" (a new install: portico keys generate --out {ref.file}; an existing cache: restore "
                "the key file it was written with)"
                if kek
                else ""
            )
            return f"{what} {ref.file} does not exist{hint}"
        except OSError as exc:
            return f"{what} {ref.file} cannot be read ({exc.strerror})"
        if mode & stat.S_IROTH:
            return (
                f"{what} {ref.file} is readable by every user (mode {stat.S_IMODE(mode):o}); "
                f"make it readable only by Portico's user: chmod 600 {ref.file}"
            )
    try:
        value = resolver.resolve(ref)
    except PorticoError as exc:
        return str(exc)
    if kek:
        try:
            KekRing.parse(value, ref.describe())
        except PorticoError as exc:
            return f"{exc} (make a key file: portico keys generate --out FILE)"
    return None


def problems_text(path: str, problems: list[ConfigProblem]) -> str:
    n = len(problems)
    return (
        f"{path}: {n} problem{'s' if n != 1 else ''}; Portico will not start until they are fixed:\n"
        + "\n".join(f"  - {p}" for p in problems)
    )
