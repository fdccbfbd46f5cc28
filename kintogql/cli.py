"""``kintogql serve | migrate | create-user | --version``."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from kintogql import __version__
from kintogql.config import ConfigurationError, env_name, load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.config:
        os.environ[env_name("config")] = os.path.abspath(args.config)
    # Validate now so a bad configuration fails before any worker starts.
    load_settings(args.config)
    options: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "factory": True,
        "lifespan": "on",
        "proxy_headers": True,
    }
    if importlib.util.find_spec("uvloop") is not None:
        options["loop"] = "uvloop"
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = "httptools"
    # Shared subscriptions write their frames straight into this protocol's connections
    # (kintogql/schema/frames.py); "auto" picks it today, naming it keeps it so.
    if importlib.util.find_spec("uvicorn.protocols.websockets.websockets_sansio_impl"):
        options["ws"] = "websockets-sansio"
    # Change messages are small JSON: compressing each one for each subscriber (a zlib
    # stream per connection, as permessage-deflate requires) costs more CPU and memory
    # than the bytes it saves.
    options["ws_per_message_deflate"] = False
    uvicorn.run("kintogql.cli:app_factory", **options)  # type: ignore[arg-type]
    return 0


def app_factory() -> object:
    """Called by uvicorn in each worker process."""
    from kintogql.app import create_app

    config = os.environ.get(env_name("config"))
    return create_app(load_settings(config), config_path=config)


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if not settings.storage_url.startswith(("postgresql", "postgres")):
        print("Nothing to migrate: storage_url is not PostgreSQL.")
        return 0
    from kintogql.backends.postgresql import migrate

    version = asyncio.run(migrate(settings.storage_url))
    print(f"PostgreSQL schema is at version {version}.")
    return 0


def _create_user(args: argparse.Namespace) -> int:
    from kintogql.resolvers.accounts import create_user_command

    settings = load_settings(args.config)
    password = args.password or os.environ.get("KINTOGQL_ADMIN_PASSWORD")
    if not password:
        import getpass

        password = getpass.getpass(f"Password for {args.username}: ")
    return asyncio.run(create_user_command(settings, args.username, password))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kintogql", description=__doc__)
    parser.add_argument("--version", action="version", version=f"kintogql {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP, GraphQL and WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8888)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--config", help="Kinto-style ini file")
    serve.add_argument("--log-level", default="warning")
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the PostgreSQL schema")
    migrate.add_argument("--config")
    migrate.set_defaults(func=_migrate)

    create_user = sub.add_parser("create-user", help="create or reset an account (administrator)")
    create_user.add_argument("--config")
    create_user.add_argument("-u", "--username", required=True)
    create_user.add_argument("-p", "--password")
    create_user.set_defaults(func=_create_user)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
