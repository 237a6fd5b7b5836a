"""``tui-rl serve``: the app in a web browser, through textual-serve. Each page that connects gets
its own app process (``python -P -m tui_rl.cli [PRESET] --runs-dir DIR``); the runs folder is shared,
so runs started from a browser show in the terminal app and ``tui-rl runs`` too."""

from __future__ import annotations

import argparse
import importlib.util
import shlex

from tui_rl.cli.outcome import EXIT_OK, UsageError
from tui_rl.engine.python_command import python_module

#: textual-serve's default port
DEFAULT_PORT = 8000


def app_command(target: str | None, runs_dir) -> str:
    """The command textual-serve runs for each browser page: this Python, this tui-rl."""
    return shlex.join(python_module("tui_rl.cli", *([target] if target else []), "--runs-dir", str(runs_dir)))


def cmd_serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("textual_serve") is None:
        raise UsageError("serve: needs the textual-serve package, which is not installed "
                         "(pip install 'tui-rl[serve]')")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: {args.port} is not a port number (1 to 65535)")
    from textual_serve.server import Server

    url = f"http://{args.host}:{args.port}"
    print(f"tui-rl in a browser at {url} (runs in {args.runs_dir.resolve()}); Ctrl-C stops serving",
          flush=True)
    try:
        Server(app_command(args.target, args.runs_dir.resolve()), host=args.host, port=args.port,
               title="tui-rl").serve()
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        raise UsageError(f"serve: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    return EXIT_OK


def add_serve_parser(sub, runs_dir_option) -> None:
    serve = sub.add_parser("serve", help="serve the app to a web browser (textual-serve)")
    serve.add_argument("target", nargs="?", help="the preset (name or TOML file) each page opens on")
    serve.add_argument(
        "--host", default="localhost",
        help="the address to listen on (default: localhost; over SSH, tunnel to it rather than "
        "listening on every address: the app runs training with your rights)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port (default: {DEFAULT_PORT})")
    runs_dir_option(serve)
    serve.set_defaults(handler=cmd_serve)
