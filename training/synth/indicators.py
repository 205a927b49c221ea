"""Performance indicators (绩效指标): levels, descriptions, targets and their parsed form."""
from __future__ import annotations

import random
import re
from typing import Any, Optional

LEVEL1_OF_LEVEL2 = {
    "数量指标": "产出指标", "质量指标": "产出指标", "时效指标": "产出指标", "成本指标": "产出指标",
    "经济效益指标": "效益指标", "社会效益指标": "效益指标", "生态效益指标": "效益指标",
    "可持续影响指标": "效益指标", "服务对象满意度指标": "满意度指标",
}

# (level2, level3, description, target, basis)
GENERIC: tuple[tuple[str, str, str, str, str], ...] = (
    ("时效指标", "资金拨付及时率", "资金按规定时限拨付到位的比例", "100%", "财政资金管理办法"),
    ("时效指标", "项目完成时间", "项目计划完成时限", "12月底前", "年度工作计划"),
    ("质量指标", "资金使用合规率", "资金按规定用途使用的比例", "100%", "财务管理制度"),
    ("质量指标", "工作完成率", "各项工作实际完成情况", "≥98%", "年度工作计划"),
    ("成本指标", "项目成本控制", "项目实际支出不超预算", "≤预算数", "部门预算批复"),
    ("成本指标", "人均补助标准", "按标准发放的人均补助", "≥70元", "县级机关差旅费管理办法"),
    ("社会效益指标", "政策知晓率", "服务对象对相关政策的知晓程度", "≥95%", "调查问卷"),
    ("社会效益指标", "群众生活质量", "改善群众生产生活条件", "明显改善", "走访调查"),
    ("社会效益指标", "社会影响力", "保障工作正常运转，提升服务社会能力", "明显提高", "年终工作总结"),
    ("经济效益指标", "带动群众增收", "项目带动群众增加收入", "有所增加", "统计报表"),
    ("生态效益指标", "生态环境改善", "项目实施对生态环境的改善作用", "持续改善", "环境监测数据"),
    ("可持续影响指标", "长效管理机制", "建立健全长效管理机制", "长期", "工作报告"),
    ("可持续影响指标", "对健全保障制度体系的作用", "对健全保障制度体系的作用", "成效明显", "工作报告"),
    ("服务对象满意度指标", "服务对象满意度", "调查中满意人数占总人数的比率", "≥95%", "问卷调查"),
    ("服务对象满意度指标", "受益群众满意度", "受益群众对项目实施的满意程度", "≥90%", "调查问卷"),
)

_TARGET_RE = re.compile(r"^(≥|≤|>|<|=|＞|＜|大于等于|小于等于)?\s*(\d+(?:\.\d+)?)\s*(.*)$")
_NOT_A_UNIT = re.compile(r"[前后底内止]|以上|以下")  # "12月底前" is a date, not 12 of a unit
_OPS = {"＞": ">", "＜": "<", "大于等于": "≥", "小于等于": "≤"}


def parse_target(target: str) -> dict[str, Any]:
    """'≥95%' -> {op: ≥, value: 95, unit: %}; text targets keep only `text`."""
    t = re.sub(r"\s+", "", target)
    m = _TARGET_RE.match(t)
    if m and m.group(2) and not _NOT_A_UNIT.search(m.group(3) or ""):
        op = _OPS.get(m.group(1) or "", m.group(1) or "=")
        unit: Optional[str] = m.group(3) or None
        return {"op": op, "value": float(m.group(2)), "unit": unit, "text": None}
    return {"op": None, "value": None, "unit": None, "text": t}


PROVINCE_ABBR = {"河北": "冀", "河南": "豫", "安徽": "皖", "湖南": "湘", "四川": "川", "陕西": "陕", "山东": "鲁",
                 "江西": "赣", "湖北": "鄂", "广西": "桂", "云南": "云", "甘肃": "甘"}
_BRACKETS = (("〔", "〕"), ("[", "]"), ("【", "】"), ("（", "）"), ("(", ")"))


def document_number(rng: random.Random, province: str, year: int) -> str:
    """A policy document number as printed in 指标值确定依据: 冀财社〔2021〕31号, 豫医保发【2021】9号 …"""
    org = rng.choice(["财社", "财教", "财农", "财行", "医保发", "政办", "财预"])
    left, right = rng.choice(_BRACKETS)
    return f"{PROVINCE_ABBR.get(province, '')}{org}{left}{year - 1}{right}{rng.randint(1, 240)}号"


def pick_indicators(sector_indicators, rng: random.Random, n: int, province: str = "", year: int = 2022
                    ) -> list[tuple[str, str, str, str, str, str]]:
    """n indicators ordered 产出 → 效益 → 满意度: (level1, level2, level3, description, target, basis)."""
    bases = ("年度工作计划", "相关政策文件", "行业标准", "历史数据", "统计报表", "上级文件要求")
    doc_no = document_number(rng, province, year)

    def basis() -> str:
        return doc_no if rng.random() < 0.35 else rng.choice(bases)

    pool = [(l2, l3, d, t, basis()) for l2, l3, d, t in sector_indicators]
    pool += [(l2, l3, d, t, b if rng.random() < 0.6 else basis()) for l2, l3, d, t, b in GENERIC]
    rng.shuffle(pool)
    chosen: list[tuple[str, str, str, str, str]] = []
    # always at least one of each level-1 kind
    for wanted in ("产出指标", "效益指标", "满意度指标"):
        for cand in pool:
            if LEVEL1_OF_LEVEL2[cand[0]] == wanted and cand not in chosen:
                chosen.append(cand)
                break
    for cand in pool:
        if len(chosen) >= n:
            break
        if cand not in chosen and cand[1] not in {c[1] for c in chosen}:
            chosen.append(cand)
    order = {"产出指标": 0, "效益指标": 1, "满意度指标": 2}
    l2order = list(LEVEL1_OF_LEVEL2)
    chosen.sort(key=lambda c: (order[LEVEL1_OF_LEVEL2[c[0]]], l2order.index(c[0])))
    return [(LEVEL1_OF_LEVEL2[c[0]], c[0], c[1], c[2], c[3], c[4]) for c in chosen]


# The department-wide framework (部门整体支出绩效): what a department as a whole is judged on, each
# indicator defined at length. (level1, level2, level3, target, what it checks, formula or "")
DEPARTMENT_FRAMEWORK: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("投入管理指标", "工作目标管理", "年度履职目标相关性", "相关",
     "部门年度履职目标是否与部门职责、中长期规划和年度重点工作相衔接", ""),
    ("投入管理指标", "工作目标管理", "工作任务科学性", "科学",
     "部门年度工作任务是否围绕履职目标设置，任务内容、实施计划和预期成效是否明确", ""),
    ("投入管理指标", "工作目标管理", "绩效指标合理性", "合理",
     "部门绩效指标是否细化、量化，指标值是否与年度任务数或计划数相对应", ""),
    ("投入管理指标", "预算配置", "在职人员控制率", "≤100%",
     "部门本年度实际在职人员数是否控制在核定编制数以内", "在职人员控制率=（在职人员数/编制数）×100%"),
    ("投入管理指标", "预算配置", "“三公经费”变动率", "≤0",
     "部门本年度“三公经费”预算安排是否较上年有所压减",
     "“三公经费”变动率=（本年度“三公经费”总额-上年度“三公经费”总额）/上年度“三公经费”总额×100%"),
    ("投入管理指标", "预算配置", "重点支出安排率", "≥90%",
     "部门本年度预算安排的重点项目支出占项目总支出的比重，反映部门对履职重点工作的保障程度",
     "重点支出安排率=（重点项目支出/项目总支出）×100%"),
    ("过程管理指标", "预算执行", "预算完成率", "100%",
     "部门本年度预算完成数与预算数的比率，预算完成数指部门本年度实际执行的预算数",
     "预算完成率=（预算完成数/预算数）×100%"),
    ("过程管理指标", "预算执行", "预算调整率", "≤10%",
     "部门本年度预算调整数与预算数的比率，预算调整数指本年度追加、追减或结构调整的资金总和",
     "预算调整率=（预算调整数/预算数）×100%"),
    ("过程管理指标", "预算执行", "结转结余率", "≤5%",
     "部门本年度结转结余总额与支出预算数的比率，结转结余总额指本年度结转资金与结余资金之和",
     "结转结余率=（结转结余总额/支出预算数）×100%"),
    ("过程管理指标", "预算执行", "公用经费控制率", "≤100%",
     "部门本年度实际支出的公用经费总额与预算安排的公用经费总额的比率",
     "公用经费控制率=（实际支出公用经费总额/预算安排公用经费总额）×100%"),
    ("过程管理指标", "预算执行", "政府采购执行率", "100%",
     "部门本年度实际政府采购金额与年初政府采购预算的比率",
     "政府采购执行率=（实际政府采购金额/政府采购预算数）×100%"),
    ("过程管理指标", "预算管理", "管理制度健全性", "健全",
     "部门为加强预算管理、规范财务行为而制定的内部管理制度是否健全完整，并得到有效执行", ""),
    ("过程管理指标", "预算管理", "资金使用合规性", "合规",
     "部门使用预算资金是否符合相关法律法规、财务制度和资金管理办法的规定，资金拨付是否履行审批手续", ""),
    ("过程管理指标", "预算管理", "预决算信息公开性", "公开",
     "部门是否按照政府信息公开的有关规定，在规定时限内公开部门预算、决算和绩效信息", ""),
    ("过程管理指标", "预算管理", "基础信息完善性", "完善",
     "部门基础数据信息和会计信息资料是否真实、完整、准确，用以反映部门基础信息对预算管理工作的支撑情况", ""),
    ("过程管理指标", "资产管理", "资产管理安全性", "安全",
     "部门资产是否保存完整、使用合规、配置合理、处置规范，收入是否及时足额上缴", ""),
    ("过程管理指标", "资产管理", "固定资产利用率", "≥90%",
     "部门实际在用固定资产总额与所有固定资产总额的比率，用以反映部门固定资产的使用效率",
     "固定资产利用率=（实际在用固定资产总额/所有固定资产总额）×100%"),
    ("产出指标", "职责履行", "实际完成率", "≥95%",
     "部门履职工作任务实际完成数与计划工作数的比率，用以反映和考核部门履职工作任务目标的实现程度",
     "实际完成率=（实际完成工作数/计划工作数）×100%"),
    ("产出指标", "职责履行", "完成及时率", "100%",
     "部门在规定时限内及时完成的实际工作数与计划工作数的比率",
     "完成及时率=（及时完成实际工作数/计划工作数）×100%"),
    ("产出指标", "职责履行", "重点工作办结率", "100%",
     "部门年度重点工作实际完成数与交办或下达数的比率，用以反映部门对重点工作的办理落实程度",
     "重点工作办结率=（重点工作实际完成数/交办或下达数）×100%"),
    ("效果指标", "履职效益", "社会效益", "明显",
     "部门履行职责对经济发展、社会发展和民生改善所带来的直接或间接影响", ""),
    ("效果指标", "履职效益", "服务对象满意度", "≥90%",
     "部门的服务对象对部门履职效果的满意程度，通过问卷调查或走访等方式取得", ""),
)

FRAMEWORK_CHECKS = (
    "是否符合国家法律法规和政策要求", "是否有明确的实施计划和时间安排", "是否履行规定的审批程序",
    "是否存在截留、挤占、挪用资金的情况", "是否按规定用途使用资金", "资料是否真实、完整并及时归档",
    "是否建立相应的监督检查机制", "是否按要求开展绩效监控和绩效自评",
)


def framework_indicators(rng: random.Random, n: int) -> list[tuple[str, str, str, str, str, str]]:
    """n department-wide indicators in framework order, each explained at length:
    (level1, level2, level3, explanation, target, basis)."""
    chosen = sorted(rng.sample(range(len(DEPARTMENT_FRAMEWORK)), min(n, len(DEPARTMENT_FRAMEWORK))))
    out = []
    for i in chosen:
        l1, l2, l3, target, what, formula = DEPARTMENT_FRAMEWORK[i]
        parts = [what + rng.choice(["。", "，用以反映和考核部门（单位）预算管理的规范程度。", "，用以反映部门履职情况。"])]
        if formula and rng.random() < 0.8:
            parts.insert(0 if rng.random() < 0.4 else 1, formula + "。")
        if rng.random() < 0.45:
            checks = rng.sample(FRAMEWORK_CHECKS, rng.randint(2, 4))
            parts.append("".join(f"{k}.{c}；" for k, c in enumerate(checks, 1)).rstrip("；") + "。")
        out.append((l1, l2, l3, "".join(parts), target, "部门整体绩效目标"))
    return out
