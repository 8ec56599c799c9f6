"""The extractive composer on hand-made passages, for cases hard to reach through the knowledge base."""

import numpy as np

from guide.answer.compose import ExtractiveComposer
from guide.answer.retrieval import Hit
from guide.index.layout import _stemmer
from guide.knowledge.chunking import Chunk

STEP = "Next step: ask the council for mediation."


def _hit(cid: str, sentence: str, vec: list[float]) -> tuple[Hit, tuple[np.ndarray, np.ndarray]]:
    chunk = Chunk(id=cid, doc_id=f"doc-{cid}", title=f"Title {cid}", kind="guidance", area="", heading=f"Heading {cid}",
                  urls=(f"https://www.gov.uk/{cid}",), text=f"{sentence} {STEP}", sentences=(sentence, STEP),
                  position=0)
    v = np.array(vec, dtype=np.float32)
    return Hit(chunk=chunk, score=1.0, dense=0.5, sparse=0.0), (v, np.stack([v, v]))


def test_a_next_step_repeated_in_an_uncited_passage_is_taken_from_the_cited_one():
    # The same "Next step" sentence in two passages (a council republishing national guidance): the first passage
    # is off the question and not cited, so the step must be cited to the second.
    off, off_vecs = _hit("a", "Parking at the school is limited.", [0.0, 1.0, 0.0])
    on, on_vecs = _hit("b", "The council must reply within 6 weeks.", [1.0, 0.0, 0.0])
    composer = ExtractiveComposer(_stemmer())
    comp = composer.compose("when must the council reply", np.array([1.0, 0.0, 0.0], dtype=np.float32), [off, on],
                            {"a": off_vecs, "b": on_vecs})
    assert [c.chunk_id for c in comp.citations] == ["b"]
    assert STEP in comp.citations[0].quote
    assert "Parking" not in comp.text and "6 weeks" in comp.text
