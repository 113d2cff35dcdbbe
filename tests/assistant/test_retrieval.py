"""Hybrid retrieval: dense and keyword rankings fused, kept in step with ingestion, bounded by
the collections a caller may read."""
from assistant.text import STOPWORDS, with_equivalent_forms
from tests.conftest import chroma_rows, components_for, ingest


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


FILLER = ("Maintenance of the cooling loop follows the plant handbook. Operators log every inspection "
          "in the shift book and report leaks to the supervisor on duty.")


def test_exact_part_number_is_found_first_by_the_fused_ranking(tmp_path, home, embedder):
    docs = tmp_path / "docs"
    for i in range(6):
        _write(docs, f"note{i}.md", f"# Pump note {i}\n{FILLER} Pump {i} runs on line {i}.\n")
    _write(docs, "valve.md", "# Spare parts\nThe spare for the cooling loop valve is part XK-4471, kept in bay 3.\n")
    components = components_for(home, embedder)
    assert ingest(components, [docs]).ok
    hits = components.retriever.search("XK-4471", ["default"], 3)
    assert hits[0].file_name == "valve.md"
    assert hits[0].similarity > 0  # keyword hits get their cosine measured too (refusal evidence)
    assert components.store.keyword_query("default", "XK-4471", 5, STOPWORDS)[0].file_name == "valve.md"


def test_a_chunk_is_found_by_the_words_of_its_section_heading_also_after_a_rebuild(tmp_path, home, embedder):
    """dev d09: "These scripts are preinst, postinst, prerm and postrm" says "maintainer" only in its heading."""
    docs = tmp_path / "docs"
    _write(docs, "scripts.md", "# Packaging\n\n## Introduction to maintainer scripts\n\n"
                               "These scripts are preinst, postinst, prerm and postrm.\n\n"
                               f"## Cooling\n\n{FILLER}\n")
    components = components_for(home, embedder)
    assert ingest(components, [docs]).ok
    hits = components.store.keyword_query("default", "maintainer", 5)
    assert [p.text for p in hits] == ["These scripts are preinst, postinst, prerm and postrm."]
    assert "Introduction" not in hits[0].text, "the heading is indexed, not added to the passage"
    components.store.keywords.close()
    (home / "keywords.sqlite").unlink()
    fresh = components_for(home, embedder)
    assert [p.text for p in fresh.store.keyword_query("default", "maintainer", 5)] == [hits[0].text]


def test_keyword_index_follows_updates_and_removals(tmp_path, home, embedder):
    docs = tmp_path / "docs"
    path = _write(docs, "codes.md", "# Door codes\nThe storeroom code is zebracrossing.\n")
    _write(docs, "other.md", f"# Other\n{FILLER}\n")
    components = components_for(home, embedder)
    assert ingest(components, [docs]).ok
    store = components.store
    assert [p.file_name for p in store.keyword_query("default", "zebracrossing", 5)] == ["codes.md"]

    path.write_text("# Door codes\nThe storeroom code is now pelicanbridge.\n")
    assert ingest(components, [docs]).updated == [str(path)]
    assert store.keyword_query("default", "zebracrossing", 5) == []
    assert [p.file_name for p in store.keyword_query("default", "pelicanbridge", 5)] == ["codes.md"]

    path.unlink()
    assert ingest(components, [docs]).removed == [str(path)]
    assert store.keyword_query("default", "pelicanbridge", 5) == []
    assert store.keywords.count("default") == store.count("default")


def test_keyword_index_is_rebuilt_from_chroma_when_it_is_lost(tmp_path, home, embedder):
    docs = tmp_path / "docs"
    _write(docs, "codes.md", "# Door codes\nThe storeroom code is zebracrossing.\n")
    components = components_for(home, embedder)
    assert ingest(components, [docs]).ok
    components.store.keywords.close()
    (home / "keywords.sqlite").unlink()
    fresh = components_for(home, embedder)
    assert [p.file_name for p in fresh.store.keyword_query("default", "zebracrossing", 5)] == ["codes.md"]


def test_only_the_collections_given_are_searched(tmp_path, home, embedder):
    components = components_for(home, embedder)
    assert ingest(components, [_write(tmp_path / "a", "salaries.md", "# Pay\nThe salary band for grade 7 is confidential-omega.\n")],
                  collection="payroll").ok
    assert ingest(components, [_write(tmp_path / "b", "menu.md", "# Canteen\nFriday is fish day.\n")],
                  collection="canteen").ok
    hits = components.retriever.search("salary band grade 7 confidential-omega", ["canteen"], 5)
    assert hits and all(p.collection == "canteen" for p in hits)
    assert all("omega" not in p.text for p in hits)
    assert components.retriever.search("salary band", [], 5) == []


def test_words_the_documents_never_or_hardly_use_are_reported_for_the_best_phrasing(tmp_path, home, embedder):
    from assistant.answer.evidence import rare_terms

    components = components_for(home, embedder)
    assert ingest(components, [_write(tmp_path / "d", "leave.md",
                                      "# Leave\nFull-time employees get 25 days of paid annual leave.\n")]).ok
    keywords = components.store.keywords
    assert keywords.chunk_counts("default", ["employees", "leaves", "salary", "bonus"], limit=1) == \
        {"employees": 1, "leaves": 1, "salary": 0, "bonus": 0}
    phrasings = ["Quel est le salaire annuel ?", "What is the annual salary?"]
    # One chunk: 0.2% of it is no chunk, so only the words it never uses are rare.
    assert rare_terms(keywords, phrasings, ["default"], rare_share=0.002) == {"salary": 0}
    assert rare_terms(keywords, phrasings, ["default"], rare_share=1.0) == {"annual": 1, "salary": 0}


def test_languages_of_a_collection_follow_what_is_ingested_while_the_process_runs(tmp_path, home, embedder):
    components = components_for(home, embedder)
    assert ingest(components, [_write(tmp_path / "en", "pumps.md", f"# Pumps\n{FILLER}\n")]).ok
    assert components.store.languages("default") == {"en"}
    french = ("# Sécurité\nLes opérateurs notent chaque inspection dans le cahier de quart et signalent "
              "les fuites au responsable de permanence avant la fin de leur poste.\n")
    assert ingest(components, [_write(tmp_path / "fr", "securite.md", french)]).ok
    assert components.store.languages("default") == {"en", "fr"}


def test_the_first_hit_of_each_ranking_keeps_a_place_in_the_results():
    from assistant.retrieval import HybridRetriever
    from tests.fakes import make_passage

    def passage(name):
        return make_passage(name, f"/d/{name}.md", collection="c", chunk_id=name)

    a, b, c, d, z = (passage(n) for n in "abcdz")
    dense, keyword = [a, b, c, d], [z, b, c]
    fused = [b, c, a, d, z]  # z, BM25's first, fell behind passages both rankings hold
    chosen = HybridRetriever._keep_firsts(fused[:3], fused, [(1.0, dense), (0.75, keyword)], k=3)
    assert [p.chunk_id for p in chosen] == ["b", "a", "z"]  # a: dense's first; z in place of c
    assert HybridRetriever._keep_firsts([b, c, a], fused, [(1.0, [b]), (0.75, [c])], k=3) == [b, c, a]


def test_a_word_in_most_chunks_scores_candidates_but_does_not_choose_them(tmp_path):
    """Past FREQUENT_IN_CHUNKS chunks a word only scores: chunks holding a rarer word of the
    question are the candidates, and among them the common word still counts. Words that are all
    common leave the rarest to choose; until a word gets this common the query is the plain OR."""
    from assistant.store.keywords import FREQUENT_IN_CHUNKS, KeywordIndex

    index = KeywordIndex(tmp_path / "keywords.sqlite")
    common = [f"c{i}" for i in range(FREQUENT_IN_CHUNKS + 50)]
    index.upsert("big", common, [f"The travel policy, revision {i}." for i in range(len(common))])
    others = [f"o{i}" for i in range(3000)]
    index.upsert("big", others, [f"Meeting room {i} is on floor two." for i in range(len(others))])
    index.upsert("big", ["rare", "both", "neither"], [  # as long as each other: only policy tells them apart
        "The sabbatical rules give six months.", "The sabbatical policy gives six months.",
        "Parking is free on site."])
    hits = [chunk_id for chunk_id, _ in index.search("big", "sabbatical policy", 10, STOPWORDS)]
    assert hits == ["both", "rare"]  # only sabbatical chunks; policy counted in the one holding both
    assert [c for c, _ in index.search("big", "travel policy", 3, STOPWORDS)][0].startswith("c")  # all common
    assert index.search("big", "parking policy", 5, STOPWORDS)[0][0] == "neither"

    index.upsert("small", ["a", "b"], ["The travel policy.", "The sabbatical rules."])
    assert {c for c, _ in index.search("small", "sabbatical policy", 5, STOPWORDS)} == {"a", "b"}  # plain OR


def test_section_neighbours_are_the_chunks_beside_a_passage_under_its_heading(tmp_path, home, embedder):
    # Small chunks so that one section is cut in several; the rule ends up in a chunk of its own.
    sentences = [f"Step {i} of the cooling loop check reads gauge {i} and writes its value in the shift book."
                 for i in range(1, 13)]
    text = ("# Cooling loop\n" + " ".join(sentences) + "\n\n# Canteen\nFriday is fish day in the canteen, "
            "and the menu for the week is posted on Monday morning by the kitchen staff.\n")
    docs = tmp_path / "docs"
    _write(docs, "loop.md", text)
    components = components_for(home, embedder, chunk_tokens=48, chunk_overlap=0)
    assert ingest(components, [docs]).ok
    rows = chroma_rows(components.store, "default")
    chunks = sorted(zip(rows["metadatas"], rows["documents"]), key=lambda row: row[0]["chunk_index"])
    loop = [text for meta, text in chunks if meta["heading"] == "Cooling loop"]
    assert len(loop) >= 3, "the section must be cut in at least three chunks for this test"

    middle = next(p for p in components.retriever.search(loop[1], ["default"], 10) if p.text == loop[1])
    neighbours = components.retriever.section_neighbours([middle])
    assert sorted(p.text for p in neighbours) == sorted([loop[0], loop[2]])
    assert all(p.collection == "default" and p.similarity == 0.0 for p in neighbours)

    # The last chunk of the section has one neighbour: the canteen chunk after it is another section.
    last = next(p for p in components.retriever.search(loop[-1], ["default"], 10) if p.text == loop[-1])
    assert [p.text for p in components.retriever.section_neighbours([last])] == [loop[-2]]
    # Passages given are not returned as neighbours of each other.
    both = [middle, *components.retriever.section_neighbours([middle])]
    assert [p.text for p in components.retriever.section_neighbours(both)] == loop[3:4]


def test_a_question_asking_for_a_minimum_length_finds_the_rule_written_as_at_least_long(tmp_path, home, embedder):
    docs = tmp_path / "docs"
    _write(docs, "naming.md", "# Naming\nPackage names must be at least two characters long.\n")
    for i in range(5):
        _write(docs, f"names{i}.md", f"# Names {i}\nThe name of package {i} is written in the control file; "
                                    f"every package name is unique in archive {i}.\n")
    components = components_for(home, embedder)
    assert ingest(components, [docs]).ok
    question = "What is the minimum length of a package name?"
    # Its words alone rank the rule below chunks that merely name packages ...
    assert components.store.keyword_query("default", question, 6, STOPWORDS)[0].file_name != "naming.md"
    # ... the search also asks for "least" and "long", and it comes first.
    assert components.retriever.search(question, ["default"], 3)[0].file_name == "naming.md"
    assert components.store.keyword_query("default", with_equivalent_forms(question), 6, STOPWORDS)[0].file_name \
        == "naming.md"
