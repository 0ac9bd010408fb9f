"""Chat templates: the model's own (sandboxed jinja2), or a named format.

Model files carry their prompt format as a Jinja template in
`tokenizer.chat_template`. Templates are untrusted input (CVE-2024-34359 was a
template that ran code), so they are rendered in jinja2's
`ImmutableSandboxedEnvironment`, and the output is capped in size.

Files without a template get a named format chosen from their architecture; the
named formats are also what a user picks for older fine-tunes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


class ChatMessage(TypedDict):
    """One turn of a conversation, in the shape chat templates expect."""

    role: str
    content: str


class TemplateError(Exception):
    """A chat template that cannot be rendered."""


MAX_OUTPUT = 4 * 1024 * 1024

# Named formats. Each is a Jinja template over `messages`, with `bos_token`,
# `eos_token` and `add_generation_prompt`, like the templates in model files.
NAMED_FORMATS: dict[str, str] = {
    "chatml": (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    # Gemma has no system role: the system prompt leads the first user turn.
    "gemma": (
        "{{ bos_token }}{% set sys = namespace(text='') %}"
        "{% for m in messages %}"
        "{% if m.role == 'system' %}{% set sys.text = sys.text + m.content + '\n\n' %}"
        "{% else %}<start_of_turn>{{ 'model' if m.role == 'assistant' else 'user' }}\n"
        "{% if m.role == 'user' %}{{ sys.text }}{% set sys.text = '' %}{% endif %}"
        "{{ m.content | trim }}<end_of_turn>\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
    "llama-2": (
        "{% set sys = namespace(text='') %}"
        "{% for m in messages %}"
        "{% if m.role == 'system' %}{% set sys.text = '<<SYS>>\n' + m.content + '\n<</SYS>>\n\n' %}"
        "{% elif m.role == 'user' %}{{ bos_token }}[INST] {{ sys.text }}"
        "{{ m.content | trim }} [/INST]"
        "{% set sys.text = '' %}"
        "{% else %} {{ m.content | trim }} {{ eos_token }}{% endif %}{% endfor %}"
    ),
    "llama-3": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}"
        "<|end_header_id|>\n\n{{ m.content | trim }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n"
        "{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}{% set sys = namespace(text='') %}"
        "{% for m in messages %}"
        "{% if m.role == 'system' %}{% set sys.text = m.content + '\n\n' %}"
        "{% elif m.role == 'user' %}[INST] {{ sys.text }}{{ m.content }}[/INST]"
        "{% set sys.text = '' %}"
        "{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}"
    ),
    "phi-3": (
        "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}<|end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    ),
    "alpaca": (
        "{% for m in messages %}"
        "{% if m.role == 'system' %}{{ m.content }}\n\n"
        "{% elif m.role == 'user' %}### Instruction:\n{{ m.content }}\n\n"
        "{% else %}### Response:\n{{ m.content }}{{ eos_token }}\n\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}### Response:\n{% endif %}"
    ),
    "vicuna": (
        "{% for m in messages %}"
        "{% if m.role == 'system' %}{{ m.content }}\n\n"
        "{% elif m.role == 'user' %}USER: {{ m.content }}\n"
        "{% else %}ASSISTANT: {{ m.content }}{{ eos_token }}\n{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
    ),
    "koala": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if m.role == 'system' %}{{ m.content }} "
        "{% elif m.role == 'user' %}USER: {{ m.content }} "
        "{% else %}GPT: {{ m.content }}{{ eos_token }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}GPT:{% endif %}"
    ),
}

# The format a file without a template gets, by `general.architecture`.
ARCHITECTURE_FORMATS: dict[str, str] = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "gemma3n": "gemma",
    "llama": "llama-2",
    "mistral": "mistral",
    "phi3": "phi-3",
    "qwen": "chatml",
    "qwen2": "chatml",
    "qwen3": "chatml",
}
DEFAULT_FORMAT = "chatml"


@dataclass(frozen=True)
class ChatTemplate:
    """A template ready to render, and where it came from."""

    name: str
    """"model" for the file's own template, else the named format."""
    source: str
    bos_token: str = ""
    eos_token: str = ""

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True) -> str:
        """Render a conversation to the prompt text the model expects.

        Raises:
            TemplateError: the template is invalid, raised an error, or grew too big.
        """
        try:
            template = _compile(self.source)
            chunks: list[str] = []
            total = 0
            for chunk in template.generate(
                messages=list(messages),
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=add_generation_prompt,
            ):
                total += len(chunk)
                if total > MAX_OUTPUT:
                    raise TemplateError("the chat template output is too large")
                chunks.append(chunk)
        except TemplateError:
            raise
        except Exception as e:  # untrusted code: any failure is the template's
            raise TemplateError(f"the chat template failed: {e}") from e
        return "".join(chunks)


def _raise_exception(message: str) -> None:
    raise jinja2.TemplateError(message)


@lru_cache(maxsize=16)
def _compile(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined
    )
    env.globals["raise_exception"] = _raise_exception
    return env.from_string(source)


def choose_template(
    own: str | None, architecture: str, *, bos_token: str = "", eos_token: str = ""
) -> ChatTemplate:
    """The model's own template when it has one that compiles, else a named format."""
    if own:
        try:
            _compile(own)
        except jinja2.TemplateError:
            pass
        else:
            return ChatTemplate("model", own, bos_token, eos_token)
    name = ARCHITECTURE_FORMATS.get(architecture, DEFAULT_FORMAT)
    return named_template(name, bos_token=bos_token, eos_token=eos_token)


def named_template(name: str, *, bos_token: str = "", eos_token: str = "") -> ChatTemplate:
    """One of the named formats.

    Raises:
        KeyError: no format has that name.
    """
    return ChatTemplate(name, NAMED_FORMATS[name], bos_token, eos_token)
