"""Verdicts on public model outputs nobody on the team wrote (``tests/regress/public_outputs.jsonl``; sources,
sampling and label rules in ``tests/regress/PUBLIC_OUTPUTS.md``): GPT-4 on JEEBench, a DeepSeek chat model on
GPQA-diamond, GPT-4's TheoremQA errors. Each case is labelled as a careful grader reads the output's final answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from scireflect.testing.answer_tables import load_table, score
from scireflect.tools import verify_answer

TABLE = Path(__file__).resolve().parents[1] / "regress" / "public_outputs.jsonl"
KEYS = {"id", "pred", "gold", "equal", "category", "source", "note"}
# Measured 0.990 (101 of 102, 0 false accepts; the miss is gpqa-diamond-84-v3, see PUBLIC_OUTPUTS.md).
ACCURACY_FLOOR = 0.97
# Self-gold controls: the same real outputs against their OWN stated final answer (so every one is equal).
# Measured 59 of 63 accepted; the 4 rejects are listed in PUBLIC_OUTPUTS.md.
SELF_GOLD_FLOOR = 0.90


def _cases() -> list[dict[str, Any]]:
    return load_table(TABLE)


def _verdicts(pairs: list[tuple[str, str]]) -> list[Any]:
    with ThreadPoolExecutor(4) as ex:
        return list(ex.map(lambda pg: verify_answer(*pg), pairs))


def _show(case: dict[str, Any], gold: str, v: Any) -> str:
    return (f"  {case['id']} ({case['category']}): expected {'equal' if case['equal'] else 'unequal'} "
            f"vs gold {gold!r}, got {v.reason} ({v.message})\n"
            f"    extracted {v.details.get('pred_answer')!r}, choice {v.details.get('pred_choice')!r}\n"
            f"    pred ...{case['pred'][-160:]!r}\n    note: {case['note']}")


def test_table_schema() -> None:
    cases = _cases()
    assert 60 <= len(cases) <= 150
    assert len({c["id"] for c in cases}) == len(cases)
    for c in cases:
        assert set(c) == KEYS, c["id"]
        assert isinstance(c["equal"], bool) and c["pred"] and c["gold"], c["id"]
        assert ":" in c["source"] and "/" in c["source"].split(":")[0], c["id"]
    assert sum(not c["equal"] for c in cases) >= len(cases) / 3


def test_public_outputs_no_false_accepts_and_accuracy_floor() -> None:
    cases = _cases()
    verdicts = _verdicts([(c["pred"], c["gold"]) for c in cases])
    got = score(cases, verdicts)
    shown = [_show(c, c["gold"], v) for c, v in zip(cases, verdicts) if bool(v.ok) != c["equal"]]
    print(f"\n{got['n']} cases: accuracy {got['accuracy']:.3f}, {got['false_accepts']} false accepts, "
          f"{got['false_rejects']} false rejects")
    print("\n".join(shown))
    assert got["false_accepts"] == 0, "false accepts:\n" + "\n".join(shown)
    assert got["accuracy"] >= ACCURACY_FLOOR, "misses:\n" + "\n".join(shown)


# The final answer each wrong output states (read by hand), used as a reference: the real text must then be
# accepted. These test false rejects on the two thirds of the table whose real verdict is "unequal".
SELF = {
 'jee-2016p1-q51-math':'1','jee-2016p1-q53-math':'12','jee-2017p1-q47-math':'80640','jee-2018p1-q25-chem':'2',
 'jee-2018p1-q27-chem':'5','jee-2018p1-q45-math':'3749','jee-2018p2-q8-phy':'44.71','jee-2018p2-q30-chem':'-6.6',
 'jee-2018p2-q44-math':'6','jee-2018p2-q48-math':'5','jee-2019p1-q50-math':'17','jee-2019p2-q13-phy':'215',
 'jee-2020p2-q16-phy':'-23.81','jee-2020p2-q22-chem':'0','jee-2021p1-q5-phy':'1','jee-2021p1-q42-math':'12.25',
 'jee-2021p1-q44-math':'0.67','jee-2021p1-q54-math':'1','jee-2021p2-q9-phy':'0.1','jee-2021p2-q12-phy':'63.43',
 'jee-2021p2-q26-chem':'1','jee-2021p2-q43-math':'1.732','jee-2022p1-q5-math':'2','jee-2022p1-q20-phy':'1.49',
 'jee-2022p2-q25-phy':'12','jee-2023p2-q12-math':'2921','jee-2016p2-q4-phy':'C','jee-2017p2-q40-math':'C',
 'jee-2019p1-q3-phy':'D','jee-2019p1-q4-phy':'C','jee-2021p2-q50-math':'C',
 'gpqa-diamond-6-v1':'B','gpqa-diamond-31-v2':'A','gpqa-diamond-36-v2':'C','gpqa-diamond-45-v4':'A','gpqa-diamond-64-v3':'D',
 'gpqa-diamond-105-v2':'C','gpqa-diamond-112-v2':'C','gpqa-diamond-145-v1':'B','gpqa-diamond-148-v4':'C','gpqa-diamond-163-v3':'A',
 'gpqa-diamond-27-v3':'A','gpqa-diamond-48-v2':'D','gpqa-diamond-58-v1':'B','gpqa-diamond-67-v1':'D','gpqa-diamond-79-v1':'C',
 'gpqa-diamond-80-v4':'B','gpqa-diamond-86-v1':'C','gpqa-diamond-91-v2':'C','gpqa-diamond-111-v4':'A','gpqa-diamond-146-v3':'A',
 'gpqa-diamond-149-v1':'C','gpqa-diamond-179-v3':'B',
 'theoremqa-gpt4-xinyi-channel_capacity_4':'0.5','theoremqa-gpt4-tonyxia-modulararithmetic5':'91','theoremqa-gpt4-xinyi-newtons_laws_3':'0.524',
 'theoremqa-gpt4-xinyi-potential_energy':'45.95','theoremqa-gpt4-tonyxia-divisibility4':'17','theoremqa-gpt4-xueguangma-black_scholes_framework_1':'6.81',
 'theoremqa-gpt4-mingyin-Lebesgue-measure2':'1','theoremqa-gpt4-maxku-cv-videoprocessing1-digital-video':'437.5','theoremqa-gpt4-jianyu_xu-Cayley_4':'203',
 'theoremqa-gpt4-panlu-kite1':'22.63',
}


def test_self_gold_controls_are_accepted() -> None:
    cases = {c["id"]: c for c in _cases()}
    assert set(SELF) <= set(cases) and not any(cases[k]["equal"] for k in SELF)
    ids = sorted(SELF)
    verdicts = _verdicts([(cases[k]["pred"], SELF[k]) for k in ids])
    rejected = [_show(dict(cases[k], equal=True), SELF[k], v) for k, v in zip(ids, verdicts) if not v.ok]
    accepted = len(ids) - len(rejected)
    print(f"\nself-gold controls: {accepted} of {len(ids)} accepted")
    print("\n".join(rejected))
    assert accepted / len(ids) >= SELF_GOLD_FLOOR, "rejected:\n" + "\n".join(rejected)


# Designed probes (not public text) of the cause behind jee-2016p1-q33-chem's lucky verdict: a concluding
# prose statement "the value of x is 5" must win over an earlier relation "v = 4".
@pytest.mark.parametrize("pred,gold,ok", [
    ("We find v = 4.\n\nTherefore, the value of x is 5.", "4", False),
    ("We find v = 4.\n\nTherefore, the value of x is 5.", "5", True),
    ("First, v = 4.\nThen x is 5.", "4", False),
])
def test_final_prose_statement_beats_earlier_relation(pred: str, gold: str, ok: bool) -> None:
    assert verify_answer(pred, gold).ok is ok
