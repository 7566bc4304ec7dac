"""Write a new migration script: what the models declare that the head schema lacks.

Usage: scripts/db_revision cache|keystore "what it changes"

Upgrades a scratch SQLite database to the current head, compares it with the tables the
code declares (``cache/tables/*`` for the cache line; the keystore's and the audit
anchors' for the keystore line) and writes the next revision (c0002, c0003 ... or k0002
...) into ``cache/migrations/versions/`` or ``cache/migrations/keystore/``. Read and
edit it before committing: autogenerate does not see renames, and data changes
(backfills) are written by hand. ``tests/unit/cache/migrations/test_migrations.py`` then proves that the
revisions build exactly the declared schema, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from sqlalchemy import MetaData  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import cache.tables  # noqa: E402, F401  (registers every table on SQLModel.metadata)
from cache.db import make_engine  # noqa: E402
from cache.keys.keystore import keystore_metadata  # noqa: E402
from cache.migrations import runner  # noqa: E402
from gateway.privacy.audit_anchor import anchor_metadata  # noqa: E402


def declared(line: runner.Line) -> MetaData:
    if line is runner.CACHE:
        return SQLModel.metadata
    merged = MetaData()
    for table in (*keystore_metadata.sorted_tables, *anchor_metadata.sorted_tables):
        table.to_metadata(merged)
    return merged


def next_id(line: runner.Line) -> str:
    prefix, number = re.fullmatch(r"([a-z])(\d+)", runner.head(line)).groups()  # type: ignore[union-attr]
    return f"{prefix}{int(number) + 1:04d}"


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if len(argv) != 2 or argv[0] not in {"cache", "keystore"}:
        print(__doc__, file=sys.stderr)
        return 2
    line = runner.CACHE if argv[0] == "cache" else runner.KEYSTORE
    with tempfile.TemporaryDirectory() as scratch:
        urls = {name: f"sqlite:///{Path(scratch) / name}.db" for name in ("cache", "keystore")}
        runner.upgrade(urls["cache"], urls["keystore"])
        engine = make_engine(urls[line.name])
        with engine.begin() as conn:
            cfg = runner.alembic_config(line, conn)
            cfg.attributes["target_metadata"] = declared(line)
            cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
            script = command.revision(cfg, message=argv[1], autogenerate=True, rev_id=next_id(line))
        engine.dispose()
    path = getattr(script, "path", None)
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(path)], check=False)
    print(f"wrote {path}: read it, complete it, then run scripts/test -k migrations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
