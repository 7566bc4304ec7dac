"""Connector types by name: built-ins plus third-party entry points.

A connector type is registered with an options model (pydantic, ``extra="forbid"``)
and a builder. YAML names the type; ``portico config validate`` checks each
connector's ``options`` against the type's model, so a typo names its key and line.
Third parties add a type through the ``portico.connectors`` entry-point group whose
object is a :class:`ConnectorType`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from connectors.base import BuildContext, Connector, ConnectorType

__all__ = [
    "BuildContext",
    "ConnectorType",
    "available",
    "build",
    "get",
    "validate_connectors",
    "world_problems",
]


_BUILTINS = {
    "powerschool": "connectors.powerschool.connector:CONNECTOR_TYPE",
    "cloudschool": "connectors.cloudschool.connector:CONNECTOR_TYPE",
    "oneroster": "connectors.oneroster.connector:CONNECTOR_TYPE",
}


def _load(ref: str) -> ConnectorType:
    module_name, _, attr = ref.partition(":")
    module = __import__(module_name, fromlist=[attr])
    ct = getattr(module, attr)
    if not isinstance(ct, ConnectorType):
        raise TypeError(f"{ref} is not a ConnectorType")
    return ct


def available() -> list[str]:
    names = set(_BUILTINS)
    names.update(ep.name for ep in entry_points(group="portico.connectors"))
    return sorted(names)


def get(type_name: str) -> ConnectorType:
    """The connector type called ``type_name``; KeyError if there is none."""
    if type_name in _BUILTINS:
        return _load(_BUILTINS[type_name])
    for ep in entry_points(group="portico.connectors"):
        if ep.name == type_name:
            ct = ep.load()
            if isinstance(ct, ConnectorType):
                return ct
    raise KeyError(type_name)


def build(type_name: str, name: str, options: dict[str, Any], ctx: BuildContext) -> Connector:
    """Validate ``options`` against the type's model and build the connector."""
    ct = get(type_name)
    model = ct.options_model.model_validate(options)
    return ct.build(name, model, ctx)


def validate_connectors(loaded: Any) -> list[Any]:
    """Check every connector's type and options in a loaded config (config.loader.LoadedConfig).

    Returns ConfigProblems pointing at the key and line. What lies outside the file (an
    export folder, its columns) is not checked here but by :func:`world_problems`, which
    ``portico config validate`` runs: a bad folder is judged when a sync reads it, and never
    stops the API, ``status`` or ``sync show`` from starting.
    """
    return _validate(loaded, world=False)


def world_problems(loaded: Any) -> list[Any]:
    """The connector types' checks against the world (``check_config``): files present,
    columns mapped. Connectors whose options are invalid are left to validate_connectors."""
    return _validate(loaded, world=True)


def _validate(loaded: Any, *, world: bool) -> list[Any]:
    """The options' problems, or (``world``) the world's problems of connectors with valid options."""
    problems = []
    for i, cs in enumerate(loaded.config.connectors):
        try:
            ct = get(cs.type)
        except KeyError:
            if world:
                continue
            problems.append(
                loaded.problem(
                    ("connectors", i, "type"),
                    f"unknown connector type {cs.type!r}; available: {', '.join(available())}",
                )
            )
            continue
        model, found = loaded.validate_model(ct.options_model, cs.options, ("connectors", i, "options"))
        if not world:
            problems.extend(found)
        elif model is not None:
            for key, message in ct.check_config(model, loaded.base_dir):
                problems.append(loaded.problem(("connectors", i, "options", *key), message))
    return problems
