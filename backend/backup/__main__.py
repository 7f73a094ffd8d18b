"""``python -m backend.backup dump DEST`` / ``restore SRC [--force]`` / ``fence``."""

from __future__ import annotations

import argparse
import sys

from backend.aws import make_s3_client
from backend.backup import Location, dump, fence, restore
from backend.config import Settings
from backend.errors import CalendarError
from backend.storage import Storage
from backend.storage.batch import capacity_units
from backend.storage.connection import connect


def main(
    argv: list[str] | None = None,
    *,
    storage: Storage | None = None,
    settings: Settings | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.backup", description="Back up or restore both tables."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dump_cmd = commands.add_parser(
        "dump", help="write both tables to a folder or s3://bucket/prefix/"
    )
    dump_cmd.add_argument("destination")
    dump_cmd.add_argument(
        "--max-rcu", type=capacity_units, metavar="N", help="read at most N capacity units a second"
    )
    restore_cmd = commands.add_parser("restore", help="load a dump into the tables")
    restore_cmd.add_argument("source")
    restore_cmd.add_argument(
        "--max-wcu",
        type=capacity_units,
        metavar="N",
        help="write at most N capacity units a second",
    )
    restore_cmd.add_argument(
        "--force", action="store_true", help="write into tables that hold items"
    )
    commands.add_parser(
        "fence",
        help="after DynamoDB's point-in-time recovery: refuse older sync tokens (restore "
        "does this itself)",
    )
    args = parser.parse_args(argv)
    try:
        settings = settings if settings is not None else Settings.from_env()
        if storage is None:
            storage, _ = connect(settings)
        if args.command == "fence":
            print(f"✓ the change history of {fence(storage)} departments starts afresh")
            return 0
        where = args.destination if args.command == "dump" else args.source
        location = Location(where, make_s3_client(settings) if where.startswith("s3://") else None)
        if args.command == "dump":
            counts = dump(storage, location, max_rcu=args.max_rcu)
        else:
            counts = restore(storage, location, force=args.force, max_wcu=args.max_wcu)
    except CalendarError as exc:
        print(f"❌ {args.command}: {exc}", file=sys.stderr)
        return 2
    verb = "dumped to" if args.command == "dump" else "restored from"
    for table, count in counts.items():
        print(f"✓ {table}: {count} items ({verb} {where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
