"""llamatui's sampling settings as exllamav3's sampler, and its stop conditions."""

from __future__ import annotations

from typing import Any

from llamatui.engines.protocol import SamplingParams

# Penalties look this many tokens back, like llama.cpp's chain here (64).
PENALTY_RANGE = 64


def sampler_kwargs(params: SamplingParams) -> dict[str, Any]:
    """The arguments of exllamav3's `ComboSampler` for these settings.

    Temperature 0 is greedy (ComboSampler ends its stack in argmax); top-k 0 means
    off, as in llama.cpp; the seed goes on the job, not the sampler.
    """
    return {
        "rep_p": params.repeat_penalty,
        "rep_sustain_range": PENALTY_RANGE,
        "rep_decay_range": 0,
        "temperature": max(params.temperature, 0.0),
        "top_k": max(params.top_k, 0),
        "top_p": params.top_p,
        "min_p": params.min_p,
    }


def make_sampler(exl: Any, params: SamplingParams) -> Any:
    """exllamav3's sampler for these settings."""
    return exl.ComboSampler(**sampler_kwargs(params))


def stop_tokens(config: Any, tokenizer: Any) -> list[int]:
    """The tokens that end a reply: exllamav3 stops on none unless told (the model's
    end-of-sequence ids from config, tokenizer and generation config)."""
    ids = [int(i) for i in getattr(config, "eos_token_id_list", None) or []]
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is not None:
        ids.append(int(eos))
    return sorted(set(ids))
