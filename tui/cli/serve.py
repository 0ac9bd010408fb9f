"""`llamatui serve`: the local engines as an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from functools import partial
from pathlib import Path

from llamatui.engines.refs import ModelRef
from llamatui.engines.remote import is_loopback


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` to the `llamatui` parser."""
    p = sub.add_parser("serve", help="serve the local models over the OpenAI-compatible API")
    p.add_argument(
        "--model",
        type=Path,
        action="append",
        metavar="PATH",
        help="a model to serve (repeatable; default: the library's models and the default)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080)")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; the exit status."""
    import uvicorn

    from llamatui.engines.library import Library, ref_for
    from llamatui.engines.protocol import LoadOptions
    from llamatui.engines.serve import Served, make_app
    from llamatui.tui.chat.engines import default_model, registry_handle
    from llamatui.tui.cli.models import folders
    from llamatui.tui.paths import engine_log_path, library_cache_path

    if args.model:
        missing = [m for m in args.model if not m.exists()]
        if missing:
            print(f"llamatui: error: no such model: {missing[0]}", file=sys.stderr)
            return 2
        refs = [ref_for(m.resolve()) for m in args.model]
    else:
        entries = Library(library_cache_path()).scan(folders(args))
        refs = [e.ref for e in entries if e.usable]
        with contextlib.suppress(FileNotFoundError):  # not installed: the library's only
            refs.append(default_model())
    models: dict[str, ModelRef] = {}
    for ref in refs:
        models.setdefault(ref.name, ref)
    if not models:
        print("llamatui: error: no models to serve (pass --model PATH)", file=sys.stderr)
        return 2
    # LLAMATUI_SERVE_TOKEN requires a token anywhere; off loopback one is required,
    # and made up (and printed, once) when the variable does not give it.
    url = f"http://{args.host}:{args.port}"
    token = os.environ.get("LLAMATUI_SERVE_TOKEN") or None
    if token is None and not is_loopback(url):
        token = secrets.token_urlsafe(24)
        print(f"Bearer token for this server: {token}", flush=True)
    # The registry's handle: an engine that cannot run here says why.
    make_handle = partial(registry_handle, log_path=engine_log_path())

    threads = getattr(args, "threads", None)
    options = LoadOptions(n_ctx=args.ctx, engine={"threads": threads} if threads else {})
    # On loopback, only this machine's names: a web page's DNS rebinding gets nowhere.
    hosts = ("127.0.0.1", "localhost", "::1", args.host) if is_loopback(url) else ()
    served = Served(models, make_handle, options, token, hosts=hosts)
    print(f"Serving {', '.join(models)} at {url}/v1 (Ctrl+C stops)", flush=True)
    uvicorn.run(make_app(served), host=args.host, port=args.port, log_level="warning")
    return 0
