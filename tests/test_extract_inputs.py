"""load_document over real inputs: the seed texts and files generated in conftest.py."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline import config
from pipeline.extract import (
    CORRUPT_FILE,
    EMPTY_FILE,
    ENCRYPTED,
    NO_TEXT_LAYER,
    NOT_A_DISCLOSURE,
    TOO_LARGE,
    UNSUPPORTED_FORMAT,
    load_document,
)
from pipeline.output import validate_contract

# name in conftest.input_files -> (status, error codes in order, contract format)
EXPECTED = {
    "pdf_two_pages": ("ok", [], "pdf"),
    "pdf_truncated": ("failed", [CORRUPT_FILE], "pdf"),
    "pdf_half": ("partial", [CORRUPT_FILE], "pdf"),
    "pdf_encrypted": ("failed", [ENCRYPTED], "pdf"),
    "pdf_image_only": ("failed", [NO_TEXT_LAYER], "pdf"),
    "pdf_mixed": ("partial", [NO_TEXT_LAYER], "pdf"),
    "pdf_not_a_pdf": ("failed", [CORRUPT_FILE], "pdf"),
    "empty_txt": ("failed", [EMPTY_FILE], "txt"),
    "blank_txt": ("failed", [EMPTY_FILE], "txt"),
    "txt_form_feeds": ("ok", [], "txt"),
    "txt_gb18030": ("ok", [], "txt"),
    "txt_not_disclosure": ("partial", [NOT_A_DISCLOSURE], "md"),
    "html_table": ("ok", [], "html"),
    "docx_table": ("ok", [], "docx"),
    "docx_corrupt": ("failed", [CORRUPT_FILE], "docx"),
    "xlsx_unsupported": ("failed", [UNSUPPORTED_FORMAT], "txt"),
}

SEED_NONBLANK_LINES = {
    "000_c33f9f66877ba6d3.txt": 2239,
    "001_f49da458a1f6b9c9.txt": 461,
    "002_c4f73283edd28974.txt": 354,
}


def _texts(doc) -> list[str]:
    return [line.text for line in doc.iter_lines()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_input_gives_a_contract_valid_document_with_the_right_verdict(input_files, name):
    path = input_files[name]
    doc = load_document(path)
    status, codes, fmt = EXPECTED[name]
    contract = doc.to_contract()
    assert validate_contract(contract) == []
    assert (contract["status"], [e["code"] for e in contract["errors"]], contract["format"]) == (status, codes, fmt)
    assert contract["doc_id"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert contract["source"] == str(path)
    if status == "failed":
        assert not list(doc.iter_lines()) or codes == [NO_TEXT_LAYER]


def test_failure_messages_say_what_to_do(input_files):
    advice = {
        "pdf_image_only": "OCR it first",
        "pdf_encrypted": "unprotected copy",
        "pdf_truncated": "export it again",
        "xlsx_unsupported": "format recorded as 'txt'",
        "empty_txt": "0 bytes",
    }
    for name, phrase in advice.items():
        message = load_document(input_files[name]).errors[0].message
        assert phrase in message, (name, message)


def test_pdf_lines_carry_page_bbox_and_font(input_files):
    doc = load_document(input_files["pdf_two_pages"])
    assert [p.number for p in doc.pages] == [1, 2]
    assert all(p.has_text_layer and (p.width, p.height) == (595, 842) for p in doc.pages)
    first = doc.pages[0].lines
    assert [line.text for line in first][:2] == ["2022年部门预算收支总表", "单位：万元"]
    assert [line.index for line in first] == list(range(len(first)))
    for line in doc.iter_lines():
        x0, y0, x1, y1 = line.bbox
        assert 0 <= x0 < x1 <= 595 and 0 <= y0 < y1 <= 842
        assert line.font and line.size and line.line_no is None
    assert first[0].size > first[1].size  # the title was drawn larger
    assert doc.pages[1].lines[0].page == 2 and "5839.26万元" in doc.pages[1].lines[1].text


def test_image_only_page_among_text_pages_is_flagged_with_its_page(input_files):
    doc = load_document(input_files["pdf_mixed"])
    assert [p.has_text_layer for p in doc.pages] == [True, False]
    assert [(e.code, e.page) for e in doc.errors] == [(NO_TEXT_LAYER, 2)]
    assert len(doc.pages[0].lines) == len([t for t in _texts(doc)]) == 5


def test_half_a_pdf_keeps_what_could_be_read(input_files):
    doc = load_document(input_files["pdf_half"])
    assert doc.status == "partial" and "repaired" in doc.errors[0].message
    assert "2022年部门预算收支总表" in _texts(doc)


@pytest.mark.parametrize("seed", sorted(SEED_NONBLANK_LINES))
def test_seed_text_gives_one_line_per_nonblank_file_line(seed):
    path = config.SEEDS_DIR / seed
    file_lines = path.read_text(encoding="utf-8").split("\n")
    doc = load_document(path)
    lines = list(doc.iter_lines())
    assert (doc.status, doc.format, len(doc.pages)) == ("ok", "txt", 1)
    assert len(lines) == SEED_NONBLANK_LINES[seed]
    for line in lines:
        assert line.text == file_lines[line.line_no - 1] and line.bbox is None
    assert [line.index for line in lines] == list(range(len(lines)))


def test_seed_tabs_and_leading_spaces_are_kept():
    doc = load_document(config.SEEDS_DIR / "001_f49da458a1f6b9c9.txt")
    row = next(line for line in doc.iter_lines() if line.text.startswith("12\t2101202\t"))
    assert row.cells[2] == "财政对城乡居民基本医疗保险基金的补助" and row.cells[3] == "16448.00"
    header = load_document(config.SEEDS_DIR / "000_c33f9f66877ba6d3.txt").pages[0].lines[0]
    assert header.text == " 2022 年部门预算公开表" and header.line_no == 1


def test_form_feeds_split_pages_and_line_numbers_count_file_lines(input_files):
    doc = load_document(input_files["txt_form_feeds"])
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    assert [[(line.text, line.line_no) for line in p.lines] for p in doc.pages] == [
        [("部门预算收支总表", 1), ("单位：万元", 2)],
        [("第二页\t5807.26", 3)],
        [],
        [("第四页 支出", 5)],
    ]


def test_gb18030_text_is_decoded(input_files):
    assert _texts(load_document(input_files["txt_gb18030"])) == ["部门预算收入总表", "单位：万元", "合计\t5839.26"]


def test_html_table_rows_become_tab_joined_lines_aligned_under_merged_cells(input_files):
    doc = load_document(input_files["html_table"])
    texts = _texts(doc)
    assert texts[:3] == ["平乡县医疗保障局2022年部门预算公开", "部门预算收支总表", "单位：万元 预算年度：2022"]
    assert "收入\t\t支出\t" in texts  # colspan=2 pads one empty cell
    assert "一、一般公共预算拨款收入\t5807.26\t一、一般公共服务支出\t" in texts
    assert "\t\t二、社会保障和就业支出\t32.00" in texts  # rowspan=2 from the row above
    assert "收入总计\t5839.26\t支出总计\t5839.26" in texts  # unclosed <td>/<tr>
    assert texts[-2:] == ["注：本表为空表的，空表列示。", "第二行说明"]
    assert not any("var budget" in t or "color" in t for t in texts)
    html_lines = input_files["html_table"].read_text(encoding="utf-8").split("\n")
    for line in doc.iter_lines():
        first_cell = next(cell for cell in line.cells if cell)
        assert first_cell[:4] in html_lines[line.line_no - 1]  # line_no points at the source line


def test_docx_paragraphs_breaks_tabs_and_table_rows(input_files):
    doc = load_document(input_files["docx_table"])
    assert _texts(doc) == [
        "元氏县医疗保障局2020年部门预算信息公开",
        "一、部门预算收支总表",
        "单位：万元",
        "收入合计\t17746.67",
        "收入\t\t支出\t",
        "一、一般公共预算拨款收入\t17746.67\t一、一般公共服务支出\t",
        "二、部门预算安排的总体情况",
    ]
    assert [line.line_no for line in doc.iter_lines()] == list(range(1, 8))


def test_limits_on_bytes_and_pages(input_files):
    by_bytes = load_document(input_files["pdf_two_pages"], max_bytes=100)
    by_pages = load_document(input_files["pdf_two_pages"], max_pages=1)
    by_form_feeds = load_document(input_files["txt_form_feeds"], max_pages=2)
    for doc in (by_bytes, by_pages, by_form_feeds):
        assert (doc.status, [e.code for e in doc.errors]) == ("failed", [TOO_LARGE])
        assert "split it" in doc.errors[0].message and validate_contract(doc.to_contract()) == []
    assert by_pages.to_contract()["pages"] == 2


def test_unreadable_path_is_a_failed_document_not_an_exception(tmp_path: Path):
    folder = tmp_path / "a_folder.txt"
    folder.mkdir()
    doc = load_document(folder)
    assert (doc.status, doc.errors[0].code) == ("failed", CORRUPT_FILE)
    assert validate_contract(doc.to_contract()) == []


def test_legacy_word_file_is_rejected_with_advice(tmp_path: Path):
    # the 8-byte OLE compound-file signature that .doc (and encrypted .docx) files start with
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    legacy, encrypted = tmp_path / "old.docx", tmp_path / "locked.docx"
    legacy.write_bytes(ole)
    encrypted.write_bytes(ole + "EncryptedPackage".encode("utf-16-le"))
    assert [e.code for e in load_document(legacy).errors] == [CORRUPT_FILE]
    assert "save it as .docx" in load_document(legacy).errors[0].message
    assert [e.code for e in load_document(encrypted).errors] == [ENCRYPTED]


def test_html_layout_table_and_declared_gb2312_charset(tmp_path: Path):
    page = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>
<table width=100%><tr><td>
<p>一、部门预算收支总表</p>
<table><tr><td>科目编码</td><td>科目名称<br>（款）</td><td>合计</td></tr>
<tr><td>2101202</td><td>财政对城乡居民基本医疗保险基金的补助</td><td>16448.00</td></tr></table>
<p>二、说明</p></td></tr></table>
<ul><li>第一项<li>第二项</ul>
</body></html>"""
    path = tmp_path / "layout.htm"
    path.write_bytes(page.encode("gb18030"))
    doc = load_document(path)
    assert doc.format == "html"
    # the outer (layout) table is a container of blocks; the inner one is a data table
    assert [(line.text, line.line_no) for line in doc.iter_lines()] == [
        ("一、部门预算收支总表", 3),
        ("科目编码\t科目名称 （款）\t合计", 4),
        ("2101202\t财政对城乡居民基本医疗保险基金的补助\t16448.00", 5),
        ("二、说明", 6),
        ("第一项", 7),
        ("第二项", 7),
    ]


def _annotation_rows(path: Path) -> list[dict]:
    import json

    return [json.loads(raw) for raw in path.read_text(encoding="utf-8").splitlines() if raw.strip()]


@pytest.mark.parametrize("annotation", sorted((config.ANNOTATIONS_DIR / "seeds").glob("*.jsonl")), ids=lambda p: p.stem)
def test_seed_annotations_were_made_from_exactly_these_lines(annotation: Path):
    header, *pages = _annotation_rows(annotation)
    doc = load_document(config.SHARED_DIR / header["source"])
    assert doc.doc_id == header["source_sha256"]
    assert [(line["text"], line["line_no"]) for page in pages for line in page["lines"]] == \
           [(line.text, line.line_no) for line in doc.iter_lines()]


def test_synth_pdf_lines_are_the_lines_its_annotation_labels(tmp_path: Path):
    from training.synth import generate

    (pdf,) = generate(1, tmp_path, seed=11, progress=False)
    header, *pages = _annotation_rows(pdf.with_suffix(".jsonl"))
    doc = load_document(pdf)
    assert (doc.status, doc.doc_id, len(doc.pages)) == ("ok", header["source_sha256"], len(pages))
    for page in pages:
        loaded = doc.pages[page["page"] - 1]
        assert (loaded.width, loaded.height) == (page["width"], page["height"])
        assert [(line["text"], line["bbox"]) for line in page["lines"]] == \
               [(line.text, list(line.bbox)) for line in loaded.lines]
