"""Questions are embedded on ONNX Runtime, batches on torch: both must give the same vectors, from any thread."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from guide.index.embeddings import Embedder, EmbeddingModelError

QUESTIONS = [
    "How long does the council have to decide whether to assess my child?",
    "my son's school says he's on SEN support but nothing happens - what now??? " * 20,  # over 256 word pieces
    "EHC plan",
    "What did inspectors find in Kent in 2019?",
    "Can I appeal to the SEND Tribunal about section I, the school named in the plan?",
]


@pytest.fixture(scope="module")
def torch_embedder():
    return Embedder(runtime="torch")


def test_questions_on_onnx_match_the_torch_model(embedder, torch_embedder, tmp_path):
    assert embedder.runtime == "onnx" and torch_embedder.runtime == "torch"
    on_onnx = np.stack([embedder.embed_query(q) for q in QUESTIONS])
    on_torch = np.stack([torch_embedder.embed_query(q) for q in QUESTIONS])
    batch = embedder.embed(QUESTIONS * 14)  # over ONNX_BATCH_LIMIT: the torch model
    assert np.abs(on_onnx - on_torch).max() < 1e-5
    assert np.abs(batch[: len(QUESTIONS)] - on_torch).max() < 1e-5
    assert np.allclose(np.linalg.norm(on_onnx, axis=1), 1.0, atol=1e-5)
    # A fresh cache exports and checks the graph again, and gives the same vectors.
    fresh = Embedder(cache_dir=tmp_path)
    assert fresh.runtime == "onnx" and list((tmp_path / "onnx").glob("*.onnx"))
    assert np.abs(fresh.embed(QUESTIONS[:2]) - on_torch[:2]).max() < 1e-5
    # A process that finds the graph cached embeds a small batch (an incremental `guide index`) without torch.
    again = Embedder(cache_dir=tmp_path)
    small = again.embed(QUESTIONS * 2)
    assert again._st is None, "a small batch loaded the torch model"
    assert np.abs(small - np.concatenate([on_torch, on_torch])).max() < 1e-5


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_concurrent_questions_get_the_vectors_they_would_get_alone(embedder, torch_embedder, runtime):
    model = embedder if runtime == "onnx" else torch_embedder
    alone = {q: model.embed_query(q) for q in QUESTIONS}
    asks = QUESTIONS * 8
    with ThreadPoolExecutor(8) as pool:
        # Questions and a batch at once: the batch must wait for, and not disturb, the questions.
        batch = pool.submit(model.embed, QUESTIONS * 2)
        together = list(pool.map(model.embed_query, asks))
    for q, vec in zip(asks, together, strict=True):
        assert np.abs(vec - alone[q]).max() < 1e-5
    assert np.abs(batch.result()[: len(QUESTIONS)] - np.stack([alone[q] for q in QUESTIONS])).max() < 1e-5


def test_an_unknown_runtime_is_a_clear_error():
    with pytest.raises(EmbeddingModelError, match="GUIDE_EMBEDDING_RUNTIME"):
        Embedder(runtime="tensorflow")
