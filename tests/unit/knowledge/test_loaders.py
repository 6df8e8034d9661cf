"""Every loader on small real files, and the reasons given for files that cannot be read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from knowledge.loaders import UnreadableDocument, decode_text, load_file
from knowledge.splitting import split_documents


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def make_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Garden Guide")
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Warranty terms", level=1)
    document.add_paragraph("All tools are covered for two years.")
    document.add_heading("Claims", level=2)
    document.add_paragraph("Send a photo of the fault with your order number.")
    table = document.add_table(rows=2, cols=2)
    for row, (left, right) in zip(table.rows, [("Product", "Years"), ("YardPro mower", "5")], strict=True):
        row.cells[0].text, row.cells[1].text = left, right
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_text_file_is_one_document_titled_by_its_name(tmp_path):
    docs = load_file(write(tmp_path, "notes.txt", "Hello garden.\nSecond line."))
    assert [d.page_content for d in docs] == ["Hello garden.\nSecond line."]
    assert docs[0].metadata == {"title": "notes", "doc_type": "text"}


def test_non_utf8_text_is_decoded_with_a_detected_encoding(tmp_path):
    chinese = "退货政策：收到商品后三十天内可以申请退货，退款会在五个工作日内原路退回。" * 3
    assert load_file(write(tmp_path, "zh.txt", chinese.encode("gb18030")))[0].page_content == chinese
    french = "Les outils de jardin livrés à domicile, crème brûlée et café inclus. " * 3
    assert load_file(write(tmp_path, "fr.txt", french.encode("cp1252")))[0].page_content == french


def test_utf8_bom_is_dropped():
    assert decode_text("\ufeffhello".encode()) == "hello"


def test_binary_content_in_a_text_file_is_refused(tmp_path):
    with pytest.raises(UnreadableDocument, match="binary"):
        load_file(write(tmp_path, "blob.txt", b"\x00\x01\x02garbage\x00" * 50))


def test_markdown_is_titled_by_its_first_heading(tmp_path):
    docs = load_file(write(tmp_path, "r.md", "Intro\n\n# Returns policy\n\nText.\n\n## Refunds\n\nMore."))
    assert docs[0].metadata["title"] == "Returns policy" and docs[0].metadata["doc_type"] == "markdown"
    assert "## Refunds" in docs[0].page_content


def test_html_keeps_visible_text_and_turns_headings_into_markdown(tmp_path):
    html = """<html><head><title>Shipping | Yardstore</title><style>p {color: red}</style></head>
    <body><script>var tracking = 1;</script><h1>Shipping</h1><p>We ship to 30 countries.</p>
    <h2>Fees</h2><ul><li>Standard: 4.95</li><li>Express: 12.95</li></ul></body></html>"""
    doc = load_file(write(tmp_path, "ship.html", html))[0]
    assert doc.metadata["title"] == "Shipping | Yardstore"
    assert "# Shipping" in doc.page_content and "## Fees" in doc.page_content
    assert "Express: 12.95" in doc.page_content
    assert "tracking" not in doc.page_content and "color" not in doc.page_content


def test_html_code_blocks_become_fenced_so_their_comments_are_no_headings(tmp_path):
    html = """<html><body><h2>How do I install it?</h2><p>As root:</p>
    <pre><span># apt install hello</span>\n# hello</pre><p>Done.</p><h2>Next question?</h2><p>Yes.</p></body></html>"""
    doc = load_file(write(tmp_path, "faq.html", html))[0]
    assert "```\n# apt install hello\n# hello\n```" in doc.page_content
    chunks = split_documents([doc])
    assert [c.metadata["heading"] for c in chunks] == ["How do I install it?", "Next question?"]
    assert "Done." in chunks[0].page_content


def test_pdf_gives_one_document_per_page_with_page_numbers(tmp_path):
    path = write(tmp_path, "guide.pdf", make_pdf(["Prune roses in early spring.", "Water lawns at dawn."]))
    docs = load_file(path)
    assert [d.metadata["page"] for d in docs] == [1, 2]
    assert "Prune roses" in docs[0].page_content and "Water lawns" in docs[1].page_content
    assert docs[0].metadata["title"] == "Garden Guide" and docs[0].metadata["doc_type"] == "pdf"


def test_docx_keeps_headings_paragraphs_and_tables_in_order(tmp_path):
    doc = load_file(write(tmp_path, "terms.docx", make_docx()))[0]
    text = doc.page_content
    assert text.index("# Warranty terms") < text.index("two years") < text.index("## Claims")
    assert "YardPro mower | 5" in text
    assert doc.metadata["title"] == "Warranty terms"


def test_csv_faq_rows_become_documents_with_the_question_in_metadata(tmp_path):
    csv_text = "Question;Answer\nDo you ship abroad?;Yes, to 30 countries.\nEmpty answer?;\n"
    docs = load_file(write(tmp_path, "faq.csv", csv_text))
    assert len(docs) == 1
    assert docs[0].page_content == "Do you ship abroad?\nYes, to 30 countries."
    assert docs[0].metadata == {
        "title": "Do you ship abroad?",
        "doc_type": "faq",
        "row": 2,
        "question": "Do you ship abroad?",
    }


def test_jsonl_faq_and_answer_only_rows(tmp_path):
    lines = [
        {"question": "如何退货？", "answer": "30天内可以退货。"},
        {"answer": "Answer without a question."},
    ]
    docs = load_file(write(tmp_path, "faq.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)))
    assert [d.metadata.get("question") for d in docs] == ["如何退货？", None]
    assert docs[1].page_content == "Answer without a question." and docs[1].metadata["row"] == 2


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 this is not a zip archive", "not a readable DOCX"),
        ("bad.jsonl", '{"question": "ok", "answer": "fine"}\n{not json}\n', "line 2 is not valid JSON"),
        ("cols.csv", "title,body\nA,B\n", "no answer column"),
        ("image.png", b"\x89PNG\r\n", "unsupported file type '.png'"),
    ],
)
def test_unreadable_files_raise_with_the_reason(tmp_path, name, data, reason):
    path = write(tmp_path, name, data)
    with pytest.raises(UnreadableDocument, match=reason) as caught:
        load_file(path)
    assert caught.value.path == str(path)
