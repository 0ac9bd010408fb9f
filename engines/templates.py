"""Chat templates: the model's own (sandboxed jinja2), or a named format.

Model files carry their prompt format as a Jinja template in
`tokenizer.chat_template`. Templates are untrusted input (CVE-2024-34359 was a
template that ran code), so they are rendered in jinja2's
`ImmutableSandboxedEnvironment`, and the output is capped in size.

Files without a template get a named format chosen from their architecture; the
named formats are also what a user picks for older fine-tunes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict

import jinja2
import jinja2.sandbox
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

# What ends a turn in each named format, as text. A model that does not have the
# format's markers as special tokens (ChatML chosen for Gemma) writes them out as
# text, which its end-of-text token does not end: the reply stops at them instead.
FORMAT_STOPS: dict[str, tuple[str, ...]] = {
    "chatml": ("<|im_end|>", "<|im_start|>"),
    "gemma": ("<end_of_turn>", "<start_of_turn>"),
    "llama-2": ("[INST]",),
    "llama-3": ("<|eot_id|>", "<|start_header_id|>"),
    "mistral": ("[INST]",),
    "phi-3": ("<|end|>", "<|user|>"),
    "alpaca": ("### Instruction:",),
    "vicuna": ("\nUSER:",),
    "koala": ("USER:",),
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


# A template gets this long to render; a loop that never ends is stopped.
TIME_BUDGET_S = 1.0
# Marks where each message's text goes, so the text can be tokenized apart from
# the template's control tokens (see ChatTemplate.render_parts).
_MARK = "\ue000llamatui-message-{}\ue001"


@dataclass(frozen=True)
class ChatTemplate:
    """A template ready to render, and where it came from."""

    name: str
    """"model" for the file's own template, else the named format."""
    source: str
    bos_token: str = ""
    eos_token: str = ""

    @property
    def stops(self) -> tuple[str, ...]:
        """Text that ends a reply in this format (none for a model's own template:
        its end-of-turn token is one the model knows)."""
        return FORMAT_STOPS.get(self.name, ()) if self.name != "model" else ()

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True) -> str:
        """Render a conversation to the prompt text the model expects.

        Raises:
            TemplateError: the template is invalid, raised an error, ran past its
                time budget, or grew too big.
        """
        template = _compile(self.source)
        deadline = time.monotonic() + TIME_BUDGET_S
        token = _DEADLINE.set(deadline)
        try:
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
                _check_deadline()
                chunks.append(chunk)
        except TemplateError:
            raise
        except Exception as e:  # untrusted code: any failure is the template's
            raise TemplateError(f"the chat template failed: {e}") from e
        finally:
            _DEADLINE.reset(token)
        return "".join(chunks)

    def render_parts(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> list[tuple[str, bool]]:
        """The rendered prompt as (text, is_message_text) pieces.

        Message text must be tokenized as plain text, so that a user who types
        `<|im_end|>` gets those characters, not the control token; the template's
        own text is tokenized with control tokens. Each message's content is
        rendered as a mark, then the marks are swapped back. Contents are stripped
        of surrounding whitespace first (as most templates do with `| trim`); a
        template that rewrites content in other ways, so that the pieces would not
        join up to its own output, gets its prompt back as one template piece.
        """
        clean: list[ChatMessage] = [
            {"role": m["role"], "content": m["content"].strip()} for m in messages
        ]
        marked: list[ChatMessage] = [
            {"role": m["role"], "content": _MARK.format(i)} for i, m in enumerate(clean)
        ]
        gen = add_generation_prompt
        text = self.render(marked, add_generation_prompt=gen)
        parts: list[tuple[str, bool]] = []
        pos = 0
        for i, m in enumerate(clean):
            mark = _MARK.format(i)
            at = text.find(mark, pos)
            if at < 0 or text.count(mark) != 1:
                break
            parts += [(text[pos:at], False), (m["content"], True)]
            pos = at + len(mark)
        else:
            parts.append((text[pos:], False))
            whole = self.render(clean, add_generation_prompt=gen)
            if "".join(t for t, _ in parts) == whole:
                return [(t, is_msg) for t, is_msg in parts if t]
        return [(self.render(clean, add_generation_prompt=gen), False)]


_DEADLINE: ContextVar[float] = ContextVar("template_deadline", default=float("inf"))


def _check_deadline() -> None:
    if time.monotonic() > _DEADLINE.get():
        raise TemplateError(f"the chat template ran longer than {TIME_BUDGET_S:.0f} s")


def _raise_exception(message: str) -> None:
    raise jinja2.TemplateError(message)


def _budgeted_range(*args: int) -> Iterator[int]:
    # The sandbox caps one range at 100,000 items; nested loops can still run for
    # hours without output, so every step checks the clock.
    for i in jinja2.sandbox.safe_range(*args):
        if not i & 255:
            _check_deadline()
        yield i


class _BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the time budget checked on every attribute,
    item, call and `*`/`**` (so `'x' * 10**10` is refused before it is built)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_deadline()
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateError("the chat template raises a number to a huge power")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > MAX_OUTPUT:
                    raise TemplateError("the chat template output is too large")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_deadline()
        return super().getitem(obj, argument)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        return super().call(__context, __obj, *args, **kwargs)


@lru_cache(maxsize=16)
def _compile(source: str) -> jinja2.Template:
    env = _BudgetedSandbox(
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined
    )
    env.globals["raise_exception"] = _raise_exception
    env.globals["range"] = _budgeted_range
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


# A conversation every chat template must render, tried at load.
TRIAL_CHAT: list[ChatMessage] = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "Bye"},
]


def pick_template(
    own: str | None,
    architecture: str,
    *,
    chat_format: str | None = None,
    bos_token: str = "",
    eos_token: str = "",
) -> tuple[ChatTemplate, str | None]:
    """The template a model runs with, and a notice when its own could not be used.

    A named `chat_format` wins; else the model's own template if it compiles and
    renders a trial conversation; else the architecture's named format (and the
    user hears why).
    """
    if chat_format:
        return named_template(chat_format, bos_token=bos_token, eos_token=eos_token), None
    template = choose_template(own, architecture, bos_token=bos_token, eos_token=eos_token)
    fallback = choose_template(None, architecture, bos_token=bos_token, eos_token=eos_token)
    if own and template.name != "model":
        return template, (
            f"the model's chat template is not valid Jinja; using the {fallback.name} "
            "chat format instead"
        )
    try:
        template.render(TRIAL_CHAT)
    except TemplateError as e:
        # The model's own template is broken or hostile: a named format will do.
        return fallback, f"{e}; using the {fallback.name} chat format instead"
    return template, None


def prompt_parts(
    template: ChatTemplate, messages: Sequence[ChatMessage], *, continue_last: bool = False
) -> list[tuple[str, bool]]:
    """The prompt as (text, is message text) pieces, for engines to tokenize: the
    template's pieces with control tokens, messages as plain text.

    With continue_last the conversation is rendered without a new turn and ends right
    after the last message's text, before the template closes it.

    Raises:
        TemplateError: the template cannot continue a reply, or fails to render.
    """
    if not continue_last:
        return template.render_parts(messages)
    parts = template.render_parts(messages, add_generation_prompt=False)
    last = max((i for i, (_, is_msg) in enumerate(parts) if is_msg), default=-1)
    if last < 0:
        raise TemplateError("this model's chat template cannot continue a reply")
    return parts[: last + 1]
