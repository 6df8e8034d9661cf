"""Heading-aware splitting and the metadata every chunk carries."""

from __future__ import annotations

from langchain_core.documents import Document

from knowledge.splitting import (
    SPLITTER_VERSION,
    SplitOptions,
    content_hash,
    embedding_text,
    markdown_sections,
    split_documents,
)


def markdown(text: str) -> Document:
    return Document(page_content=text, metadata={"title": "Returns", "doc_type": "markdown"})


def test_markdown_chunks_follow_headings_and_carry_the_heading_path():
    doc = markdown("# Returns\n\nWithin 30 days.\n\n## Refunds\n\nIn 5 days.\n\n## Exchanges\n\nAny time.")
    chunks = split_documents([doc])
    assert [c.metadata["heading"] for c in chunks] == ["Returns", "Returns > Refunds", "Returns > Exchanges"]
    assert chunks[1].page_content == "In 5 days."  # the heading line lives in the metadata


def test_chunks_are_numbered_counted_and_hashed():
    chunks = split_documents([markdown("# A\n\none\n\n## B\n\ntwo")])
    assert [c.metadata["chunk_index"] for c in chunks] == [0, 1]
    assert {c.metadata["chunk_count"] for c in chunks} == {2}
    assert chunks[0].metadata["content_hash"] == content_hash(chunks[0].page_content)
    assert chunks[0].metadata["content_hash"] != chunks[1].metadata["content_hash"]


def test_long_sections_are_cut_below_the_chunk_size_with_overlap():
    sentences = " ".join(f"Sentence number {i} talks about garden hoses." for i in range(60))
    chunks = split_documents([markdown(f"# Hoses\n\n{sentences}")], SplitOptions(chunk_size=300, chunk_overlap=60))
    assert len(chunks) > 5
    assert all(len(c.page_content) <= 300 for c in chunks)
    assert all(c.metadata["heading"] == "Hoses" for c in chunks)
    first_words_of_second = chunks[1].page_content.split()[:3]
    assert " ".join(first_words_of_second) in chunks[0].page_content  # overlap


def test_chinese_text_is_cut_at_sentence_punctuation():
    text = "。".join(f"第{i}条：退货需要保留原包装" for i in range(80)) + "。"
    doc = Document(page_content=text, metadata={"title": "zh", "doc_type": "text"})
    chunks = split_documents([doc], SplitOptions(chunk_size=200, chunk_overlap=0))
    assert len(chunks) > 3 and all(c.page_content.endswith("。") for c in chunks[:-1])


def test_faq_rows_stay_whole_and_use_the_question_as_heading():
    long_answer = "word " * 400
    doc = Document(page_content=f"Q?\n{long_answer}", metadata={"doc_type": "faq", "question": "Q?", "title": "Q?"})
    chunks = split_documents([doc], SplitOptions(chunk_size=200))
    assert len(chunks) == 1 and chunks[0].metadata["heading"] == "Q?"


def test_embedding_text_puts_a_lost_heading_back_in_front():
    middle = Document(page_content="Card refunds can take 3 more days.", metadata={"heading": "Returns > Refunds"})
    assert embedding_text(middle) == "Returns > Refunds\nCard refunds can take 3 more days."
    first = Document(page_content="## Refunds\nIn 5 days.", metadata={"heading": "Returns > Refunds"})
    assert embedding_text(first) == first.page_content


def test_whitespace_only_documents_give_no_chunks():
    assert split_documents([Document(page_content="  \n\n ", metadata={"doc_type": "text"})]) == []


FAQ_CHAPTER = """# Installing

## How do I install a package?

Run this as root:

    # apt install hello
    # hello --version

That is all.

## How do I remove it?

```
# apt remove hello
```

Then check:
"""


def test_comment_and_root_prompt_lines_in_code_are_not_headings():
    chunks = split_documents([markdown(FAQ_CHAPTER)])
    assert [c.metadata["heading"] for c in chunks] == [
        "Installing > How do I install a package?",
        "Installing > How do I remove it?",
    ]
    assert (
        "    # apt install hello\n    # hello --version\n\nThat is all." in chunks[0].page_content
    )  # indentation kept
    assert chunks[1].page_content.startswith("```\n# apt remove hello\n```")


def test_setext_headings_start_sections_but_list_items_and_code_do_not():
    text = "Chapter\n=======\n\nIntro.\n\nWhat is it?\n-----------\n\nA thing.\n\n- item\n---\n\n    code\n    ---\n"
    sections = markdown_sections(text)
    assert [path for path, _ in sections] == [["Chapter"], ["Chapter", "What is it?"]]
    assert "- item" in sections[1][1] and "    code" in sections[1][1]


def test_the_split_signature_names_the_rules_and_sizes():
    assert SplitOptions().signature() == f"splitter={SPLITTER_VERSION};size=800;overlap=120"
    assert SplitOptions(chunk_size=300).signature() != SplitOptions().signature()
