"""Load a YAML config and report every problem at once, each with file, key path and line.

YAML is composed to nodes (not loaded blindly) so each key path keeps its line and
duplicate keys are caught. Validation errors from pydantic are translated into
:class:`~config.errors.ConfigProblem` entries pointing at the line of the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
        return ConfigProblem(self.file, dotted(self.raw, path), self.line_of(path), message)

    def validate_model(self, model: type[BaseModel], data: Any, at: Path_) -> tuple[Any, list[ConfigProblem]]:
        """Validate ``data`` (found at ``at``) against ``model``; problems point at lines."""
        try:
            return model.model_validate(data), []
        except ValidationError as exc:
            return None, problems_from(exc, self.file, self.lines, self.raw, at)


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


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[str], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key, str) or not isinstance(key_node, yaml.ScalarNode):
                problems.append(f"{file}:{key_node.start_mark.line + 1}: keys must be plain text")
                continue
            if key in out:
                where = dotted({}, (*path, key))
                problems.append(f"{file}:{key_node.start_mark.line + 1}: {where}: key appears twice")
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
    dup: list[str] = []
    data = _construct(node, (), lines, dup, file)
    if dup:
        raise ConfigError([ConfigProblem(file, "", None, d.split(": ", 1)[1]) for d in dup])
    return data, lines


def problems_from(
    exc: ValidationError, file: str, lines: dict[Path_, int], raw: Any, prefix: Path_ = ()
) -> list[ConfigProblem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = (*prefix, *loc)
        line = None
        probe = path
        while probe:
            if probe in lines:
                line = lines[probe]
                break
            probe = probe[:-1]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see config/portico.example.yaml)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(ConfigProblem(file, dotted(raw, path), line, msg))
    return out


def load(path: str | Path) -> LoadedConfig:
    """Read and validate ``path``; raise ConfigError listing every problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(file, "", None, f"cannot read the file: {exc}")]) from None
    raw, lines = parse_yaml(text, file)
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(file, "", 1, "expected a mapping of sections at the top level")])
    try:
        config = PorticoConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, file, lines, raw)) from None
    loaded = LoadedConfig(config=config, file=file, lines=lines, raw=raw)
    if config.access.aup.file is not None:
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
        raise ConfigError([loaded.problem(at, f"cannot read the policy file {path}: {exc.strerror}")]) from None
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
