"""The `llamatui` command line. Kept light: Textual is imported only to run the app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from llamatui.engines.refs import ModelRef
    from llamatui.engines.remote import RemoteServer
    from llamatui.tui.app import LlamaTUI


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return n


def _engine_option(kind: str, name: str) -> Callable[[str], object]:
    """Parse an engine's option as its registry entry declares it (one set of bounds)."""

    def parse(value: str) -> object:
        from llamatui.engines import registry
        from llamatui.engines.options import OptionError

        spec = next(o for o in registry.get(kind).options if o.name == name)
        try:
            return spec.parse(value)
        except OptionError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def _context(value: str) -> int:
    from llamatui.engines.protocol import CTX_MIN

    n = _positive(value)
    if n < CTX_MIN:
        raise argparse.ArgumentTypeError(
            f"a context of {n} tokens is too small ({CTX_MIN} or more)"
        )
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `llamatui`."""
    parser = argparse.ArgumentParser(
        prog="llamatui",
        description="Chat with open language models on your own hardware.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {metadata.version('llamatui')}"
    )
    parser.add_argument(
        "-m",
        "--model",
        type=Path,
        metavar="PATH",
        help="the model to chat with: a GGUF file or a model folder "
        "(default: SmolLM2-135M-Instruct)",
    )
    parser.add_argument(
        "-c",
        "--ctx",
        type=_context,
        default=4096,
        metavar="N",
        help="context size in tokens, capped at the model's own (default: 4096)",
    )
    parser.add_argument(
        "-t",
        "--threads",
        type=_engine_option("llamacpp", "threads"),
        metavar="N",
        help="CPU threads for llama.cpp's generation (default: one per physical core)",
    )
    parser.add_argument("--system", metavar="TEXT", help="a system prompt for the conversation")
    parser.add_argument(
        "--models-dir",
        type=Path,
        action="append",
        metavar="DIR",
        help="a folder of models for the library (repeatable; default: from the config)",
    )
    parser.add_argument(
        "--remote",
        metavar="URL",
        help="chat with a model on an OpenAI-compatible server: its base URL (.../v1), "
        "or the name of one of the config's [[remotes]]",
    )
    parser.add_argument(
        "--remote-model", metavar="NAME", help="the model on that server (default: its first)"
    )
    from llamatui.tui.cli import history, models, serve

    sub = parser.add_subparsers(dest="command", title="commands")
    models.add_command(sub)
    serve.add_command(sub)
    history.add_commands(sub)
    return parser


def remote_ref(args: argparse.Namespace, remotes: Sequence[RemoteServer] = ()) -> ModelRef | None:
    """The model on the server `--remote` names (a URL, or a `[[remotes]]` name), if it
    names one."""
    if not args.remote:
        return None
    from llamatui.engines.refs import ModelRef
    from llamatui.engines.remote import base_url

    named = next((r for r in remotes if r.name == args.remote), None)
    if named is not None:
        return ModelRef("remote", named.url, args.remote_model or named.model)
    url = base_url(args.remote)
    server = next((r for r in remotes if r.url == url), None)
    return ModelRef("remote", url, args.remote_model or (server.model if server else None))


def main(argv: list[str] | None = None) -> int:
    """Run `llamatui`."""
    args = build_parser().parse_args(argv)
    if args.command == "models":
        from llamatui.tui.cli import models

        return models.run(args)
    if args.command == "serve":
        from llamatui.tui.cli import serve

        return serve.run(args)
    if args.command is not None:
        from llamatui.tui.cli import history

        return history.run(args)
    if args.model is not None and not args.model.exists():
        print(f"llamatui: error: no such model file: {args.model}", file=sys.stderr)
        return 2

    app, mouse = chat_app(args)
    app.run(mouse=mouse)
    return 0


def chat_app(args: argparse.Namespace) -> tuple[LlamaTUI, bool]:
    """The app the command line and the config file ask for, and whether it takes
    the mouse. A config with wrong settings starts it on the good ones, listing the
    rest."""
    from llamatui.engines.library import ref_for
    from llamatui.engines.protocol import LoadOptions
    from llamatui.tui.app import LlamaTUI
    from llamatui.tui.chat.sampling import BUILTIN_PRESETS
    from llamatui.tui.config import Config, ConfigError, read_config
    from llamatui.tui.paths import config_path
    from llamatui.tui.settings import Settings

    notice = None
    try:
        config, problems = read_config(config_path())
    except ConfigError as e:
        config, problems = Config(), []
        notice = f"Your config file cannot be used; the defaults apply: {e}"
    if problems:
        notice = (
            "Your config file has settings that are wrong; they are left out, the rest "
            "applies, and the file is left as it is:\n" + "\n".join(problems)
        )
    model = remote_ref(args, config.remotes) or (
        ref_for(args.model.resolve()) if args.model else None
    )
    resume = model is None  # where the last run left off: its model, its conversation
    settings = Settings(
        model=model or last_model(),
        load=LoadOptions(n_ctx=args.ctx),
        engine_options={"llamacpp": {"threads": args.threads}} if args.threads else {},
        system_prompt=args.system,
        model_dirs=tuple(d.expanduser() for d in args.models_dir or config.model_dirs),
        context_policy=config.context_policy,
        profiles=config.profiles,
        remotes=config.remotes,
        keymap=config.keymap,
        presets={**BUILTIN_PRESETS, **config.presets},
    )
    return LlamaTUI(settings, config_notice=notice, resume=resume), config.mouse


def last_model() -> ModelRef | None:
    """The model the last run used, if its file or folder is still there."""
    from llamatui.tui.chat.recent import load_recent
    from llamatui.tui.paths import recent_path

    recent = load_recent(recent_path())
    if recent and recent[0].engine != "remote" and Path(recent[0].location).exists():
        return recent[0]
    return None


if __name__ == "__main__":
    sys.exit(main())
