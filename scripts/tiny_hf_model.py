"""Build a tiny random-weight Llama model folder in the Hugging Face layout.

    python scripts/tiny_hf_model.py OUT_DIR [--layers 2] [--hidden 64] [--exl3-config]

It holds what exllamav3 and the library read: config.json, generation_config.json,
tokenizer.json (a byte-level BPE trained here on a few sentences, with ChatML's
control tokens), tokenizer_config.json with a ChatML chat template, and FP16 weights
in model.safetensors. The weights are random: the model talks nonsense, which is all
the library, the estimate and the engine's plumbing need. `--exl3-config` marks the
config as EXL3-quantized (for library tests; the tensors stay FP16).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A dragon learned to read books in the old library by the sea.",
    "Tea is a drink made by pouring hot water over dried leaves.",
    "Hello! How are you today? I am fine, thank you.",
    "Once upon a time there was a small village in the mountains.",
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(out: Path, vocab_size: int) -> int:
    """Train and save tokenizer.json; the vocabulary size it reached."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 20, trainer)
    tok.save(str(out / "tokenizer.json"))
    return int(tok.get_vocab_size())


def build(
    out: Path,
    *,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    vocab_size: int = 320,
    exl3_config: bool = False,
    seed: int = 0,
) -> Path:
    """Write the model folder; its path."""
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    vocab = build_tokenizer(out, vocab_size)
    head_dim = hidden // heads
    inter = hidden * 2
    config: dict[str, object] = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": vocab,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
        "bos_token_id": 0,
        "eos_token_id": 2,
    }
    if exl3_config:
        config["quantization_config"] = {
            "quant_method": "exl3",
            "version": "0.0.1",
            "bits": 4.0,
            "head_bits": 6,
            "calibration": {"rows": 100, "cols": 2048},
        }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": 0, "eos_token_id": [2, 0]}, indent=2)
    )
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "bos_token": "<|endoftext|>",
                "eos_token": "<|im_end|>",
                "chat_template": CHATML,
                "add_bos_token": False,
                "model_max_length": 2048,
            },
            indent=2,
        )
    )
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float16)

    tensors = {"model.embed_tokens.weight": w(vocab, hidden), "lm_head.weight": w(vocab, hidden)}
    tensors["model.norm.weight"] = np.ones(hidden, dtype=np.float16)
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors |= {
            p + "self_attn.q_proj.weight": w(heads * head_dim, hidden),
            p + "self_attn.k_proj.weight": w(kv_heads * head_dim, hidden),
            p + "self_attn.v_proj.weight": w(kv_heads * head_dim, hidden),
            p + "self_attn.o_proj.weight": w(hidden, heads * head_dim),
            p + "mlp.gate_proj.weight": w(inter, hidden),
            p + "mlp.up_proj.weight": w(inter, hidden),
            p + "mlp.down_proj.weight": w(hidden, inter),
            p + "input_layernorm.weight": np.ones(hidden, dtype=np.float16),
            p + "post_attention_layernorm.weight": np.ones(hidden, dtype=np.float16),
        }
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--exl3-config", action="store_true")
    args = parser.parse_args()
    print(build(args.out, layers=args.layers, hidden=args.hidden, exl3_config=args.exl3_config))


if __name__ == "__main__":
    main()
