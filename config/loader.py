"""Load a YAML config and report every problem at once, each with file, key path and line.

YAML is composed to nodes (not loaded blindly) so each key path keeps its line and
duplicate keys are caught (with the line of the second). Validation errors from pydantic
are translated into :class:`~config.errors.ConfigProblem` entries in plain words,
pointing at the line of the key.

Environment variables ``PORTICO_<SECTION>__<KEY>`` override keys of the file (nested
keys joined by double underscores, connectors named by their ``name``); a problem with
an overridden value names the variable instead of a line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from config.errors import ConfigError, ConfigProblem
from config.settings import PorticoConfig

Path_ = tuple[str | int, ...]


@dataclass
class LoadedConfig:
    """A validated config plus what is needed to point later errors at lines."""

    config: PorticoConfig
    file: str
    lines: dict[Path_, int]
    raw: dict[str, Any]
    # Key paths set by PORTICO_... environment variables, and the variable that set each.
    overrides: dict[Path_, str] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return Path(self.file).resolve().parent

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: Path_, message: str) -> ConfigProblem:
        return at_path(self.file, self.lines, self.raw, self.overrides, path, message)

    def validate_model(self, model: type[BaseModel], data: Any, at: Path_) -> tuple[Any, list[ConfigProblem]]:
        """Validate ``data`` (found at ``at``) against ``model``; problems point at lines."""
        return validate_at(model, data, at, self.file, self.lines, self.raw, self.overrides)


@dataclass
class Draft:
    """A parsed config that may not be valid: what a check needs to go on finding problems
    (connector options, secrets, files) after the schema has found some."""

    file: str
    raw: Any
    lines: dict[Path_, int]
    overrides: dict[Path_, str]
    problems: list[ConfigProblem]
    config: PorticoConfig | None

    @property
    def base_dir(self) -> Path:
        return Path(self.file).resolve().parent

    def problem(self, path: Path_, message: str) -> ConfigProblem:
        return at_path(self.file, self.lines, self.raw, self.overrides, path, message)

    def validate_model(self, model: type[BaseModel], data: Any, at: Path_) -> tuple[Any, list[ConfigProblem]]:
        return validate_at(model, data, at, self.file, self.lines, self.raw, self.overrides)

    def loaded(self) -> LoadedConfig | None:
        if self.config is None:
            return None
        return LoadedConfig(self.config, self.file, self.lines, self.raw, self.overrides)


def _line(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def _override(overrides: Mapping[Path_, str], path: Path_) -> str | None:
    """The variable that set ``path`` or one of its ancestors (or, for a missing key, its parent)."""
    probe = path
    while probe:
        if probe in overrides:
            return overrides[probe]
        probe = probe[:-1]
    return None


def at_path(
    file: str, lines: dict[Path_, int], raw: Any, overrides: Mapping[Path_, str], path: Path_, message: str
) -> ConfigProblem:
    var = _override(overrides, path)
    if var is not None:
        return ConfigProblem(f"environment variable {var}", dotted(raw, path), None, message)
    return ConfigProblem(file, dotted(raw, path), _line(lines, path), message)


def validate_at(
    model: type[BaseModel],
    data: Any,
    at: Path_,
    file: str,
    lines: dict[Path_, int],
    raw: Any,
    overrides: Mapping[Path_, str],
) -> tuple[Any, list[ConfigProblem]]:
    """Validate ``data`` (found at ``at``) against ``model``; problems point at lines."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from(exc, file, lines, raw, at, overrides)


def dotted(raw: Any, path: Sequence[str | int]) -> str:
    """``connectors[sis].options.base_url``: list items named by their ``name`` when they have one."""
    out = ""
    node = raw
    for part in path:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node):
                item = node[part]
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    label = item["name"]
                node = item
            else:
                node = None
            out += f"[{label}]"
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _construct(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[ConfigProblem], file: str
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key, str) or not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    ConfigProblem(
                        file, dotted({}, path), key_node.start_mark.line + 1, "keys must be plain text"
                    )
                )
                continue
            if key in out:
                problems.append(
                    ConfigProblem(
                        file,
                        dotted({}, (*path, key)),
                        key_node.start_mark.line + 1,
                        f"key appears twice (first on line {lines[(*path, key)]}); the second is ignored",
                    )
                )
                continue
            child = (*path, key)
            out[key] = _construct(value_node, child, lines, problems, file)
            lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, (*path, i), lines, problems, file) for i, n in enumerate(node.value)]
    # Scalars: let the safe constructor resolve types (ints, bools, dates, null), except
    # YAML 1.1's base-60 integers: "10:30" is a time of day here, never 630.
    if node.tag.endswith(":int") and ":" in str(node.value):
        return node.value
    return yaml.SafeLoader("").construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """The data and the line of every key path; ConfigError on any problem (duplicates too)."""
    data, lines, problems = _parse(text, file)
    if problems:
        raise ConfigError(problems)
    return data, lines


def _parse(text: str, file: str) -> tuple[Any, dict[Path_, int], list[ConfigProblem]]:
    """The data, the line of every key path, and duplicate keys (first value kept);
    ConfigError when the text is not YAML at all."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError([ConfigProblem(file, "", line, f"YAML syntax: {reason}")]) from None
    if node is None:
        raise ConfigError([ConfigProblem(file, "", None, "the file is empty")])
    lines: dict[Path_, int] = {}
    problems: list[ConfigProblem] = []
    data = _construct(node, (), lines, problems, file)
    return data, lines, problems


# pydantic's error types, said as what was expected. Types not listed keep pydantic's text.
_PLAIN = {
    "dict_type": "expected a section of keys (key: value lines), not a single value",
    "model_type": "expected a section of keys (key: value lines), not a single value",
    "model_attributes_type": "expected a section of keys (key: value lines), not a single value",
    "list_type": "expected a list (lines starting with '- ', or [a, b])",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "time_delta_type": "expected a duration: ISO 8601 such as PT30M, PT6H or P1D, or a number of seconds",
    "time_delta_parsing": "expected a duration: ISO 8601 such as PT30M, PT6H or P1D, or a number of seconds",
    "time_type": "expected a time of day such as 10:30",
    "time_parsing": "expected a time of day such as 10:30",
    "too_short": "expected at least one entry",
}


def _plain(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see config/portico.example.yaml)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return f"not in the expected form (a value matching {ctx.get('pattern', '')})"
    if kind == "string_too_short":
        return "expected some text, not an empty value"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        bound = next(iter(ctx.values()), "")
        return f"expected a number {words} {bound}"
    if kind in _PLAIN:
        return _PLAIN[kind]
    msg = str(err["msg"])
    return msg[len("Value error, ") :] if msg.startswith("Value error, ") else msg


def problems_from(
    exc: ValidationError,
    file: str,
    lines: dict[Path_, int],
    raw: Any,
    prefix: Path_ = (),
    overrides: Mapping[Path_, str] | None = None,
) -> list[ConfigProblem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        out.append(at_path(file, lines, raw, overrides or {}, (*prefix, *loc), _plain(err)))
    return out


ENV_PREFIX = "PORTICO_"


def _env_value(text: str) -> Any:
    """A variable's value read as a YAML value: ``8080`` is a number, ``{file: /etc/x}`` a
    secret reference, ``[10.0.0.1]`` a list; anything YAML cannot read stays text."""
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


def apply_env(raw: Any, env: Mapping[str, str]) -> tuple[dict[Path_, str], list[ConfigProblem]]:
    """Apply ``PORTICO_<SECTION>__<KEY>[__<KEY>...]`` variables to ``raw`` in place.

    Keys are matched without regard to case; a connector is named by its ``name`` (``-``
    written as ``_``). Returns the key path each variable set, and the variables that
    name no place in the config.
    """
    overrides: dict[Path_, str] = {}
    problems: list[ConfigProblem] = []
    if not isinstance(raw, dict):
        return overrides, problems
    for var in sorted(env):
        if not var.upper().startswith(ENV_PREFIX) or "__" not in var:
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        if any(not p for p in parts):
            problems.append(ConfigProblem(f"environment variable {var}", "", None, "empty key between '__'"))
            continue
        node: Any = raw
        path: list[str | int] = []
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            if isinstance(node, list):
                index = next(
                    (
                        i
                        for i, item in enumerate(node)
                        if isinstance(item, dict)
                        and str(item.get("name", "")).lower().replace("-", "_") == part
                    ),
                    None,
                )
                if index is None:
                    names = ", ".join(str(i.get("name")) for i in node if isinstance(i, dict))
                    problems.append(
                        ConfigProblem(
                            f"environment variable {var}",
                            dotted(raw, tuple(path)),
                            None,
                            f"no entry named {part!r} (there are: {names})",
                        )
                    )
                    break
                path.append(index)
                node = node[index]
                if last:
                    problems.append(
                        ConfigProblem(
                            f"environment variable {var}",
                            dotted(raw, tuple(path)),
                            None,
                            "names a whole list entry; name one of its keys",
                        )
                    )
                continue
            if not isinstance(node, dict):
                problems.append(
                    ConfigProblem(
                        f"environment variable {var}",
                        dotted(raw, tuple(path)),
                        None,
                        "this key holds a single value, not a section",
                    )
                )
                break
            path.append(part)
            if last:
                node[part] = _env_value(env[var])
                overrides[tuple(path)] = var
            else:
                node = node.setdefault(part, {})
    return overrides, problems


def draft(path: str | Path, env: Mapping[str, str] | None = None) -> Draft:
    """Read ``path`` with the environment's overrides and validate the schema, keeping every
    problem (raises ConfigError only when the file cannot be read as YAML at all)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(file, "", None, f"cannot read the file: {exc}")]) from None
    raw, lines, problems = _parse(text, file)
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(file, "", 1, "expected a mapping of sections at the top level")])
    overrides, env_problems = apply_env(raw, os.environ if env is None else env)
    problems.extend(env_problems)
    config, found = validate_at(PorticoConfig, raw, (), file, lines, raw, overrides)
    problems.extend(found)
    return Draft(file, raw, lines, overrides, problems, config)


def load(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and validate ``path`` (with ``PORTICO_...`` overrides from ``env``, by default
    the process's environment); raise ConfigError listing every problem."""
    d = draft(path, env)
    loaded = d.loaded()
    if d.problems or loaded is None:
        raise ConfigError(d.problems)
    if loaded.config.access.aup.file is not None:
        loaded.config = _with_aup_text(loaded)
    return loaded


AUP_FILE_BYTES = 100_000


def _with_aup_text(loaded: LoadedConfig) -> PorticoConfig:
    """The config with the acceptable-use policy read from ``access.aup.file`` into its text."""
    config = loaded.config
    aup = config.access.aup
    assert aup.file is not None
    path = loaded.base_dir / aup.file
    at = ("access", "aup", "file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            [loaded.problem(at, f"cannot read the policy file {path}: {exc.strerror}")]
        ) from None
    if len(data) > AUP_FILE_BYTES:
        raise ConfigError([loaded.problem(at, f"the policy file is larger than {AUP_FILE_BYTES:,} bytes")])
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError([loaded.problem(at, "the policy file is not UTF-8 text")]) from None
    if not text:
        raise ConfigError([loaded.problem(at, "the policy file is empty")])
    policy = aup.model_copy(update={"text": text, "file": None})
    return config.model_copy(update={"access": config.access.model_copy(update={"aup": policy})})
