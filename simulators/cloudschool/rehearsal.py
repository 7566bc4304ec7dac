"""``portico simulate cloudschool``: write a rehearsal export of a synthetic uk school.

The lead's CLI adds ``cloudschool_command`` to its ``simulate`` group; the plain
function ``simulate_cloudschool`` does the work and is what tests and the demo call.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from connectors.cloudschool.options import ENTITIES
from connectors.records import School
from simulators.cloudschool.export import DEFECTS, ExportSummary, write_export
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict


def simulate_cloudschool(
    out: str | Path,
    *,
    defects: tuple[str, ...] | list[str] = (),
    students: int = 300,
    seed: int = 7,
    target: str = "students",
    manifest: bool = True,
    changed_fraction: float = 0.0,
    today: dt.date | None = None,
) -> tuple[ExportSummary, dict[str, str]]:
    """Write the export; returns what was written and the connector options to read it."""
    spec = DistrictSpec(
        seed=seed, schools=1, students=students, style="uk", today=today or DistrictSpec.today
    )
    district = SyntheticDistrict(spec)
    summary = write_export(
        district,
        out,
        defects=defects,
        manifest=manifest,
        changed_fraction=changed_fraction,
        target=target,
        seed=seed,
    )
    school = next(iter(district.iter("school")))
    assert isinstance(school, School)
    options = {"path": str(out), "school_id": school.source_id, "school_name": school.name}
    return summary, options


def demo_connector(
    workdir: Path, *, name: str = "school", students: int = 120, seed: int = 11, today: dt.date | None = None
) -> dict[str, object]:
    """Write a clean export under ``workdir/cloudschool-export`` and return the YAML
    ``connectors:`` entry that reads it (for ``portico demo``: one PowerSchool-like
    district and one Cloud-School-like school side by side)."""
    folder = workdir / "cloudschool-export"
    _, options = simulate_cloudschool(folder, students=students, seed=seed, today=today)
    return {
        "name": name,
        "type": "cloudschool",
        "schedule": {"interval": "PT1H"},
        "options": {**options, "path": "cloudschool-export", "settle_seconds": 0},
    }


@click.command("cloudschool")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="folder to write the export into"
)
@click.option(
    "--defect",
    "defects",
    multiple=True,
    type=click.Choice(list(DEFECTS)),
    help="inject a real-file defect (repeatable): " + "; ".join(f"{k}: {v}" for k, v in DEFECTS.items()),
)
@click.option("--target", type=click.Choice(list(ENTITIES)), default="students", show_default=True,
              help="the file that single-file defects hit")  # fmt: skip
@click.option("--students", type=click.IntRange(min=12), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--no-manifest", is_flag=True, help="write no export_manifest.csv")
@click.option("--changed-fraction", type=click.FloatRange(0, 1), default=0.0, help="share of rows to change")
def cloudschool_command(
    out: str,
    defects: tuple[str, ...],
    target: str,
    students: int,
    seed: int,
    no_manifest: bool,
    changed_fraction: float,
) -> None:
    """Write a Cloud-School-like export of a synthetic school (for rehearsals and tests)."""
    summary, options = simulate_cloudschool(
        out,
        defects=defects,
        students=students,
        seed=seed,
        target=target,
        manifest=not no_manifest,
        changed_fraction=changed_fraction,
    )
    for name, rows in summary.rows.items():
        click.echo(f"{name:<26} {rows:>9,} rows")
    if summary.bad_rows:
        click.echo(f"malformed rows planted: {len(summary.bad_rows)}")
    click.echo("\nconnector options to read it:")
    for key, value in options.items():
        click.echo(f"  {key}: {value!r}")
