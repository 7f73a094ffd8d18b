"""``python migrate_to_dynamodb.py``: move the legacy JSON files into DynamoDB.

Exit status: 0 when every record was written or already present; 1 when some records
were rejected (all the others written) or the verification found a difference; 2 when
it could not run (a file unreadable or invalid, tables missing, no credentials), and then
nothing was written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TextIO

from backend.aws import make_s3_client
from backend.config import Mode, Settings
from backend.errors import (
    CalendarError,
    ConfigError,
    SourceError,
    StartupError,
    StorageUnavailable,
)
from backend.migration.output import PER_RECORD_LINES, RULE, Console, Report
from backend.migration.run import Migration, Outcome
from backend.migration.sources import DEFAULT_SOURCE, Sources, resolve
from backend.storage import Storage
from backend.storage.batch import capacity_units
from backend.storage.connection import Target, connect, missing_tables_message

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_REJECTED, EXIT_CANNOT_RUN = 0, 1, 2


def _workers(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 64:
        raise ValueError(raw)
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migrate_to_dynamodb.py",
        description="Move the legacy departments.json and events.json into DynamoDB.",
        epilog="Exit status: 0 all written or present; 1 some rejected; 2 could not run.",
    )
    parser.add_argument(
        "--source",
        metavar="DIR|s3://bucket/prefix/",
        help=f"folder or S3 prefix holding both files (default: {DEFAULT_SOURCE})",
    )
    parser.add_argument("--departments", metavar="FILE", help="departments.json to read")
    parser.add_argument("--events", metavar="FILE", help="events.json to read")
    parser.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace items that differ from the source"
    )
    parser.add_argument("--report", metavar="FILE", type=Path, help="write every rejection as JSON")
    parser.add_argument(
        "--workers", type=_workers, default=8, help="batches in flight, 1 to 64 (default 8)"
    )
    parser.add_argument(
        "--max-wcu",
        type=capacity_units,
        metavar="N",
        help="write at most N capacity units a second, leaving the rest to live traffic "
        "(default: as fast as the table allows; throttling is waited out either way)",
    )
    parser.add_argument(
        "--max-rcu",
        type=capacity_units,
        metavar="N",
        help="read at most N capacity units a second (existence checks, verification)",
    )
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None,
    *,
    settings: Settings | None = None,
    storage: Storage | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the migration; ``settings`` and ``storage`` default to the environment's."""
    args = parse_args(argv)
    out = out if out is not None else sys.stdout
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.report is not None and (args.report.is_symlink() or not args.report.parent.is_dir()):
        # Checked before anything is written; the report is then opened without following
        # links, so it can only ever be the file named.
        return _cannot_run(
            out, f"--report {args.report}: must be a plain file in an existing folder"
        )

    try:
        settings = settings if settings is not None else Settings.from_env()
        sources = resolve(
            args.source,
            args.departments,
            args.events,
            make_s3_client(settings) if args.source and args.source.startswith("s3://") else None,
        )
    except (ConfigError, SourceError) as exc:
        return _cannot_run(out, str(exc))
    report = Report()
    try:
        return _run(args, settings, storage, sources, report, out)
    finally:
        report.close()
        sources.close()


def _run(  # noqa: PLR0917 - one call site, every argument distinct
    args: argparse.Namespace,
    settings: Settings,
    storage: Storage | None,
    sources: Sources,
    report: Report,
    out: TextIO,
) -> int:
    console = Console(out, interactive=out.isatty())
    try:
        if storage is None:
            storage, target = connect(settings, max_pool_connections=max(10, args.workers * 2))
        else:
            target = Target(settings.mode, settings.endpoint_url, settings.region)
        migration = Migration(
            storage,
            sources,
            console,
            report,
            dry_run=args.dry_run,
            overwrite=args.overwrite,
            workers=args.workers,
            max_wcu=args.max_wcu,
            max_rcu=args.max_rcu,
            timezone=settings.calendar_timezone,
        )
        departments, event_total = migration.load()
        if settings.mode is Mode.LOCAL and not args.dry_run:
            storage.create_tables()  # the embedded engine is ours to set up, as the server does
        problems = [str(p) for p in storage.check_tables()]
    except (SourceError, StartupError, StorageUnavailable, ConfigError) as exc:
        return _cannot_run(out, str(exc))
    if problems:
        return _cannot_run(out, missing_tables_message(target, problems))

    console.per_record = len(departments) + event_total <= PER_RECORD_LINES
    console.header(
        args.dry_run, target.describe(), f"{sources.label_departments}, {sources.label_events}"
    )
    try:
        outcome = migration.run(departments, event_total)
    except SourceError as exc:  # the file changed under us between the two reads
        console.line(f"❌ {exc}")
        return EXIT_CANNOT_RUN
    except (StorageUnavailable, CalendarError) as exc:
        console.line(f"❌ 마이그레이션 중단 (stopped): {exc}")
        console.line("   What was written is kept; run the same command again to finish.")
        return EXIT_CANNOT_RUN
    _closing(console, outcome, args)
    if args.report is not None:
        report.write(args.report, _summary(outcome, args))
        console.line(f"📝 보고서 (report): {args.report}")
    console.line(RULE)
    return outcome.exit_code


def _cannot_run(out: TextIO, message: str) -> int:
    print(f"❌ 마이그레이션을 시작할 수 없습니다 (cannot run): {message}", file=out, flush=True)
    print("   Nothing was written.", file=out, flush=True)
    return EXIT_CANNOT_RUN


def _closing(console: Console, outcome: Outcome, args: argparse.Namespace) -> None:
    console.line()
    console.line(
        "⏱  " + " · ".join(f"{phase} {seconds:.1f}s" for phase, seconds in outcome.timings.items())
    )
    if outcome.verified is None:
        console.line()
        console.line("🔍 dry run: 검증 생략 (nothing was written, nothing to verify)")
    rejected = outcome.departments.rejected + outcome.events.rejected
    if rejected:
        console.line(
            f"⚠️  거부된 레코드 {rejected}개 (rejected records)"
            + ("" if args.report else ": list them all with --report FILE")
        )


def _summary(outcome: Outcome, args: argparse.Namespace) -> dict[str, object]:
    return {
        "dry_run": args.dry_run,
        "overwrite": args.overwrite,
        "departments": outcome.departments.as_dict(),
        "events": outcome.events.as_dict(),
        "verified": outcome.verified,
        "verification_problems": outcome.problems,
        "seconds": outcome.timings,
        "exit_status": outcome.exit_code,
    }
