"""The command line: `python -m pilots [--db PATH] COMMAND ...`, everything the app does to data,
for scheduled loads and scripting. Exit status 0 on success, 1 on refused input, 2 on usage."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys

import duckdb

from . import store, users
from .access import COMMAND_LINE, AccessDenied, require_editor
from .db import Database, database_path
from .model import Metric, PilotDraft, ValidationError


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pilots", description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="database file (default: $PILOTS_DB or data/pilots.duckdb)")
    parser.add_argument("--as", dest="as_user", metavar="EMAIL",
                        help="act as this mapped user, with their role (default: the CCO office)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("init", help="create or migrate the database")
    commands.add_parser("demo", help="load the demo organisation")

    units = commands.add_parser("units", help="business units").add_subparsers(dest="action", required=True)
    add_unit = units.add_parser("add", help="add a business unit")
    add_unit.add_argument("name")
    add_unit.add_argument("--head")
    add_unit.add_argument("--customers", type=int)
    add_unit.add_argument("--revenue-per-customer", type=float)
    set_unit = units.add_parser("set", help="correct a business unit's name, head or size figures")
    set_unit.add_argument("name", help="the unit as it is named now (case does not matter)")
    set_unit.add_argument("--name", dest="new_name", help="its new name")
    set_unit.add_argument("--head")
    set_unit.add_argument("--customers", type=int)
    set_unit.add_argument("--revenue-per-customer", type=float)
    units.add_parser("list", help="list business units")

    metrics = commands.add_parser("metrics", help="metric definitions").add_subparsers(dest="action", required=True)
    add_metric = metrics.add_parser("add", help="define a metric")
    add_metric.add_argument("key")
    add_metric.add_argument("--label", required=True)
    add_metric.add_argument("--unit", default="")
    add_metric.add_argument("--direction", required=True, choices=["higher", "lower"])
    add_metric.add_argument("--aggregation", required=True, choices=["mean", "nps", "top2box", "rate"])
    add_metric.add_argument("--min", type=float, dest="min_value")
    add_metric.add_argument("--max", type=float, dest="max_value")
    add_metric.add_argument("--whole-numbers", action="store_true", help="answers are whole numbers")
    add_metric.add_argument("--description", default="")
    metrics.add_parser("list", help="list metric definitions")

    imports = commands.add_parser("import", help="load a CSV or XLSX file, all or nothing")
    imports.add_argument("kind", choices=["observations", "measurements"])
    imports.add_argument("file")
    imports.add_argument("--replace", action="store_true",
                         help="measurements: replace stored values for the same unit, metric and period")
    imports.add_argument("--allow-duplicate", action="store_true",
                         help="import a file identical to an earlier batch all the same")

    pilots = commands.add_parser("pilots", help="pilots").add_subparsers(dest="action", required=True)
    add_pilot = pilots.add_parser("add", help="register a pilot; prints its id")
    add_pilot.add_argument("--name", required=True)
    add_pilot.add_argument("--unit", required=True)
    add_pilot.add_argument("--metric", required=True, help="primary metric key")
    add_pilot.add_argument("--baseline", nargs=2, type=_date, required=True, metavar=("START", "END"))
    add_pilot.add_argument("--pilot", nargs=2, type=_date, required=True, metavar=("START", "END"))
    add_pilot.add_argument("--control", nargs="+", action="extend", default=[], metavar="UNIT",
                           help="control units: --control A B or --control A --control B")
    add_pilot.add_argument("--target", type=float, help="target effect on the primary metric, in its units")
    add_pilot.add_argument("--secondary", nargs="+", action="extend", default=[], metavar="METRIC")
    add_pilot.add_argument("--guardrail", nargs="+", action="extend", default=[], metavar="METRIC")
    add_pilot.add_argument("--owner", default="")
    pilots.add_parser("list", help="list pilots")

    access = commands.add_parser("users", help="who may do what").add_subparsers(dest="action", required=True)
    add_user = access.add_parser("add", help="give an e-mail address a role (replaces the role it had)")
    add_user.add_argument("email")
    add_user.add_argument("--role", required=True, choices=["editor", "unit_head", "steering"])
    add_user.add_argument("--unit", nargs="+", action="extend", default=[], metavar="NAME",
                          help="a unit head's units")
    access.add_parser("list", help="list who has access")
    remove_user = access.add_parser("remove", help="take away someone's access")
    remove_user.add_argument("email")

    analyze = commands.add_parser("analyze", help="the case for rollout of one pilot")
    analyze.add_argument("pilot_id", type=int)
    analyze.add_argument("--json", action="store_true", help="print JSON (the stable format)")

    export = commands.add_parser("export", help="write the presentation of a pilot (or of the portfolio)")
    export.add_argument("pilot_id", metavar="PILOT_ID", type=_pilot_or_portfolio,
                        help="a pilot's id, or the word 'portfolio'")
    export.add_argument("--format", required=True, choices=["pptx", "pdf", "png"], dest="fmt")
    export.add_argument("--out", required=True, metavar="PATH")
    return parser


def run(args: argparse.Namespace, out, err) -> int:
    db = Database(args.db)
    actor = COMMAND_LINE
    if args.as_user:
        actor = users.actor_for(db, args.as_user)
        if actor is None:
            raise AccessDenied(f"{args.as_user} has no access; the CCO office adds it with `users add`")
    command = args.command
    if command == "init":
        print(f"database {db.path} at schema version {db.schema_version()}", file=out)
    elif command == "demo":
        from .demo import load_demo
        require_editor(actor, "load the demo organisation")
        print(load_demo(db), file=out)
    elif command == "units" and args.action == "add":
        unit = store.add_unit(db, actor, args.name, head=args.head, customers=args.customers,
                              revenue_per_customer=args.revenue_per_customer)
        print(unit.unit_id, file=out)
    elif command == "units" and args.action == "set":
        units = store.list_units(db, actor)
        unit = store.unit_lookup(units).get(args.name.strip().casefold())
        if unit is None:
            raise ValidationError([store.unknown_unit_problem(args.name, units, "name")])
        changes = {field: value for field, value in (("name", args.new_name), ("head", args.head),
                                                     ("customers", args.customers),
                                                     ("revenue_per_customer", args.revenue_per_customer))
                   if value is not None}
        store.update_unit(db, actor, dataclasses.replace(unit, **changes), expected=unit)
        print(unit.unit_id, file=out)
    elif command == "units":
        for unit in store.list_units(db, actor):
            print(f"{unit.unit_id}\t{unit.name}\t{unit.head or ''}", file=out)
    elif command == "metrics" and args.action == "add":
        store.add_metric(db, actor, Metric(
            key=args.key, label=args.label, unit=args.unit, direction=args.direction,
            aggregation=args.aggregation, min_value=args.min_value, max_value=args.max_value,
            whole_numbers=args.whole_numbers, description=args.description))
        print(args.key, file=out)
    elif command == "metrics":
        for metric in store.list_metrics(db):
            print(f"{metric.key}\t{metric.label}\t{metric.direction}\t{metric.aggregation}", file=out)
    elif command == "import":
        from .ingest import import_file
        result = import_file(db, actor, args.file, args.kind, replace=args.replace,
                             allow_duplicate=args.allow_duplicate)
        print(result, file=out)
    elif command == "pilots" and args.action == "add":
        pilot_id = store.add_pilot(db, actor, PilotDraft(
            name=args.name, unit=args.unit, primary_metric=args.metric,
            baseline_start=args.baseline[0], baseline_end=args.baseline[1],
            pilot_start=args.pilot[0], pilot_end=args.pilot[1], controls=args.control,
            secondary_metrics=args.secondary, guardrail_metrics=args.guardrail,
            target_effect=args.target, owner=args.owner))
        print(pilot_id, file=out)
    elif command == "pilots":
        for pilot in store.list_pilots(db, actor):
            print(f"{pilot.pilot_id}\t{pilot.name}\t{pilot.unit_name}\t{pilot.status}", file=out)
    elif command == "users" and args.action == "add":
        access = users.set_user(db, actor, args.email, args.role, args.unit)
        print(f"{access.email}\t{access.role}\t{', '.join(access.unit_names)}", file=out)
    elif command == "users" and args.action == "remove":
        users.remove_user(db, actor, args.email)
        print(f"removed {users.normalise_email(args.email)}", file=out)
    elif command == "users":
        for access in users.list_users(db, actor):
            print(f"{access.email}\t{access.role}\t{', '.join(access.unit_names)}", file=out)
    elif command == "analyze":
        from .analysis import analyze_pilot, case_as_dict
        case = analyze_pilot(db, actor, args.pilot_id)
        if args.json:
            json.dump(case_as_dict(case), out, indent=2, default=str)
            print(file=out)
        else:
            print(case, file=out)
    elif command == "export":
        from pathlib import Path

        from .export import export_pilot, export_portfolio
        data = (export_portfolio(db, actor, args.fmt) if args.pilot_id == "portfolio"
                else export_pilot(db, actor, args.pilot_id, args.fmt))
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(path, file=out)
    return 0


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        return run(args, out, err)
    except ValidationError as refused:
        print(f"refused, nothing was written ({len(refused.problems)} problem"
              f"{'s' if len(refused.problems) != 1 else ''}):", file=err)
        for problem in refused.problems:
            print(f"  {problem}", file=err)
        return 1
    except (LookupError, AccessDenied, FileNotFoundError) as refused:
        print(f"refused: {refused}", file=err)
        return 1
    except duckdb.IOException as busy:
        if "lock" not in str(busy).lower():
            raise
        # DuckDB lets one process at a time write a database file; the running app is such a process.
        print(f"refused, nothing was written: the database {database_path(args.db)} is open in another process "
              "(the running app, or another command). Stop it and try again, or import on the app's Data "
              f"page.\n  ({str(busy).splitlines()[0]})", file=err)
        return 1
