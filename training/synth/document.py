"""Assemble one disclosure: department, year, budget, tables and narrative in a template's order."""
from __future__ import annotations

import random

from training.synth import classification as cls
from training.synth import content as ct
from training.synth import performance as perf
from training.synth.budget import make_budget
from training.synth.errors import CHECK_NAMES, apply_deliberate_error
from training.synth.narrative import FactWriter, budget_narrative
from training.synth.narrative import glossary as glossary_blocks
from training.synth.spec import DocSpec, PageBreak, Paragraph, TableSpec
from training.synth.templates import TEMPLATES, Template

ERROR_EVERY = 7  # one document in 7 carries a deliberate error (7 is coprime to the template cycle)
SELF_EVALUATION_CYCLE = 4  # every 4th round through the templates: self-evaluation reports, so each template has some


def _place(rng: random.Random) -> tuple[str, str, str]:
    return rng.choice(cls.PLACES)


def build_document(index: int, tpl: Template, rng: random.Random, allow_error: bool) -> DocSpec:
    sector = rng.choice(cls.SECTORS)
    province, city, county = _place(rng)
    year = rng.randint(2019, 2024)
    dept = f"{county}{sector.suffix}" if rng.random() < 0.75 else f"{city}{county}{sector.suffix}"
    dept_code = str(rng.randint(101, 899))
    unit = "元" if (tpl.unit == "万元" and not tpl.narrow and rng.random() < 0.1) else tpl.unit
    budget = make_budget(sector, rng, unit, year)
    # most producers keep their template's number style, some documents deviate
    zero = tpl.zero if rng.random() < 0.8 else rng.choice(["", "0.00", "-"])
    thousands = tpl.thousands or (unit == "元" and rng.random() < 0.5) or rng.random() < 0.08
    ctx = ct.Context(tpl, rng, budget, dept, dept_code, year, sector, title_family=rng.choice([0, 0, 1, 2]),
                     province=province, zero=zero, thousands=thousands)
    rng.random()  # was the kind's draw: kept so that budget documents stay as they were
    doc_kind = "performance_self_evaluation" if (index // len(TEMPLATES)) % SELF_EVALUATION_CYCLE == 1 else "budget"
    if doc_kind == "budget":
        blocks, tables = _budget_blocks(ctx)
    else:
        blocks, tables = _self_evaluation_blocks(ctx)
    errors: list[dict[str, str]] = []
    if allow_error and doc_kind == "budget" and index % ERROR_EVERY == ERROR_EVERY // 2:
        # every ERROR_EVERY-th document, cycling through the checks so a corpus covers them all
        k = index // ERROR_EVERY
        preferred = CHECK_NAMES[(k + k // len(CHECK_NAMES)) % len(CHECK_NAMES)]
        err = apply_deliberate_error(ctx, tables, preferred)
        if err:
            errors.append(err)
    # a self-evaluation report is published the year after the one it evaluates, and is about that year
    fiscal_year = year if doc_kind == "budget" else year - 1
    return DocSpec(f"synth_{index:04d}_{tpl.name}", tpl.name, dept, dept_code, fiscal_year, unit, doc_kind, blocks,
                   tables, errors, ctx.furniture())


def _budget_tables(ctx: ct.Context) -> list[TableSpec]:
    n = iter(range(40))
    tables = [ct.two_sided_table(ctx, "revenue_expenditure_summary", next(n)),
              ct.revenue_table(ctx, next(n)),
              ct.expenditure_table(ctx, "expenditure_summary", next(n), "all"),
              ct.two_sided_table(ctx, "fiscal_summary", next(n)),
              ct.expenditure_table(ctx, "general_budget_expenditure", next(n), "gb"),
              ct.basic_economic_table(ctx, next(n))]
    later = [lambda: ct.expenditure_table(ctx, "government_fund_expenditure", next(n), "gf"),
             lambda: ct.expenditure_table(ctx, "state_capital_expenditure", next(n), "sc"),
             lambda: ct.three_public_table(ctx, next(n))]
    if ctx.tpl.code_layout == "split":  # seed 002 order: economic summary and 三公 before the funds
        later = [lambda: ct.economic_summary_table(ctx, next(n)), later[2], later[0], later[1],
                 lambda: ct.project_table(ctx, next(n))]
    else:
        if ctx.rng.random() < 0.3:  # producers order the fund and 三公 tables differently
            later = [later[2], later[0], later[1]]
        if ctx.rng.random() < 0.5:
            later.append(lambda: ct.project_table(ctx, next(n)))
        if ctx.rng.random() < 0.4:
            later.append(lambda: ct.economic_summary_table(ctx, next(n)))
    tables += [make() for make in later]
    for k, t in enumerate(tables):
        t.form_label = ctx.form_label(k)
    return tables


def _budget_blocks(ctx: ct.Context) -> tuple[list, list[TableSpec]]:
    tpl, rng, b = ctx.tpl, ctx.rng, ctx.budget
    tables = _budget_tables(ctx)
    cover = Paragraph(f"{ctx.year} 年部门预算公开表" if not tpl.narrative_first else f"{ctx.year}年{ctx.dept}部门预算说明",
                      "other", "title")
    narrative = budget_narrative(ctx)
    toc = _table_of_contents(ctx, tables, narrative)
    perf = _performance_tables(ctx)
    extra: list[TableSpec] = []
    if rng.random() < 0.5:
        extra.append(ct.procurement_table(ctx, 0))
    if rng.random() < 0.4:
        extra.append(ct.assets_table(ctx, 0))
    glossary = glossary_blocks(ctx)
    blocks: list = [cover] + _cover_lines(ctx)
    if tpl.narrative_first:
        blocks += toc + [PageBreak()] + narrative + glossary + [PageBreak(),
                                                                Paragraph(f"附件：{ctx.year}年{ctx.dept}部门预算表", "other", "heading")]
        blocks += tables + extra + perf
    else:
        if rng.random() < 0.5:
            blocks += toc
        blocks += [PageBreak()] + tables + [PageBreak()] + narrative + perf + extra + glossary
    declared = tables + [t for t in narrative + perf if isinstance(t, TableSpec)] + extra
    return blocks, sorted(declared, key=lambda t: t.table_id)


def _table_of_contents(ctx: ct.Context, tables: list[TableSpec], narrative: list) -> list[Paragraph]:
    """目录: the tables, and in half the documents the explanation's sections too, grouped under
    the two parts as real disclosures list them ("一、…部门预算公开表" / "1、部门预算收支总表";
    "二、…情况说明" / "一、部门职责及机构设置情况"), some with a list bullet, some with dot leaders and
    page numbers. Its own random stream: the rest of the document does not change with it."""
    rng = random.Random(f"toc|{ctx.dept}|{ctx.year}|{len(tables)}")
    bullet = "- " if rng.random() < 0.3 else ""
    leaders = rng.random() < 0.3
    page = [rng.randint(2, 4)]

    def entry(text: str) -> Paragraph:
        if leaders:
            page[0] += rng.randint(0, 2)
            text = f"{text}{'…' * rng.randint(6, 14)}{page[0]}"
        return Paragraph(text, "other", "toc")

    names = [t.title.split("：", 1)[-1] for t in tables]
    if rng.random() < 0.5:  # the tables only, numbered 一、二、…
        return [Paragraph("目 录", "other", "heading")] + [
            entry(f"{bullet}{cls.CHINESE_ORDINALS[k]}、{name}") for k, name in enumerate(names)]
    sections = [p.text for p in narrative if isinstance(p, Paragraph) and p.style == "heading"
                and p.text[:2] in {f"{o}、" for o in cls.CHINESE_ORDINALS[:12]}]
    out = [Paragraph("目 录" if rng.random() < 0.7 else f"{ctx.year}年部门预算信息公开目录", "other", "heading")]
    out.append(entry(f"一、{ctx.year}年部门预算公开表"))
    out += [entry(f"{bullet}{k}、{name}") for k, name in enumerate(names, 1)]
    out.append(entry(f"二、{ctx.year}年部门预算信息公开情况说明"))
    out += [entry(f"{bullet}{k}、{text.split('、', 1)[1]}") for k, text in enumerate(sections, 1)]
    return out


def _cover_lines(ctx: ct.Context) -> list[Paragraph]:
    """Issuer and date under the cover title (most covers print them, some do not)."""
    if ctx.rng.random() < 0.3:
        return []
    month = ctx.rng.randint(1, 3)
    date = f"{ctx.year}年{month}月" if ctx.rng.random() < 0.6 else f"二〇{_cn_digits(ctx.year % 100)}年{_cn_digits(month, False)}月"
    return [Paragraph(ctx.dept, "other", "centered"), Paragraph(date, "other", "centered")]


def _cn_digits(n: int, pad: bool = True) -> str:
    digits = "〇一二三四五六七八九"
    if pad:
        return "".join(digits[int(d)] for d in f"{n:02d}")
    return ("十" + (digits[n - 10] if n > 10 else "")) if n >= 10 else digits[n]


def _performance_tables(ctx: ct.Context) -> list:
    out: list = []
    projects = sorted(ctx.budget.projects, key=lambda p: -p.amount)[: ctx.rng.randint(1, 4)]
    if ctx.tpl.perf_style == "department" or ctx.rng.random() < 0.25:
        out.append(perf.department_performance_table(ctx, 0))
    if projects and ctx.tpl.perf_style == "department" and ctx.rng.random() < 0.7:
        out.append(perf.wide_targets_table(ctx, projects))
    elif projects:
        out.append(Paragraph(ctx.rng.choice(["（四）预算项目绩效目标", "第二部分 预算项目绩效目标", "部门预算项目绩效目标表"]),
                             "narrative", "heading"))
        for k, p in enumerate(projects, 1):
            out.append(perf.project_target_table(ctx, k, p))
    return out


def _self_evaluation_blocks(ctx: ct.Context) -> tuple[list, list[TableSpec]]:
    projects = sorted(ctx.budget.projects, key=lambda p: -p.amount)[:4]
    y = ctx.year - 1
    counter = [0]
    blocks: list = [Paragraph(f"{ctx.dept}{y}年度项目支出绩效自评报告", "other", "title"),
                    Paragraph("一、项目基本情况", "narrative", "heading")]
    total = sum(p.amount for p in projects)
    w = FactWriter(ctx, counter).add(f"{y}年度共有{len(projects)}个项目开展绩效自评，").fact("项目预算", total, "合计 ")
    w.add("。各项目均按照年度绩效目标组织实施。")
    blocks.append(w.paragraph())
    blocks.append(Paragraph("二、绩效自评结果", "narrative", "heading"))
    tables: list[TableSpec] = [perf.project_list_table(ctx, 0, projects)]
    if ctx.rng.random() < 0.6:
        tables.append(perf.department_self_evaluation_table(ctx, y))
    for k, p in enumerate(projects[: ctx.rng.randint(1, len(projects))], 1):
        tables.append(perf.self_evaluation_table(ctx, k, p))
    blocks += tables
    blocks.append(Paragraph("三、存在的问题及改进措施", "narrative", "heading"))
    blocks.append(Paragraph("部分绩效指标设置不够细化、量化，下一步将进一步完善绩效目标管理，强化结果应用。", "narrative"))
    return blocks, tables
