"""Saving and loading the quality classifier safely.

The model is written with skops (no pickle): loading only reconstructs types on an allow-list of
scikit-learn, NumPy and SciPy classes. Next to it, ``meta.json`` records the feature-schema
version, the threshold, the training metrics and the model file's sha256, so a file from another
schema version or one altered on disk is refused with a clear error instead of mis-scoring.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

from scireflect.errors import ConfigError, missing_dependency
from scireflect.training.classifier import QualityClassifier
from scireflect.training.features import FEATURE_SCHEMA_VERSION

log = logging.getLogger(__name__)

FORMAT = "scireflect-quality-classifier"
FORMAT_VERSION = 1
MODEL_FILE = "model.skops"
META_FILE = "meta.json"

# Module prefixes whose types skops may rebuild; everything else in a model file is refused.
ALLOWED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.")
ALLOWED_BUILTINS = {"builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.str",
                    "builtins.int", "builtins.float", "builtins.bool", "builtins.slice", "builtins.type"}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _skops() -> Any:
    try:
        import skops.io as sio
    except ImportError as e:
        raise missing_dependency("skops", "classifier") from e
    return sio


def is_trained(directory: Path) -> bool:
    return (directory / META_FILE).is_file() or (directory / MODEL_FILE).is_file()


def save(clf: QualityClassifier, directory: Path) -> Path:
    """Write the model and its meta.json into ``directory`` (atomically, file by file)."""
    sio = _skops()
    directory.mkdir(parents=True, exist_ok=True)
    model = directory / MODEL_FILE
    tmp = directory / (MODEL_FILE + ".tmp")
    sio.dump(clf.pipeline, tmp, compression=zipfile.ZIP_DEFLATED)  # the vocabularies compress ~10x
    os.replace(tmp, model)
    meta = {k: v for k, v in clf.meta.items() if not k.startswith("_")}
    meta.update(format=FORMAT, format_version=FORMAT_VERSION, model_file=MODEL_FILE, sha256=_sha256(model),
                threshold=clf.threshold, feature_schema_version=FEATURE_SCHEMA_VERSION)
    tmp_meta = directory / (META_FILE + ".tmp")
    tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp_meta, directory / META_FILE)
    return directory


def read_meta(directory: Path) -> dict[str, Any]:
    path = directory / META_FILE
    if not path.is_file():
        raise ConfigError(f"classifier at {directory} has {MODEL_FILE} but no {META_FILE}; "
                          "retrain it with: scireflect classifier train LABELED.jsonl")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"classifier metadata {path} is not valid JSON ({e}); retrain the classifier") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a scireflect classifier metadata file")
    return meta


def _check_types(sio: Any, model: Path) -> list[str]:
    try:
        untrusted = sio.get_untrusted_types(file=model)
    except Exception as e:  # noqa: BLE001 - skops raises many types for a damaged archive
        raise ConfigError(f"classifier file {model} is not a readable skops file: {e}") from e
    bad = [t for t in untrusted if not (t.startswith(ALLOWED_PREFIXES) or t in ALLOWED_BUILTINS)]
    if bad:
        raise ConfigError(f"classifier file {model} contains types outside the allow-list: {', '.join(bad[:5])}")
    return untrusted


def load(directory: Path) -> QualityClassifier:
    """Load a classifier written by :func:`save`; raises ConfigError on any mismatch, never mis-scores."""
    meta = read_meta(directory)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"classifier at {directory} has format version {meta.get('format_version')}; "
                          f"this scireflect reads {FORMAT_VERSION}: retrain it")
    schema = meta.get("feature_schema_version")
    if schema != FEATURE_SCHEMA_VERSION:
        raise ConfigError(f"classifier at {directory} was trained on feature schema v{schema}; this scireflect "
                          f"computes v{FEATURE_SCHEMA_VERSION}: retrain it with scireflect classifier train")
    model = directory / str(meta.get("model_file") or MODEL_FILE)
    if not model.is_file():
        raise ConfigError(f"classifier model file {model} is missing; retrain the classifier")
    digest = _sha256(model)
    if digest != meta.get("sha256"):
        raise ConfigError(f"classifier file {model} was altered on disk (sha256 {digest[:12]}... does not match "
                          f"{str(meta.get('sha256'))[:12]}... in {META_FILE}); retrain or restore it")
    sio = _skops()
    trusted = _check_types(sio, model)
    try:
        pipeline = sio.load(model, trusted=trusted)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"cannot load classifier {model}: {type(e).__name__}: {e}") from e
    try:
        import sklearn
        from sklearn.pipeline import Pipeline

        if not isinstance(pipeline, Pipeline):
            raise ConfigError(f"classifier file {model} holds a {type(pipeline).__name__}, not a Pipeline")
        if meta.get("sklearn_version") and meta["sklearn_version"] != sklearn.__version__:
            log.warning("classifier was trained with scikit-learn %s, running %s; retrain if scores look off",
                        meta["sklearn_version"], sklearn.__version__)
    except ImportError as e:
        raise missing_dependency("scikit-learn", "classifier") from e
    threshold = meta.get("threshold")
    if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"classifier metadata {directory / META_FILE} has no valid threshold")
    return QualityClassifier(pipeline=pipeline, threshold=float(threshold), meta=meta)
