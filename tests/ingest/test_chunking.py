"""Chunk boundaries: where a chunk may end, counted with the real embedder's word pieces."""
from __future__ import annotations

import re

from ingest.chunking import Chunker
from ingest.readers import Section

ROWS = [f"Tranche tarifaire: {n}; Rémunération mensuelle nette: {n} 001 € à {n + 1} 000 €; "
        f"Tarif du forfait: {n},{n + 2}4 €" for n in range(1, 9)]


def chunk_texts(embedder, text: str, chunk_tokens: int = 64, overlap: int = 16) -> list[str]:
    chunker = Chunker(embedder.count_tokens, chunk_tokens, overlap)
    return [c.text for c in chunker.split([Section(text)])]


def test_a_table_longer_than_a_chunk_is_cut_between_its_rows(embedder):
    # The docx reader writes a table row per line, with no full stop: one "sentence" to nltk.
    table = "La grille au 1er janvier 2019 est la suivante :\n" + "\n".join(ROWS)
    chunks = chunk_texts(embedder, table)
    assert len(chunks) > 2
    for chunk in chunks:
        for line in chunk.splitlines():
            assert line in ROWS or line == "La grille au 1er janvier 2019 est la suivante :", chunk
    assert all(any(row in chunk.splitlines() for chunk in chunks) for row in ROWS)


def test_a_long_sentence_is_not_cut_inside_a_number(embedder):
    prices = ", ".join(f"{n},{n + 2}4 € pour la tranche {n}" for n in range(1, 25))
    sentence = f"Les tarifs du forfait sont {prices} et 13,08 € pour les personnes extérieures"
    chunks = chunk_texts(embedder, sentence, chunk_tokens=80, overlap=20)
    assert len(chunks) > 2
    numbers = set(re.findall(r"\d+(?:,\d+)?", sentence))
    for chunk in chunks:
        assert set(re.findall(r"\d+(?:,\d+)?", chunk)) <= numbers, chunk
        assert not re.match(r"\d", chunk) or re.match(r"\d+,\d+ €", chunk), chunk  # no "64 €" left of "3,64 €"
    assert all(any(f"{n},{n + 2}4 €" in chunk for chunk in chunks) for n in range(1, 25))


def test_prose_is_still_cut_between_sentences(embedder):
    sentences = [f"Sentence number {n} says something about the canteen, its prices and its hours." for n in range(12)]
    chunks = chunk_texts(embedder, " ".join(sentences))
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.endswith("."), chunk
        assert all(piece.strip() + "." in sentences for piece in chunk.split(".") if piece.strip())
