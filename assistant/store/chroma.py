"""The vector store: Chroma embedded under ASSISTANT_HOME, or a Chroma server, behind one class.

Collections are the unit of access control later on, so every read names its collection.

A Chroma server can stop answering at any call (stopped, crashed, restarted): its client then
raises httpx's own errors, which reach the user as one StoreError naming the server. An ingest cut
so leaves its batch 'pending' in the manifest, and the next run repairs it (ingest/pipeline.py).
"""
from __future__ import annotations

import logging
import re
from typing import Iterable, Sequence

from llama_index.core.schema import TextNode

from assistant.errors import CollectionNotFound, StoreError
from assistant.passage import HeadingPath, MetadataKey, Passage
from assistant.settings import Settings, ensure_private_home, make_private_dirs
from assistant.store.keywords import KeywordIndex

log = logging.getLogger(__name__)

_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


def keyword_text(text: str, metadata: dict) -> str:
    """What the keyword index holds of a chunk: its section's heading, then its text. A section
    names its subject in its heading and not always in its sentences ("These scripts are the
    control information files preinst, postinst, prerm and postrm", under "Introduction to
    package maintainer scripts", dev d09), and the embedder reads the heading too
    (ingest.chunking.Chunk.embedding_text)."""
    heading = HeadingPath.parse(metadata.get(MetadataKey.HEADING)) if metadata else None
    return f"{heading.innermost(1)}\n{text}" if heading else text


def check_collection_name(name: str) -> str:
    if not _COLLECTION_NAME.match(name or "") or ".." in name:
        raise StoreError(f"invalid collection name {name!r}: use 3-63 letters, digits, '.', '_' or '-', "
                         "starting and ending with a letter or digit")
    return name


# What a collection made before embedders were recorded was embedded with.
_FIRST_EMBEDDER = "all-minilm-l6-v2"


class Store:
    """Chroma for vectors and documents, plus a keyword index kept in step with it.

    Each collection records the embedding model that made its vectors: another model's question
    vectors are of the same size (384) but in another space, so a search would return noise
    without an error. A collection is read and written only with its own model."""

    def __init__(self, client, keywords: KeywordIndex, embedding_model: str = _FIRST_EMBEDDER):
        self._client = client
        self.keywords = keywords
        self.embedding_model = embedding_model
        self._keywords_checked: set[str] = set()
        self._languages: dict[str, tuple[int, set[str]]] = {}  # name -> (size when sampled, languages)

    def collection_names(self) -> list[str]:
        return sorted(c if isinstance(c, str) else c.name for c in self._client.list_collections())

    def has_collection(self, name: str) -> bool:
        return name in self.collection_names()

    def _collection(self, name: str, create: bool = False, any_embedder: bool = False):
        check_collection_name(name)
        if create:
            return self._own_embedder(self._client.get_or_create_collection(
                name, metadata={"hnsw:space": "cosine", "embedding_model": self.embedding_model},
                embedding_function=None))
        from chromadb.errors import NotFoundError  # loaded with the client already

        try:  # asked directly: listing every collection first cost each search three listings
            collection = self._client.get_collection(name, embedding_function=None)
        except NotFoundError:
            known = ", ".join(self.collection_names()) or "none yet"
            raise CollectionNotFound(f"no collection named {name!r} (collections: {known}); "
                                     f"ingest documents into it first: assistant ingest PATH --collection {name}") from None
        return collection if any_embedder else self._own_embedder(collection)

    def embedder_of(self, name: str) -> str:
        """The embedding model that made the collection's vectors."""
        return str((self._collection(name, any_embedder=True).metadata or {}).get("embedding_model", _FIRST_EMBEDDER))

    def _own_embedder(self, collection):
        made_with = str((collection.metadata or {}).get("embedding_model", _FIRST_EMBEDDER))
        if made_with != self.embedding_model:
            raise StoreError(f"collection {collection.name!r} was embedded with {made_with}, and the settings name "
                             f"{self.embedding_model}: set embedding_model = \"{made_with}\", or ingest the documents "
                             f"again into a new collection (or after `assistant collections delete {collection.name}`)")
        return collection

    def require(self, name: str) -> None:
        """Raise CollectionNotFound (listing the collections there are) unless `name` exists."""
        self._collection(name)

    def chroma_collection(self, name: str):
        """The Chroma collection itself, for integrations (the llama-index baseline in bench/)."""
        return self._collection(name)

    def create_collection(self, name: str) -> None:
        self._collection(name, create=True)

    def delete_collection(self, name: str) -> None:
        self._collection(name, any_embedder=True)  # raises CollectionNotFound with a helpful message
        self._client.delete_collection(name)
        self.keywords.drop(name)

    def count(self, name: str) -> int:
        return self._collection(name, any_embedder=True).count()

    def upsert(self, name: str, nodes: Sequence[TextNode]) -> None:
        """Write nodes (id, text, flat metadata, embedding) to Chroma and the keyword index."""
        if not nodes:
            return
        collection = self._collection(name, create=True)
        # Chroma caps one call's batch; stay well under it.
        step = 2000
        for start in range(0, len(nodes), step):
            batch = nodes[start:start + step]
            collection.upsert(ids=[n.node_id for n in batch], embeddings=[n.embedding for n in batch],
                              documents=[n.text for n in batch], metadatas=[n.metadata for n in batch])
        self.keywords.upsert(name, [n.node_id for n in nodes], [keyword_text(n.text, n.metadata) for n in nodes])

    def delete(self, name: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids and self.has_collection(name):
            collection = self._collection(name)
            for start in range(0, len(ids), 2000):
                collection.delete(ids=ids[start:start + 2000])
            self.keywords.delete(name, ids)

    def nodes(self, name: str, ids: Sequence[str], with_embeddings: bool = False) -> list[TextNode]:
        """Stored chunks as nodes, in Chroma's order; ids it does not hold are left out."""
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        stored = self._collection(name).get(ids=list(ids), include=include)
        vectors = stored["embeddings"] if with_embeddings else [None] * len(stored["ids"])
        return [TextNode(id_=chunk_id, text=text, metadata=meta or {},
                         embedding=None if vector is None else [float(x) for x in vector])
                for chunk_id, text, meta, vector in zip(stored["ids"], stored["documents"], stored["metadatas"], vectors)]

    def languages(self, name: str, sample: int = 2000) -> set[str]:
        """Languages of the collection's prose, from a sample of its chunks spread over the whole
        collection: it tells whether a question must also be searched in translation. Cached
        until the collection's size changes, so a UI that keeps running sees what an ingest adds."""
        collection = self._collection(name)
        size = collection.count()
        cached = self._languages.get(name)
        if cached is None or cached[0] != size:
            from assistant.language import text_language

            slices = 4 if size > sample else 1
            documents = []
            for i in range(slices):
                documents += collection.get(include=["documents"], limit=sample // slices,
                                            offset=i * size // slices)["documents"]
            cached = self._languages[name] = (size, {lang for lang in map(text_language, documents) if lang})
        return cached[1]

    def keyword_query(self, name: str, query: str, k: int, stopwords: frozenset[str] = frozenset()) -> list[Passage]:
        """BM25 hits as passages (similarity left at 0: the caller measures it)."""
        self._sync_keywords(name)
        hits = self.keywords.search(name, query, k, stopwords)
        if not hits:
            return []
        stored = self._collection(name).get(ids=[chunk_id for chunk_id, _ in hits], include=["documents", "metadatas"])
        by_id = {chunk_id: (text, meta) for chunk_id, text, meta in zip(stored["ids"], stored["documents"],
                                                                         stored["metadatas"])}
        return [Passage.from_record(chunk_id, by_id[chunk_id][0], by_id[chunk_id][1], score, name)
                for chunk_id, score in hits if chunk_id in by_id]

    def section_neighbours(self, name: str, passages: Sequence[Passage]) -> list[Passage]:
        """The chunks just before and after each passage in its file, under the same heading: a
        section cut in two has its rule in the chunk that was not found ("They must be at least
        two characters long", dev d01, follows the chunk about the `Source` field). Passages
        given are left out; each neighbour once, similarity 0 (the caller measures it)."""
        given = {p.chunk_id for p in passages}
        wanted = []
        for passage in passages:
            meta = passage.node.metadata
            index = meta.get(MetadataKey.CHUNK_INDEX)
            if not isinstance(index, int) or not meta.get(MetadataKey.CONTENT_HASH):
                continue
            wanted.append({"$and": [{MetadataKey.SOURCE: passage.source},
                                    {MetadataKey.CONTENT_HASH: meta[MetadataKey.CONTENT_HASH]},
                                    {MetadataKey.HEADING: meta.get(MetadataKey.HEADING, "")},
                                    {MetadataKey.CHUNK_INDEX: {"$in": [index - 1, index + 1]}}]})
        if not wanted:
            return []
        stored = self._collection(name).get(where=wanted[0] if len(wanted) == 1 else {"$or": wanted},
                                            include=["documents", "metadatas"])
        found = {chunk_id: Passage.from_record(chunk_id, text, meta, 0.0, name)
                 for chunk_id, text, meta in zip(stored["ids"], stored["documents"], stored["metadatas"])
                 if chunk_id not in given}
        return list(found.values())

    def embeddings(self, name: str, ids: Sequence[str]) -> dict[str, list[float]]:
        stored = self._collection(name).get(ids=list(ids), include=["embeddings"])
        return {chunk_id: list(vector) for chunk_id, vector in zip(stored["ids"], stored["embeddings"])}

    def _sync_keywords(self, name: str) -> None:
        """Rebuild a collection's keyword index when it does not hold what Chroma holds (a store
        written before the index existed, or an index file that was deleted)."""
        if name in self._keywords_checked:
            return
        collection = self._collection(name)
        if self.keywords.count(name) != collection.count():
            log.info("rebuilding the keyword index of %s", name)
            self.keywords.drop(name)
            offset, step = 0, 2000
            while True:
                batch = collection.get(include=["documents", "metadatas"], limit=step, offset=offset)
                if not batch["ids"]:
                    break
                self.keywords.upsert(name, batch["ids"], [keyword_text(text, meta) for text, meta
                                                          in zip(batch["documents"], batch["metadatas"])])
                offset += step
        self._keywords_checked.add(name)

    def query(self, name: str, embedding: Sequence[float], k: int) -> list[Passage]:
        # No count() first (15 ms at 100,000 chunks): an empty collection answers an empty list.
        result = self._collection(name).query(query_embeddings=[list(embedding)], n_results=k,
                                  include=["documents", "metadatas", "distances"])
        passages = []
        for chunk_id, text, meta, distance in zip(result["ids"][0], result["documents"][0],
                                                  result["metadatas"][0], result["distances"][0]):
            similarity = 1.0 - float(distance)
            passages.append(Passage.from_record(chunk_id, text, meta, similarity, name, similarity))
        return passages


class _ServerClient:
    """A Chroma server's client, or one of its collections, whose lost connections are StoreErrors."""

    def __init__(self, target, where: str):
        self._target = target
        self._where = where

    def __getattr__(self, name: str):
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            try:
                result = attribute(*args, **kwargs)
            except _lost_connection() as e:
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise StoreError(f"the Chroma server at {self._where} stopped answering ({reason}); "
                                 "start it again, then run the command again") from e
            return _ServerClient(result, self._where) if hasattr(result, "upsert") else result

        return call


def _lost_connection() -> tuple[type[BaseException], ...]:
    import httpx

    return httpx.TransportError, ConnectionError


def build_store(settings: Settings) -> Store:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    ensure_private_home(settings)  # in both modes: the keyword index lives in the home
    if settings.chroma_mode == "server":
        try:
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
            client.heartbeat()
        except Exception as e:  # the client raises several types for "cannot connect"
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port}: {e}") from e
        client = _ServerClient(client, f"{settings.chroma_host}:{settings.chroma_port}")
    else:
        make_private_dirs(settings.chroma_path)
        client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    return Store(client, KeywordIndex(settings.keywords_path), settings.embedding_model)
