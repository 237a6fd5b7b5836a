"""``tui-rl serve``: the app in a web browser, through textual-serve. Each page that connects gets
its own app process (``python -P -m tui_rl.cli [PRESET] --runs-dir DIR``); the runs folder is shared,
so runs started from a browser show in the terminal app and ``tui-rl runs`` too.

The pages are behind a token (see ``serve_guard.py``): a random one in the printed URL, or the one
given with ``--token`` or in ``TUI_RL_SERVE_TOKEN``."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import secrets
import shlex
import sys
from urllib.parse import urlsplit

from tui_rl.cli.options import runs_dir_option
from tui_rl.cli.outcome import EXIT_OK, UsageError
from tui_rl.engine.extras import install_line, installed
from tui_rl.engine.python_command import python_module

#: textual-serve's default port
DEFAULT_PORT = 8000
#: the environment variable that may hold the token (kept out of ``ps``, unlike --token)
TOKEN_ENV = "TUI_RL_SERVE_TOKEN"
#: sessions open at once; each is an app process of ~480 MB
DEFAULT_MAX_SESSIONS = 4
#: a token goes in a URL as it is: at least 16 characters that need no escaping
TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,}")


def app_command(target: str | None, runs_dir) -> str:
    """The command textual-serve runs for each browser page: this Python, this tui-rl."""
    return shlex.join(python_module("tui_rl.cli", *([target] if target else []), "--runs-dir", str(runs_dir)))


def serve_token(given: str | None) -> str:
    """--token, else TUI_RL_SERVE_TOKEN, else a fresh random token."""
    source, token = ("--token", given) if given is not None else (TOKEN_ENV, os.environ.get(TOKEN_ENV))
    if token is None:
        return secrets.token_urlsafe(24)
    if not TOKEN.fullmatch(token):
        raise UsageError(f"{source}: a token needs at least 16 characters, each a letter, a digit or one of . _ ~ -")
    return token


def public_url(given: str | None) -> str | None:
    if given is None:
        return None
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"--public-url: {given!r} is not an http(s) address such as https://example.org:8443")
    return given.rstrip("/")


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    if not installed("textual_serve"):
        raise UsageError("serve: needs the textual-serve package, which is not installed "
                         f"({install_line('serve')})")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: {args.port} is not a port number (1 to 65535)")
    if args.max_sessions < 1:
        raise UsageError(f"--max-sessions: {args.max_sessions} is not a number of sessions (1 or more)")
    token, public = serve_token(args.token), public_url(args.public_url)
    from tui_rl.cli.serve_guard import GuardedServer

    if not is_loopback(args.host):
        print(f"WARNING: --host {args.host} serves the app beyond this machine, over plain HTTP: whoever "
              "reaches it with the token trains with your rights. Prefer the default (localhost) and an "
              "SSH tunnel.", file=sys.stderr, flush=True)
    url = f"{public or f'http://{args.host}:{args.port}'}/?token={token}"
    print(f"tui-rl in a browser at {url} (runs in {args.runs_dir.resolve()}); Ctrl-C stops serving",
          flush=True)
    server = GuardedServer(app_command(args.target, args.runs_dir.resolve()), token=token,
                           max_sessions=args.max_sessions, public_url=public, host=args.host, port=args.port,
                           title="tui-rl")
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        raise UsageError(f"serve: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    return EXIT_OK


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="serve the app to a web browser (textual-serve), behind a token")
    serve.add_argument("target", nargs="?", help="the preset (name or TOML file) each page opens on")
    serve.add_argument(
        "--host", default="localhost",
        help="the address to listen on (default: localhost; over SSH, tunnel to it rather than "
        "listening on every address: the app runs training with your rights)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port (default: {DEFAULT_PORT})")
    serve.add_argument(
        "--token",
        help=f"the token the pages ask for (default: ${TOKEN_ENV}, else a random one; the URL printed "
        "at start holds it). Other users see it in `ps`: prefer the environment variable",
    )
    serve.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS,
                       help=f"browser pages open at once, each an app of ~480 MB (default: {DEFAULT_MAX_SESSIONS})")
    serve.add_argument(
        "--public-url",
        help="the address browsers reach the server at, behind a reverse proxy (default: the address "
        "each browser used, so an SSH tunnel to any local port works)",
    )
    runs_dir_option(serve)
    serve.set_defaults(handler=cmd_serve)
