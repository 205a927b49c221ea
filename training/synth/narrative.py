"""情况说明: the explanation with figures in sentences, in several producers' wordings.

Every figure written through FactWriter.fact becomes a `fact` record with subject/value spans.
"""
from __future__ import annotations

import random
from typing import Any

from training.synth import content as ct
from training.synth.indicators import pick_indicators
from training.synth.spec import FieldRange, Paragraph


class FactWriter:
    """Builds a narrative paragraph whose figures become `fact` records with spans."""

    def __init__(self, ctx: ct.Context, counter: list[int], unit_space: bool = False):
        self.ctx = ctx
        self.text = ""
        self.fields: list[FieldRange] = []
        self.records: list[tuple[int, dict[str, Any]]] = []
        self.counter = counter
        self.unit_space = unit_space

    def add(self, s: str) -> "FactWriter":
        self.text += s
        return self

    def fact(self, subject: str, cents: int, lead: str = "") -> "FactWriter":
        """'<subject><lead><value>万元' with subject and value spans and one fact record."""
        value = round(cents / (1_000_000 if self.ctx.budget.unit == "元" else 100), 2)
        rng = self.ctx.rng
        shown = f"{value:.2f}" if rng.random() < 0.7 else (f"{value:.2f}".rstrip("0").rstrip("."))
        s0 = len(self.text)
        self.text += subject
        self.fields.append(FieldRange(s0, len(self.text), "fact_subject"))
        self.text += lead + (" " if rng.random() < 0.3 else "")
        v0 = len(self.text)
        self.text += shown
        self.fields.append(FieldRange(v0, len(self.text), "fact_value"))
        self.text += (" " if self.unit_space else "") + "万元"
        self.counter[0] += 1
        rec = {"record_id": f"f{self.counter[0]:03d}", "type": "fact", "table_id": None, "confidence": 1.0,
               "checks": [], "page": None, "line": None, "subject": subject, "value": float(shown),
               "unit": "万元", "text": None}
        self.records.append((v0, rec))
        return self

    def paragraph(self) -> Paragraph:
        for anchor, rec in self.records:
            rec["text"] = sentence_at(self.text, anchor)
        return Paragraph(self.text, "narrative", "body", list(self.fields), list(self.records))


def sentence_at(text: str, pos: int) -> str:
    """The sentence (between 。/；) of `text` containing position pos."""
    start = max(text.rfind("。", 0, pos), text.rfind("；", 0, pos)) + 1
    ends = [k for k in (text.find("。", pos), text.find("；", pos)) if k >= 0]
    end = min(ends) + 1 if ends else len(text)
    return text[start:end].strip()


HEADINGS = {
    "hebei": ("三、机关运行经费安排情况", "四、财政拨款“三公”经费预算情况及增减变化原因", "五、政府采购预算情况", "六、预算绩效信息"),
    "henan": ("五、机关运行经费支出预算情况", "六、一般公共预算“三公”经费支出预算情况说明", "七、政府采购支出预算情况",
              "八、绩效目标设置情况"),
    "plain": ("（三）机关运行经费", "（四）“三公”经费预算", "（五）政府采购预算", "（六）绩效目标设置情况"),
}


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.2f}%" if whole else "0%"


def budget_narrative(ctx: ct.Context) -> list:
    b, rng, y = ctx.budget, ctx.rng, ctx.year
    items = b.items
    total = sum(i.total for i in items)
    current = sum(i.current_year for i in items)
    gp = sum(i.gp for i in items)
    gf = sum(i.proj_gf for i in items)
    carry = sum(i.proj_carry for i in items)
    basic = sum(i.basic for i in items)
    personnel = sum(i.personnel for i in items)
    public = sum(i.public for i in items)
    project = total - basic
    counter = [0]
    space = rng.random() < 0.4
    short = ctx.dept.replace(ctx.dept[:2], "", 1) if rng.random() < 0.2 else ctx.dept
    style = rng.choice(["hebei", "henan", "plain"])
    heads = HEADINGS[style]

    def writer() -> FactWriter:
        return FactWriter(ctx, counter, space)

    out: list = []
    if style == "henan":
        out.append(Paragraph(f"第一部分 {ctx.dept}概况", "narrative", "heading"))
        out.append(Paragraph(f"一、{ctx.dept}主要职责", "narrative", "heading"))
    else:
        out.append(Paragraph(f"{ctx.dept}{y}年部门预算信息公开情况说明", "narrative", "heading"))
        out.append(Paragraph("一、部门职责及机构设置情况", "narrative", "heading"))
        out.append(Paragraph("部门职责：", "narrative", "body"))
    for k, duty in enumerate(ctx.sector.duties, 1):
        out.append(Paragraph(f"{k}.{duty}" if style == "henan" else (f"{k}、{duty}" if rng.random() < 0.5 else duty),
                             "narrative", "body"))

    if rng.random() < 0.6:
        out.append(Paragraph("机构设置：", "narrative", "body"))
        out.append(ct.organisation_table(ctx))
    if style == "henan":
        out.append(Paragraph(f"第二部分 {y}年{ctx.dept}部门预算情况说明", "narrative", "heading"))
        out.append(Paragraph("一、收入支出预算总体情况说明", "narrative", "heading"))
        diff = int(total * rng.uniform(-0.2, 0.4))
        w = writer().add(f"{short}{y}年").fact("收入总计", total, " ").add("，").fact("支出总计", total, " ")
        w.add(f"，与{y - 1}年预算相比，").fact("收入增加" if diff >= 0 else "收入减少", abs(diff), " ")
        w.add(f"，{'增长' if diff >= 0 else '下降'}{_pct(abs(diff), max(total - diff, 1))}。")
        out.append(w.paragraph())
        out.append(Paragraph("二、收入预算总体情况说明", "narrative", "heading"))
        w = writer().add(f"{short}{y}年").fact("收入合计", current, " ").add("，其中：").fact("一般公共预算", gp, " ")
        if gf:
            w.add("，").fact("政府性基金预算", gf, " ")
        out.append(w.add("。").paragraph())
        out.append(Paragraph("三、支出预算总体情况说明", "narrative", "heading"))
        w = writer().add(f"{short}{y}年").fact("支出合计", total, " ").add("，其中：").fact("基本支出", basic, " ")
        w.add(f"，占{_pct(basic, total)}；").fact("项目支出", project, " ").add(f"，占{_pct(project, total)}。")
        out.append(w.paragraph())
        out.append(Paragraph("四、一般公共预算基本支出预算情况说明", "narrative", "heading"))
        w = writer().add(f"{short}{y}年一般公共预算").fact("基本支出年初预算", basic, "为").add("。其中：")
        w.fact("人员经费支出", personnel, " ").add(f"，占{_pct(personnel, basic)}；").fact("公用经费支出", public, " ")
        out.append(w.add(f"，占{_pct(public, basic)}。").paragraph())
    else:
        out.append(Paragraph("二、部门预算安排的总体情况", "narrative", "heading"))
        out.append(Paragraph("按照预算管理有关规定，目前我县部门预算的编制实行综合预算管理，即全部收入和支出都反映在预算中。",
                             "narrative", "body"))
        if style == "hebei":
            out.append(Paragraph("1.收入说明", "narrative", "heading"))
        w = writer().add("反映本部门当年全部收入。" if style == "hebei" else "（一）收入预算：")
        w.fact(f"{y}年预算收入", current, " ").add("，其中：").fact("一般公共预算收入", gp, " ").add("，")
        w.fact("基金预算收入" if style == "hebei" else "政府性基金预算收入", gf, " ")
        if carry:
            w.add("，").fact("上年结转", carry, " ")
        out.append(w.add("。").paragraph())
        if style == "hebei":
            out.append(Paragraph("2.支出说明", "narrative", "heading"))
        w = writer().add("" if style == "hebei" else "（二）支出预算：")
        w.fact(f"{y}年部门支出预算", total, "为").add("，其中").fact("基本支出", basic, " ").add("，包括")
        w.fact("人员经费", personnel, " ").add("和").fact("日常公用经费", public, " ").add("；")
        w.fact("项目支出", project, " ").add("，主要用于" + "、".join(p.name for p in b.projects[:3]) + "等。")
        out.append(w.paragraph())
    out.append(Paragraph(heads[0], "narrative", "heading"))
    w = writer().add(f"{y}年，{rng.choice(['我部门', short, '本部门'])}")
    w.fact("机关运行经费", public, rng.choice(["共计安排 ", "支出预算", "预算"]))
    w.add(rng.choice(["，主要用于保证机关正常运转的办公费、印刷费、水费、电费、差旅费等支出。",
                      "，主要保障机构正常运转及正常履职需要所需支出。", "。"]))
    out.append(w.paragraph())
    out.append(Paragraph(heads[1], "narrative", "heading"))
    tp = b.three_public
    w = writer().add(f"{y}年，{rng.choice(['我部门', short])}").fact("财政拨款“三公”经费预算", sum(tp.values()), "安排 ")
    w.add("，其中：").fact("因公出国（境）费", tp["outbound_travel"], " ").add("；")
    w.fact("公务用车购置及运维费", tp["vehicle_purchase"] + tp["vehicle_operation"], " ").add("；")
    w.fact("公务接待费", tp["reception"], " ").add(rng.choice(["。较上年无增减变化。", "。", "，与上年持平。"]))
    out.append(w.paragraph())
    out.append(Paragraph(heads[2], "narrative", "heading"))
    w = writer().add(f"{y}年，{ctx.dept}").fact("政府采购预算", sum(v for *_, v in b.procurement), "安排 ")
    w.add("。具体内容见下表。" if b.procurement else rng.choice(["。", "，本部门无政府采购预算。"]))
    out.append(w.paragraph())
    if rng.random() < 0.5:
        out.append(Paragraph(heads[3], "narrative", "heading"))
        out.append(Paragraph(f"{short}{y}年预算项目均按要求编制了绩效目标，从项目产出、项目效益、满意度等方面设置了绩效指标，"
                             "综合反映项目预期完成的数量、实效、质量，预期达到的社会经济效益、可持续影响以及服务对象满意度等情况。",
                             "narrative", "body"))
        out.extend(project_goal_list(ctx))
    return out


def project_goal_list(ctx: ct.Context) -> list:
    """Some explanations then list each project's goal and headline indicator in prose
    ('1、<project>' / '绩效目标：…' / '绩效指标：<indicator><target>'); drawn from a stream of its own."""
    own = random.Random(f"{ctx.dept}|{ctx.year}|goal_list")
    if own.random() >= 0.5 or not ctx.budget.projects:
        return []
    projects = sorted(ctx.budget.projects, key=lambda p: -p.amount)[: own.randint(2, 5)]
    inds = pick_indicators(ctx.sector.indicators, own, len(projects) + 2, ctx.province, ctx.year)
    out: list = []
    for k, (p, ind) in enumerate(zip(projects, inds), 1):
        out.append(Paragraph(f"{k}、{p.name}", "narrative", "body"))
        goal = own.choice(["保障项目按计划实施，", "确保资金及时足额拨付，", "做好相关工作，"]) + \
            own.choice(ctx.sector.duties).rstrip("。；") + "。"
        out.append(Paragraph(f"绩效目标：{goal}", "narrative", "body"))
        out.append(Paragraph(f"绩效指标：{ind[2]}{own.choice(['', ' '])}{ind[4]}", "narrative", "body"))
    return out


def glossary(ctx: ct.Context) -> list:
    terms = [("财政拨款收入", "指本级财政当年拨付的资金。"),
             ("事业收入", "指事业单位开展专业业务活动及辅助活动所取得的收入。"),
             ("其他收入", "指除“财政拨款”、“事业收入”等以外的收入。"),
             ("基本支出", "指为保障机构正常运转、完成日常工作任务而发生的人员支出和公用支出。"),
             ("项目支出", "指在基本支出之外为完成特定行政任务和事业发展目标所发生的支出。"),
             ("上年结转", "指以前年度尚未完成、结转到本年仍按原规定用途继续使用的资金。"),
             ("“三公”经费", "是指纳入财政预算管理，部门使用财政拨款安排的因公出国（境）费、公务用车购置及运行费和公务接待费。"),
             ("机关运行经费", "是指为保障行政单位运行用于购买货物和服务的各项资金，包括办公及印刷费、邮电费、差旅费、会议费、福利费等。")]
    rng = ctx.rng
    k = rng.randint(3, len(terms))
    chosen = sorted(rng.sample(range(len(terms)), k))
    out: list = [Paragraph(rng.choice(["名词解释", "八、名词解释", "第三部分 名词解释"]), "narrative", "heading")]
    numbering = rng.choice(["arabic", "chinese"])
    for n, idx in enumerate(chosen, 1):
        term, text = terms[idx]
        prefix = f"{n}、" if numbering == "arabic" else f"{ct.cls.CHINESE_ORDINALS[n - 1]}、"
        out.append(Paragraph(f"{prefix}{term}：{text}", "narrative", "body"))
    return out
