"""The documented multi-GPU launch configs parse as accelerate reads them, with no unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest

accelerate = pytest.importorskip("accelerate", reason="the train extra is not installed")

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "accelerate"
EXPECTED = {"ddp.yaml": ("MULTI_GPU", None), "fsdp.yaml": ("FSDP", "fsdp_config"),
            "deepspeed_zero2.yaml": ("DEEPSPEED", "deepspeed_config"),
            "deepspeed_zero3.yaml": ("DEEPSPEED", "deepspeed_config")}


def _launch_options() -> set[str]:
    from accelerate.commands.launch import launch_command_parser

    return {a.dest for a in launch_command_parser()._actions}


def test_every_config_is_documented_here() -> None:
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_parses(name: str) -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(CONFIGS / name))  # raises on unknown top-level keys
    dist_type, section = EXPECTED[name]
    assert config.distributed_type.value == dist_type
    assert str(config.mixed_precision) in ("bf16", "PrecisionType.BF16")
    if section:
        # accelerate launch turns each key of the section into a --flag; an unknown key would be dropped silently
        unknown = set(getattr(config, section)) - _launch_options()
        assert not unknown, f"{name}: {section} keys accelerate launch does not know: {unknown}"


def test_zero_stages() -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    assert ClusterConfig.from_yaml_file(str(CONFIGS / "deepspeed_zero2.yaml")).deepspeed_config["zero_stage"] == 2
    z3 = ClusterConfig.from_yaml_file(str(CONFIGS / "deepspeed_zero3.yaml")).deepspeed_config
    assert z3["zero_stage"] == 3 and z3["zero3_save_16bit_model"] is True
    # left out so the Trainer's --grad-accum fills DeepSpeed's "auto" instead of contradicting it
    assert "gradient_accumulation_steps" not in z3
