"""Preparing local weights for transformers: GGUF → a safetensors folder, once, cached.

Loading a GGUF straight into transformers dequantises it on every load (30–100 s, up to
3 GB) and cannot be combined with bitsandbytes. So the first use converts it once into
``data/models/<name>/`` (model + tokenizer). The conversion writes to a temporary folder and
renames it into place, so an interrupted run leaves nothing half-written and a re-run simply
does it again; an existing folder is reused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from core.settings import data_dir
from models.availability import local_weights_path
from models.spec import LocalSource

__all__ = ["converted_folder", "ensure_converted"]


def converted_folder(source: LocalSource) -> Path:
    """Where the converted copy of ``source`` lives (it may not exist yet)."""
    return data_dir("models") / Path(source.file).stem


def ensure_converted(source: LocalSource) -> Path:
    """The safetensors folder for ``source``, converting the GGUF on first use."""
    target = converted_folder(source)
    if (target / "config.json").exists():
        return target
    gguf = local_weights_path(source)
    if gguf is None:
        raise FileNotFoundError(f"weights {source.file} not found (package {source.package})")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model.hf_quantizer = None  # the weights are dequantised now; save them as plain tensors
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config  # else bitsandbytes refuses "a GGUF-quantized model"
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        if (target / "config.json").exists():  # another process finished first
            return target
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
