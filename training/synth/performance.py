"""Performance tables: project targets (per project, or seed 002's wide layout), the department's
overall targets, self-evaluation tables and the project list of a self-evaluation report."""
from __future__ import annotations

import random
from typing import Optional

from training.synth.budget import Project
from training.synth.content import Context, Entry, amount_col, contract_columns, entry_rows, parse_printed
from training.synth.indicators import document_number, framework_indicators, parse_target, pick_indicators
from training.synth.spec import Cell, Column, FieldRange, Row, TableSpec, cell


def _indicator_rows(ctx: Context, tid: str, cols: list[Column], inds: list[tuple], project: Optional[str],
                    with_scores: bool, start: int = 0) -> list[Row]:
    rows: list[Row] = []
    n = len(inds)
    weights = _split_weights(inds, ctx.rng) if with_scores else [None] * n
    for k, ind in enumerate(inds):
        l1, l2, l3, desc, target, basis = ind
        cells: list[Optional[Cell]] = []
        first1 = k == 0 or inds[k - 1][0] != l1
        first2 = first1 or inds[k - 1][1] != l2
        span1 = _run_length(inds, k, 0) if first1 else 0
        span2 = _run_length(inds, k, 1, same_level1=True) if first2 else 0
        w = weights[k]
        score = None
        if w is not None:
            score = w if ctx.rng.random() < 0.7 else round(w * ctx.rng.choice([0.5, 0.6, 0.8, 0.9]), 1)
        for col in cols:
            if col.role == "level1":
                c = cell(l1, "level1", align="c") if first1 else None
                if c:
                    c.rowspan = span1
                cells.append(c)
            elif col.role == "level2":
                c = cell(l2, "level2", align="c") if first2 else None
                if c:
                    c.rowspan = span2
                cells.append(c)
            elif col.role == "level3":
                cells.append(cell(l3, "level3"))
            elif col.role == "description":
                cells.append(cell(desc, "description"))
            elif col.role == "target":
                cells.append(cell(target, "target", align="c"))
            elif col.role == "basis":
                cells.append(cell(basis, "basis"))
            elif col.role == "actual":
                cells.append(cell(target.lstrip("≥≤<>") if ctx.rng.random() < 0.8 else "基本完成", align="c"))
            elif col.role == "weight":
                cells.append(cell(_num(w), "weight", align="c"))
            elif col.role == "score":
                cells.append(cell(_num(score), "score", align="c"))
            else:
                cells.append(cell(""))
        rec = {"record_id": f"{tid}-i{start + k}", "type": "indicator", "table_id": tid, "confidence": 1.0,
               "checks": [], "page": None, "line": None, "row": start + k, "project": project,
               "project_code": None, "level1": l1, "level2": l2,
               "level3": l3, "description": desc if any(c.role == "description" for c in cols) else None,
               "target": "".join(target.split()), "target_parsed": parse_target(target),
               "basis": basis if any(c.role == "basis" for c in cols) else None}
        if with_scores:
            rec["weight"], rec["score"] = float(w), float(score)
        rows.append(Row(cells, "indicator_row", start + k, [rec]))
    return rows


def _num(v: Optional[float]) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _split_weights(inds: list[tuple], rng: random.Random) -> list[float]:
    budget = {"产出指标": 50, "效益指标": 30, "满意度指标": 10}
    out = []
    for l1, pts in budget.items():
        idx = [i for i, ind in enumerate(inds) if ind[0] == l1]
        if idx:
            base = pts // len(idx)
            for j in idx:
                out.append((j, float(base + (pts - base * len(idx) if j == idx[-1] else 0))))
    out.sort()
    return [w for _, w in out]


def _run_length(inds: list[tuple], k: int, level: int, same_level1: bool = False) -> int:
    n = 1
    while k + n < len(inds) and inds[k + n][level] == inds[k][level] and (not same_level1 or inds[k + n][0] == inds[k][0]):
        n += 1
    return n


def project_target_table(ctx: Context, number: int, p: Project) -> TableSpec:
    tid = ctx.table_id()
    cols = [Column(("一级指标",), 0.8, role="level1", align="c"), Column(("二级指标",), 0.9, role="level2", align="c"),
            Column(("三级指标",), 1.4, role="level3", align="l"), Column(("绩效指标描述",), 1.5, role="description", align="l"),
            Column(("指标值",), 0.8, role="target", align="c"), Column(("指标值确定依据",), 1.2, role="basis", align="l")]
    inds = pick_indicators(ctx.sector.indicators, ctx.rng, ctx.rng.randint(5, 10), ctx.province, ctx.year)
    goal = _goal_text(ctx, p)
    # a separate generator: the rest of the document draws the same numbers either way
    own = random.Random(f"{ctx.dept}|{tid}|goal")
    if own.random() < 0.4:  # many project tables state the goal as a long numbered paragraph
        goal = _numbered_goal(own, ctx, p)
    title = f"{number}、{p.name}绩效目标表"
    if own.random() < 0.25:  # projects named after the funding notice, its file number printed too
        title = f"{number}、{_notice_prefix(own, ctx)}{p.name}{own.choice(['', '资金', '补助资金'])}的通知" \
                f"{_file_number(own, ctx)}绩效目标表"
    # a title naming the funding notice names the project by the whole notice, as seed 000 prints it
    project_name = title[len(f"{number}、"):-len("绩效目标表")] if title.endswith("号绩效目标表") else p.name
    name_start = title.index(project_name)
    if own.random() < 0.4:  # 指标值确定依据 citing a regulation by its full title, wrapping in its cell
        inds = [ind[:5] + (_regulation(own, ctx, p),) if own.random() < 0.7 else ind for ind in inds]
    amount_text = ctx.fmt(p.amount)
    project_rec = {"record_id": f"{tid}-p0", "type": "project", "table_id": tid, "confidence": 1.0, "checks": [],
                   "page": None, "line": None, "name": project_name, "code": None, "implementing_unit": ctx.dept,
                   "amount": parse_printed(amount_text), "goal": goal}
    pre: list[Row] = []
    unit_line = f"{ctx.dept_code}001 {ctx.dept}"
    c0 = Cell(unit_line, [FieldRange(0, len(ctx.dept_code) + 3, "department_code"),
                          FieldRange(len(ctx.dept_code) + 4, len(unit_line), "implementing_unit")])
    if ctx.rng.random() < 0.5:
        c_amt = Cell(f"项目金额：{amount_text}", [FieldRange(5, 5 + len(amount_text), "amount", "amount")])
        pre.append(Row([c0, None, None, None, c_amt, None], "project_header", None, [project_rec]))
    else:
        pre.append(Row([c0, None, None, None, None, None], "project_header", None, [project_rec]))
    pre.append(Row([cell("绩效目标"), cell(goal, "goal"), None, None, None, None], "project_header"))
    rows = _indicator_rows(ctx, tid, cols, inds, project_name, with_scores=False)
    return TableSpec(tid, "performance_targets", title, cols, rows, [], pre_rows=pre,
                     title_fields=[FieldRange(name_start, name_start + len(project_name), "project")])


GOAL_SENTENCES = (
    "加强资金监管，确保资金使用安全、规范、有效", "完善管理制度，规范业务流程，提高工作效率和服务水平",
    "及时足额拨付资金，保障各项政策落实到位", "强化绩效管理，提升财政资金使用效益",
    "做好政策宣传解读，提高群众知晓率和满意度", "推进信息化建设，实现数据共享和业务协同",
    "加强人员培训，提升业务能力和服务质量", "开展监督检查，及时发现和纠正存在的问题",
    "保障困难群众基本需求，减轻群众负担", "建立健全长效机制，推动工作持续健康发展",
)


def _numbered_goal(rng: random.Random, ctx: Context, p: Project) -> str:
    """A long goal: numbered items, each one or two sentences about the project's purpose."""
    items = []
    for k, s in enumerate(rng.sample(GOAL_SENTENCES, rng.randint(2, 4)), 1):
        lead = f"{ctx.year}年{p.name}" if k == 1 else ""
        extra = rng.choice(["", f"。{rng.choice(ctx.sector.duties).rstrip('。；')}", "，确保项目按计划完成",
                            f"，覆盖{rng.randint(2, 30)}个乡镇（街道）"])
        items.append(f"{k}.{lead}{'用于' if lead else ''}{s}{extra}。")
    return "".join(items)


def _regulation(rng: random.Random, ctx: Context, p: Project) -> str:
    region = "广西壮族自治区" if ctx.province == "广西" else f"{ctx.province}省"
    name = f"《{region}{p.name}{rng.choice(['管理暂行办法', '管理办法', '使用管理实施细则', '绩效管理办法'])}》"
    if rng.random() < 0.4:
        return f"{document_number(rng, ctx.province, ctx.year)}关于印发{name}的通知"
    return name


def _notice_prefix(rng: random.Random, ctx: Context) -> str:
    year = ctx.year - rng.choice([0, 1])
    region = "广西壮族自治区" if ctx.province == "广西" else f"{ctx.province}省"
    return rng.choice([f"{region}财政厅关于提前下达{year}年", f"关于下达{year}年",
                       f"{region}财政厅 {region}{ctx.sector.suffix}关于提前下达{year}年中央"])


def _file_number(rng: random.Random, ctx: Context) -> str:
    year = ctx.year - rng.choice([0, 1])
    left, right = rng.choice([("【", "】"), ("[", "]"), ("（", "）")])
    short = {"河北": "冀", "河南": "豫", "山东": "鲁", "山西": "晋", "湖南": "湘", "湖北": "鄂"}.get(ctx.province, "")
    return f"{short}{rng.choice(['财社', '财预', '财农', '财教'])}{left}{year}{right}{rng.randint(10, 300)}号"


def _goal_text(ctx: Context, p: Project, year: Optional[int] = None) -> str:
    r = ctx.rng
    parts = [f"{year or ctx.year}年{p.name}", r.choice(["按时足额拨付到位", "全部用于规定用途", "保障各项工作顺利开展"]),
             r.choice(["，受益群众满意度达到95%以上。", "，切实提高服务质量和效率。", "，确保项目按计划完成。",
                       "，进一步提升群众获得感和满意度，推动各项工作高质量发展。"])]
    return "".join(parts)


EXPLANATION_CHECKS = (
    "是否符合国家、省委省政府战略部署和发展规划", "是否与部门职责、工作规划和重点工作相关", "是否有明确的绩效目标",
    "是否按规定程序审批", "是否存在截留、挤占、挪用情况", "是否按时完成年度任务", "资料是否齐全并及时归档",
    "是否建立健全相关管理制度", "相关数据是否真实、准确、完整", "是否按规定公开相关信息",
)


def _explained(rng: random.Random, level3: str, short: str) -> str:
    """A long 指标说明: the short description, what it reflects, and a numbered list of what is checked."""
    form = rng.random()
    checks = rng.sample(EXPLANATION_CHECKS, rng.randint(2, 4))
    if form < 0.2:  # only the numbered list of what is checked
        return "".join(f"{k}.{c}；" for k, c in enumerate(checks, 1)).rstrip("；") + "。"
    if form < 0.35:  # the formula alone, as '<indicator>=<numerator>/<denominator>×100%'
        num, den = rng.choice([("实际完成数", "计划数"), ("实际支出数", "预算数"), ("达标数", "总数")])
        left, right = rng.choice([("", ""), ("（", "）")])
        return f"{level3}={left}{num}/{den}{right}×100%"
    parts = [f"{level3}：{short}" if rng.random() < 0.5 else short,
             rng.choice(["，用以反映和考核部门（单位）预算管理的规范程度。", "，反映部门（单位）履职目标的实现情况。",
                         "。计算公式：实际完成数/计划数×100%。"])]
    parts.append("".join(f"{k}.{c}；" for k, c in enumerate(checks, 1)).rstrip("；") + "。")
    return "".join(parts)


def department_performance_table(ctx: Context, ordinal: int) -> TableSpec:
    tid = ctx.table_id()
    b = ctx.budget
    cols = [Column(("一级指标",), 0.9, role="level1", align="c"), Column(("二级指标",), 1.0, role="level2", align="c"),
            Column(("三级指标",), 1.6, role="level3", align="l"), Column(("指标值",), 0.8, role="target", align="c"),
            Column(("指标值说明",), 2.2, role="description", align="l")]
    goal = "；".join(ctx.sector.duties[:2])
    total = sum(i.total for i in b.items)
    basic = sum(i.basic for i in b.items)
    project = total - basic
    rec = {"record_id": f"{tid}-p0", "type": "project", "table_id": tid, "confidence": 1.0, "checks": [], "page": None,
           "line": None, "name": ctx.dept, "code": None, "implementing_unit": ctx.dept, "amount": parse_printed(ctx.fmt(total)),
           "goal": goal}
    pre = [Row([cell("部门(单位)名称"), cell(ctx.dept, "implementing_unit"), None, None, None], "project_header", None, [rec]),
           Row([cell("年度履职目标"), cell(goal, "goal"), None, None, None], "project_header")]
    for label, v in ((f"部门预算总额({b.unit})", total), ("其中：基本支出", basic), ("项目支出", project)):
        t = ctx.fmt(v)
        pre.append(Row([cell("预算情况" if label.startswith("部门") else ""), cell(label), None,
                        cell(t, "amount", "amount", "r"), None], "project_header"))
    inds = pick_indicators(ctx.sector.indicators, ctx.rng, ctx.rng.randint(6, 11), ctx.province, ctx.year)
    # a separate generator: the rest of the document draws the same numbers either way
    own = random.Random(f"{ctx.dept}|{tid}|explained")
    if own.random() < 0.5:  # many departments explain every indicator at length (how it is computed, what is checked)
        inds = [tuple(ind[:3]) + (_explained(own, ind[2], ind[3]),) + tuple(ind[4:]) for ind in inds]
    framework = random.Random(f"{ctx.dept}|{tid}|framework")
    if framework.random() < 0.4:  # others judge the department as a whole: 投入/过程/产出/效果 (部门整体支出绩效)
        inds = framework_indicators(framework, framework.randint(7, 14))
    rows = _indicator_rows(ctx, tid, cols, inds, None, with_scores=False)
    title = ctx.title("department_performance", ordinal)
    return TableSpec(tid, "department_performance", title, cols, rows, [], pre_rows=pre)


def self_evaluation_table(ctx: Context, number: int, p: Project) -> TableSpec:
    tid = ctx.table_id()
    cols = [Column(("一级指标",), 0.8, role="level1", align="c"), Column(("二级指标",), 0.9, role="level2", align="c"),
            Column(("三级指标",), 1.5, role="level3", align="l"), Column(("年度指标值",), 0.9, role="target", align="c"),
            Column(("实际完成值",), 0.9, role="actual", align="c"), Column(("分值",), 0.5, role="weight", align="c"),
            Column(("得分",), 0.5, role="score", align="c")]
    executed = int(p.amount * ctx.rng.choice([1.0, 1.0, 0.98, 0.95, 0.9]))
    bt, et = ctx.fmt(p.amount), ctx.fmt(executed)
    rate = f"{executed / p.amount * 100:.2f}%" if p.amount else "-"
    fund_score = 10.0 if executed == p.amount else round(10 * executed / max(p.amount, 1), 1)
    rec = {"record_id": f"{tid}-p0", "type": "project", "table_id": tid, "confidence": 1.0, "checks": [], "page": None,
           "line": None, "name": p.name, "code": None, "implementing_unit": ctx.dept, "amount": parse_printed(bt),
           "goal": _goal_text(ctx, p, ctx.year - 1)}
    pre = [Row([cell("项目名称"), cell(p.name, "project"), None, None, None, None, None], "project_header", None, [rec]),
           Row([cell("实施单位"), cell(ctx.dept, "implementing_unit"), None, None, None, None, None], "project_header"),
           Row([cell("项目资金"), cell("全年预算数"), None, cell("全年执行数"), cell("执行率"), cell("分值"), cell("得分")],
               "project_header"),
           Row([cell(f"（{ctx.budget.unit}）"), cell(bt, "amount", "budget", "r"), None, cell(et, "amount", "executed", "r"),
                cell(rate), cell("10", "weight"), cell(_num(fund_score), "score")], "project_header"),
           Row([cell("年度总体目标"), cell(rec["goal"], "goal"), None, None, None, None, None], "project_header")]
    inds = pick_indicators(ctx.sector.indicators, ctx.rng, ctx.rng.randint(5, 9), ctx.province, ctx.year)
    rows = _indicator_rows(ctx, tid, cols, inds, p.name, with_scores=True)
    title = f"{number}、{ctx.year - 1}年度{p.name}项目支出绩效自评表"
    start = title.index(p.name)
    return TableSpec(tid, "performance_self_evaluation", title, cols, rows, [], pre_rows=pre,
                     title_fields=[FieldRange(start, start + len(p.name), "project")])


def project_list_table(ctx: Context, ordinal: int, projects: list[Project]) -> TableSpec:
    tid = ctx.table_id()
    cols = [Column(("序号",), 0.4, role="row_no", align="c"), Column(("项目名称",), 2.6, role="name", align="l"),
            amount_col(("预算数",), "budget", ctx), amount_col(("执行数",), "executed", ctx),
            Column(("执行率",), 0.7, role="rate", align="c"), Column(("自评得分",), 0.6, key="score", role="amount")]
    entries = []
    for p in projects:
        ex = int(p.amount * ctx.rng.choice([1.0, 0.99, 0.95, 0.9]))
        entries.append(Entry(p.name, {"budget": p.amount, "executed": ex, "score": ctx.rng.randint(80, 100) * 100},
                             texts={"rate": f"{ex / max(p.amount, 1) * 100:.1f}%"}))
    rows = entry_rows(ctx, tid, cols, entries)
    for r in rows:
        r.records[0]["row_no"] = r.index + 1 if r.index is not None else None
        for c, col in zip(r.cells, cols):
            if col.key == "score" and c is not None:
                c.text = c.text.split(".")[0]
                c.fields = [FieldRange(0, len(c.text), "score")]
                r.records[0]["values"]["score"] = float(c.text)
    return TableSpec(tid, "performance_self_evaluation", f"{ctx.year - 1}年度项目支出绩效自评结果汇总表", cols, rows,
                     contract_columns(cols), furniture=ctx.furniture())


def wide_targets_table(ctx: Context, projects: list[Project]) -> TableSpec:
    """Seed 002's 部门预算项目绩效目标表: one row group per project, indicators in column pairs per 一级指标."""
    tid = ctx.table_id()
    groups = ("成本指标", "产出指标", "效益指标", "满意度指标")
    cols = [Column(("单位编码（项目编码）",), 1.5, role="pcode", align="l"),
            Column(("项目单位（项目名称）",), 1.5, role="pname", align="l"),
            Column(("项目金额（万元）", "资金总额"), 0.8, key="amount", role="pamount"),
            Column(("项目金额（万元）", "政府预算资金"), 0.8, key="extra:政府预算资金", role="pgov"),
            Column(("项目金额（万元）", "财政专户管理资金"), 0.7, key="extra:财政专户管理资金", role="pother"),
            Column(("项目金额（万元）", "单位资金"), 0.6, key="unit_funds", role="pother")]
    for g in groups:
        cols.append(Column(("绩效目标", g, "三级指标"), 1.0, role=f"l3:{g}", align="l"))
        cols.append(Column(("绩效目标", g, "指标值"), 0.7, role=f"tv:{g}", align="c"))
    rows: list[Row] = []
    total = sum(p.amount for p in projects)

    def amount_cells(v: int, code: str, name: str, label: str) -> list[Optional[Cell]]:
        t = ctx.fmt(v)
        out: list[Optional[Cell]] = [cell(code, "project_code" if label == "p" else ("department_code" if code else None)),
                                     cell(name, "project" if label == "p" else ("implementing_unit" if name else None)),
                                     cell(t, "amount", "amount", "r"), cell(t, "amount", "extra:政府预算资金", "r"),
                                     cell(""), cell("")]
        for c in out:
            if c is not None:
                c.label = "project_header"
        return out

    rows.append(Row(amount_cells(total, "", "", "t") + [cell("") for _ in range(8)], "indicator_row", 0))
    rows.append(Row(amount_cells(total, f"{ctx.dept_code}001", ctx.dept, "d") + [cell("") for _ in range(8)],
                    "indicator_row", 1))
    n_ind = 0
    for p in projects:
        inds = pick_indicators(ctx.sector.indicators, ctx.rng, ctx.rng.randint(4, 9), ctx.province, ctx.year)
        per_group: dict[str, list[tuple]] = {g: [] for g in groups}
        for ind in inds:
            g = "成本指标" if ind[1] == "成本指标" else ind[0]
            per_group[g].append(ind)
        height = max(1, max(len(v) for v in per_group.values()))
        head = amount_cells(p.amount, p.code, p.name, "p")
        for c in head:
            if c is not None:
                c.rowspan = height
        prec = {"record_id": f"{tid}-p{len(rows)}", "type": "project", "table_id": tid, "confidence": 1.0,
                "checks": [], "page": None, "line": None, "name": p.name, "code": p.code,
                "implementing_unit": ctx.dept, "amount": parse_printed(ctx.fmt(p.amount)), "goal": None}
        for k in range(height):
            cells: list[Optional[Cell]] = list(head) if k == 0 else [None] * 6
            recs = [prec] if k == 0 else []
            for g in groups:
                if k < len(per_group[g]):
                    l1, l2, l3, desc, target, basis = per_group[g][k]
                    cells += [cell(l3, "level3"), cell(target, "target", align="c")]
                    recs.append({"record_id": f"{tid}-i{n_ind}", "type": "indicator", "table_id": tid,
                                 "confidence": 1.0, "checks": [], "page": None, "line": None, "row": len(rows),
                                 "project": p.name, "project_code": p.code,
                                 "level1": g, "level2": None, "level3": l3, "description": None,
                                 "target": "".join(target.split()), "target_parsed": parse_target(target),
                                 "basis": None})
                    n_ind += 1
                else:
                    cells += [cell(""), cell("")]
            rows.append(Row(cells, "indicator_row", len(rows), recs))
    title = f"{ctx.year} 年部门预算项目绩效目标表" if ctx.rng.random() < 0.6 else "预算项目绩效目标表"
    return TableSpec(tid, "performance_targets", title, cols, rows, contract_columns(cols),
                     landscape=True, furniture=ctx.furniture())




DEPARTMENT_EVALUATION: tuple[tuple[str, str, str, str, int], ...] = (
    ("投入", "预算编制", "预算编制科学性", "预算编制符合规定程序和要求，得满分；否则酌情扣分", 5),
    ("投入", "目标设置", "绩效目标合理性", "绩效目标明确、细化、量化，得满分；否则酌情扣分", 5),
    ("过程", "资金管理", "预算执行率", "预算执行率=实际支出/预算数×100%，每低1%扣0.1分", 10),
    ("过程", "资金管理", "资金使用合规性", "资金使用符合财经法规和制度规定得满分，发现违规每处扣1分", 10),
    ("过程", "采购管理", "政府采购执行率", "按政府采购预算执行得满分，未按计划执行酌情扣分", 5),
    ("过程", "资产管理", "资产管理规范性", "资产管理制度健全、账实相符得满分；否则酌情扣分", 5),
    ("产出", "产出数量", "重点工作完成率", "完成率100%得满分，每降低1%扣0.5分", 20),
    ("产出", "产出质量", "工作质量达标率", "各项工作达到质量标准得满分；否则酌情扣分", 10),
    ("产出", "产出时效", "任务完成及时性", "按时完成得满分，每延迟一项扣1分", 10),
    ("效果", "社会效益", "履职效益", "履职效果明显得满分；效果一般酌情扣分", 10),
    ("效果", "满意度", "服务对象满意度", "满意度≥90%得满分，每降低1%扣0.5分", 10),
)


def department_self_evaluation_table(ctx: Context, year: int) -> TableSpec:
    """部门整体支出绩效自评表: 一级/二级指标 merged, 指标内容, 评价标准, 分值, 自评得分 (no 指标值)."""
    tid = ctx.table_id()
    cols = [Column(("一级指标",), 0.6, role="level1", align="c"), Column(("二级指标",), 0.8, role="level2", align="c"),
            Column(("指标内容",), 1.2, role="level3", align="l"), Column(("评价标准",), 2.6, role="description", align="l"),
            Column(("分值",), 0.45, role="weight", align="c"), Column(("自评得分",), 0.55, role="score", align="c")]
    rows: list[Row] = []
    items = DEPARTMENT_EVALUATION
    for k, (l1, l2, l3, rule, weight) in enumerate(items):
        first1 = k == 0 or items[k - 1][0] != l1
        first2 = first1 or items[k - 1][1] != l2
        score = float(weight) if ctx.rng.random() < 0.75 else round(weight * ctx.rng.choice([0.6, 0.8, 0.9]), 1)
        c1 = cell(l1, "level1", align="c") if first1 else None
        if c1:
            c1.rowspan = sum(1 for it in items[k:] if it[0] == l1)
        c2 = cell(l2, "level2", align="c") if first2 else None
        if c2:
            n = 0
            while k + n < len(items) and items[k + n][:2] == (l1, l2):
                n += 1
            c2.rowspan = n
        cells = [c1, c2, cell(l3, "level3"), cell(rule, "description"), cell(str(weight), "weight", align="c"),
                 cell(_num(score), "score", align="c")]
        rec = {"record_id": f"{tid}-i{k}", "type": "indicator", "table_id": tid, "confidence": 1.0, "checks": [],
               "page": None, "line": None, "row": k, "project": None, "project_code": None, "level1": l1,
               "level2": l2, "level3": l3, "description": rule, "target": None, "target_parsed": None,
               "basis": None, "weight": float(weight), "score": score}
        rows.append(Row(cells, "indicator_row", k, [rec]))
    title = f"{ctx.dept}{year}年度部门整体支出绩效自评表"
    return TableSpec(tid, "performance_self_evaluation", title, cols, rows, [])
