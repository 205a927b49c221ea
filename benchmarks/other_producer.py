"""The real seed disclosures as PDFs from another producer: HTML tables printed by headless Chromium.

Real disclosures come from Excel, WPS, Word and web pages, not from budgetdoc's generator. This
check rewrites the tab-separated seed texts (001 and 002) as the HTML page a disclosure site would
show (tab-separated lines as ruled tables, blank lines dropped, short lines ending in 表 as
centred titles, the rest as paragraphs), prints it to PDF with headless Chromium (Skia's PDF writer, a CJK system font),
extracts the PDF and the original text with the same models, and scores both against the seeds'
hand annotations. The shipped models were trained on the seed texts, so the text figures are no
held-out accuracy: the point is the gap between two formats of the same content, that is, how much
the PDF path owes to the look of the generator's PDFs.

    apt-get install chromium fonts-wqy-microhei     # Debian; any CJK font will do
    python benchmarks/other_producer.py              # writes benchmarks/other_producer.md
"""
from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from pipeline import config  # noqa: E402
from training.score_output import score  # noqa: E402

SEEDS = ("001_", "002_")  # the tab-separated seeds; 000 is a stream of fragments, no table to rebuild
TITLE_RE = re.compile(r"表([（(].*[)）])?$")
STYLE = ('body{font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;font-size:10pt}'
         'table{border-collapse:collapse}td{border:1px solid #000;padding:2px 4px;font-size:9pt}'
         'h3{text-align:center;font-size:14pt}')


def seed_as_html(text: str) -> str:
    out = [f'<!doctype html><html><head><meta charset="utf-8"><style>{STYLE}</style></head><body>']
    in_table = False
    for line in text.splitlines():
        if "\t" in line:
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line.split("\t")) + "</tr>")
            continue
        if not line.strip():  # the text's page breaks: a table goes on across them, as on screen
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        stripped = line.strip()
        if stripped and len(stripped) <= 40 and TITLE_RE.search(stripped) and not stripped.startswith("附件"):
            out.append(f"<h3>{html.escape(stripped)}</h3>")
        elif stripped:
            out.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        out.append("</table>")
    return "\n".join(out + ["</body></html>"])


def print_to_pdf(chromium: str, page: Path, pdf: Path) -> None:
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", page.resolve().as_uri()], check=True, capture_output=True, timeout=180)
    if not pdf.exists():
        raise SystemExit(f"chromium wrote no {pdf}")


def extract(inputs: list[Path], out: Path, model: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pipeline.cli", "extract", *map(str, inputs), "--out", str(out),
                    "--model", str(model), "--workers", "1"], check=True, capture_output=True, cwd=config.REPO_ROOT)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(config.REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=config.MODELS_DIR, help="model folder (default: the shipped one)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / ".cache" / "other_producer", help="scratch folder")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "other_producer.md", help="Markdown output")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("needs headless Chromium and a CJK font: apt-get install chromium fonts-wqy-microhei")
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout if shutil.which("fc-list") else ""
    if not fonts.strip():
        raise SystemExit("no CJK font: the PDF would hold no Chinese text; apt-get install fonts-wqy-microhei")
    seeds = [p for p in sorted(config.SEEDS_DIR.glob("*.txt")) if p.name.startswith(SEEDS)]
    annotations = config.ANNOTATIONS_DIR / "seeds"
    pdf_dir = args.work / "pdf"
    pdf_dir.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        page = pdf_dir / f"{seed.stem}.html"
        page.write_text(seed_as_html(seed.read_text(encoding="utf-8")), encoding="utf-8")
        print_to_pdf(chromium, page, pdf_dir / f"{seed.stem}.pdf")
        page.unlink()
    # one annotation folder per seed, to score each document alone
    per_seed: dict[str, Path] = {}
    for path in sorted(annotations.glob("*.jsonl")):
        source = json.loads(path.open(encoding="utf-8").readline())["source"]
        if any(Path(source).stem == s.stem for s in seeds):
            folder = args.work / "annotations" / Path(source).stem
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, folder / path.name)
            per_seed[Path(source).stem] = folder
    rows = []
    for fmt, inputs in ((".txt", seeds), (".pdf, printed by Chromium", [pdf_dir / f"{s.stem}.pdf" for s in seeds])):
        out = args.work / ("out_txt" if inputs is seeds else "out_pdf")
        extract(inputs, out, args.model)
        for stem, folder in per_seed.items():
            result = score(out, folder, by_stem=True)
            rows.append((stem, fmt, result))
            print(f"{stem} {fmt}: cell F1 {result['budget_cell_f1']:.3f}, indicator F1 {result['indicator_f1']:.3f}, "
                  f"project F1 {result['project_f1']:.3f}, metadata {result['metadata_right']}/{result['documents']}")
    lines = [f"# The seeds printed by another producer ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Seeds {', '.join(s.stem for s in seeds)}; model `{_shown(args.model)}`; command: "
             f"`python benchmarks/other_producer.py`. The shipped models were trained on the seed texts: compare "
             "the rows, do not read them as held-out accuracy.", "",
             "| seed | input | budget cell F1 | indicator F1 | project F1 | metadata |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for stem, fmt, r in sorted(rows, key=lambda row: row[0]):
        lines.append(f"| {stem} | {fmt} | {r['budget_cell_f1']:.3f} | {r['indicator_f1']:.3f} | {r['project_f1']:.3f} | "
                     f"{r['metadata_right']}/{r['documents']} |")
    args.results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
