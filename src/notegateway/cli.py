"""The `notegateway` command: serve, migrate, clients, demo, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from notegateway.clients import service as clients_service
from notegateway.core.config import Settings
from notegateway.core.db import create_engine, resolve_database_url, transaction
from notegateway.core.errors import DomainError

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notegateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="worker processes (default: 1 on the embedded database, else the CPU count)",
    )

    commands.add_parser("migrate", help="bring the database to the newest schema")

    clients = commands.add_parser("clients", help="manage API clients")
    client_commands = clients.add_subparsers(dest="clients_command", required=True)
    add = client_commands.add_parser("add", help="add a client; prints its token last")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["nzis", "vendor", "neispuo", "operator"])
    add.add_argument("--cert-thumbprint", default=None, help="SHA-256 of the client certificate")
    add.add_argument("--region", default=None, help="limit an operator to this region (РУО)")
    client_commands.add_parser("list", help="list clients")
    rotate = client_commands.add_parser("rotate", help="issue a new token; prints it last")
    rotate.add_argument("name")
    disable = client_commands.add_parser("disable", help="refuse the client from now on")
    disable.add_argument("name")

    demo = commands.add_parser("demo", help="load the demo data set and print demo tokens")
    demo.add_argument("--port", type=int, default=8000, help="the port the printed addresses use")
    commands.add_parser("openapi", help="print the OpenAPI document")
    commands.add_parser(
        "purge",
        help="remove the school years past NOTEGATEWAY_RETENTION_SCHOOL_YEARS (prints counts)",
    )
    commands.add_parser(
        "stop-embedded", help="stop an embedded PostgreSQL a killed server left running"
    )
    return parser


async def _in_transaction(
    settings: Settings, work: Callable[[asyncpg.Connection, bytes], Awaitable[T]]
) -> T:
    engine: AsyncEngine = create_engine(
        resolve_database_url(settings), settings.model_copy(update={"pool_size": 1})
    )
    try:
        async with transaction(engine) as db:
            secret = settings.secret_key.get_secret_value() if settings.secret_key else None
            key = (await clients_service.load_keys(db, secret)).tokens
            return await work(db, key)
    finally:
        await engine.dispose()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    settings = Settings()
    try:
        return _dispatch(args, settings, out)
    except DomainError as exc:
        print(f"notegateway: {exc.detail}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, settings: Settings, out: IO[str]) -> int:
    if args.command == "serve":
        from notegateway.server import serve

        serve(settings, args.host, args.port, args.workers)
        return 0
    if args.command == "migrate":
        from notegateway.core.migrate import upgrade

        upgrade(resolve_database_url(settings))
        print("database is at the newest migration", file=out)
        return 0
    if args.command == "stop-embedded":
        from notegateway.core.db import stop_leftover_postgres

        stopped = stop_leftover_postgres(settings.data_dir)
        print("embedded PostgreSQL stopped" if stopped else "no embedded PostgreSQL runs", file=out)
        return 0
    if args.command == "openapi":
        from notegateway.app import create_app

        print(json.dumps(create_app(settings).openapi(), indent=2, ensure_ascii=False), file=out)
        return 0
    if args.command == "purge":
        return asyncio.run(_purge(settings, out))
    if args.command == "demo":
        from notegateway.core.migrate import upgrade
        from notegateway.demo import load_demo

        upgrade(resolve_database_url(settings))
        base = f"http://127.0.0.1:{args.port}"
        lines = asyncio.run(_in_transaction(settings, lambda db, key: load_demo(db, key, base)))
        print("\n".join(lines), file=out)
        return 0
    return _clients(args, settings, out)


async def _purge(settings: Settings, out: IO[str]) -> int:
    """Every school year past retention, late arrivals included (ops/retention.py)."""
    from notegateway.core.timeutil import today_in_sofia
    from notegateway.ops import retention

    engine = create_engine(resolve_database_url(settings), settings)
    try:
        purged = await retention.purge(
            engine, today_in_sofia(), settings.retention_school_years, only_when_due=False
        )
    finally:
        await engine.dispose()
    for year in purged:  # at least the newest year past retention (it waits its turn)
        counts = ", ".join(f"{kind} {count}" for kind, count in year.removed.items())
        print(f"school year {year.school_year}/{year.school_year + 1}: {counts}", file=out)
    return 0


def _clients(args: argparse.Namespace, settings: Settings, out: IO[str]) -> int:
    command = args.clients_command
    if command == "add":
        token = asyncio.run(
            _in_transaction(
                settings,
                lambda db, key: clients_service.add(
                    db, key, args.name, args.role, args.cert_thumbprint, args.region
                ),
            )
        )
        print(
            f"client {args.name!r} added with role {args.role}; its token (shown once):", file=out
        )
        print(token, file=out)
    elif command == "rotate":
        token = asyncio.run(
            _in_transaction(settings, lambda db, key: clients_service.rotate(db, key, args.name))
        )
        print(f"client {args.name!r} has a new token; the old one is refused:", file=out)
        print(token, file=out)
    elif command == "disable":
        asyncio.run(
            _in_transaction(settings, lambda db, key: clients_service.disable(db, args.name))
        )
        print(f"client {args.name!r} is disabled", file=out)
    else:
        listing = asyncio.run(
            _in_transaction(settings, lambda db, key: clients_service.list_clients(db))
        )
        for c in listing:
            state = "disabled" if c.disabled_at else "active"
            cert = c.cert_thumbprint or "-"
            print(
                f"{c.name}\t{c.role}\t{state}\tcert={cert}\tcreated={c.created_at:%Y-%m-%d}"
                + (f"\tregion={c.region}" if c.region else ""),
                file=out,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
