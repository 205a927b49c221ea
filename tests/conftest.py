"""Shared fixtures: small real input files generated once per session.

`input_files` is a folder of generated disclosures and bad inputs (name -> path):
  pdf_two_pages      2-page PDF, CJK budget table text drawn with PyMuPDF's built-in CJK font
  pdf_truncated      the first quarter of a PDF's bytes (cannot be opened)
  pdf_half           the first half of a PDF's bytes (opens repaired, content missing)
  pdf_encrypted      AES-256 encrypted PDF needing a user password
  pdf_image_only     one page with an image and no text (a scan)
  pdf_mixed          page 1 text, page 2 image only
  pdf_not_a_pdf      PNG bytes named .pdf
  empty_txt          zero bytes
  blank_txt          whitespace only
  txt_form_feeds     three pages separated by form feeds, CRLF line ends
  txt_gb18030        a budget text encoded GB18030
  txt_not_disclosure a recipe
  html_table         HTML page with a budget table (colspan, rowspan, entities, script)
  docx_table         DOCX built with zipfile: paragraphs, a line break, a tab, a table with gridSpan
  docx_corrupt       random bytes named .docx
  xlsx_unsupported   a file with an unsupported suffix
Add new inputs through `_build_inputs` so every test sees the same files.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import pymupdf
import pytest

CJK_FONT = "china-s"  # PyMuPDF's built-in Simplified Chinese font: no font file needed

PDF_PAGE_TEXTS: list[list[str]] = [
    ["2022年部门预算收支总表", "单位：万元", "一、一般公共预算拨款收入", "5807.26",
     "2101202 财政对城乡居民基本医疗保险基金的补助 16448.00"],
    ["二、部门预算安排的总体情况", "2022年预算收入 5839.26万元，支出 5839.26万元。"],
]


def _png_bytes(size: int = 48) -> bytes:
    pixmap = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, size, size), 0)
    pixmap.clear_with(180)
    return pixmap.tobytes("png")


def make_text_pdf(pages: list[list[str]]) -> bytes:
    pdf = pymupdf.open()
    for texts in pages:
        page = pdf.new_page(width=595, height=842)
        for row, text in enumerate(texts):
            page.insert_text((72, 80 + 24 * row), text, fontname=CJK_FONT, fontsize=12 if row else 16)
    data = pdf.tobytes()
    pdf.close()
    return data


def make_image_pdf(text_pages: list[list[str]], image_pages: int) -> bytes:
    """Text pages first, then pages holding only an image (as a scanner would produce)."""
    pdf = pymupdf.open(stream=make_text_pdf(text_pages), filetype="pdf") if text_pages else pymupdf.open()
    png = _png_bytes()
    for _ in range(image_pages):
        page = pdf.new_page(width=595, height=842)
        page.insert_image(pymupdf.Rect(50, 50, 545, 792), stream=png)
    data = pdf.tobytes()
    pdf.close()
    return data


def make_encrypted_pdf() -> bytes:
    pdf = pymupdf.open(stream=make_text_pdf(PDF_PAGE_TEXTS), filetype="pdf")
    data = pdf.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner-pw", user_pw="user-pw")
    pdf.close()
    return data


HTML_TABLE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>平乡县医疗保障局2022年部门预算公开</title>
<script>var budget = "预算 not text";</script><style>td { color: red; }</style></head>
<body>
<h1>部门预算收支总表</h1>
<p>单位：万元&nbsp;&nbsp;预算年度：2022</p>
<table border="1">
  <tr><th colspan="2">收入</th><th colspan="2">支出</th></tr>
  <tr><td>项目</td><td>预算数</td><td>项目</td><td>预算数</td></tr>
  <tr><td rowspan="2">一、一般公共预算拨款收入</td><td rowspan="2">5807.26</td><td>一、一般公共服务支出</td><td></td></tr>
  <tr><td>二、社会保障和就业支出</td><td>32.00</td></tr>
  <tr><td>收入总计<td>5839.26<td>支出总计<td>5839.26
</table>
<div>注：本表为空表的，<b>空表列示</b>。<br>第二行说明</div>
</body></html>
"""

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_paragraph(*runs: str) -> str:
    parts = []
    for run in runs:
        if run == "\t":
            parts.append("<w:r><w:tab/></w:r>")
        elif run == "\n":
            parts.append("<w:r><w:br/></w:r>")
        else:
            parts.append(f'<w:r><w:t xml:space="preserve">{run}</w:t></w:r>')
    return f"<w:p>{''.join(parts)}</w:p>"


def _docx_cell(text: str, span: int = 1) -> str:
    props = f'<w:tcPr><w:gridSpan w:val="{span}"/></w:tcPr>' if span > 1 else ""
    return f"<w:tc>{props}{_docx_paragraph(text) if text else '<w:p/>'}</w:tc>"


def make_docx() -> bytes:
    body = "".join([
        _docx_paragraph("元氏县医疗保障局2020年部门预算信息公开"),
        _docx_paragraph("一、部门预算收支总表", "\n", "单位：万元"),
        _docx_paragraph("收入合计", "\t", "17746.67"),
        "<w:p/>",
        "<w:tbl><w:tblPr/>",
        f"<w:tr>{_docx_cell('收入', 2)}{_docx_cell('支出', 2)}</w:tr>",
        f"<w:tr>{_docx_cell('一、一般公共预算拨款收入')}{_docx_cell('17746.67')}"
        f"{_docx_cell('一、一般公共服务支出')}{_docx_cell('')}</w:tr>",
        "</w:tbl>",
        _docx_paragraph("二、部门预算安排的总体情况"),
        '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr>',
    ])
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f'<w:document xmlns:w="{_W_NS}"><w:body>{body}</w:body></w:document>')
    content_types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                     'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                     'officedocument.wordprocessingml.document.main+xml"/></Types>')
    from io import BytesIO

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def _build_inputs(folder: Path) -> dict[str, Path]:
    two_pages = make_text_pdf(PDF_PAGE_TEXTS)
    contents: dict[str, tuple[str, bytes]] = {
        "pdf_two_pages": ("budget_two_pages.pdf", two_pages),
        "pdf_truncated": ("truncated.pdf", two_pages[: len(two_pages) // 4]),
        "pdf_half": ("half.pdf", two_pages[: len(two_pages) // 2]),
        "pdf_encrypted": ("encrypted.pdf", make_encrypted_pdf()),
        "pdf_image_only": ("scanned.pdf", make_image_pdf([], image_pages=2)),
        "pdf_mixed": ("mixed.pdf", make_image_pdf(PDF_PAGE_TEXTS[:1], image_pages=1)),
        "pdf_not_a_pdf": ("picture.pdf", _png_bytes()),
        "empty_txt": ("empty.txt", b""),
        "blank_txt": ("blank.txt", b"  \n\t\n\n"),
        "txt_form_feeds": ("pages.txt", "部门预算收支总表\r\n单位：万元\r\n\f第二页\t5807.26\r\n\r\n"
                           "\f\f第四页 支出\r\n".encode("utf-8")),
        "txt_gb18030": ("gbk.txt", "部门预算收入总表\n单位：万元\n合计\t5839.26\n".encode("gb18030")),
        "txt_not_disclosure": ("recipe.md", "# 红烧肉\n\n五花肉 500 克，冰糖 30 克。\n小火慢炖一小时。\n".encode("utf-8")),
        "html_table": ("budget.html", HTML_TABLE.encode("utf-8")),
        "docx_table": ("budget.docx", make_docx()),
        "docx_corrupt": ("broken.docx", bytes(range(256)) * 4),
        "xlsx_unsupported": ("budget.xlsx", b"PK\x03\x04 not really a spreadsheet"),
    }
    paths: dict[str, Path] = {}
    for key, (name, data) in contents.items():
        path = folder / name
        path.write_bytes(data)
        paths[key] = path
    return paths


@pytest.fixture(scope="session")
def input_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _build_inputs(tmp_path_factory.mktemp("inputs"))
