"""Every export format is taken by the TRL trainer for it: SFTTrainer (chatml, alpaca, sharegpt,
prompt-completion, reflection), DPOTrainer (dpo), and the stepwise-supervision trainer (prm) where the
installed TRL has one. One optimizer step each on the tiny 2-layer Llama of tests/train_support.py; max_length
holds the student prompt (its system text alone is ~300 of that byte-level vocabulary's tokens)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
from test_export_formats import store_trace, trace  # noqa: E402
from train_support import tiny_model_dir  # noqa: E402

from scireflect.store.export import ExportOptions, export  # noqa: E402

trl = pytest.importorskip("trl", reason="the train extra is not installed (pip install 'scireflect[train]')")
pytest.importorskip("datasets")

ONE_STEP = dict(max_steps=1, per_device_train_batch_size=2, max_length=768, report_to=[], save_strategy="no",
                logging_strategy="no", use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)


@pytest.fixture
def exported(settings: Any, stores: Any, tmp_path: Path) -> Any:
    """Writes ``fmt`` from eight traces (two of each kind) and loads it with ``datasets``."""
    from datasets import load_dataset

    for i, kind in enumerate(("cot", "reflection", "two_rounds", "with_answer") * 2):
        store_trace(stores, trace(i, kind))

    def write(fmt: str, **opts: Any) -> Any:
        out = tmp_path / f"{fmt}.jsonl"
        res = export(settings, out, fmt, stores=stores, options=ExportOptions(decontaminate=False, **opts))
        assert res.total >= 2, res.summary()
        return load_dataset("json", data_files=str(out), split="train")

    return write


def _model_and_tokenizer() -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_model_dir()
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


@pytest.mark.parametrize("fmt", ["chatml", "alpaca", "sharegpt", "prompt-completion", "reflection"])
def test_sft_trainer_takes_the_format(fmt: str, exported: Any, tmp_path: Path) -> None:
    from trl import SFTConfig, SFTTrainer

    ds = exported(fmt, reflection_answer_shown="mark")
    model, tok = _model_and_tokenizer()
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=ds,
                         args=SFTConfig(output_dir=str(tmp_path / "sft"), **ONE_STEP))
    assert trainer.train_dataset.num_rows == ds.num_rows and trainer.train_dataset[0]["input_ids"]
    out = trainer.train()
    assert out.global_step == 1 and out.training_loss > 0


def test_alpaca_trains_on_the_answer_only(exported: Any, tmp_path: Path) -> None:
    """Alpaca's prompt/completion make SFTTrainer mask the prompt out of the loss (no formatting function)."""
    from trl import SFTConfig, SFTTrainer

    model, tok = _model_and_tokenizer()
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=exported("alpaca"),
                         args=SFTConfig(output_dir=str(tmp_path / "sft"), **ONE_STEP))
    row = trainer.train_dataset[0]
    in_loss = [x != -100 for x in row["labels"]]  # TRL 1.x builds the labels; -100 is left out of the loss
    assert 0 < sum(in_loss) < len(in_loss) and not in_loss[0] and in_loss[-1]


@pytest.mark.parametrize("pairs", ["stage1", "all"])
def test_dpo_trainer_takes_the_pairs(pairs: str, exported: Any, tmp_path: Path) -> None:
    from trl import DPOConfig, DPOTrainer

    ds = exported("dpo", dpo_pairs=pairs)
    assert set(ds.column_names) == {"prompt", "chosen", "rejected"}
    model, tok = _model_and_tokenizer()
    trainer = DPOTrainer(model=model, processing_class=tok, train_dataset=ds,
                         args=DPOConfig(output_dir=str(tmp_path / "dpo"), **ONE_STEP))
    out = trainer.train()
    assert out.global_step == 1 and out.training_loss > 0


def test_prm_rows_are_stepwise_supervision(exported: Any, tmp_path: Path) -> None:
    ds = exported("prm")
    assert set(ds.column_names) == {"prompt", "completions", "labels"}
    for row in ds:
        assert isinstance(row["prompt"], str) and row["completions"]
        assert len(row["completions"]) == len(row["labels"]) and all(isinstance(b, bool) for b in row["labels"])
    trainer_cls = getattr(trl, "PRMTrainer", None) or getattr(getattr(trl, "experimental", None), "PRMTrainer", None)
    if trainer_cls is None:
        pytest.skip(f"TRL {trl.__version__} has no PRMTrainer (stepwise supervision; removed from TRL 1.x): the "
                    "rows are checked against its format above only")
    config_cls = getattr(trl, "PRMConfig")
    model, tok = _model_and_tokenizer()
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir(), num_labels=2)
    trainer = trainer_cls(model=model, processing_class=tok, train_dataset=ds,
                          args=config_cls(output_dir=str(tmp_path / "prm"), **ONE_STEP))
    assert trainer.train().global_step == 1
