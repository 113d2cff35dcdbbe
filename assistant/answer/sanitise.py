"""Document and user text made inert before it reaches a chat template.

llama-cpp-python renders the GGUF's chat template into one string and tokenizes that string with
special tokens parsed (`Llama.tokenize(..., special=True)` in `llama_chat_format.py`, 0.3.36), and
a model server does the same. So `<|im_start|>system` inside an excerpt, a heading, a question or
an earlier answer would become a real role marker, and the document would speak as the system.

`neutralise` inserts U+2060 WORD JOINER inside every marker shaped like a chat-template token:
invisible, so the model still reads the text as written, and it only ever adds a character that
is none of `<`, `|`, `[`, so it cannot complete a marker the text did not hold (running it twice
changes nothing). The tokenizer matches special tokens as exact strings, so a broken one is
ordinary text. Covered, for the families a plausible GGUF uses:

- `<|...|>`: ChatML / Qwen (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, `<|fim_prefix|>`),
  Llama 3 (`<|eot_id|>`, `<|start_header_id|>`), Phi-3 (`<|user|>`, `<|end|>`), Command-R; every
  `<|` is broken, closed or not, and DeepSeek's full-width `<｜` too;
- `<s>`, `</s>`, `<<SYS>>`, `<</SYS>>`: Llama 2 and Mistral; `<start_of_turn>`, `<end_of_turn>`,
  `<bos>`, `<eos>`: Gemma; `<think>`, `<tool_call>`, `<tool_response>` and their closing forms:
  Qwen 2.5/3 tool and reasoning markup;
- `[INST]`, `[/INST]`, `[SYSTEM_PROMPT]`, `[TOOL_CALLS]` and any bracketed upper-case word:
  Mistral's control tokens (a `[NOTE]` in a document gets the same invisible joiner; `[1]` is left).
"""
from __future__ import annotations

import re

JOINER = "\u2060"  # WORD JOINER: no width, no line break, no meaning to a tokenizer

_ANGLE_NAMES = "s|bos|eos|pad|unk|start_of_turn|end_of_turn|think|tool_call|tool_response"
_MARKER_START = re.compile(
    r"<(?=[|\uFF5C])"  # <|im_start|>, <|eot_id|>, <｜begin▁of▁sentence｜>
    r"|<(?=<?/?SYS>>)"  # <<SYS>>, <</SYS>>: both angle brackets broken, so no `<SYS>>` is left
    rf"|<(?=/?(?:{_ANGLE_NAMES})>)"  # <s>, </s>, <start_of_turn>, <think>
    r"|\[(?=/?[A-Z][A-Z_]*\])")  # [INST], [/INST], [SYSTEM_PROMPT]


def neutralise(text: str) -> str:
    """The text with every chat-template marker broken by an invisible joiner."""
    return _MARKER_START.sub(lambda m: m.group(0) + JOINER, text)
