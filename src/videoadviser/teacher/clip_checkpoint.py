"""Local CLIP checkpoints: named configs, random weights, the real CLIP BPE tokenizer.

No CLIP weights can be downloaded on machines without hub access, so CPU runs use a CLIP built
from a named config with random weights. It is written to a folder with ``save_pretrained`` and
read back with ``from_pretrained``, the same loading path that serves
``openai/clip-vit-base-patch32`` or any other hub id or local folder.

The tokenizer is CLIP's own byte-level BPE, built from ``bpe_simple_vocab_16e6.txt.gz`` (the
vocabulary file that ships inside the ``open-clip-torch`` wheel; the package is never imported).
It gives the same ids as OpenAI's tokenizer.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from typing import Any

import torch
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

from videoadviser.errors import ConfigError
from videoadviser.utils.io import staged_folder
from videoadviser.utils.ownership import CLIP_CHECKPOINT
from videoadviser.utils.runtime import main_process_first

BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408  # 256 bytes x 2 + 48894 merges + 2 special tokens
NUM_MERGES = 49152 - 256 - 2

# Named architectures. "tiny" trains on 2 CPU cores in minutes; "vit-b-32" is the paper-scale
# architecture of openai/clip-vit-base-patch32 (for building it locally with random weights).
CLIP_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "tiny": {
        "projection_dim": 64,
        "text_config": {
            "hidden_size": 64,
            "intermediate_size": 256,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
        },
        "vision_config": {
            "hidden_size": 64,
            "intermediate_size": 256,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 64,
            "patch_size": 16,
        },
    },
    "vit-b-32": {
        "projection_dim": 512,
        "text_config": {
            "hidden_size": 512,
            "intermediate_size": 2048,
            "num_hidden_layers": 12,
            "num_attention_heads": 8,
            "max_position_embeddings": 77,
        },
        "vision_config": {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "image_size": 224,
            "patch_size": 32,
        },
    },
}


def bpe_vocab_path() -> Path:
    """The CLIP BPE vocabulary inside the installed ``open-clip-torch`` distribution."""
    spec = importlib.util.find_spec("open_clip")  # locates the folder; does not import it
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / BPE_FILE
        if path.is_file():
            return path
    raise ConfigError(
        f"the CLIP BPE vocabulary ({BPE_FILE}) was not found; install it with "
        "`pip install --no-deps open-clip-torch==3.3.0` (make setup does this) or load a "
        "checkpoint that carries its own tokenizer"
    )


def _bytes_to_unicode() -> list[str]:
    """CLIP/GPT-2's reversible map from the 256 byte values to printable characters, in order."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    byte_values = printable[:]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            byte_values.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def build_clip_tokenizer(bpe_path: Path | None = None) -> CLIPTokenizer:
    """CLIP's tokenizer from the BPE vocabulary file: same ids as ``openai/clip-vit-*``."""
    bpe_path = bpe_path or bpe_vocab_path()
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : NUM_MERGES + 1]]
    symbols = _bytes_to_unicode()
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == VOCAB_SIZE
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=merges)


def clip_config(architecture: str) -> CLIPConfig:
    """A :class:`CLIPConfig` for a named architecture (see :data:`CLIP_ARCHITECTURES`)."""
    if architecture not in CLIP_ARCHITECTURES:
        raise ConfigError(
            f"unknown CLIP architecture {architecture!r}; named ones: "
            f"{', '.join(CLIP_ARCHITECTURES)} (or give a hub id / local folder as checkpoint)"
        )
    spec = CLIP_ARCHITECTURES[architecture]
    text = {
        **spec["text_config"],
        "vocab_size": VOCAB_SIZE,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": 49407,
    }
    return CLIPConfig(
        text_config=text,
        vision_config=dict(spec["vision_config"]),
        projection_dim=spec["projection_dim"],
    )


def build_random_clip(architecture: str, folder: str | Path, seed: int = 0) -> Path:
    """Write a randomly initialised CLIP of a named architecture, with tokenizer, to ``folder``.

    The folder is complete (``config.json``, ``model.safetensors``, tokenizer files) and loads
    with ``CLIPModel.from_pretrained`` / ``AutoTokenizer.from_pretrained``. It is written under
    a temporary name and renamed into place, so a half-written folder is never left behind.
    """
    folder = Path(folder)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state untouched
        torch.manual_seed(seed)
        model = CLIPModel(clip_config(architecture))
    tokenizer = build_clip_tokenizer()
    with staged_folder(folder, CLIP_CHECKPOINT) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    return folder


def resolve_checkpoint(checkpoint: str, cache_dir: str | Path, seed: int = 0) -> str:
    """Turn a recipe's ``checkpoint`` into something ``from_pretrained`` loads.

    ``random:<architecture>`` (e.g. ``random:tiny``) builds a random-weight CLIP once under
    ``cache_dir`` and returns that folder; anything else (a hub id or a local folder) is
    returned unchanged.
    """
    if not checkpoint.startswith("random:"):
        return checkpoint
    architecture = checkpoint.removeprefix("random:")
    folder = Path(cache_dir) / f"clip-random-{architecture}-seed{seed}"
    with main_process_first():  # one process builds it; the others then find it
        if not (folder / "config.json").is_file():
            build_random_clip(architecture, folder, seed=seed)
    return str(folder)
