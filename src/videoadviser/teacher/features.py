"""Disk caches of what frozen towers compute: vision features and transcript states.

**Vision.** Keyed by the weights and the frame sampling.

With a frozen vision tower, each clip's frame embeddings ``(T, E)`` and frame-averaged patch
tokens ``(P, E)`` never change, so they are computed once and stored in
``<cache_dir>/features/<key>.safetensors``. The key hashes the vision weights themselves (so
any checkpoint, hub id or folder, is keyed by what it is) and the sampling parameters; each
clip's entry also records its video file's size and modification time, so an edited video is
recomputed. Later epochs and later runs read the cache and skip decoding entirely.

**Transcripts.** A frozen transcript encoder's token states, one ``.npy`` per distinct token
sequence under ``<cache_dir>/transcripts/<weights key>/``, read a batch at a time while
training (:class:`TranscriptStates`): computed once for every seed and run, and never held
for the whole dataset in memory.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save
from tqdm.auto import tqdm

from videoadviser.data.clips import decode_into_cache, file_stamp
from videoadviser.data.frames import FrameSampling, normalize_pixels
from videoadviser.data.records import ClipRecord
from videoadviser.utils.io import write_bytes


def weights_fingerprint(modules: list[torch.nn.Module]) -> str:
    """SHA-256 over the names and bytes of every parameter/buffer of ``modules``."""
    digest = hashlib.sha256()
    for module in modules:
        _digest_state(digest, module.state_dict())
    return digest.hexdigest()


def state_fingerprint(state: dict[str, torch.Tensor], salt: str) -> str:
    """SHA-256 over ``salt`` and the names and bytes of the tensors in ``state``."""
    digest = hashlib.sha256(salt.encode())
    _digest_state(digest, state)
    return digest.hexdigest()


def _digest_state(digest: Any, state: dict[str, torch.Tensor]) -> None:
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())


def cache_key(fingerprint: str, sampling: FrameSampling) -> str:
    payload = json.dumps(
        {"weights": fingerprint, "sampling": sampling.__dict__}, sort_keys=True, default=list
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def cached_frame_features(
    records: list[ClipRecord],
    encode: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    fingerprint: str,
    sampling: FrameSampling,
    cache_dir: str | Path,
    video_policy: str = "error",
    batch_size: int = 16,
    progress: bool = True,
    workers: int = -1,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Frame and patch features of every record, from the cache where possible.

    Args:
        records: the clips.
        encode: pixels ``(B, T, 3, S, S)`` -> ``(B, T, E)``, ``(B, P, E)`` (the frozen tower).
        fingerprint: :func:`weights_fingerprint` of that tower.
        sampling: frame sampling (part of the key).
        cache_dir: root cache folder (clips are decoded into its frame cache first).
        workers: decoding worker processes (:func:`~videoadviser.data.clips.decode_into_cache`).

    Returns:
        frame features ``(N, T, E)``, patch features ``(N, P, E)`` (float32, zeros where there
        is no video) and has_video ``(N,)``.
    """
    path = Path(cache_dir) / "features" / f"{cache_key(fingerprint, sampling)}.safetensors"
    cached = _read(path)
    stamps = {
        i: file_stamp(r.video_path)
        for i, r in enumerate(records)
        if r.video_path and Path(r.video_path).is_file()
    }
    missing = [
        i for i, r in enumerate(records) if r.video_path and (r.uid, stamps.get(i)) not in cached
    ]
    if missing:
        subset = [records[i] for i in missing]
        clips = decode_into_cache(
            subset,
            cache_dir,
            sampling.num_frames,
            sampling.image_size,
            video_policy,
            workers,
            progress=progress,
        )
        ok = clips.has_video
        with torch.no_grad():
            for start in tqdm(
                range(0, len(subset), batch_size), desc="vision features", disable=not progress
            ):
                stop = min(start + batch_size, len(subset))
                if not ok[start:stop].any():
                    continue
                pixels = torch.from_numpy(clips.read(range(start, stop)))
                f, p = encode(normalize_pixels(pixels, sampling))
                for j in range(start, stop):
                    if ok[j]:
                        i = missing[j]
                        cached[(records[i].uid, stamps.get(i))] = (
                            f[j - start].float().cpu(),
                            p[j - start].float().cpu(),
                        )
        _write(path, cached)
    return _assemble(records, stamps, cached)


def _assemble(records, stamps, cached):  # type: ignore[no-untyped-def]
    example = next(iter(cached.values()), None)
    n = len(records)
    if example is None:
        raise ValueError("no clip has a usable video; cannot build video features")
    frames = torch.zeros((n, *example[0].shape))
    patches = torch.zeros((n, *example[1].shape))
    has_video = np.zeros(n, dtype=bool)
    for i, record in enumerate(records):
        entry = cached.get((record.uid, stamps.get(i))) if record.video_path else None
        if entry is not None:
            frames[i], patches[i] = entry
            has_video[i] = True
    return frames, patches, has_video


def _read(path: Path) -> dict[tuple[str, str | None], tuple[torch.Tensor, torch.Tensor]]:
    if not path.is_file():
        return {}
    with safe_open(str(path), framework="pt") as handle:
        keys = json.loads(handle.metadata()["entries"])
        frames, patches = handle.get_tensor("frames"), handle.get_tensor("patches")
    return {(uid, stamp): (frames[i], patches[i]) for i, (uid, stamp) in enumerate(keys)}


def _write(
    path: Path, cached: dict[tuple[str, str | None], tuple[torch.Tensor, torch.Tensor]]
) -> None:
    keys = list(cached)
    frames = torch.stack([cached[k][0] for k in keys]).contiguous()
    patches = torch.stack([cached[k][1] for k in keys]).contiguous()
    data = save({"frames": frames, "patches": patches}, metadata={"entries": json.dumps(keys)})
    write_bytes(path, data)


# -- frozen transcript-encoder states ----------------------------------------------------------
@dataclass
class TranscriptStates:
    """A frozen transcript encoder's token states for N clips, on disk, read a batch at a time.

    ``entries[i]`` holds clip i's ``(L_i, H)`` float32 states, ``L_i`` its token count.
    """

    entries: list[Path]
    hidden_size: int

    def read(self, index: Sequence[int] | torch.Tensor, length: int) -> torch.Tensor:
        """States of the clips at ``index``: ``(B, length, H)``, zero past each transcript."""
        rows = [int(i) for i in index]
        out = torch.zeros(len(rows), length, self.hidden_size)
        for row, i in enumerate(rows):
            states = torch.from_numpy(np.load(self.entries[i], allow_pickle=False))
            out[row, : min(length, len(states))] = states[:length]
        return out


@torch.no_grad()
def cached_transcript_states(
    encode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    fingerprint: str,
    hidden_size: int,
    ids: torch.Tensor,
    mask: torch.Tensor,
    cache_dir: str | Path,
    batch_size: int = 64,
    progress: bool = True,
) -> TranscriptStates:
    """Token states of every transcript, computed once per distinct token sequence and encoder.

    Args:
        encode: ids, mask ``(B, L)`` -> states ``(B, L, H)`` (the frozen encoder).
        fingerprint: :func:`weights_fingerprint` of that encoder (part of the key).
        ids, mask: ``(N, L)`` token ids and attention mask.
        cache_dir: root cache folder; entries go to ``transcripts/<key>/``.

    Missing entries are computed shortest first, so batches carry little padding.
    """
    folder = Path(cache_dir) / "transcripts" / fingerprint[:24]
    lengths = mask.sum(1)
    entries: list[Path] = []
    for row, length in zip(ids, lengths):
        name = hashlib.sha256(row[: int(length)].numpy().tobytes()).hexdigest()[:24]
        entries.append(folder / name[:2] / f"{name}.npy")
    missing = torch.tensor([i for i, e in enumerate(entries) if not e.is_file()], dtype=torch.long)
    order = missing[torch.argsort(lengths[missing], stable=True)] if len(missing) else missing
    for start in tqdm(
        range(0, len(order), batch_size), desc="transcript features", disable=not progress
    ):
        index = order[start : start + batch_size]
        width = int(lengths[index].max())
        states = encode(ids[index, :width], mask[index, :width]).float().cpu()
        for row, i in enumerate(index.tolist()):
            buffer = io.BytesIO()
            np.save(buffer, states[row, : int(lengths[i])].numpy(), allow_pickle=False)
            write_bytes(entries[i], buffer.getvalue())
    return TranscriptStates(entries, hidden_size)
