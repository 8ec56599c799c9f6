"""The model letters and the list of councils are knowledge a maintainer edits: validated by `guide knowledge
check`, each mistake a KnowledgeError naming the file; and never indexed as answer text."""

from __future__ import annotations

import shutil

import pytest

from guide.knowledge.authorities import load_authorities
from guide.knowledge.check import check, run_check
from guide.knowledge.documents import KnowledgeError, load_documents
from guide.knowledge.letters import load_letters

from ..conftest import ROOT


def test_the_real_letters_and_councils_are_valid():
    letters = load_letters(ROOT / "knowledge")
    assert len(letters) >= 6
    assert all(letter.sources and letter.law for letter in letters)
    councils = load_authorities(ROOT / "knowledge" / "data" / "local-authorities.yaml")
    assert len(councils.authorities) == 153
    assert councils.source.url.startswith("https://")


def test_letters_and_data_are_not_documents():
    ids = {d.id for d in load_documents(ROOT / "knowledge")}
    assert not ids & {x.id for x in load_letters(ROOT / "knowledge")}
    folders = {d.path.relative_to(ROOT / "knowledge").parts[0] for d in load_documents(ROOT / "knowledge")}
    assert folders == {"guidance", "inspections"}


@pytest.fixture()
def kb(tmp_path):
    kb = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", kb)
    return kb


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("old, new, problem", [
    ("{{child_name}}, born", "{{childs_name}}, born", "gap {{childs_name}} is not one of the fields"),
    ("sources:\n", "old_sources:\n", "must list the law the letter relies on"),
    ("{{needs}}", "{{needs", "unclosed"),
    ("  - {name: school, label", "  - {name: unused, label: \"a field no gap uses\"}\n  - {name: school, label",
     "unused never appear in the letter"),
])
def test_a_broken_letter_is_named(kb, capsys, old, new, problem):
    path = kb / "letters" / "ehc-needs-assessment-request.md"
    _edit(path, old, new)
    with pytest.raises(KnowledgeError) as err:
        load_letters(kb)
    assert err.value.path == path and problem in str(err.value)
    assert run_check(kb) == 1
    assert "ehc-needs-assessment-request.md" in capsys.readouterr().out


@pytest.mark.parametrize("old, new, problem", [
    ("  - {name: Rutland, type: unitary}\n", "  - {name: Rutland, type: unitary}\n  - {name: Rutland, type: unitary}\n",
     "'Rutland' is listed twice"),
    ("  url: https://geoportal.statistics.gov.uk/\n", "", "source.url"),
    ("  - {name: Rutland, type: unitary}\n", "  - {type: unitary}\n", "name"),
    ("  - {name: Rutland, type: unitary}\n", "  - {name: Rutland, type: parish}\n", "must be one of"),
])
def test_a_broken_council_list_is_named(kb, old, new, problem):
    path = kb / "data" / "local-authorities.yaml"
    _edit(path, old, new)
    with pytest.raises(KnowledgeError) as err:
        load_authorities(path)
    assert err.value.path == path and problem in str(err.value)
    assert run_check(kb) == 1


@pytest.mark.parametrize("old, new, problem", [
    ("doc: requesting-an-ehc-needs-assessment", "doc: no-such-document", "no knowledge document has id"),
    ('heading: "What should my request letter say?"', 'heading: "What should my letter say?"',
     "has no answer section headed"),
    ('  heading: "What should my request letter say?"\n', "", "must be {doc"),
])
def test_a_letter_must_name_a_real_section_that_explains_it(kb, old, new, problem):
    path = kb / "letters" / "ehc-needs-assessment-request.md"
    _edit(path, old, new)
    assert run_check(kb) == 1
    with pytest.raises(KnowledgeError) as err:
        check(kb)
    assert err.value.path == path and problem in str(err.value)
