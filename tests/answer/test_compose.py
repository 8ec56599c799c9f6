"""The section composer on hand-made sections, for cases hard to reach through the knowledge base."""

from guide.answer.compose import SectionComposer
from guide.answer.retrieval import Hit
from guide.knowledge.chunking import Chunk, split_sentences

STEP = "Next step: ask the council for mediation."


def _chunk(cid: str, doc: str, heading: str, text: str, position: int = 0) -> Chunk:
    return Chunk(id=cid, doc_id=doc, title=f"Title {doc}", kind="guidance", area="", heading=heading,
                 urls=("https://www.legislation.gov.uk/uksi/2014/1530/regulation/5", f"https://www.gov.uk/{doc}"),
                 text=text, sentences=tuple(split_sentences(text)), position=position, section=f"s-{doc}")


def _hit(*chunks: Chunk) -> Hit:
    return Hit(chunk=chunks[0], score=1.0, dense=0.7, sparse=0.0, question=0.7, chunks=list(chunks))


def test_the_section_is_read_whole_in_order_with_every_sentence_cited_and_the_step_last():
    # A section split in two chunks that overlap by a sentence: each sentence appears once.
    first = _chunk("a1", "doc-a", "How long does the council have?",
                   "Yes, it has 6 weeks (regulation 5(1)). The clock starts when it gets your request.")
    second = _chunk("a2", "doc-a", "How long does the council have?",
                    "The clock starts when it gets your request.\n\n- It must write to you.\n- It must say why."
                    f"\n\n{STEP}", position=1)
    comp = SectionComposer().compose([_hit(first, second)])
    lines = comp.text.split("\n\n")
    assert lines[0] == "**How long does the council have?**"
    assert lines[1] == "Yes, it has 6 weeks (regulation 5(1)). [1] The clock starts when it gets your request. [1]"
    assert lines[2] == "- It must write to you. [1]\n- It must say why. [1]"
    assert lines[-1] == f"{STEP} [1]"
    assert comp.text.count("The clock starts") == 1
    [citation] = comp.citations
    assert citation.doc_id == "doc-a" and citation.heading == "How long does the council have?"
    assert citation.url.endswith("/regulation/5")  # the source the quote names
    assert STEP in citation.quote and "6 weeks" in citation.quote


def test_a_second_section_is_short_and_under_its_own_heading():
    one = _chunk("a", "doc-a", "First question?", f"Answer one. More about one. {STEP}")
    two = _chunk("b", "doc-b", "Second question?", "Answer two. Detail two. More detail two. Next step: write.")
    comp = SectionComposer(second_sentences=1).compose([_hit(one), _hit(two)])
    assert "**Second question?**\n\nAnswer two. [2]" in comp.text
    assert "Detail two" not in comp.text and "Next step: write. [2]" in comp.text
    assert [c.n for c in comp.citations] == [1, 2] and comp.sections == ["s-doc-a", "s-doc-b"]


def test_nothing_to_compose_gives_no_text():
    assert SectionComposer().compose([]).text == ""


def test_a_next_step_that_quotes_a_question_stays_whole_and_last():
    step = 'Next step: when the school calls, ask: "Is this a formal exclusion? If so, please send the letter."'
    section = _chunk("a", "doc-a", "Can they?", f"No, they cannot. Keep a diary.\n\n{step}")
    comp = SectionComposer().compose([_hit(section)])
    assert comp.text.endswith(f"{step} [1]")
    assert comp.text.count("[1]") == 3
