"""What answering yields, in order: the sources found (before the model starts), the answer's
text as it streams, then the finished answer with its checked citations."""
from __future__ import annotations

from dataclasses import dataclass, field

from assistant.language import Language
from assistant.passage import Passage


@dataclass
class Turn:
    """One exchange of a conversation, as a follow-up question needs it."""
    question: str
    answer: str


@dataclass
class Answer:
    question: str
    text: str
    # The passages the answer cites, or those it was written from when it cites none; for a
    # refusal, the passages that were checked (none when nothing relevant was found).
    sources: list[Passage]
    retrieved: list[Passage]
    refused: bool
    language: Language
    standalone_question: str = ""
    prompt_tokens: int = 0  # what the model had to read before its first word (0: it was not asked)
    # For each source, the sentence(s) of it the answer relies on ("" for a refusal's passages).
    quotes: list[str] = field(default_factory=list)
    # How the facts check went: "" (not checked), "grounded", "recited" (citations corrected),
    # "regenerated" or "quoted".
    grounding: str = ""

    def quote_of(self, index: int) -> str:
        return self.quotes[index] if index < len(self.quotes) else ""

    def as_json(self) -> dict:
        return {"answer": self.text, "refused": self.refused, "grounding": self.grounding,
                "sources": [{**p.as_json(), "quote": self.quote_of(i)} for i, p in enumerate(self.sources)]}


@dataclass
class SourcesFound:
    """First event: what was retrieved (shown before the model starts writing)."""
    passages: list[Passage]
    standalone_question: str


@dataclass
class TextDelta:
    text: str


@dataclass
class Retracted:
    """The text streamed so far is withdrawn (it stated a fact its excerpt does not); what
    follows replaces it."""
    reason: str


@dataclass
class Finished:
    answer: Answer


Event = SourcesFound | TextDelta | Retracted | Finished
