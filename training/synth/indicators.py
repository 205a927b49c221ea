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
