"""Record the token streams that bench/stream.py replays, into bench/streams/.

- prose.json: what the default model writes for a story prompt (greedy, 4,096 tokens);
- markdown.json: a Markdown document with headings, lists, code fences and tables,
  cut into the default model's own token pieces.

Each file holds {"model": ..., "tokens": [text of each token]}. Replaying the same
pieces at a fixed rate lets every variant of the bench see the same text.

Usage: python bench/record_streams.py [--tokens N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llamatui.engines.models import default_model_path

OUT = Path(__file__).with_name("streams")
PROSE_PROMPT = "Write a long story about a dragon who learns to read."
LANGS = ("Python", "Rust", "Go")


def markdown_document(sections: int) -> str:
    """A long reply of the kind a chat model gives when asked to explain code."""
    parts = ["Here is a walk through the parts of the build system, one section each.\n"]
    for i in range(1, sections + 1):
        lang = LANGS[i % len(LANGS)]
        parts.append(
            f"## {i}. The {lang} step number {i}\n\n"
            f"This step reads the **inputs** of stage {i}, checks them with `check_{i}()` and "
            f"writes what it found to a cache, so the next run skips work it has done. "
            f"It matters when a project has more than {i * 10} files.\n\n"
            "What it does, in order:\n\n"
            f"- It lists the files under `src/part_{i}/` and hashes each one.\n"
            "- It compares the hashes with the cache:\n"
            "  - a file with a new hash is built again;\n"
            "  - a file with the same hash is skipped.\n"
            f"- It writes the new cache, {i * 3} entries at most per folder.\n\n"
            f"1. Run `make step{i}`.\n2. Read the report.\n3. Fix what it lists.\n\n"
            f"```{lang.lower()}\n"
            + (
                f"def step_{i}(files: list[str]) -> dict[str, str]:\n"
                f'    """Hash every file of stage {i}."""\n'
                "    seen = {}\n"
                "    for name in files:\n"
                "        with open(name, 'rb') as f:\n"
                "            seen[name] = hashlib.sha256(f.read()).hexdigest()\n"
                "    return seen\n"
                if lang == "Python"
                else f"fn step_{i}(files: &[String]) -> usize {{\n"
                "    let mut n = 0;\n"
                "    for name in files {\n"
                '        if name.ends_with(".rs") { n += 1; }\n'
                "    }\n"
                "    n\n}\n"
                if lang == "Rust"
                else f"func step{i}(files []string) int {{\n"
                "\tcount := 0\n\tfor _, name := range files {\n"
                '\t\tif strings.HasSuffix(name, ".go") {\n\t\t\tcount++\n\t\t}\n\t}\n'
                "\treturn count\n}\n"
            )
            + "```\n\n"
            "| option | default | what it does |\n"
            "|---|---|---|\n"
            f"| `jobs` | {i % 8 + 1} | how many files build at once |\n"
            f"| `cache` | `.cache/{i}` | where the hashes are kept |\n"
            "| `strict` | false | fail on the first warning |\n\n"
            f"> Note: step {i} never deletes a file it did not write.\n\n"
        )
    parts.append("That is all for now, and I hope it helps with the build.")
    return "".join(parts)


def pieces(llm, token_ids: list[int]) -> list[str]:
    """The text of each token; bytes of a character split across tokens go with the
    token that completes it."""
    out: list[str] = []
    pending = b""
    for t in token_ids:
        pending += llm.detokenize([t])
        try:
            out.append(pending.decode())
            pending = b""
        except UnicodeDecodeError:
            continue
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=4096)
    args = parser.parse_args()
    from llama_cpp import Llama

    from llamatui.engines.templates import choose_template

    model = default_model_path()
    llm = Llama(str(model), n_ctx=args.tokens + 256, verbose=False)
    tmpl = choose_template(llm.metadata.get("tokenizer.chat_template"), "llama")
    prompt = llm.tokenize(
        tmpl.render([{"role": "user", "content": PROSE_PROMPT}]).encode(),
        add_bos=False,
        special=True,
    )
    ids: list[int] = []
    # A light repeat penalty: greedy decoding of a small model loops on one sentence.
    for tok in llm.generate(prompt, top_k=1, temp=0.0, repeat_penalty=1.15, reset=True):
        if llm.token_eos() == tok:
            break
        ids.append(tok)
        if len(ids) >= args.tokens:
            break
    OUT.mkdir(exist_ok=True)
    prose = pieces(llm, ids)
    doc = llm.tokenize(markdown_document(40).encode(), add_bos=False)[: args.tokens]
    markdown = pieces(llm, doc)
    for name, tokens in (("prose", prose), ("markdown", markdown)):
        path = OUT / f"{name}.json"
        path.write_text(json.dumps({"model": model.name, "tokens": tokens}, indent=0) + "\n")
        print(f"{path}: {len(tokens)} tokens, {len(''.join(tokens))} characters")


if __name__ == "__main__":
    main()
