"""The line at the model: one question at a time in this process, first come first served, the
browser chat (ui/web/chat.py) and the API (ui/web/api.py) alike; app.py makes the one both share.

A turn is everything a question does with the cores: the follow-up rewrite, the question's
embedding and the search, the answer and its checks. So the embedder and the language model never
run at once on the same cores. Measured on 2 cores (bench/load_bench.py, the 0.5B, llama.cpp on
both cores, one torch thread per question): with query embeddings running beside it, a 64-token
answer took 3.91 s instead of 3.70 s and an embedding 16.9 ms instead of 13.3 ms; searching while
waiting would save a waiting question only its search (tens of ms of a turn of ~4 s).

The line is bounded (the setting max_waiting_questions): a question that would wait behind more
than that many is refused at once with `Busy`, which says how many are ahead and when to try
again, rather than left hanging with a worker thread held. "Try again in S s" is when the
questions now ahead will have been answered, at the mean duration of the last turns (RECENT_TURNS);
before any turn has ended, RETRY_AFTER_S. Not the time until one place frees: the line is full
because questions keep coming, and the next one (often a follow-up sent the moment its answer
came) takes that place within milliseconds, so a retry then would mostly be refused again.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable

RETRY_AFTER_S = 30  # before any turn has ended there is nothing to estimate from
RECENT_TURNS = 20


class Busy(Exception):
    """The line is full: `ahead` questions are ahead, and there may be room in `retry_after_s`."""

    def __init__(self, ahead: int, retry_after_s: int):
        self.ahead, self.retry_after_s = ahead, retry_after_s
        super().__init__(f"The assistant is busy: {ahead} questions are ahead of yours. "
                         f"Try again in {retry_after_s} s.")


class ModelQueue:
    """Turns at the model, first come first served; each waiting question can ask its position.
    `max_waiting`: the most questions one may wait behind (the one answered included)."""

    def __init__(self, max_waiting: int = 32, clock: Callable[[], float] = time.monotonic):
        self.max_waiting = max_waiting
        self._clock = clock
        self._changed = threading.Condition()
        self._line: list[object] = []  # the first holds the model
        self._held_since = 0.0
        self._turns: deque[float] = deque(maxlen=RECENT_TURNS)  # how long the last turns took, in seconds

    def join(self) -> object:
        """A place at the end of the line; Busy when more than `max_waiting` are ahead of it."""
        with self._changed:
            ahead = len(self._line)
            if ahead > self.max_waiting:
                raise Busy(ahead, self._retry_after(ahead))
            ticket = object()
            if not self._line:
                self._held_since = self._clock()
            self._line.append(ticket)
        return ticket

    def _retry_after(self, ahead: int) -> int:
        if not self._turns:
            return RETRY_AFTER_S
        return max(1, math.ceil(ahead * sum(self._turns) / len(self._turns)))

    def ahead(self, ticket: object) -> int:
        with self._changed:
            return self._line.index(ticket)

    def wait(self, ticket: object, ahead: int, timeout: float | None = None) -> int:
        """How many are ahead of `ticket`, once that is no longer `ahead` (or `timeout` passed)."""
        with self._changed:
            self._changed.wait_for(lambda: self._line.index(ticket) != ahead, timeout)
            return self._line.index(ticket)

    def leave(self, ticket: object) -> None:
        with self._changed:
            if self._line and self._line[0] is ticket:  # a turn ended (not a question given up while waiting)
                now = self._clock()
                self._turns.append(now - self._held_since)
                self._held_since = now
            self._line.remove(ticket)
            self._changed.notify_all()
