"""`llamatui list`, `export` and `import` on a real history file."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import llamatui

from llamatui.tui.history.store import ReplyMeta, Store
from llamatui.tui.paths import history_path


def test_list_export_import(tmp_path: Path) -> None:
    store = Store(history_path())
    cid = store.new_conversation("Volcanoes")
    store.add_message(cid, "user", "Name a volcano.")
    store.add_message(
        cid, "assistant", "Etna.", meta=ReplyMeta(model="/m/x.gguf", tokens_per_s=99.5)
    )
    store.close()

    done = llamatui("list")
    assert done.returncode == 0, done.stderr
    assert "Volcanoes" in done.stdout and "2" in done.stdout
    rows = json.loads(llamatui("list", "--json").stdout)
    assert rows == [
        {"id": cid, "title": "Volcanoes", "updated_at": rows[0]["updated_at"], "messages": 2}
    ]

    md = llamatui("export", str(cid), "--format", "md")
    assert md.returncode == 0
    assert md.stdout.startswith("# Volcanoes\n")
    assert "## Assistant\n\nEtna." in md.stdout and "model: x ·" in md.stdout

    out = tmp_path / "c.json"
    assert llamatui("export", str(cid), "--format", "json", "-o", str(out)).returncode == 0
    # Issue 12: the same file imported twice made two copies, silently.
    done = llamatui("import", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"Not imported: already in the history as conversation {cid}. --again imports another copy."
    )
    assert len(json.loads(llamatui("list", "--json").stdout)) == 1
    done = llamatui("import", "--again", str(out))
    assert done.returncode == 0 and "Imported as conversation" in done.stdout
    store = Store(history_path())
    convs = store.conversations()
    assert len(convs) == 2
    a, b = (store.messages(c.id) for c in convs)
    assert [(m.role, m.content, m.meta) for m in a] == [(m.role, m.content, m.meta) for m in b]
    store.close()


def test_errors_are_plain(tmp_path: Path) -> None:
    done = llamatui("export", "999")
    assert done.returncode == 1 and "no conversation with id 999" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = llamatui("import", str(bad))
    assert done.returncode == 1 and "not a conversation export" in done.stderr
    done = llamatui("import", str(tmp_path / "missing.json"))
    assert done.returncode == 1 and "cannot read" in done.stderr
    assert llamatui("list").stdout.strip() == "No saved conversations yet."
