"""Every message the model is sent, built in one place.

The system prompt leads every answer prompt, and the excerpts + question block is shared by the
answer and the rare-word check, so llama.cpp evaluates that prefix once per question
(bench/DECISIONS.md: the wait before the first word is set by the prompt's length).

Excerpts, headings, questions and earlier answers are text from documents and users: every
message built here passes `sanitise.neutralise` whole, so none of it can carry a chat-template
token into the prompt (`<|im_start|>system` in a document would otherwise open a system turn).
The instructions written here hold no such token, so neutralising them changes nothing.
"""
from __future__ import annotations

from typing import Sequence

from assistant.answer.events import Turn
from assistant.answer.excerpts import Excerpt
from assistant.answer.sanitise import neutralise
from assistant.language import LANGUAGE_NAMES, Language
from assistant.llm import ChatMessage, assistant_turn, system, user

SYSTEM_PROMPT = (
    "You answer staff questions about company documents using only the numbered excerpts given. "
    "Answer in one or two sentences with the exact facts the excerpts state (numbers, names, commands), "
    "and cite the excerpts you use by number, like [1]. "
    "The excerpts may be related to the question without answering it: then say that the documents do not "
    "cover the question, and do not use your own knowledge."
)

TRANSLATE_PROMPT = "You are a translator. Translate the text the user gives into {language}. Do not answer it. Reply with the translation only."

CONDENSE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation. "
    "Keep the language of the last question. Reply with the rewritten question only."
)

# A follow-up is rewritten from the last turns only: older ones rarely matter and cost prompt time.
HISTORY_TURNS = 2
HISTORY_ANSWER_CHARS = 300


def _messages(instructions: str, request: str) -> list[ChatMessage]:
    # Whole messages, not the fields one by one: a field added later cannot be forgotten.
    return [system(neutralise(instructions)), user(neutralise(request))]


def question_with_excerpts(question: str, excerpts: Sequence[Excerpt]) -> str:
    """The part of the prompt every model call about one question shares."""
    # The innermost heading names what an excerpt is about; the whole path would cost the wait
    # of ~50 more prompt tokens per question (bench/DECISIONS.md).
    numbered = "\n".join(f"[{i}] ({e.passage.label(headings=1)}) {e.text}" for i, e in enumerate(excerpts, 1))
    return f"Excerpts:\n{numbered}\n\nQuestion: {question}"


def answer_messages(question: str, excerpts: Sequence[Excerpt], language: Language,
                    unknown_terms: Sequence[str] = (), parts: Sequence[str] = (),
                    uncovered: Sequence[str] = (), follows: str = "") -> list[ChatMessage]:
    """The answer prompt. A question split into parts lists them, so that a small model answers
    each instead of the one its first excerpts are about; a part no passage covers is named, so
    that the model says so rather than answering it from a neighbouring sentence. A part asked on
    its own that points back ("what was it used for?") comes with the part it `follows`."""
    note = (f"\nNote: the documents never mention {', '.join(repr(t) for t in unknown_terms)}."
            if unknown_terms else "")
    if follows:
        note += f"\nThe question follows this one, which says what it refers to: {follows}"
    if len(parts) > 1:
        listed = " ".join(f"({i}) {part}" for i, part in enumerate(parts, 1))
        note += f"\nThe question asks {len(parts)} things; answer each, citing its excerpt: {listed}"
    if uncovered:
        note += (f"\nThe excerpts do not answer {', '.join(repr(u) for u in uncovered)}: "
                 "do not answer that part.")
    return _messages(SYSTEM_PROMPT,
                     f"{question_with_excerpts(question, excerpts)}{note}\nAnswer in {LANGUAGE_NAMES[language]}.")


def other_words_messages(question: str, excerpts: Sequence[Excerpt], missing: Sequence[str]) -> list[ChatMessage]:
    """Asks whether the excerpts state the answer in other words than the missing subject words.
    A small model says "yes" to "do the excerpts answer?" almost always; told which words are
    absent it tells "said differently" from "not said" (bench/DECISIONS.md)."""
    words = ", ".join(repr(t) for t in missing)
    absent = (f"The word {words} is not in the excerpts." if len(missing) == 1
              else f"The words {words} are not in the excerpts.")
    return _messages(SYSTEM_PROMPT, f"{question_with_excerpts(question, excerpts)}\n{absent} "
                                    "Do they state the answer in other words? Reply yes or no.")


def correction_messages(messages: Sequence[ChatMessage], answer: str, problems: Sequence[str]) -> list[ChatMessage]:
    """The answer's own prompt, its answer, and what in it the excerpts do not state: the model
    answers again with the prefix it has already read."""
    listed = ", ".join(repr(p) for p in problems)
    return [*messages, assistant_turn(neutralise(answer)),
            user(neutralise(f"Your answer states {listed}, which the excerpts you cite do not say. Answer again, "
                            "in one or two sentences, with only facts the excerpts state, copied exactly, "
                            "citing them."))]


def count_messages(messages: Sequence[ChatMessage], answer: str) -> list[ChatMessage]:
    """The answer's own prompt, its answer, and that it gives no number where the question asks
    "how many": a small model often answers with the sentence next to the number."""
    return [*messages, assistant_turn(neutralise(answer)),
            user(neutralise("The question asks for a number and your answer gives none. Answer again in one "
                            "sentence with the number the excerpts state, copied exactly, citing it."))]


def condense_messages(question: str, history: Sequence[Turn]) -> list[ChatMessage]:
    recent = history[-HISTORY_TURNS:]
    conversation = "\n".join(f"User: {t.question}\nAssistant: {t.answer[:HISTORY_ANSWER_CHARS]}" for t in recent)
    return _messages(CONDENSE_PROMPT,
                     f"Conversation:\n{conversation}\n\nLast question: {question}\n\nRewritten question:")


def translate_messages(question: str, language: Language) -> list[ChatMessage]:
    name = LANGUAGE_NAMES[language]
    return _messages(TRANSLATE_PROMPT.format(language=name), f"Translate into {name}:\n\n{question}")


def prompt_tokens(messages: Sequence[ChatMessage], count_tokens) -> int:
    """What the model reads before its first word, with ~4 tokens of chat markup per message."""
    return sum(count_tokens(m.content or "") for m in messages) + 4 * len(messages)
