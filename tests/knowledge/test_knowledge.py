import pytest

from guide.knowledge.check import check, readability
from guide.knowledge.documents import KnowledgeError, load_documents, parse_document

from ..conftest import GOOD_FRONT, ROOT, write_doc


def test_valid_document_loads(tmp_path):
    write_doc(tmp_path, "a.md", GOOD_FRONT.format(id="doc-a"))
    (tmp_path / "README.md").write_text("# Not a document\n")  # no front matter: skipped
    docs = load_documents(tmp_path)
    assert [d.id for d in docs] == ["doc-a"]
    assert docs[0].urls == ["https://www.legislation.gov.uk/ukpga/2014/6/section/36"]


@pytest.mark.parametrize(
    ("front", "field"),
    [
        (GOOD_FRONT.format(id="x").replace("id: x\n", ""), "id"),
        (GOOD_FRONT.format(id="Bad Id"), "id"),
        (GOOD_FRONT.format(id="x").replace("kind: guidance", "kind: blog"), "kind"),
        (GOOD_FRONT.format(id="x").split("sources:")[0] + "last_reviewed: 2026-11-23", "sources"),
        (GOOD_FRONT.format(id="x").replace("https://www.legislation.gov.uk/ukpga/2014/6/section/36", "not a url"),
         "sources[0].url"),
        (GOOD_FRONT.format(id="x").replace("    publisher: legislation.gov.uk\n", ""), "sources[0].publisher"),
        (GOOD_FRONT.format(id="x").replace("last_reviewed: 2026-11-23", "last_reviewed: last week"),
         "last_reviewed"),
        (GOOD_FRONT.format(id="x").replace("summary: A document used by the tests.", "summary: ''"), "summary"),
        (GOOD_FRONT.format(id="x").replace("kind: guidance", "kind: inspection"), "area"),
        ("id: [unclosed", "front matter"),
    ],
)
def test_malformed_front_matter_names_file_and_field(tmp_path, front, field):
    path = write_doc(tmp_path, "broken.md", front)
    with pytest.raises(KnowledgeError) as err:
        load_documents(tmp_path)
    assert err.value.field == field
    assert err.value.path == path
    assert "broken.md" in str(err.value) and field in str(err.value)


def test_inspection_fields_are_validated(tmp_path):
    front = GOOD_FRONT.format(id="insp").replace("kind: guidance", "kind: inspection") + (
        "area: Testshire\ninspected: 2024-01\npublished: 2024-03-26\nframework: '2019'\noutcome: Something\n"
    )
    write_doc(tmp_path, "insp.md", front)
    with pytest.raises(KnowledgeError, match="framework"):
        load_documents(tmp_path)
    write_doc(tmp_path, "insp.md", front.replace("'2019'", "'2023'"))
    doc = load_documents(tmp_path)[0]
    assert (doc.area, doc.inspected, doc.published, doc.framework) == ("Testshire", "2024-01", "2024-03-26", "2023")


def test_duplicate_ids_and_empty_sections_are_rejected(tmp_path):
    write_doc(tmp_path, "a.md", GOOD_FRONT.format(id="same"))
    write_doc(tmp_path, "b.md", GOOD_FRONT.format(id="same"))
    with pytest.raises(KnowledgeError, match="already used"):
        load_documents(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    write_doc(empty, "c.md", GOOD_FRONT.format(id="c"), "## A question?\n\n## Another?\n\nText.\n")
    with pytest.raises(KnowledgeError, match="'A question\\?' is empty"):
        load_documents(empty)


def test_no_text_and_missing_folder(tmp_path):
    with pytest.raises(KnowledgeError, match="does not exist"):
        load_documents(tmp_path / "nope")
    path = write_doc(tmp_path, "a.md", GOOD_FRONT.format(id="a"), "\n")
    with pytest.raises(KnowledgeError, match="body"):
        parse_document(path)


def test_readability_orders_plain_above_dense_text():
    plain = "You can ask the council. It must reply in 6 weeks. Keep a copy of your letter."
    dense = ("Notwithstanding the aforementioned statutory obligations, the responsible local authority "
             "shall determine, expeditiously and comprehensively, the appropriateness of instituting assessment.")
    assert readability(plain) > 70 > readability(dense)


def test_real_knowledge_base_is_valid_and_readable():
    rows = check(ROOT / "knowledge")
    assert len(rows) >= 40
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(r["sources"] >= 1 for r in rows)
    flesch = sorted(r["flesch"] for r in rows)
    assert flesch[len(flesch) // 2] >= 60
    kinds = {r["kind"] for r in rows}
    assert kinds == {"guidance", "inspection"}


def test_knowledge_check_cli_fails_on_a_broken_file(tmp_path, capsys):
    from guide.cli import main

    write_doc(tmp_path, "bad.md", GOOD_FRONT.format(id="bad").replace("kind: guidance", "kind: nonsense"))
    assert main(["--knowledge-dir", str(tmp_path), "knowledge", "check"]) == 1
    out = capsys.readouterr().out
    assert "bad.md" in out and "kind" in out
    assert main(["--knowledge-dir", str(ROOT / "knowledge"), "knowledge", "check"]) == 0
    assert "Median Flesch" in capsys.readouterr().out


def _body(lines: list[str], extra: str = "") -> str:
    block = "```parents-ask\n" + "\n".join(lines) + "\n```\n"
    return f"## Can I ask for an assessment myself?\n\nYes, you can ask the council yourself.\n\n{block}{extra}"


FIVE = ["can i apply myself", "do i need the school to ask", "DS school wont apply, can i?",
        "who can request an EHCNA", "is it only the SENCO who can ask the LA"]


def test_sections_carry_their_phrasings_which_never_reach_the_text(tmp_path):
    note = "\n## What we could not confirm\n\nWhether the council's form is required.\n"
    write_doc(tmp_path, "a.md", GOOD_FRONT.format(id="doc-a"), _body(FIVE, note))
    doc = load_documents(tmp_path)[0]
    assert [s.heading for s in doc.sections] == ["Can I ask for an assessment myself?", "What we could not confirm"]
    assert doc.sections[0].phrasings == tuple(FIVE) and doc.sections[1].is_note
    assert [s.heading for s in doc.answer_sections] == ["Can I ask for an assessment myself?"]
    assert "parents-ask" not in doc.body and "can i apply myself" not in doc.sections[0].text


@pytest.mark.parametrize(("lines", "extra", "problem"), [
    (FIVE[:4], "", "4 parents' phrasings"),
    (FIVE + [f"another way to ask number {i}" for i in range(8)], "", "13 parents' phrasings"),
    (FIVE[:4] + ["x" * 601], "", "601 characters"),
    (FIVE[:4] + [FIVE[0].upper()], "", "already used"),
    (FIVE, "\nA sentence after the block.\n", "last thing"),
    (FIVE, "\n## Second question?\n\nText with no phrasings.\n", "needs one ```parents-ask block"),
    (FIVE, "\n## What we could not confirm\n\nx\n\n```parents-ask\n" + "\n".join(FIVE) + "\n```\n", "takes no"),
])
def test_phrasings_are_validated_naming_file_and_section(tmp_path, lines, extra, problem):
    path = write_doc(tmp_path, "broken.md", GOOD_FRONT.format(id="doc-b"), _body(lines, extra))
    with pytest.raises(KnowledgeError) as err:
        load_documents(tmp_path)
    assert err.value.path == path and err.value.field.startswith("section ") and problem in str(err.value)


def test_every_answer_section_of_the_knowledge_base_has_phrasings():
    docs = load_documents(ROOT / "knowledge")
    sections = [s for d in docs for s in d.answer_sections]
    assert len(sections) > 300
    assert all(5 <= len(s.phrasings) <= 12 for s in sections)


def test_abbreviations_file_is_valid_and_expands_whole_words(tmp_path):
    from guide.knowledge.abbreviations import load_abbreviations

    abbreviations = load_abbreviations(ROOT / "knowledge")
    expanded = abbreviations.expand("DS has an EHCP, the LA said no")
    assert "son" in expanded and "education health and care plan" in expanded and "council" in expanded
    assert abbreviations.expand("she was late") == "she was late"  # "LA" is matched by case and as a word
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "abbreviations.yaml").write_text("source: x\nabbreviations:\n  - {abbreviation: LA}\n")
    with pytest.raises(KnowledgeError, match="means"):
        load_abbreviations(tmp_path)


@pytest.mark.parametrize(("content", "words"), [
    (b"", "is empty"),
    (b"  \n\n", "is empty"),
    (b"## What is this?\n\nA document whose front matter was deleted.\n", "'---' line"),
    (f"---\n{GOOD_FRONT.format(id='latin')}\n---\n\n## Caf\u00e9?\n\nText.\n".encode("latin-1"), "not UTF-8"),
])
def test_a_broken_file_is_an_error_naming_it_never_skipped(tmp_path, content, words):
    write_doc(tmp_path, "good.md", GOOD_FRONT.format(id="good"))
    (tmp_path / "broken.md").write_bytes(content)
    with pytest.raises(KnowledgeError) as err:
        load_documents(tmp_path)
    assert err.value.path.name == "broken.md" and "broken.md" in str(err.value) and words in str(err.value)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = write_doc(tmp_path, "bom.md", GOOD_FRONT.format(id="with-bom"))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert [d.id for d in load_documents(tmp_path)] == ["with-bom"]


OTHER_FIVE = ["can parents ask the LA directly", "do we need the SENCO's ok to ask", "school says only they can apply",
              "who is allowed to ask for an ehcna", "can I send the request without school"]


def test_one_question_answered_in_two_documents_fails_the_check(tmp_path, capsys):
    from guide.cli import main

    write_doc(tmp_path, "a.md", GOOD_FRONT.format(id="doc-a"), _body(FIVE))
    twin = _body(OTHER_FIVE).replace("Can I ask for an assessment myself?", "How can I ask for an assessment myself?")
    write_doc(tmp_path, "b.md", GOOD_FRONT.format(id="doc-b"), twin)
    with pytest.raises(KnowledgeError, match=r"doc-a: 'Can I ask.*doc-b: 'How can I ask.*merge"):
        check(tmp_path)
    # Nearly the same question is reported for a maintainer to look at, and the check still passes.
    near = _body(OTHER_FIVE).replace("Can I ask for an assessment myself?", "Can I ask for an assessment myself at 16?")
    write_doc(tmp_path, "b.md", GOOD_FRONT.format(id="doc-b"), near)
    assert main(["--knowledge-dir", str(tmp_path), "knowledge", "check"]) == 0
    assert "WARN nearly the same question in two documents" in capsys.readouterr().out


def test_a_phrasing_under_sections_of_two_documents_fails_the_check(tmp_path):
    write_doc(tmp_path, "a.md", GOOD_FRONT.format(id="doc-a"), _body(FIVE))
    other = _body(OTHER_FIVE[:4] + [FIVE[2]]).replace("Can I ask for an assessment myself?", "Who pays for therapy?")
    write_doc(tmp_path, "b.md", GOOD_FRONT.format(id="doc-b"), other)
    with pytest.raises(KnowledgeError, match=r"DS school wont apply, can i\?.*doc-a.*doc-b"):
        check(tmp_path)
