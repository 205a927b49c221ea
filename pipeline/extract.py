"""Input side of `budgetdoc extract`: one file -> a Document holding its pages and lines.

`load_document` never raises on bad input. A file that cannot be read becomes a Document with
status `failed` and one error (see ERROR_CODES); a file read only in part becomes `partial` with
one error per problem. Every message says what was wrong and what to do about it.

What a line is, per format (Line.line_no is the locator that records carry as `line`):
- pdf: `pipeline.pdf_lines.page_lines` per page (bbox, font); line_no is None.
- txt/md: one Line per non-blank file line, text without its newline, tabs kept; pages split at
  form feeds ('\\f'), else one page; line_no is the 1-based line of the file.
- html: one Line per table row (cells joined by '\\t', colspan/rowspan padded with empty cells
  so columns stay aligned) and one per other block of text; line_no is the source line where
  the block's text starts.
- docx: one Line per paragraph (a line break inside it starts a new Line) and one per table
  row (cells joined by '\\t'); line_no is the 1-based position of the Line (docx has no lines).
"""
from __future__ import annotations

import codecs
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterator, Optional, Union
from xml.etree import ElementTree

from pipeline import config
from pipeline.model import Document, ErrorInfo, Line, Page
from pipeline.pdf_lines import normalize_text, page_lines, pymupdf  # pymupdf without its layout model

EMPTY_FILE = "empty_file"
CORRUPT_FILE = "corrupt_file"
ENCRYPTED = "encrypted"
NO_TEXT_LAYER = "no_text_layer"
TOO_LARGE = "too_large"
UNSUPPORTED_FORMAT = "unsupported_format"
NOT_A_DISCLOSURE = "not_a_disclosure"
INTERNAL_ERROR = "internal_error"
TIMEOUT = "timeout"
ERROR_CODES: tuple[str, ...] = (
    EMPTY_FILE, CORRUPT_FILE, ENCRYPTED, NO_TEXT_LAYER, TOO_LARGE, UNSUPPORTED_FORMAT,
    NOT_A_DISCLOSURE, INTERNAL_ERROR, TIMEOUT,
)

# A budget disclosure names at least one of these somewhere; a text without any is something else.
BUDGET_VOCABULARY: tuple[str, ...] = (
    "预算", "决算", "支出", "收入", "绩效", "财政", "拨款", "经费", "三公", "部门预算",
)

_HASH_CHUNK = 1 << 20
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


class InputRejected(Exception):
    """A reader's verdict that a file cannot be extracted (code + actionable message)."""

    def __init__(self, code: str, message: str, page_count: Optional[int] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.page_count = page_count


@dataclass
class ReadResult:
    pages: list[Page]
    warnings: list[ErrorInfo] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def document_id(path: Path) -> str:
    """sha256 of the file's bytes; of its path when it cannot be read (still stable per path)."""
    try:
        return file_sha256(path)
    except OSError:
        return hashlib.sha256(str(path).encode("utf-8")).hexdigest()


def format_of(path: Path) -> Optional[str]:
    """The contract format for a supported suffix, None otherwise."""
    return config.SUPPORTED_SUFFIXES.get(path.suffix.lower())


def failed_document(path: Path, doc_id: str, code: str, message: str) -> Document:
    """A failed Document for `path` built without reading it (timeouts, crashed workers)."""
    doc = Document(doc_id=doc_id, source=str(path), format=format_of(path) or "txt")
    return doc.fail(code, message)


def load_document(path: Path, *, max_bytes: int = config.MAX_FILE_BYTES,
                  max_pages: int = config.MAX_PAGES) -> Document:
    """Read one input file into a Document (pages and lines); bad input gives a failed Document."""
    path = Path(path)
    fmt = format_of(path)
    doc = Document(doc_id=document_id(path), source=str(path), format=fmt or "txt")
    if fmt is None:
        supported = " ".join(sorted(config.SUPPORTED_SUFFIXES))
        return doc.fail(UNSUPPORTED_FORMAT,
                        f"'{path.suffix or '(no suffix)'}' files are not supported (format recorded as "
                        f"'txt' because the contract has no value for it); convert the file to one of: "
                        f"{supported}")
    try:
        size = path.stat().st_size
        if size == 0:
            return doc.fail(EMPTY_FILE, "the file is empty (0 bytes); download or export it again")
        if size > max_bytes:
            return doc.fail(TOO_LARGE, f"the file has {size:,} bytes, more than the limit of "
                            f"{max_bytes:,}; split it into smaller files")
        data = path.read_bytes()
    except OSError as exc:
        return doc.fail(CORRUPT_FILE, f"the file cannot be read ({exc.strerror or exc}); "
                        "check that it exists and is readable")
    try:
        result = _READERS[fmt](data, max_pages)
    except InputRejected as rejected:
        doc.page_count = rejected.page_count
        return doc.fail(rejected.code, rejected.message)
    except Exception as exc:  # any parser failure on hostile bytes is a corrupt file, not a crash
        return doc.fail(CORRUPT_FILE, f"the {fmt} file could not be parsed ({type(exc).__name__}: {exc}); "
                        "open it in a viewer to check it and export it again")
    doc.pages = result.pages
    doc.page_count = len(result.pages)
    doc.errors.extend(result.warnings)
    if result.warnings:
        doc.status = "partial"
    _judge_content(doc, max_pages)
    return doc


def _judge_content(doc: Document, max_pages: int) -> None:
    """Document-level verdicts that hold for every format once the pages are read."""
    if len(doc.pages) > max_pages:
        doc.pages = []
        doc.fail(TOO_LARGE, f"the document has {doc.page_count} pages, more than the limit of "
                 f"{max_pages}; split it into smaller files")
        return
    if not any(page.lines for page in doc.pages):
        if doc.format == "pdf":
            # one document-level error instead of one per scanned page
            doc.errors = [e for e in doc.errors if e.code != NO_TEXT_LAYER]
            doc.fail(NO_TEXT_LAYER, f"none of the {len(doc.pages)} pages has a text layer (a scanned or "
                     "image-only PDF); re-export the PDF with a text layer or OCR it first")
        else:
            doc.fail(EMPTY_FILE, f"the {doc.format} file contains no text; check that it is the "
                     "right file and export it again")
        return
    if not _mentions_budget(doc):
        doc.warn(NOT_A_DISCLOSURE, "the text contains none of the words of a budget disclosure "
                 f"({'/'.join(BUDGET_VOCABULARY[:5])} …); it is probably not a budget or final-accounts "
                 "disclosure: check that it is the right file")


def _mentions_budget(doc: Document) -> bool:
    # NFKC first: some PDFs map 支/收 to Kangxi-radical or compatibility code points. A word found
    # in a line's NFKC text is in the normalized whole (dropping control characters cannot break
    # it): most disclosures say 预算 in their first lines, so the whole is normalized rarely.
    for line in doc.iter_lines():
        text = unicodedata.normalize("NFKC", line.text)
        if any(word in text for word in BUDGET_VOCABULARY):
            return True
    text = normalize_text(" ".join(line.text for line in doc.iter_lines()))
    return any(word in text for word in BUDGET_VOCABULARY)


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------


def read_pdf(data: bytes, max_pages: int) -> ReadResult:
    try:
        pdf = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:
        raise InputRejected(CORRUPT_FILE, f"not a readable PDF ({exc}); the file is damaged or not a "
                            "PDF: download or export it again") from exc
    with pdf:
        if not pdf.is_pdf:  # PyMuPDF sniffs content: an image or e-book named .pdf opens too
            raise InputRejected(CORRUPT_FILE, "the file is not a PDF (its content is another format, e.g. "
                                "an image); convert it to PDF or give it its proper suffix")
        if pdf.needs_pass:
            raise InputRejected(ENCRYPTED, "the PDF is encrypted and needs a password to open; "
                                "save an unprotected copy (print to PDF) and extract that",
                                page_count=pdf.page_count)
        if pdf.page_count == 0:
            raise InputRejected(CORRUPT_FILE, "the PDF has no pages; the file is damaged: download or "
                                "export it again")
        if pdf.page_count > max_pages:
            raise InputRejected(TOO_LARGE, f"the PDF has {pdf.page_count} pages, more than the limit "
                                f"of {max_pages}; split it into smaller files", page_count=pdf.page_count)
        result = ReadResult(pages=[])
        if pdf.is_repaired:
            result.warnings.append(ErrorInfo(CORRUPT_FILE, "the PDF is damaged (truncated or broken "
                                             "cross-reference table) and was repaired on reading; pages "
                                             "or text may be missing: download or export it again"))
        for index in range(pdf.page_count):
            result.pages.append(_read_pdf_page(pdf, index, result.warnings))
    return result


def _read_pdf_page(pdf: "pymupdf.Document", index: int, warnings: list[ErrorInfo]) -> Page:
    number = index + 1
    try:
        page = pdf[index]
        lines = page_lines(page, number)
        has_text_layer = bool(lines) or not _has_visible_content(page)
        out = Page(number=number, width=round(page.rect.width, 2), height=round(page.rect.height, 2),
                   lines=lines, has_text_layer=has_text_layer)
    except Exception as exc:  # one broken page must not lose the others
        warnings.append(ErrorInfo(CORRUPT_FILE, f"page {number} could not be read ({exc}); its content "
                                  "is missing: check the page in a viewer and export the PDF again", number))
        return Page(number=number, has_text_layer=False)
    if not out.has_text_layer:
        warnings.append(ErrorInfo(NO_TEXT_LAYER, f"page {number} has no text layer (a scanned image); its "
                                  "content is not extracted: re-export the PDF with a text layer or OCR "
                                  "it first", number))
    return out


def _has_visible_content(page: "pymupdf.Page") -> bool:
    """Images or vector paths on a page without text: content a reader cannot get as text."""
    return bool(page.get_image_info()) or bool(page.get_drawings())


# ---------------------------------------------------------------------------------------------
# Text and Markdown
# ---------------------------------------------------------------------------------------------


def decode_text(data: bytes, declared: Optional[str] = None) -> str:
    """Decode bytes of a text file: BOM, then the declared charset, then UTF-8, then GB18030."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data:
        raise InputRejected(CORRUPT_FILE, "the file contains binary data, not text; check that it is "
                            "the right file (or give it its proper suffix)")
    candidates = [_codec_name(declared)] if declared else []
    candidates += ["utf-8", "gb18030"]
    for encoding in candidates:
        if encoding is None:
            continue
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise InputRejected(CORRUPT_FILE, "the text is neither UTF-8 nor GB18030; re-save it as UTF-8")


def _codec_name(name: Optional[str]) -> Optional[str]:
    """GB2312/GBK labels decode with their superset GB18030 (real pages mislabel often)."""
    if not name:
        return None
    name = name.strip().lower()
    return "gb18030" if name in ("gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936") else name


def read_text(data: bytes, max_pages: int) -> ReadResult:
    text = decode_text(data)
    pages = [Page(number=1)]
    for line_no, raw in enumerate(text.split("\n"), start=1):
        for part_index, part in enumerate(raw.split("\f")):
            if part_index > 0:
                pages.append(Page(number=len(pages) + 1))
                if len(pages) > max_pages:
                    raise InputRejected(TOO_LARGE, f"the file has more than {max_pages} pages (form "
                                        "feeds); split it into smaller files", page_count=len(pages))
            part = part.rstrip("\r")
            if part.strip():
                page = pages[-1]
                page.lines.append(Line(text=part, page=page.number, index=len(page.lines), line_no=line_no))
    while len(pages) > 1 and not pages[-1].lines:  # a trailing form feed opens no page
        pages.pop()
    return ReadResult(pages=pages)


def _single_page(texts: list[tuple[str, int]]) -> ReadResult:
    page = Page(number=1)
    page.lines = [Line(text=text, page=1, index=i, line_no=line_no) for i, (text, line_no) in enumerate(texts)]
    return ReadResult(pages=[page])


# ---------------------------------------------------------------------------------------------
# HTML: parse into a small tree, then render blocks and table rows as lines
# ---------------------------------------------------------------------------------------------

_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr",
                        "source", "embed", "param", "track"})
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "math", "object", "iframe"})
_BLOCK_TAGS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "blockquote",
                         "pre", "section", "article", "header", "footer", "nav", "aside", "main", "title",
                         "caption", "address", "figcaption", "figure", "ul", "ol", "dl", "form", "fieldset",
                         "legend", "center", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "body",
                         "html", "hr", "br"})
_CELL_TAGS = ("td", "th")
_ROW_GROUP_TAGS = ("thead", "tbody", "tfoot")
_MAX_SPAN = 200
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


@dataclass
class _Text:
    text: str
    line: int


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    children: list[Union["_Node", _Text]] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    """Tolerant tree building: implied end tags of cells, rows, paragraphs and list items."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self.stack: list[_Node] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self._close_implied(tag)
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return
            if self.stack[depth].tag == "table" and tag != "table":
                return  # a stray end tag must not close anything outside its table

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(_Text(data, self.getpos()[0]))

    def _close_implied(self, tag: str) -> None:
        if tag in _CELL_TAGS:
            self._pop_to(_CELL_TAGS, stop=("tr", "table"))
        elif tag == "tr":
            self._pop_to(("tr",), stop=("table",))
        elif tag in _ROW_GROUP_TAGS:
            self._pop_to(_ROW_GROUP_TAGS, stop=("table",))
        elif tag == "li":
            self._pop_to(("li",), stop=("ul", "ol"))
        elif tag == "p" and self.stack[-1].tag == "p":
            self.stack.pop()

    def _pop_to(self, tags: tuple[str, ...], stop: tuple[str, ...]) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            current = self.stack[depth].tag
            if current in tags:
                del self.stack[depth:]
                return
            if current in stop:
                return


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _contains(node: _Node, tag: str) -> bool:
    return any(isinstance(c, _Node) and (c.tag == tag or _contains(c, tag)) for c in node.children)


def _span(node: _Node, name: str) -> int:
    try:
        return max(1, min(_MAX_SPAN, int(node.attrs.get(name, "1").strip() or 1)))
    except ValueError:
        return 1


class _HtmlRenderer:
    def __init__(self) -> None:
        self.lines: list[tuple[str, int]] = []
        self._buffer: list[str] = []
        self._buffer_line: Optional[int] = None

    def flush(self) -> None:
        text = _collapse("".join(self._buffer))
        if text and self._buffer_line is not None:
            self.lines.append((text, self._buffer_line))
        self._buffer, self._buffer_line = [], None

    def walk(self, node: _Node) -> None:
        for child in node.children:
            if isinstance(child, _Text):
                if self._buffer_line is None and child.text.strip():
                    self._buffer_line = child.line
                self._buffer.append(child.text)
            elif child.tag in _SKIPPED_TAGS:
                continue
            elif child.tag == "table" and not _contains(child, "table"):
                self.flush()
                self.render_table(child)
            elif child.tag in _BLOCK_TAGS:  # also a layout table: its cells are blocks
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)

    def render_table(self, table: _Node) -> None:
        covered: dict[int, int] = {}  # column -> rows still covered by a rowspan from above
        for child in _table_parts(table):
            if child.tag == "caption":
                self.walk(_Node("div", {}, [child]))
                continue
            cells, first_line = _row_cells(child, covered)
            if any(cells):
                self.lines.append(("\t".join(cells), first_line))


def _table_parts(table: _Node) -> list[_Node]:
    """Caption and rows of a table in order, looking through thead/tbody/tfoot."""
    parts: list[_Node] = []
    for child in table.children:
        if not isinstance(child, _Node):
            continue
        if child.tag in ("tr", "caption"):
            parts.append(child)
        elif child.tag not in _CELL_TAGS:
            parts.extend(_table_parts(child))
    return parts


def _row_cells(row: _Node, covered: dict[int, int]) -> tuple[list[str], int]:
    cells: list[str] = []
    first_line = 0

    def fill_covered() -> None:
        while covered.get(len(cells), 0) > 0:
            covered[len(cells)] -= 1
            cells.append("")

    for cell in _cells_of(row):
        fill_covered()
        texts = _texts(cell)
        if not first_line:
            first_line = next((t.line for t in texts if t.text.strip()), 0)
        start = len(cells)
        colspan, rowspan = _span(cell, "colspan"), _span(cell, "rowspan")
        cells.append(_collapse(" ".join(t.text for t in texts)))
        cells.extend([""] * (colspan - 1))
        if rowspan > 1:
            for column in range(start, start + colspan):
                covered[column] = rowspan - 1
    last_covered = max((column for column, rows in covered.items() if rows > 0), default=-1)
    while len(cells) <= last_covered:
        if covered.get(len(cells), 0) > 0:
            covered[len(cells)] -= 1
        cells.append("")
    return cells, first_line or 1


def _cells_of(node: _Node) -> list[_Node]:
    cells: list[_Node] = []
    for child in node.children:
        if isinstance(child, _Node):
            cells.extend([child] if child.tag in _CELL_TAGS else _cells_of(child))
    return cells


def _texts(node: _Node) -> list[_Text]:
    out: list[_Text] = []
    for child in node.children:
        if isinstance(child, _Text):
            out.append(child)
        elif child.tag not in _SKIPPED_TAGS:
            if child.tag in _BLOCK_TAGS:
                out.append(_Text(" ", 0))  # a block or <br> inside a cell separates words
            out.extend(_texts(child))
    return out


def read_html(data: bytes, max_pages: int) -> ReadResult:
    declared = _CHARSET.search(data[:4096])
    text = decode_text(data, declared.group(1).decode("ascii") if declared else None)
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    renderer = _HtmlRenderer()
    renderer.walk(builder.root)
    renderer.flush()
    return _single_page(renderer.lines)


# ---------------------------------------------------------------------------------------------
# DOCX: word/document.xml with the standard library
# ---------------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Fallback duplicates its mc:Choice; deleted text and field codes are not printed text.
_DOCX_IGNORED = frozenset({_MC_FALLBACK, _W + "delText", _W + "instrText", _W + "rPr", _W + "pPr",
                           _W + "tcPr", _W + "trPr", _W + "tblPr", _W + "tblGrid", _W + "sectPr"})
_DOCX_WRAPPERS = frozenset({_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "smartTag"})


def read_docx(data: bytes, max_pages: int) -> ReadResult:
    if data.startswith(_OLE_MAGIC):
        if _OOXML_ENCRYPTED_STREAM in data:
            raise InputRejected(ENCRYPTED, "the Word document is password-protected; save an unprotected "
                                "copy and extract that")
        raise InputRejected(CORRUPT_FILE, "this is a legacy Word .doc file, not .docx; open it in Word or "
                            "LibreOffice and save it as .docx")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputRejected(CORRUPT_FILE, f"not a readable .docx (not a zip archive: {exc}); the file is "
                            "damaged: export it again") from exc
    with archive:
        try:
            info = archive.getinfo("word/document.xml")
        except KeyError as exc:
            raise InputRejected(CORRUPT_FILE, "the .docx has no word/document.xml; it is damaged or not a "
                                "Word document: export it again") from exc
        if info.file_size > config.MAX_FILE_BYTES:  # a zip bomb must not be unpacked
            raise InputRejected(TOO_LARGE, f"the document text unpacks to {info.file_size:,} bytes, more "
                                f"than the limit of {config.MAX_FILE_BYTES:,}; split it into smaller files")
        root = ElementTree.fromstring(archive.read(info))
    body = root.find(_W + "body")
    texts: list[str] = []
    if body is not None:
        _docx_blocks(body, texts)
    return _single_page([(text, i) for i, text in enumerate(texts, start=1)])


def _docx_blocks(element: ElementTree.Element, out: list[str]) -> None:
    for child in element:
        if child.tag in _DOCX_IGNORED:
            continue
        if child.tag == _W + "p":
            pieces: list[str] = []
            _docx_text(child, pieces)
            out.extend(part.strip() for part in "".join(pieces).split("\n") if part.strip())
        elif child.tag == _W + "tbl":
            for row in _docx_children(child, _W + "tr"):
                cells = _docx_row_cells(row)
                if any(cells):
                    out.append("\t".join(cells))
        else:  # sdt, customXml, smartTag...: containers of paragraphs and tables
            _docx_blocks(child, out)


def _docx_children(element: ElementTree.Element, tag: str) -> Iterator[ElementTree.Element]:
    """Children with `tag` in order, also when wrapped in content controls or custom XML."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag in _DOCX_WRAPPERS:
            yield from _docx_children(child, tag)


def _docx_row_cells(row: ElementTree.Element) -> list[str]:
    cells: list[str] = []
    before = row.find(f"{_W}trPr/{_W}gridBefore")
    if before is not None:
        cells.extend([""] * _docx_int(before, 0))
    for cell in _docx_children(row, _W + "tc"):
        pieces: list[str] = []
        _docx_text(cell, pieces)  # nested tables and several paragraphs flatten into one cell
        cells.append(_collapse("".join(pieces)))
        span = cell.find(f"{_W}tcPr/{_W}gridSpan")
        if span is not None:
            cells.extend([""] * (_docx_int(span, 1) - 1))
    return cells


def _docx_int(element: ElementTree.Element, default: int) -> int:
    try:
        return max(0, min(_MAX_SPAN, int(element.get(_W + "val", default))))
    except ValueError:
        return default


def _docx_text(element: ElementTree.Element, pieces: list[str]) -> None:
    """Text under an element in order: tabs kept, line breaks and inner paragraphs as '\\n'."""
    for child in element:
        tag = child.tag
        if tag in _DOCX_IGNORED:
            continue
        if tag == _W + "t":
            pieces.append(child.text or "")
        elif tag == _W + "tab":
            pieces.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            pieces.append("\n")
        elif tag == _W + "noBreakHyphen":
            pieces.append("-")
        elif tag == _W + "p":  # a text box inside a paragraph, or a paragraph of a cell
            pieces.append("\n")
            _docx_text(child, pieces)
            pieces.append("\n")
        else:
            _docx_text(child, pieces)


_READERS: dict[str, Callable[[bytes, int], ReadResult]] = {
    "pdf": read_pdf,
    "txt": read_text,
    "md": read_text,
    "html": read_html,
    "docx": read_docx,
}
