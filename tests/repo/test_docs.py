"""The docs say true things once: drawn from the code where the code is the source, and
never about files outside the repository or how the work went."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from config.errors import PorticoError
from tests.support import REPO

PRODUCT = ("config", "connectors", "cache", "gateway", "simulators")
# Modules only their runner may import: Alembic's environment and revision scripts, and entry points.
RUN_ONLY = re.compile(r"^cache\.migrations\.(?:env$|versions\.|keystore\.)|\.__main__$")


# --- the error tree ---------------------------------------------------------------------------


def product_error_tree() -> set[tuple[str, str]]:
    """(parent, child) for every PorticoError subclass defined in a product package."""
    for package in PRODUCT:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not RUN_ONLY.search(info.name):
                importlib.import_module(info.name)
    edges: set[tuple[str, str]] = set()

    def walk(cls: type) -> None:
        for sub in cls.__subclasses__():
            if sub.__module__.split(".")[0] in PRODUCT:
                edges.add((cls.__name__, sub.__name__))
                walk(sub)

    walk(PorticoError)
    return edges


def drawn_tree(docstring: str) -> set[tuple[str, str]]:
    """(parent, child) for the tree drawn in ``docstring`` (four columns per level)."""
    lines = docstring.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "PorticoError")
    indent = lines[start].index("P")
    parents: list[str] = []
    edges: set[tuple[str, str]] = set()
    for line in lines[start:]:
        if not line.strip():
            break
        name = re.search(r"[A-Za-z_]\w*", line[indent:])
        assert name is not None, line
        depth, rest = divmod(name.start(), 4)
        assert rest == 0 and depth <= len(parents), f"misdrawn line: {line!r}"
        del parents[depth:]
        if parents:
            edges.add((parents[-1], name.group()))
        parents.append(name.group())
    return edges


def test_the_error_tree_drawn_in_config_errors_is_the_tree_of_the_classes() -> None:
    import config.errors

    drawn, real = drawn_tree(config.errors.__doc__ or ""), product_error_tree()
    assert drawn == real, (
        f"config/errors.py draws {sorted(drawn - real)} that the code does not have, "
        f"and lacks {sorted(real - drawn)}"
    )


def test_the_tree_reader_sees_depth_and_parents() -> None:
    doc = """x

    PorticoError
    ├── A      a
    │   └── B      b
    │       └── C      c
    └── D      d
"""
    assert drawn_tree(doc) == {("PorticoError", "A"), ("A", "B"), ("B", "C"), ("PorticoError", "D")}


# --- the Cloud-School preset layout ----------------------------------------------------------


def test_the_preset_layout_in_the_connector_readme_is_the_connectors_and_the_simulators() -> None:
    from connectors.cloudschool.mapping import PRESET
    from simulators.cloudschool.layout import FILES

    text = (REPO / "connectors" / "cloudschool" / "README.md").read_text()
    block = text.split("## Preset layout", 1)[1].split("```")[1]
    described = {
        file: tuple(header.split(","))
        for file, header in (line.split() for line in block.strip().splitlines())
        if file != "export_manifest.csv"
    }
    assert {s.file: s.columns for s in PRESET.values()} == described
    assert {f.file: f.columns for f in FILES.values()} == described


# --- nothing outside the repository, no work log ---------------------------------------------

OUTSIDE = re.compile(
    r"/work/|/tmp/|\.\./shared|\b(?:DESIGN|MEASURED|STYLE|API)\.md\b|\bseeds?/|\(seed \d{3}\)"
)
WORK_LOG = re.compile(
    r"\bthis session\b|\bprevious session\b|\bsession's start\b|\bissue \d+|\(issue\b|\bthis round\b"
    r"|\bearlier rounds?\b|\bprevious round\b|\bthe lead\b",
    re.I,
)


def written_text() -> list[Path]:
    """Docs, READMEs, and the code whose comments and docstrings speak to readers."""
    files = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for folder in (*PRODUCT, "scripts", "tests"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and (path.suffix in (".py", ".md", ".yaml", ".txt") or folder == "scripts"):
                files.append(path)
    return [p for p in files if p != Path(__file__) and "__pycache__" not in p.parts]


def test_no_doc_or_comment_points_outside_the_repository_or_reads_like_a_work_log() -> None:
    found = []
    for path in written_text():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) or WORK_LOG.search(line):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:120]}")
    assert found == []


def test_the_wording_check_catches_what_it_is_for() -> None:
    caught = [
        "see MEASURED.md",
        "in ../shared/seeds",
        "written to /tmp/x",
        "(issue 5)",
        "this session's change",
    ]
    assert all(OUTSIDE.search(s) or WORK_LOG.search(s) for s in caught)
    assert not any(
        OUTSIDE.search(s) or WORK_LOG.search(s) for s in ("a session cookie", "sessions.py", "tmp_path")
    )
