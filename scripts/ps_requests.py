"""Requests a first full PowerSchool sync makes: total, distinct URLs, and per record.

Syncs a synthetic district (default: the demo's, 300 students) from the simulator into a
fresh SQLite cache through the sync engine, and counts every request the connector sent
(the token and metadata included). Usage: scripts/ps_requests [--students N] [--cap N]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CID, SECRET = "requests-client", "requests-secret-0123456789"


def measure(students: int, cap: int) -> dict[str, Any]:
    import httpx

    from cache.db import keystore_url
    from cache.keys.crypto import new_kek_line
    from cache.migrations import runner as migrations
    from cache.store import open_cache
    from config.secrets import SecretResolver
    from config.settings import PorticoConfig
    from connectors import registry
    from gateway.sync.engine import SyncEngine
    from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
    from simulators.powerschool.core import PowerSchoolSim
    from simulators.powerschool.model import CONNECTOR_OPTIONS

    district = SyntheticDistrict(DistrictSpec(seed=7, schools=2, students=students))
    sim = PowerSchoolSim(district, client_id=CID, client_secret=SECRET, schema_page_cap=cap)
    urls: collections.Counter[str] = collections.Counter()
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls[f"{request.method} {request.url}"] += 1
        response = sim.handle(request)
        sizes.append(len(response.content))
        return response

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "kek.key").write_text(new_kek_line() + "\n")
        options = {
            "base_url": "https://sis.test",
            "client_id": {"env": "ID"},
            "client_secret": {"env": "SECRET"},
            **CONNECTOR_OPTIONS,
        }
        config = PorticoConfig.model_validate(
            {
                "district": {"name": "Requests", "timezone": district.timezone},
                "cache": {"url": f"sqlite:///{work / 'cache.db'}", "kek": {"file": str(work / "kek.key")}},
                "connectors": [{"name": "sis", "type": "powerschool", "options": options}],
            }
        )
        migrations.upgrade(config.cache.url, keystore_url(config))
        cache = open_cache(config, SecretResolver())
        ctx = registry.BuildContext(
            secrets=SecretResolver(env={"ID": CID, "SECRET": SECRET}), transport=httpx.MockTransport(handler)
        )
        connector = registry.build("powerschool", "sis", options, ctx)
        out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(connector, full=True)
        connector.close()
        cache.dispose()
    if out.status != "published":
        sys.exit(f"the sync did not publish: {out}")
    return {"requests": sum(urls.values()), "urls": len(urls), "records": out.records, "bytes": sum(sizes)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--cap", type=int, default=1000, help="the simulator's /ws/schema page cap")
    args = ap.parse_args()
    got = measure(args.students, args.cap)
    print(
        f"{args.students} students, page cap {args.cap}: {got['requests']} requests for {got['urls']} URLs, "
        f"{got['records']:,} records, {got['requests'] / got['records']:.4f} requests per record, "
        f"{got['bytes'] / 1e6:.1f} MB of responses"
    )


if __name__ == "__main__":
    main()
