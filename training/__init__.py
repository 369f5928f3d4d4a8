"""Training: the quality-classifier gate and LoRA/full SFT on exported records."""
