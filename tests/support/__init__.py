"""What tests share, in one place (tests/README.md says where a test goes).

- ``config``: a valid config on SQLite or PostgreSQL, and a YAML file of one for the CLI.
- ``clock``: the synthetic district's today, a movable clock, ``utc()``, and ``wait_until``.
- ``records``: small hand-made canonical records (students, families, contacts, links).
- ``connectors``: ``ListConnector`` (records in memory, with a failure knob).
- ``fake_source``: a connector type driven by a JSON file, for CLI and process tests.
- ``district``: the one synthetic-district spec family.
- ``world``: that district synced through the bootstrap, served, with accounts.
- ``cloudschool``: the district as a Cloud-School-like export and its connector.
- ``snapshots``: what a published snapshot holds, read with plain SQL (an oracle).
- ``mail``: a real SMTP server on loopback that keeps what it receives.
- ``net``: free loopback ports, and an ASGI app served by uvicorn from a thread.
- ``kill9``, ``log_scan_plugin``: the helpers behind ``scripts/kill9`` and ``scripts/log_scan``
  (``kill9.portico_child`` forks a ``portico`` command for either kill -9 harness).
- ``alerts``: a small family (two children, a mum, a dad) synced through the application, with a
  movable clock, for alert tests; ``kill9_alerts``: the helper behind ``scripts/kill9_alerts``.
- ``oneroster``: OneRoster bundles built from the binding's own column lists, and a small school in them.
- ``exports``: real UK exports (``data/uk/``) and OneRoster bundles through the whole application,
  with the YAML mappings the connector READMEs document.
- ``offload``: a request kept waiting on a PostgreSQL lock while ``/healthz`` is timed.
- ``cli``: the ``portico`` command line over a served world (its ``portico.yaml``, ``run``).
- ``systemd``: the command a shipped unit starts, as systemd expands it.
- ``data/``: fixture files, each folder with a SOURCE note citing where its shape comes from.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
