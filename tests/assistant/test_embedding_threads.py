"""The embedder loaded by several threads at once (the start-up loader and the API's first
question): transformers sets torch's process-wide default dtype while it loads in bfloat16, so a
thread embedding meanwhile got bfloat16 tensors beside float32 weights (seen in a web worker
restarted under load: 'mat1 and mat2 must have the same dtype'). One load at a time, and the
threads that came during it use the loaded model."""
import threading

from assistant.embedding import Embedder
from assistant.models import embedding_path
from assistant.settings import load_settings


def test_threads_embedding_while_the_model_loads_all_get_the_same_vectors(home):
    path = embedding_path(load_settings())
    for _ in range(6):  # without the lock this failed about once in five
        embedder = Embedder(path, precision="bfloat16")
        vectors, errors = [], []

        def embed():
            try:
                vectors.append(embedder.embed(["How many days of paid leave do full-time staff get?"])[0])
            except Exception as e:  # noqa: BLE001  (what the thread met is the finding)
                errors.append(repr(e))

        threads = [threading.Thread(target=embed) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(vectors) == 3 and vectors[0] == vectors[1] == vectors[2]
