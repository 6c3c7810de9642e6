"""`python -m breachdash COMMAND`: maintenance, import/export, synthetic data and benchmarks.

The command line acts as the built-in system identity (an operator with shell access to the
server already holds every key); what it changes is still checked and audited by the services.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from breachdash.auth.rules import system_actor
from breachdash.config import load_settings
from breachdash.db import describe_url, make_engine, migrate
from breachdash.errors import BreachdashError, DatabaseUnavailable, InvalidInput


def _engine(args):
    url = args.database_url or load_settings().database_url
    return make_engine(url)


def cmd_migrate(args) -> int:
    engine = _engine(args)
    migrate(engine)
    print(f"Database at {describe_url(str(engine.url))} is at the latest schema.")
    return 0


def cmd_setup(args) -> int:
    """What `make run` does before serving: migrate, then load the demo if the database is empty."""
    from breachdash.demo import seed_demo
    from breachdash.incidents.service import count_incidents

    engine = _engine(args)
    migrate(engine)
    if count_incidents(engine) == 0:
        incident = seed_demo(engine)
        print(f"Empty database: loaded the demo incident '{incident.slug}' and one demo user per role.")
    else:
        print("Database ready.")
    return 0


def cmd_seed_demo(args) -> int:
    from breachdash.demo import seed_demo

    engine = _engine(args)
    migrate(engine)
    incident = seed_demo(engine)
    print(f"Loaded the demo incident '{incident.slug}' (id {incident.id}).")
    return 0


def cmd_users_add(args) -> int:
    from breachdash.auth.service import add_user

    engine = _engine(args)
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty() and not args.sso_only:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    add_user(engine, actor=system_actor(), user_in={
        "email": args.email, "display_name": args.name or "", "password": password, "roles": args.role})
    how = "password sign-in" if password else "single sign-on only (no password)"
    print(f"Added {args.email.lower()} with role(s) {', '.join(args.role)}; {how}.")
    return 0


def cmd_users_grant(args) -> int:
    from breachdash.auth.service import grant_role, revoke_role

    engine = _engine(args)
    action = grant_role if args.users_command == "grant" else revoke_role
    action(engine, actor=system_actor(), email=args.email, role=args.role)
    done = {"grant": "Granted", "revoke": "Revoked"}[args.users_command]
    print(f"{done} {args.role} {'to' if args.users_command == 'grant' else 'from'} {args.email}.")
    return 0


def cmd_users_set_password(args) -> int:
    from breachdash.auth.service import set_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    else:
        print("error: give the password on standard input with --password-stdin", file=sys.stderr)
        return 2
    set_password(_engine(args), actor=system_actor(), email=args.email, password=password)
    print(f"Password set for {args.email.lower()}.")
    return 0


def cmd_users_list(args) -> int:
    from breachdash.auth.service import users_frame

    frame = users_frame(_engine(args), actor=system_actor()).drop(columns=["version"])
    print(frame.to_string(index=False) if len(frame) else "No users.")
    return 0


def cmd_verify_audit(args) -> int:
    from breachdash.audit.digests import NOT_COVERED
    from breachdash.audit.service import verify_chain

    result = verify_chain(_engine(args), expect_head=args.expect_head)
    if result.development_key:
        print("WARNING: the audit chain is checked with the PUBLISHED DEVELOPMENT KEY (BREACHDASH_AUDIT_DEV_KEY=1). "
              "Anyone can recompute a chain keyed with it: it proves nothing. Set BREACHDASH_AUDIT_KEY for real use.")
    if result.unkeyed:
        print(f"The first {result.unkeyed} events predate the audit key (unkeyed SHA-256)"
              + (f"; keyed event #{result.keyed_from} seals them." if result.keyed_from else "."))
    if result.rows_checked:
        print(f"Data rows checked against their latest audit event: {sum(result.rows_checked.values()):,} in "
              f"{len(result.rows_checked)} tables; not covered: {', '.join(sorted(NOT_COVERED))}.")
    for problem in result.row_problems[:20]:
        print(f"ROW CHANGED OUTSIDE BREACHDASH: {problem}", file=sys.stderr)
    if len(result.row_problems) > 20:
        print(f"... and {len(result.row_problems) - 20} more rows.", file=sys.stderr)
    if result.head_id is not None:
        # Keeping this line somewhere else lets a later check (--expect-head) notice removed newest rows.
        print(f"Head: event #{result.head_id} {result.head_alg} {result.head_hash}")
    if result.expected_head_id is not None:
        since = result.head_id - result.expected_head_id
        print(f"The head kept elsewhere is event #{result.expected_head_id}; {since} event(s) since.")
    if result.ok:
        print(f"Audit chain intact: {result.checked} events checked.")
        return 0
    problems = result.problems
    if result.broken is not None:
        print(f"AUDIT CHAIN BROKEN at {result.broken}", file=sys.stderr)
        problems = problems[1:]
    for problem in problems:
        print(f"AUDIT CHECK FAILED: {problem}", file=sys.stderr)
    return 1


def cmd_rekey_audit(args) -> int:
    from breachdash.audit.service import rekey_audit

    seal = rekey_audit(_engine(args))
    if seal is None:
        print("Nothing to seal: the audit chain is empty or already keyed.")
    else:
        print(f"Sealed the unkeyed audit events with keyed event #{seal.id}; every event from here on is keyed.")
    return 0


def cmd_export_incident(args) -> int:
    from breachdash.incidents.service import find_incident
    from breachdash.transfer import dumps, export_incident

    engine = _engine(args)
    incident = find_incident(engine, args.incident)
    text = dumps(export_incident(engine, actor=system_actor(), incident_id=incident.id))
    if args.out and args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"Wrote {args.out} ({len(text.encode()):,} bytes).", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_export_timeline(args) -> int:
    from breachdash.exports import export_timeline
    from breachdash.incidents.service import find_incident

    engine = _engine(args)
    incident = find_incident(engine, args.incident)
    data = export_timeline(engine, actor=system_actor(), incident_id=incident.id, fmt=args.format, zone=args.zone)
    return _write_output(data, args.out or f"{incident.slug}-timeline.{args.format}")


def _write_output(data: bytes, out: str) -> int:
    """Write an export to a file, or to standard output for '-'."""
    if out == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(out).write_bytes(data)
        print(f"Wrote {out} ({len(data):,} bytes).", file=sys.stderr)
    return 0


def cmd_export_obligations(args) -> int:
    from breachdash.exports import export_obligations
    from breachdash.incidents.service import find_incident

    engine = _engine(args)
    incident = find_incident(engine, args.incident)
    data, _mime, name = export_obligations(engine, actor=system_actor(), incident_id=incident.id, fmt=args.format)
    return _write_output(data, args.out or name)


def cmd_recompute_obligations(args) -> int:
    from breachdash.incidents.service import find_incident
    from breachdash.obligations.service import recompute_for

    engine = _engine(args)
    incident = find_incident(engine, args.incident)
    changes = recompute_for(engine, actor=system_actor(), incident_id=incident.id,
                            cause="a recompute from the command line")
    print(f"'{incident.slug}': {changes.summary()}")
    return 0


def cmd_briefing(args) -> int:
    from breachdash.briefing import export_briefing
    from breachdash.incidents.service import find_incident

    engine = _engine(args)
    incident = find_incident(engine, args.incident)
    data, _mime, name = export_briefing(engine, actor=system_actor(), incident_id=incident.id, fmt=args.format)
    return _write_output(data, args.out or name)


def cmd_import_incident(args) -> int:
    from breachdash.transfer import import_incident, parse_document

    engine = _engine(args)
    migrate(engine)
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    incident = import_incident(engine, actor=system_actor(), document=parse_document(raw))
    print(f"Imported incident '{incident.slug}' (id {incident.id}).")
    return 0


def cmd_import_affected(args) -> int:
    """Show what the file would change, then record it on confirmation (or with --yes)."""
    from breachdash.importers.affected import apply_affected_import, propose_affected_import
    from breachdash.incidents.service import find_incident

    engine = _engine(args)
    incident = find_incident(engine, args.incident)
    try:
        proposal = propose_affected_import(engine, actor=system_actor(), incident_id=incident.id,
                                           path=Path(args.file), population=args.population, mode=args.mode,
                                           reason=args.reason or "", progress=_progress_printer(),
                                           ids_are_pseudonymous=args.ids_are_pseudonymous)
    finally:
        print(file=sys.stderr)
    with proposal:
        print(proposal.headline())
        for line in proposal.details():
            print(f"  {line}")
        if proposal.adds_nothing:
            print("Nothing to record.")
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                print("error: not recorded: standard input is not a terminal, so the change cannot be confirmed; "
                      "run again with --yes to record it.", file=sys.stderr)
                return 2
            answer = input("Record this revision? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("Not recorded.")
                return 1
        try:
            revision = apply_affected_import(engine, actor=system_actor(), proposal=proposal,
                                             based_on_seq=proposal.based_on_seq, progress=_progress_printer())
        finally:
            print(file=sys.stderr)
    print(f"Recorded scope revision {revision.seq} for '{incident.slug}' ({proposal.mode.value} file): "
          f"{proposal.summary.describe()}.")
    return 0


def cmd_import_outreach(args) -> int:
    from breachdash.importers.delivery import import_delivery_report
    from breachdash.incidents.service import find_incident

    engine = _engine(args)
    incident = find_incident(engine, args.incident)
    try:
        summary = import_delivery_report(engine, actor=system_actor(), incident_id=incident.id,
                                         path=Path(args.file), progress=_progress_printer(),
                                         ids_are_pseudonymous=args.ids_are_pseudonymous)
    finally:
        print(file=sys.stderr)
    print(f"Imported {summary.file_name} into '{incident.slug}': {summary.describe()}.")
    return 0


def _progress_printer():
    """A progress callback drawing one updating line on stderr."""
    last = {"percent": -1}

    def progress(fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if percent != last["percent"]:
            last["percent"] = percent
            print(f"\r{percent:3d}%  {message:<40}", end="", file=sys.stderr, flush=True)

    return progress


def cmd_synth(args) -> int:
    from breachdash.synth import write_synthetic

    from datetime import datetime, timezone

    sent_at = None
    if args.sent_at:
        try:
            sent_at = datetime.fromisoformat(args.sent_at)
        except ValueError:
            print(f"--sent-at {args.sent_at!r} is not an ISO 8601 date and time", file=sys.stderr)
            return 2
        sent_at = sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=timezone.utc)
    paths = write_synthetic(customers=args.customers, out_dir=Path(args.out), seed=args.seed,
                            formats=args.format, sent_at=sent_at, phase=args.phase,
                            progress=lambda msg: print(msg, file=sys.stderr))
    for path in paths:
        print(path)
    return 0


def cmd_bench(args) -> int:
    from breachdash.bench import run_bench

    def sizes(value: str) -> list[int]:
        return [int(size) for size in value.split(",") if size.strip()] if value else []

    return run_bench(postgres_url=args.postgres_url, repeat=args.repeat, scope_sizes=sizes(args.scope_sizes),
                     outreach_sizes=sizes(args.outreach_sizes), naive_above_1m=args.naive_above_1m)


def cmd_bench_load(args) -> int:
    from breachdash.bench_load import parse_pages, parse_sessions, run_bench_load

    # Only an explicit URL (here or before the command) counts: by default a temporary demo database.
    return run_bench_load(sessions=parse_sessions(args.sessions), rounds=args.rounds,
                          database_url=args.load_database_url or args.database_url, pages=parse_pages(args.pages))


def cmd_backup(args) -> int:
    import time

    from breachdash.backup import backup_database

    started = time.perf_counter()
    info = backup_database(_engine(args), Path(args.file))
    for line in info.describe():
        print(line)
    print(f"Took {time.perf_counter() - started:.1f} s. Check it with: python -m breachdash restore --check {args.file}")
    return 0


def cmd_restore(args) -> int:
    import time

    from breachdash.backup import read_backup_info, restore_database

    started = time.perf_counter()
    if args.check:
        for line in read_backup_info(Path(args.file)).describe():
            print(line)
        print("The backup is complete and undamaged.")
        return 0
    summary = restore_database(_engine(args), Path(args.file), replace=args.replace)
    for line in summary.describe():
        print(line)
    print(f"Took {time.perf_counter() - started:.1f} s.")
    return 0


IDS_HELP = ("the customer ids are pseudonymous even where they look like an email address, a phone number, an "
            "SSN or a card number: import them instead of refusing the file (recorded in the audit log)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m breachdash", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="override DATABASE_URL / secrets.toml for this command")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("setup", help="migrate, and load the demo incident if the database is empty").set_defaults(func=cmd_setup)
    sub.add_parser("seed-demo", help="load the demo incident and demo users").set_defaults(func=cmd_seed_demo)

    users = sub.add_parser("users", help="manage accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add a user")
    add.add_argument("--email", required=True)
    add.add_argument("--role", action="append", required=True,
                     help="executive, pr, legal, architect or admin; repeat for several")
    add.add_argument("--name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--sso-only", action="store_true", help="no password: the user signs in with OIDC")
    add.set_defaults(func=cmd_users_add)
    for verb in ("grant", "revoke"):
        grant = users.add_parser(verb, help=f"{verb} a role")
        grant.add_argument("--email", required=True)
        grant.add_argument("--role", required=True)
        grant.set_defaults(func=cmd_users_grant)
    reset = users.add_parser("set-password", help="set or reset a user's password")
    reset.add_argument("--email", required=True)
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset.set_defaults(func=cmd_users_set_password)
    users.add_parser("list", help="list users and roles").set_defaults(func=cmd_users_list)

    verify = sub.add_parser("verify-audit", help="check the keyed audit chain and the data rows it vouches for")
    verify.add_argument("--expect-head", metavar="HASH",
                        help="a head hash kept elsewhere (an earlier verify-audit or backup): it must still be in "
                             "the chain, so removing the newest events is caught")
    verify.set_defaults(func=cmd_verify_audit)
    sub.add_parser("rekey-audit", help="seal an unkeyed audit chain (from before the key) under the configured key"
                   ).set_defaults(func=cmd_rekey_audit)

    backup = sub.add_parser("backup", help="write a consistent backup of the whole database (online; docs/backup.md)")
    backup.add_argument("file", help="the backup file to create (it must not exist yet)")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="load a backup into an empty database, all or nothing (stop servers first)")
    restore.add_argument("file", help="a file written by `backup`")
    restore.add_argument("--replace", action="store_true",
                         help="delete everything in the target database first (in the same transaction)")
    restore.add_argument("--check", action="store_true", help="only check the backup file; change nothing")
    restore.set_defaults(func=cmd_restore)

    export = sub.add_parser("export-incident", help="write an incident as one JSON document")
    export.add_argument("incident", help="id or slug")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_export_incident)

    timeline = sub.add_parser("export-timeline", help="the documented timeline for Legal")
    timeline.add_argument("incident", help="id or slug")
    timeline.add_argument("--format", choices=["pdf", "md", "csv", "json"], default="pdf")
    timeline.add_argument("--out", help="file to write (default: <slug>-timeline.<format>; - for stdout)")
    timeline.add_argument("--zone", help="IANA time zone for the times shown (default: the incident's)")
    timeline.set_defaults(func=cmd_export_timeline)

    register = sub.add_parser("export-obligations", help="the obligations register for Legal")
    register.add_argument("incident", help="id or slug")
    register.add_argument("--format", choices=["csv", "pdf"], default="pdf")
    register.add_argument("--out", help="file to write (default: <slug>-obligations-<time>.<format>; - for stdout)")
    register.set_defaults(func=cmd_export_obligations)

    recompute = sub.add_parser("recompute-obligations", help="re-decide every notification rule for an incident "
                                                             "(audited; writes nothing when nothing changes)")
    recompute.add_argument("incident", help="id or slug")
    recompute.set_defaults(func=cmd_recompute_obligations)

    briefing = sub.add_parser("briefing", help="the one-to-two page executive briefing")
    briefing.add_argument("incident", help="id or slug")
    briefing.add_argument("--format", choices=["pdf", "md"], default="pdf")
    briefing.add_argument("--out", help="file to write (default: <slug>-briefing-<time>.<format>; - for stdout)")
    briefing.set_defaults(func=cmd_briefing)

    imp = sub.add_parser("import-incident", help="load an incident JSON document (all or nothing)")
    imp.add_argument("file", help="path, or - for standard input")
    imp.set_defaults(func=cmd_import_incident)

    affected = sub.add_parser("import-affected", help="derive a scope revision from an affected-customers file")
    affected.add_argument("file", help="CSV or Parquet (docs/file-formats.md)")
    affected.add_argument("--incident", required=True, help="id or slug")
    affected.add_argument("--reason", help="why this revision (shown in the history)")
    affected.add_argument("--population", default="all",
                          help="the key of the population this file revises (default: all)")
    affected.add_argument("--mode", choices=["complete", "batch"], default="complete",
                          help="complete: the file is the whole population (default); batch: one of several "
                               "deliveries, counted with the batches since the last complete file")
    affected.add_argument("--yes", action="store_true",
                          help="record without asking (needed when standard input is not a terminal)")
    affected.add_argument("--ids-are-pseudonymous", action="store_true", help=IDS_HELP)
    affected.set_defaults(func=cmd_import_affected)

    outreach = sub.add_parser("import-outreach", help="import a vendor delivery-status report")
    outreach.add_argument("file", help="CSV or Parquet (docs/file-formats.md)")
    outreach.add_argument("--incident", required=True, help="id or slug")
    outreach.add_argument("--ids-are-pseudonymous", action="store_true", help=IDS_HELP)
    outreach.set_defaults(func=cmd_import_outreach)

    synth = sub.add_parser("synth", help="write synthetic affected-customer and delivery-status files")
    synth.add_argument("--customers", type=int, required=True)
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=7)
    synth.add_argument("--format", choices=["csv", "parquet"], action="append",
                       help="csv and/or parquet (default: both)")
    synth.add_argument("--sent-at", help="when the delivery report's notices went out (ISO 8601; default: six "
                                         "days ago, so every event is in the past)")
    synth.add_argument("--phase", default="initial_notice", help="the phase key the delivery report names")
    synth.set_defaults(func=cmd_synth)

    bench = sub.add_parser("bench", help="measure set-up and page render times; prints a table")
    bench.add_argument("--postgres-url", help="also measure on this PostgreSQL database (it is reset)")
    bench.add_argument("--repeat", type=int, default=5)
    bench.add_argument("--scope-sizes", default="1000,1000000",
                       help="affected-customer file sizes to import, comma-separated (e.g. 1000,1000000,10000000); "
                            "empty to skip")
    bench.add_argument("--outreach-sizes", default="1000,1000000",
                       help="delivery-report sizes in events to import, with the Outreach page render and customer "
                            "lookup at each, comma-separated (e.g. 1000,1000000,10000000); empty to skip")
    bench.add_argument("--naive-above-1m", action="store_true",
                       help="also run the naive pandas baseline above 1M rows (it holds the whole file in memory: "
                            "about 16 GB RSS at 10M)")
    bench.set_defaults(func=cmd_bench)

    load = sub.add_parser("bench-load", help="page-ready times with K concurrent browser sessions on one server")
    load.add_argument("--sessions", default="1,5,20", help="the Ks to measure, comma-separated (default 1,5,20)")
    load.add_argument("--rounds", type=int, default=3, help="rounds of K sessions per K (samples: K x rounds)")
    load.add_argument("--database-url", dest="load_database_url", metavar="URL",
                      help="serve this database (default: a temporary SQLite database with the demo)")
    load.add_argument("--pages", default="Overview,Scope",
                      help="the pages each session loads: Overview,Scope (default) or Overview (then the server CPU "
                           "per Overview load is judged against the 0.1 s goal)")
    load.set_defaults(func=cmd_bench_load)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InvalidInput as exc:
        print("error: the input is not valid:", file=sys.stderr)
        for line in exc.lines():
            print(f"  {line}", file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except BreachdashError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
