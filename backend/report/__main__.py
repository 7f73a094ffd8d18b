"""``python -m backend.report``: send today's report e-mails (or show them with --dry-run).

Prints the run's summary as one JSON document on stdout; log lines go to stderr.
Exit status: 0 when every department with subscribers got its report (or already had
it); 1 when one failed or the day's sending limit stopped the run; 2 on bad settings.
"""

from __future__ import annotations

import argparse
import json
import sys

from backend.config import Settings, configure_logging
from backend.errors import CalendarError
from backend.report.job import run_from_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--date", help="first day, YYYY-MM-DD (default: today in REPORT_TIMEZONE)")
    parser.add_argument("--days", type=int, help="how many days ahead (default: REPORT_DAYS, 7)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        # stdout holds the JSON summary alone; log lines go to stderr.
        configure_logging(settings.log_format, settings.log_level, stream=sys.stderr)
        summary = run_from_settings(settings, args.date, args.days, dry_run=args.dry_run)
    except (CalendarError, ValueError) as exc:
        print(f"cannot run the report: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    counts = summary["counts"]
    return 1 if counts.get("failed") or counts.get("quota-reached") else 0


if __name__ == "__main__":
    sys.exit(main())
