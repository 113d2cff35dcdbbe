"""Chat models behind one small interface: llama.cpp in-process (default) or an OpenAI-compatible
server on the company's network (llama.cpp server, vLLM, Ollama) for scale-out.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Iterator, Protocol, Sequence

from assistant.models import ModelError, llm_path
from assistant.settings import Settings

log = logging.getLogger(__name__)

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}


class LLMError(RuntimeError):
    """The model could not be loaded or reached; the message says what to do."""


class ChatModel(Protocol):
    name: str

    def stream_chat(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield the answer's text as it is generated."""

    def count_tokens(self, text: str) -> int: ...


class LlamaCppChat:
    """A GGUF run by llama.cpp in this process, with the chat template stored in the GGUF.

    llama-cpp-python keeps the last prompt's KV cache and evaluates only what differs, so a
    fixed system prompt at the head of every prompt is paid for once per process.
    """

    def __init__(self, model_path: str, n_ctx: int, threads: int, flash_attention: bool):
        # Two threads doing arithmetic on two cores: spinning waits only steal time (FACTS).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from llama_cpp import Llama

        self.name = os.path.basename(model_path)
        try:
            self._llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                flash_attn=flash_attention, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"llama.cpp could not load {model_path}: {e}") from e

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream_chat(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        stream = self._llama.create_chat_completion(messages=list(messages), max_tokens=max_tokens,
                                                    temperature=temperature, stream=True)
        for chunk in stream:
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                yield text


class OpenAICompatibleChat:
    """Streams from POST {base_url}/chat/completions; the server is the company's own."""

    def __init__(self, base_url: str, model: str, api_key: str = ""):
        self.base_url = base_url.rstrip("/")
        self.name = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)  # the server tokenizes; an estimate is enough for budgeting

    def stream_chat(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        import httpx

        body = {"model": self.name, "messages": list(messages), "max_tokens": max_tokens,
                "temperature": temperature, "stream": True}
        try:
            with httpx.stream("POST", f"{self.base_url}/chat/completions", json=body, headers=self._headers,
                              timeout=httpx.Timeout(10.0, read=300.0)) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    delta = json.loads(data)["choices"][0].get("delta", {})
                    if delta.get("content"):
                        yield delta["content"]
        except httpx.HTTPError as e:
            raise LLMError(f"the model server at {self.base_url} failed: {e}") from e


def build_chat_model(settings: Settings) -> ChatModel:
    if settings.llm_backend == "openai":
        return OpenAICompatibleChat(settings.llm_base_url, settings.llm_model, settings.llm_api_key)
    try:
        path = llm_path(settings)
    except ModelError as e:
        raise LLMError(str(e)) from e
    return LlamaCppChat(str(path), settings.llm_context, settings.llm_threads, settings.llm_flash_attention)
