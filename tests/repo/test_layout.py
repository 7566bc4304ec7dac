"""The tests mirror the code (tests/README.md), and benchmarks stand on product code alone."""

from __future__ import annotations

import re

from tests.support import REPO

TESTS = REPO / "tests"
# Folders of tests that are not unit tests of one package.
APART = {"integration", "repo"}
IMPORTS_TESTS = re.compile(r"^\s*(?:from|import)\s+tests(?:\.|\s|$)", re.M)


def test_every_test_module_sits_in_a_folder_named_after_what_it_tests() -> None:
    misplaced = []
    for path in sorted(TESTS.rglob("test_*.py")):
        rel = path.parent.relative_to(TESTS)
        if rel.parts[:1] == ("unit",) and len(rel.parts) > 1:
            package = REPO.joinpath(*rel.parts[1:])
            if not (package / "__init__.py").is_file():
                misplaced.append(f"{path.relative_to(REPO)}: {package.relative_to(REPO)}/ is not a package")
        elif not (rel.parts[:1] and rel.parts[0] in APART):
            misplaced.append(
                f"{path.relative_to(REPO)}: belongs under tests/unit/<package>/ or tests/integration/"
            )
    assert misplaced == [], "see tests/README.md:\n" + "\n".join(misplaced)


def test_every_test_folder_is_a_package_so_module_names_follow_the_path() -> None:
    folders = {p.parent for p in TESTS.rglob("*.py")}
    assert sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file()) == []


def test_shared_helpers_live_in_tests_support_and_nowhere_else() -> None:
    strays = [
        str(p.relative_to(REPO))
        for p in sorted(TESTS.rglob("*.py"))
        if p.name not in ("__init__.py", "conftest.py")
        and not p.name.startswith("test_")
        and p.parent.relative_to(TESTS).parts[:1] != ("support",)
    ]
    assert strays == []


def test_benchmarks_import_no_test_module() -> None:
    scripts = sorted((REPO / "scripts").glob("bench_*"))
    assert scripts, "the check must see the benchmarks"
    assert [str(p.relative_to(REPO)) for p in scripts if IMPORTS_TESTS.search(p.read_text())] == []


def test_the_import_check_sees_an_import_of_a_test_module() -> None:
    assert IMPORTS_TESTS.search("x = 1\nfrom tests.support.world import World\n")
    assert IMPORTS_TESTS.search("import tests\n")
    assert not IMPORTS_TESTS.search("from testsuite import x\n# the tests import nothing\n")
