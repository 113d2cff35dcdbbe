"""Stand-ins for the model and retrieval, for tests of control flow only (refusal rules, citation
cleanup, condense and translation decisions): they run in milliseconds. Every end-to-end test
keeps the real GGUF, Chroma, embedder and browser."""
from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Callable, Sequence

from llama_index.core.base.llms.types import (ChatMessage, ChatResponse, ChatResponseGen, CompletionResponse,
                                              CompletionResponseGen, LLMMetadata, MessageRole)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import PrivateAttr

from assistant.llm import ChatModel
from assistant.passage import HeadingPath, Passage, chunk_metadata


def make_passage(text: str, source: str = "/d/doc.md", *, page: int | None = None, heading: str = "",
                 collection: str = "c", chunk_id: str | None = None, score: float = 0.0,
                 similarity: float = 0.0) -> Passage:
    meta = chunk_metadata(source=source, file_name=source.rsplit("/", 1)[-1], file_type=source.rsplit(".", 1)[-1],
                          heading=HeadingPath.parse(heading), mtime=0.0, chunk_index=0, content_hash="0" * 64,
                          page=page)
    chunk_id = chunk_id or hashlib.sha1(f"{source}{text}".encode()).hexdigest()[:16]
    return Passage.from_record(chunk_id, text, meta, score, collection, similarity)


class ScriptedLLM(CustomLLM):
    """A llama-index LLM whose reply is `respond(messages)`, streamed a word at a time; it
    records every call's messages and limits."""

    _respond: Callable[[list[ChatMessage]], str] = PrivateAttr()
    _calls: list = PrivateAttr(default_factory=list)

    def __init__(self, respond: Callable[[list[ChatMessage]], str]):
        super().__init__()
        self._respond = respond

    @property
    def calls(self) -> list[tuple[list[ChatMessage], dict]]:
        return self._calls

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted", is_chat_model=True)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        self._calls.append((list(messages), kwargs))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=self._respond(list(messages))))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        self._calls.append((list(messages), kwargs))
        reply = self._respond(list(messages))

        def gen() -> ChatResponseGen:
            text = ""
            for piece in re.findall(r"\S+\s*|\s+", reply):
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.chat([ChatMessage(role=MessageRole.USER, content=prompt)]).message.content)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        yield self.complete(prompt)


def scripted_model(respond: Callable[[list[ChatMessage]], str]) -> ChatModel:
    return ChatModel(ScriptedLLM(respond), count_tokens=lambda text: len(text.split()))


class StaticRetriever:
    """Returns the same passages for any query, and records what it was asked. `by_query` gives
    other passages to the queries that contain one of its keys (the first key that matches)."""

    def __init__(self, passages: Sequence[Passage], by_query: dict[str, Sequence[Passage]] | None = None,
                 neighbours: dict[str, Sequence[Passage]] | None = None):
        self.passages = list(passages)
        self.by_query = {key: list(found) for key, found in (by_query or {}).items()}
        # chunk id -> the chunks beside it in its section; none for a passage not named.
        self.neighbours = {key: list(found) for key, found in (neighbours or {}).items()}
        self.queries: list[tuple[str, list[str], list[str]]] = []

    def search(self, query: str, collections: Sequence[str], k: int, alternatives: Sequence[str] = ()) -> list[Passage]:
        self.queries.append((query, list(collections), list(alternatives)))
        found = next((found for key, found in self.by_query.items() if key in query), self.passages)
        return [p for p in found if p.collection in collections][:k]

    def section_neighbours(self, passages: Sequence[Passage]) -> list[Passage]:
        given = {p.chunk_id for p in passages}
        found = [n for p in passages for n in self.neighbours.get(p.chunk_id, ()) if n.chunk_id not in given]
        return list({n.chunk_id: n for n in found}.values())


class CountedKeywords:
    """Keyword statistics from a fixed table: term -> number of chunks holding it (`default` for a
    term the table does not name); records the collections it was asked about."""

    def __init__(self, chunks: int, counts: dict[str, int] | None = None, default: int = 0):
        self.chunks = chunks
        self.counts = counts or {}
        self.default = default
        self.collections_asked: list[str] = []

    def count(self, collection: str) -> int:
        self.collections_asked.append(collection)
        return self.chunks

    def chunk_counts(self, collection: str, terms: Sequence[str], limit: int) -> dict[str, int]:
        self.collections_asked.append(collection)
        return {t: min(self.counts.get(t, self.default), limit) for t in terms}


class BagOfWordsEncoder:
    """Unit vectors of hashed words: texts sharing words are similar. Enough to choose excerpts."""

    DIMENSIONS = 256

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.DIMENSIONS
            for word in re.findall(r"\w+", text.lower()):
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.DIMENSIONS] += 1.0
            norm = math.sqrt(sum(x * x for x in vector)) or 1.0
            vectors.append([x / norm for x in vector])
        return vectors

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class HeldAnswerer:
    """An answerer for tests of waiting and stopping (ui/web/chat.py): a question containing LONG
    streams a word at a time until `release` is set (or it is stopped), one containing QUICK is
    answered at once without a model, and any other goes to `real` (when given)."""

    LONG = "[long]"
    QUICK = "[quick]"

    def __init__(self, real=None, passage: Passage | None = None):
        import threading

        self.real = real
        self.passage = passage
        self.release = threading.Event()
        self.words_streamed = 0

    def stream(self, question, collections, history=()):
        from assistant.answer import Answer, Finished, SourcesFound, TextDelta

        if self.LONG not in question and self.QUICK not in question:
            yield from self.real.stream(question, collections, history)
            return
        sources = [self.passage] if self.passage is not None else []
        yield SourcesFound(sources, question)
        while self.LONG in question and not self.release.wait(0.05):
            self.words_streamed += 1
            yield TextDelta("more ")
        text = f"Answer to {question}" + (" [1]" if sources else "")
        yield TextDelta(text)
        yield Finished(Answer(question=question, text=text, sources=sources, retrieved=sources, refused=False,
                              language="en", quotes=[]))
