"""Answering: evidence and refusal, excerpts, prompts, citations, and the answer stream.

    excerpts.py   the sentences of the retrieved passages the model reads
    evidence.py   whether retrieval found something to stand on; the refusal texts
    prompts.py    every message sent to the model
    sanitise.py   chat-template tokens in documents and questions made inert
    citations.py  [n] markers checked against the numbered excerpts
    grounding.py  every number, address and name of an answer found in the excerpt it cites
    events.py     what a question yields: sources, text, the finished answer
    answerer.py   the order of all of the above for one question
"""
from assistant.answer.answerer import Answerer
from assistant.answer.events import Answer, Event, Finished, Retracted, SourcesFound, TextDelta, Turn
from assistant.answer.evidence import REFUSALS

__all__ = ["Answer", "Answerer", "Event", "Finished", "REFUSALS", "Retracted", "SourcesFound", "TextDelta", "Turn"]
