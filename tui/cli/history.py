"""`llamatui list`, `llamatui export` and `llamatui import`: the history from the shell."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from llamatui.tui.history.export import (
    AlreadyImported,
    ExportFormatError,
    import_json,
    to_json,
    to_markdown,
)
from llamatui.tui.history.store import Store, StoreError
from llamatui.tui.paths import history_path


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the history commands to the `llamatui` parser."""
    p = sub.add_parser("list", help="list saved conversations, newest first")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("-n", type=int, default=50, metavar="N", help="at most N (default 50)")
    p = sub.add_parser("export", help="print a conversation as Markdown or JSON")
    p.add_argument("id", type=int, help="the conversation's id (see `llamatui list`)")
    p.add_argument("--format", choices=("md", "json"), default="md")
    p.add_argument("-o", "--output", type=Path, help="write to this file instead")
    p = sub.add_parser("import", help="add a conversation from a JSON export")
    p.add_argument("file", type=Path, help="a file made by `llamatui export --format json`")
    p.add_argument("--again", action="store_true", help="import it even if it is there already")


def run(args: argparse.Namespace) -> int:
    """Run a history command; the exit status."""
    try:
        store = Store(history_path())
    except (StoreError, OSError) as e:
        print(f"llamatui: cannot open the chat history: {e}", file=sys.stderr)
        return 1
    try:
        if store.moved_aside is not None:
            print(
                f"llamatui: the history database was damaged and moved to {store.moved_aside}",
                file=sys.stderr,
            )
        return {"list": _list, "export": _export, "import": _import}[args.command](store, args)
    except StoreError as e:
        print(f"llamatui: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _list(store: Store, args: argparse.Namespace) -> int:
    convs = store.conversations(limit=args.n)
    if args.json:
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "updated_at": c.updated_at,
                "messages": store.message_count(c.id),
            }
            for c in convs
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not convs:
        print("No saved conversations yet.")
        return 0
    print(f"{'ID':>6}  {'UPDATED':16}  {'MSGS':>5}  TITLE")
    for c in convs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated_at))
        print(f"{c.id:>6}  {when:16}  {store.message_count(c.id):>5}  {c.title}")
    return 0


def _export(store: Store, args: argparse.Namespace) -> int:
    conv = store.conversation(args.id)
    if conv is None:
        print(f"llamatui: no conversation with id {args.id}", file=sys.stderr)
        return 1
    messages = store.messages(conv.id)
    text = to_markdown(conv, messages) if args.format == "md" else to_json(conv, messages) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _import(store: Store, args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
        new_id = import_json(store, text, again=args.again)
    except AlreadyImported as e:
        print(f"Not imported: {e}. --again imports another copy.")
        return 0
    except OSError as e:
        print(f"llamatui: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    except (ExportFormatError, UnicodeDecodeError) as e:
        print(f"llamatui: {args.file} is not a conversation export: {e}", file=sys.stderr)
        return 1
    print(f"Imported as conversation {new_id}.")
    return 0
