"""The language model: any llama-index `LLM`, built from settings by one small factory.

- `llama_cpp` (default): the packaged GGUF run in this process by `LlamaCppLLM`, a llama-index
  `CustomLLM` over llama-cpp-python's chat completion. It keeps what llama-index's own `LlamaCPP`
  wrapper loses: the chat template stored in the GGUF, and limits (max tokens, temperature) per
  call, so a 3-token yes/no check and a 200-token answer share one loaded model.
- `openai`: an OpenAI-compatible server of the company's (vLLM, llama.cpp's server) through
  llama-index's `OpenAILike`.
- `ollama`: an Ollama server through llama-index's `Ollama` (the `ollama` extra).

Answering talks to a `ChatModel`: the LLM plus the two things a prompt needs beyond it, a token
count for budgeting and per-call limits that every backend honours.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterator, Sequence

from llama_index.core.base.llms.types import (ChatMessage, ChatResponse, ChatResponseGen, CompletionResponse,
                                              CompletionResponseGen, LLMMetadata, MessageRole)
from llama_index.core.llms import LLM, CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import PrivateAttr

from assistant.errors import LLMError, ModelError
from assistant.models import llm_path
from assistant.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["ChatMessage", "MessageRole", "ChatModel", "LlamaCppLLM", "build_llm", "build_chat_model"]


def system(content: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.SYSTEM, content=content)


def user(content: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=content)


def assistant_turn(content: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.ASSISTANT, content=content)


class LlamaCppLLM(CustomLLM):
    """A GGUF run by llama.cpp in this process, with the chat template stored in the GGUF.

    llama-cpp-python keeps the last prompt's KV cache and evaluates only what differs, so a
    fixed system prompt at the head of every prompt is paid for once per process.
    """

    model_path: str
    context_window: int = 4096
    threads: int = 2
    flash_attention: bool = True
    max_tokens: int = 256
    temperature: float = 0.1
    _llama: Any = PrivateAttr()

    def __init__(self, **fields: Any):
        super().__init__(**fields)
        # Two threads doing arithmetic on two cores: spinning waits only steal time (FACTS).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from llama_cpp import Llama

        try:
            self._llama = Llama(model_path=self.model_path, n_ctx=self.context_window, n_threads=self.threads,
                                n_threads_batch=self.threads, flash_attn=self.flash_attention, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise LLMError(f"llama.cpp could not load {self.model_path}: {e}") from e

    @classmethod
    def class_name(cls) -> str:
        return "LlamaCppLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.max_tokens, is_chat_model=True,
                           model_name=os.path.basename(self.model_path))

    def count_tokens(self, text: str) -> int:
        # What is counted is message text (excerpts, questions), never chat markup: parsed without
        # special tokens, as text it is (answer/sanitise.py breaks any marker in it before it is
        # sent, so the rendered prompt tokenizes it the same way). The markup is estimated apart.
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _limits(self, kwargs: dict) -> dict:
        return {"max_tokens": kwargs.get("max_tokens", self.max_tokens),
                "temperature": kwargs.get("temperature", self.temperature)}

    @staticmethod
    def _messages(messages: Sequence[ChatMessage]) -> list[dict]:
        return [{"role": m.role.value, "content": m.content or ""} for m in messages]

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        result = self._llama.create_chat_completion(messages=self._messages(messages), **self._limits(kwargs))
        text = result["choices"][0]["message"].get("content") or ""
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), raw=result)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        stream = self._llama.create_chat_completion(messages=self._messages(messages), stream=True,
                                                    **self._limits(kwargs))

        def gen() -> ChatResponseGen:
            text = ""
            for chunk in stream:
                delta = chunk["choices"][0]["delta"].get("content") or ""
                if delta:
                    text += delta
                    yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        # The GGUF's chat template applies to a bare prompt too: it is the user's turn.
        return CompletionResponse(text=self.chat([user(prompt)], **kwargs).message.content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            for response in self.stream_chat([user(prompt)], **kwargs):
                yield CompletionResponse(text=response.message.content or "", delta=response.delta)

        return gen()


def _estimate_tokens(text: str) -> int:
    # A server tokenizes for itself; four characters a token is close enough for budgeting.
    return max(1, len(text) // 4)


def _limits_as_kwargs(llm: LLM, max_tokens: int, temperature: float) -> tuple[LLM, dict]:
    return llm, {"max_tokens": max_tokens, "temperature": temperature}


def _limits_as_ollama_options(llm: LLM, max_tokens: int, temperature: float) -> tuple[LLM, dict]:
    # Ollama's integration sends its own fields as the request options and ignores call kwargs.
    options = {**llm.additional_kwargs, "num_predict": max_tokens}
    return llm.model_copy(update={"additional_kwargs": options, "temperature": temperature}), {}


class ChatModel:
    """A llama-index LLM as answering uses it: streamed text under per-call limits, a token count,
    and failures of a model server turned into one LLMError that names it."""

    def __init__(self, llm: LLM, count_tokens: Callable[[str], int] | None = None,
                 limits: Callable[[LLM, int, float], tuple[LLM, dict]] = _limits_as_kwargs, server: str | None = None):
        self.llm = llm
        self.count_tokens = count_tokens or getattr(llm, "count_tokens", None) or _estimate_tokens
        self._limits = limits
        self._server = server

    @property
    def name(self) -> str:
        return self.llm.metadata.model_name

    def stream(self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float) -> Iterator[str]:
        llm, kwargs = self._limits(self.llm, max_tokens, temperature)
        try:
            for response in llm.stream_chat(list(messages), **kwargs):
                if response.delta:
                    yield response.delta
        except (LLMError, GeneratorExit):
            raise
        except Exception as e:  # each client library raises its own types for "cannot reach"
            if self._server is None:
                raise
            # One line, for a chat message as much as for a terminal: the library's first line, no trace.
            raise LLMError(f"the model server at {self._server} failed ({_reason(e)}); "
                           "check that it is running, then ask again") from e

    def reply(self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float = 0.0) -> str:
        return "".join(self.stream(messages, max_tokens, temperature)).strip()


def _reason(error: BaseException) -> str:
    """The first line of what the client library said, or its type when it said nothing."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _missing(backend: str, install: str, error: ImportError) -> LLMError:
    return LLMError(f"llm_backend = {backend!r} needs an integration that is not installed: {install} ({error})")


def build_llm(settings: Settings) -> LLM:
    """The llama-index LLM the settings select; heavy imports only in the branch that needs them."""
    match settings.llm_backend:
        case "llama_cpp":
            try:
                path = llm_path(settings)
            except ModelError as e:
                raise LLMError(str(e)) from e
            return LlamaCppLLM(model_path=str(path), context_window=settings.llm_context, threads=settings.llm_threads,
                               flash_attention=settings.llm_flash_attention, max_tokens=settings.llm_max_tokens,
                               temperature=settings.llm_temperature)
        case "openai":
            try:
                from llama_index.llms.openai_like import OpenAILike
            except ImportError as e:
                raise _missing("openai", "pip install -e . (llama-index-llms-openai-like)", e) from e
            # max_tokens stays unset on the object: set, it would override every call's own limit.
            return OpenAILike(model=settings.llm_model, api_base=settings.llm_base_url,
                              api_key=settings.llm_api_key.get_secret_value() or "unused", is_chat_model=True,
                              context_window=settings.llm_context, temperature=settings.llm_temperature,
                              max_tokens=None, timeout=300.0, max_retries=0)
        case "ollama":
            try:
                from llama_index.llms.ollama import Ollama
            except ImportError as e:
                raise _missing("ollama", "pip install -e '.[ollama]'", e) from e
            return Ollama(model=settings.llm_model, base_url=settings.llm_base_url.removesuffix("/v1"),
                          context_window=settings.llm_context, temperature=settings.llm_temperature,
                          request_timeout=300.0)
    raise AssertionError(f"unhandled llm_backend {settings.llm_backend}")


def build_chat_model(settings: Settings) -> ChatModel:
    llm = build_llm(settings)
    server = None if settings.llm_backend == "llama_cpp" else settings.llm_base_url
    limits = _limits_as_ollama_options if settings.llm_backend == "ollama" else _limits_as_kwargs
    return ChatModel(llm, limits=limits, server=server)
