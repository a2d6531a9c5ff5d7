"""The command line: `pilots [--db PATH] COMMAND ...` (or `python -m pilots ...`), everything the app
does to data, for scheduled loads and scripting. Exit status 0 on success, 1 on refused input, 2 on
usage.

Every command is one `Command` in COMMANDS (or in a group's list, like UNIT_COMMANDS): its name, its
help with one example, and a function that declares its arguments and sets its handler. A handler
takes the database, the acting user, the parsed arguments and the output stream. A command's
arguments are declared only when that command is chosen, and each handler imports the modules it
needs itself: `pilots import` never loads the chart or deck libraries, and `--help` loads neither
pandas nor DuckDB. To add a command, write its handler and declaring function and add it to a list.

Its length is the command-line contract itself: one handler and one declaring function per
command, side by side in one place; split, the contract would be read across files.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .access import COMMAND_LINE, ROLES, AccessDenied
from .model import AGGREGATIONS, DIRECTIONS, Metric, PilotDraft, Problem, ValidationError

if TYPE_CHECKING:
    from .access import Actor
    from .db import Database
    from .users import UserAccess


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    declare: Callable[[argparse.ArgumentParser], None]  # adds the arguments; sets `handler` (or sub-commands)
    example: str | None = None  # what follows `pilots COMMAND` in the example; None for a group of commands

    def epilog(self) -> str | None:
        return None if self.example is None else f"example:\n  %(prog)s {self.example}".rstrip()


class _CommandParser(argparse.ArgumentParser):
    """A command's parser, whose arguments are declared the first time it parses (the command was
    chosen, or its help asked for): declaring them may import the module that owns their choices."""

    def __init__(self, *args: Any, declare: Callable[[argparse.ArgumentParser], None], **kwargs: Any):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)  # keeps the example's layout
        super().__init__(*args, **kwargs)
        self._declare: Callable[[argparse.ArgumentParser], None] | None = declare

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._declare is not None:
            declare, self._declare = self._declare, None
            declare(self)
        return super().parse_known_args(args, namespace)


def _add_commands(parser: argparse.ArgumentParser, commands: Sequence[Command], dest: str) -> None:
    chosen = parser.add_subparsers(dest=dest, required=True, parser_class=_CommandParser)
    for command in commands:
        chosen.add_parser(command.name, help=command.help, description=command.help, epilog=command.epilog(),
                          declare=command.declare)


def _group(commands: Sequence[Command]) -> Callable[[argparse.ArgumentParser], None]:
    """The declaring function of a command with sub-commands (`units add`, `units list`...)."""
    return functools.partial(_add_commands, commands=commands, dest="action")


# ---------------------------------------------------------------- argument types

def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date as YYYY-MM-DD") from None


def _pilot_or_portfolio(text: str) -> int | str:
    if text == "portfolio":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is neither a pilot id nor 'portfolio'") from None


def _many(parser: argparse.ArgumentParser, flag: str, metavar: str, help: str | None = None) -> None:
    """An option taking several values either way: `--x A B` or `--x A --x B`."""
    parser.add_argument(flag, nargs="+", action="extend", default=[], metavar=metavar, help=help)


# ---------------------------------------------------------------- init, demo

def _init(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    print(f"database {db.path} at schema version {db.schema_version()}", file=out)


def _declare_init(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_init)


def _demo(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .demo import load_demo

    print(load_demo(db, actor), file=out)


def _declare_demo(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_demo)


# ---------------------------------------------------------------- units

def _unit_figures(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--head")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--revenue-per-customer", type=float)


def _units_add(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .store import add_unit

    unit = add_unit(db, actor, args.name, head=args.head, customers=args.customers,
                    revenue_per_customer=args.revenue_per_customer)
    print(unit.unit_id, file=out)


def _declare_units_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name")
    _unit_figures(parser)
    parser.set_defaults(handler=_units_add)


def _units_set(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .store import list_units, unit_lookup, unknown_unit_problem, update_unit

    units = list_units(db, actor)
    unit = unit_lookup(units).get(args.name.strip().casefold())
    if unit is None:
        raise ValidationError([unknown_unit_problem(args.name, units, "name")])
    changes = {field: value for field, value in (("name", args.new_name), ("head", args.head),
                                                 ("customers", args.customers),
                                                 ("revenue_per_customer", args.revenue_per_customer))
               if value is not None}
    update_unit(db, actor, dataclasses.replace(unit, **changes), expected=unit)
    print(unit.unit_id, file=out)


def _declare_units_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the unit as it is named now (case does not matter)")
    parser.add_argument("--name", dest="new_name", help="its new name")
    _unit_figures(parser)
    parser.set_defaults(handler=_units_set)


def _units_list(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .store import list_units

    for unit in list_units(db, actor):
        print(f"{unit.unit_id}\t{unit.name}\t{unit.head or ''}", file=out)


def _declare_units_list(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_units_list)


UNIT_COMMANDS = (
    Command("add", "add a business unit", _declare_units_add,
            "'Retail Stores' --head 'Rita Head' --customers 120000 --revenue-per-customer 300"),
    Command("set", "correct a business unit's name, head or size figures", _declare_units_set,
            "'retail stores' --customers 125000"),
    Command("list", "list business units", _declare_units_list, ""),
)


# ---------------------------------------------------------------- metrics

def _metrics_add(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .store import add_metric

    add_metric(db, actor, Metric(
        key=args.key, label=args.label, unit=args.unit, direction=args.direction,
        aggregation=args.aggregation, min_value=args.min_value, max_value=args.max_value,
        whole_numbers=args.whole_numbers, description=args.description))
    print(args.key, file=out)


def _declare_metrics_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key")
    parser.add_argument("--label", required=True)
    parser.add_argument("--unit", default="")
    parser.add_argument("--direction", required=True, choices=DIRECTIONS)
    parser.add_argument("--aggregation", required=True, choices=AGGREGATIONS)
    parser.add_argument("--min", type=float, dest="min_value")
    parser.add_argument("--max", type=float, dest="max_value")
    parser.add_argument("--whole-numbers", action="store_true", help="answers are whole numbers")
    parser.add_argument("--description", default="")
    parser.set_defaults(handler=_metrics_add)


def _metrics_list(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .store import list_metrics

    for metric in list_metrics(db):
        print(f"{metric.key}\t{metric.label}\t{metric.direction}\t{metric.aggregation}", file=out)


def _declare_metrics_list(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_metrics_list)


METRIC_COMMANDS = (
    Command("add", "define a metric", _declare_metrics_add,
            "wait_minutes --label 'Wait (minutes)' --direction lower --aggregation mean --min 0 --max 600"),
    Command("list", "list metric definitions", _declare_metrics_list, ""),
)


# ---------------------------------------------------------------- import

def _import(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .ingest import import_file

    print(import_file(db, actor, args.file, args.kind, replace=args.replace, allow_duplicate=args.allow_duplicate),
          file=out)


def _declare_import(parser: argparse.ArgumentParser) -> None:
    from .ingest import KINDS

    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("file")
    parser.add_argument("--replace", action="store_true",
                        help="measurements: replace stored values for the same unit, metric and period")
    parser.add_argument("--allow-duplicate", action="store_true",
                        help="import a file identical to an earlier batch all the same")
    parser.set_defaults(handler=_import)


# ---------------------------------------------------------------- pilots

def _pilots_add(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .store import add_pilot

    pilot_id = add_pilot(db, actor, PilotDraft(
        name=args.name, unit=args.unit[0], further_units=args.unit[1:], primary_metric=args.metric,
        baseline_start=args.baseline[0], baseline_end=args.baseline[1],
        pilot_start=args.pilot[0], pilot_end=args.pilot[1], controls=args.control,
        secondary_metrics=args.secondary, guardrail_metrics=args.guardrail,
        target_effect=args.target, owner=args.owner))
    print(pilot_id, file=out)


def _declare_pilots_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True)
    parser.add_argument("--unit", required=True, nargs="+", action="extend", metavar="UNIT",
                        help="the pilot's unit, or units: --unit A B or --unit A --unit B (the first leads)")
    parser.add_argument("--metric", required=True, help="primary metric key")
    parser.add_argument("--baseline", nargs=2, type=_date, required=True, metavar=("START", "END"))
    parser.add_argument("--pilot", nargs=2, type=_date, required=True, metavar=("START", "END"))
    _many(parser, "--control", "UNIT", "control units: --control A B or --control A --control B")
    parser.add_argument("--target", type=float, help="target effect on the primary metric, in its units")
    _many(parser, "--secondary", "METRIC")
    _many(parser, "--guardrail", "METRIC")
    parser.add_argument("--owner", default="")
    parser.set_defaults(handler=_pilots_add)


def _pilots_list(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .store import list_pilots

    for pilot in list_pilots(db, actor):
        print(f"{pilot.pilot_id}\t{pilot.name}\t{pilot.units_label}\t{pilot.status}", file=out)


def _declare_pilots_list(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_pilots_list)


def _pilots_rollout(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .lifecycle import record_rollout

    record_rollout(db, actor, args.pilot_id, args.unit, args.start)
    print(f"pilot {args.pilot_id}: rolled out to {', '.join(args.unit)} from {args.start:%Y-%m-%d}", file=out)


def _declare_pilots_rollout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pilot_id", type=int, metavar="ID")
    _many(parser, "--unit", "UNIT", "the units of this wave: --unit A B or --unit A --unit B")
    parser.add_argument("--start", type=_date, required=True, metavar="DATE", help="the wave's go-live date")
    parser.set_defaults(handler=_pilots_rollout)


PILOT_COMMANDS = (
    Command("add", "register a pilot; prints its id", _declare_pilots_add,
            "--name 'Callback instead of hold queue' --unit 'Contact Centre' --metric nps "
            "--baseline 2026-01-05 2026-03-29 --pilot 2026-03-30 2026-06-28 --control Online Claims --target 5"),
    Command("list", "list pilots", _declare_pilots_list, ""),
    Command("rollout", "record a rollout wave of a pilot decided for roll-out: its units and go-live date",
            _declare_pilots_rollout, "1 --unit 'Retail Stores' 'Online & App' --start 2025-12-08"),
)


# ---------------------------------------------------------------- users

def _access_line(access: UserAccess) -> str:
    return f"{access.email}\t{access.role}\t{', '.join(access.unit_names)}"


def _users_add(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .users import set_user

    print(_access_line(set_user(db, actor, args.email, args.role, args.unit)), file=out)


def _declare_users_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("email")
    parser.add_argument("--role", required=True, choices=ROLES)
    _many(parser, "--unit", "NAME", "a unit head's units")
    parser.set_defaults(handler=_users_add)


def _users_list(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .users import list_users

    for access in list_users(db, actor):
        print(_access_line(access), file=out)


def _declare_users_list(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_users_list)


def _users_remove(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .users import normalise_email, remove_user

    remove_user(db, actor, args.email)
    print(f"removed {normalise_email(args.email)}", file=out)


def _declare_users_remove(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("email")
    parser.set_defaults(handler=_users_remove)


USER_COMMANDS = (
    Command("add", "give an e-mail address a role (replaces the role it had)", _declare_users_add,
            "rita@example.com --role unit_head --unit 'Retail Stores'"),
    Command("list", "list who has access", _declare_users_list, ""),
    Command("remove", "take away someone's access", _declare_users_remove, "rita@example.com"),
)


# ---------------------------------------------------------------- analyze, export

def _analyze(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .analysis import analyze_pilot, case_as_dict

    case = analyze_pilot(db, actor, args.pilot_id)
    if args.json:
        json.dump(case_as_dict(case), out, indent=2, default=str)
        print(file=out)
    else:
        print(case, file=out)


def _declare_analyze(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pilot_id", type=int)
    parser.add_argument("--json", action="store_true", help="print JSON (the stable format)")
    parser.set_defaults(handler=_analyze)


def _export(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from pathlib import Path

    from .export import export_pilot, export_portfolio

    data = (export_portfolio(db, actor, args.fmt) if args.pilot_id == "portfolio"
            else export_pilot(db, actor, args.pilot_id, args.fmt))
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(path, file=out)


def _declare_export(parser: argparse.ArgumentParser) -> None:
    from .export import FORMATS

    parser.add_argument("pilot_id", metavar="PILOT_ID", type=_pilot_or_portfolio,
                        help="a pilot's id, or the word 'portfolio'")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    parser.add_argument("--out", required=True, metavar="PATH")
    parser.set_defaults(handler=_export)


def _drivers(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .drivers import as_dict, slope_words, transfer_function

    found = transfer_function(db, actor, north_star=args.north_star, drivers=args.driver or None,
                              start=args.start, end=args.end)
    if args.json:
        json.dump(as_dict(found), out, indent=2)
        print(file=out)
        return
    for slope in found.slopes:
        print(slope_words(found, slope), file=out)
    print(found.caveat, file=out)


def _declare_drivers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--north-star", default="nps", metavar="KEY", help="the ultimate metric (default: nps)")
    _many(parser, "--driver", "KEY", "driver metrics (default: every metric marked as a driver)")
    parser.add_argument("--start", type=_date, metavar="DATE", help="first week read (default: all data)")
    parser.add_argument("--end", type=_date, metavar="DATE", help="last week read (default: all data)")
    parser.add_argument("--json", action="store_true", help="print JSON (the stable format)")
    parser.set_defaults(handler=_drivers)


def _scorecard(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from pathlib import Path

    from .scorecard_pdf import export_scorecard

    path = Path(args.out)
    data = export_scorecard(db, actor, month=args.month, unit=args.unit, fmt=args.fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(path, file=out)


def _declare_scorecard(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", metavar="YYYY-MM", help="the month (default: the last complete month with data)")
    parser.add_argument("--unit", metavar="UNIT", help="a business unit's card (default: the whole organisation)")
    from .scorecard_pdf import FORMATS

    parser.add_argument("--format", choices=FORMATS, default="pdf", dest="fmt")
    parser.add_argument("--out", required=True, metavar="PATH")
    parser.set_defaults(handler=_scorecard)


# ---------------------------------------------------------------- backups, the audit chain

def _backup(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .backup import make_backup

    print(make_backup(db, actor, to=args.to, keep=args.keep, reason="command line"), file=out)


def _declare_backup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", metavar="DIR", help="folder for backups (default: beside the database, "
                                                     "in <file>.backups)")
    parser.add_argument("--keep", type=int, metavar="N", help="how many backups to keep, the newest "
                                                               "(default: $PILOTS_BACKUPS_KEEP or 10)")
    parser.set_defaults(handler=_backup)


def _restore(db: Database | None, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .backup import restore_backup

    restored = restore_backup(args.path, args.db, force=args.force)
    print(f"restored {restored}", file=out)


def _declare_restore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="the backup file (see `pilots backup`)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing database (it is kept as a backup first)")
    # The database is not opened: it may be missing or damaged, and the restore replaces the file.
    parser.set_defaults(handler=_restore, needs_database=False)


def _audit_verify(db: Database, actor: Actor, args: argparse.Namespace, out: TextIO) -> None:
    from .audit import verify_chain

    check = verify_chain(db, actor)
    if not check.intact:
        raise ValidationError([Problem(str(check), column="audit_log", value=str(check.broken_at))])
    print(check, file=out)


def _declare_audit_verify(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_audit_verify)


AUDIT_COMMANDS = (
    Command("verify", "check that no audit entry was changed, removed or slipped in (exit 1 if one was)",
            _declare_audit_verify, ""),
)


# ---------------------------------------------------------------- the command line

COMMANDS = (
    Command("init", "create or migrate the database", _declare_init, ""),
    Command("demo", "load the demo organisation", _declare_demo, ""),
    Command("units", "business units", _group(UNIT_COMMANDS)),
    Command("metrics", "metric definitions", _group(METRIC_COMMANDS)),
    Command("import", "load a CSV or XLSX file, all or nothing", _declare_import,
            "observations answers.csv"),
    Command("pilots", "pilots", _group(PILOT_COMMANDS)),
    Command("users", "who may do what", _group(USER_COMMANDS)),
    Command("analyze", "the case for rollout of one pilot", _declare_analyze, "3 --json"),
    Command("export", "write the presentation of a pilot (or of the portfolio)", _declare_export,
            "portfolio --format pdf --out portfolio.pdf"),
    Command("drivers", "how much the north star moves per unit of each driver (an association within units)",
            _declare_drivers, "--north-star nps --driver fcr resolution_days --json"),
    Command("scorecard", "write the monthly CX scorecard of the organisation or of one unit, one page",
            _declare_scorecard, "--month 2026-11 --format pdf --out scorecard-2026-11.pdf"),
    Command("backup", "take a consistent copy of the database, also while the app runs", _declare_backup,
            "--keep 14"),
    Command("restore", "put a backup in place of the database (the app stopped)", _declare_restore,
            "data/pilots.duckdb.backups/pilots-20261201-020000-command-line.duckdb --force"),
    Command("audit", "the audit log", _group(AUDIT_COMMANDS)),
)

# Arguments naming a file or folder: a command handed to the running app has them resolved against
# the folder it was typed in, not the app's.
PATH_ARGUMENTS = ("file", "out", "to", "path")


def build_parser(prog: str = "pilots") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Everything the app does to data, for scheduled loads and scripting.\n"
                    "Exit status 0 on success, 1 on refused input (every problem listed, nothing\n"
                    "written), 2 on a usage error.",
        epilog="example:\n  %(prog)s --db data/pilots.duckdb import observations answers.csv\n"
               "`%(prog)s COMMAND --help` says more, with an example.")
    parser.add_argument("--db", help="database file (default: $PILOTS_DB or data/pilots.duckdb)")
    parser.add_argument("--as", dest="as_user", metavar="EMAIL",
                        help="act as this mapped user, with their role (default: the CCO office)")
    parser.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                        help="while another command holds the database, wait this long for it "
                             "(default 60; a running app takes the command over instead)")
    _add_commands(parser, COMMANDS, dest="command")
    return parser


def run(args: argparse.Namespace, out: TextIO, database: Database | None = None) -> int:
    """Open the database (or use `database`, the app's own when it runs a handed-over command), find
    the acting user and run the chosen command's handler."""
    if not getattr(args, "needs_database", True):
        args.handler(None, COMMAND_LINE, args, out)
        return 0
    db = database or _open_waiting(args.db, args.wait)
    args.handler(db, _acting_user(db, args.as_user), args, out)
    return 0


def _open_waiting(path: str | None, seconds: float) -> Database:
    """The database, once no other command holds it (for up to `seconds`). DatabaseInUse at once if
    the holder is the running app, which takes commands over (pilots.handoff), or after the wait."""
    import time

    from .db import Database, DatabaseInUse, database_path
    from .handoff import serving

    deadline = time.monotonic() + max(seconds, 0.0)
    while True:
        try:
            return Database(path)
        except DatabaseInUse:
            if serving(database_path(path)) is not None or time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def _acting_user(db: Database, email: str | None) -> Actor:
    """The user named by `--as`, with their role; without it, the CCO office."""
    if not email:
        return COMMAND_LINE
    from .users import actor_for

    actor = actor_for(db, email)
    if actor is None:
        raise AccessDenied(f"{email} has no access; the CCO office adds it with `users add`")
    return actor


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None,
         prog: str = "pilots", database: Database | None = None, cwd: str | None = None) -> int:
    """Run one command. `database` and `cwd` are for the running app taking a command over: its own
    handle, and the folder the command was typed in (relative paths are read from there)."""
    out = out or sys.stdout
    err = err or sys.stderr
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(prog).parse_args(argv)
    # Imported once a command is chosen: help and usage errors need no database library.
    from .backup import RestoreRefused
    from .db import DatabaseDamaged, DatabaseInUse, DatabaseLost, WriteConflict, database_path
    from .handoff import HandOffFailed

    if cwd is not None:
        import os

        for name in PATH_ARGUMENTS:
            value = getattr(args, name, None)
            if isinstance(value, str) and not os.path.isabs(value):
                setattr(args, name, os.path.join(cwd, value))
    try:
        if database is not None and not getattr(args, "needs_database", True):
            raise RestoreRefused("the app is running on this database: stop it, then restore")
        return run(args, out, database)
    except ValidationError as refused:
        print(f"refused, nothing was written ({len(refused.problems)} problem"
              f"{'s' if len(refused.problems) != 1 else ''}):", file=err)
        for problem in refused.problems:
            print(f"  {problem}", file=err)
        return 1
    except (LookupError, AccessDenied, FileNotFoundError, WriteConflict, DatabaseDamaged, DatabaseLost,
            RestoreRefused, HandOffFailed) as refused:
        print(f"refused: {refused}", file=err)
        return 1
    except DatabaseInUse as busy:
        if database is None and getattr(args, "needs_database", True):
            handed = _hand_over(database_path(args.db), argv, out, err)
            if handed is not None:
                return handed
        # DuckDB lets one process at a time write a database file. A running app takes commands over;
        # this holder does not (another command, or an app of an older version), and did not let go.
        print(f"refused, nothing was written: the database {database_path(args.db)} stayed open in another "
              f"process for the {args.wait:g} s this command waits (another command, or a program that does not "
              f"take commands over). Try again later, or wait longer with --wait.\n  ({busy})", file=err)
        return 1


def _hand_over(path, argv: list[str], out: TextIO, err: TextIO) -> int | None:
    """Give the command to the running app holding the database; None if no app takes commands."""
    import os

    from .db import os_user
    from .handoff import HandOffFailed, serving, submit

    if serving(path) is None:
        return None
    try:
        answer = submit(path, argv, os.getcwd(), os_user())
    except HandOffFailed as failed:
        print(f"refused: {failed}", file=err)
        return 1
    out.write(answer.out)
    err.write(answer.err)
    return answer.exit_code


def answer_handed_over(database: Database):
    """What the running app does with a command handed to it: run it on its own handle, as the OS
    user who typed it, and answer with its exit code and output (pilots.handoff)."""
    import io

    from .db import on_behalf_of
    from .handoff import Answer, Request

    def answer(request: Request) -> Answer:
        out, err = io.StringIO(), io.StringIO()
        with on_behalf_of(request.os_user):
            try:
                code = main(request.argv, out, err, database=database, cwd=request.cwd)
            except SystemExit as usage:  # argparse: the command line checked it already, but be sure
                code = int(usage.code or 0)
        return Answer(code, out.getvalue(), err.getvalue())

    return answer
