"""The VideoAdviser teacher for retrieval: the project's CLIP teacher on frames + class names.

The same :class:`~videoadviser.teacher.model.VideoAdviserTeacher` as for sentiment, video only:
frames through the CLIP vision tower and temporal integration, K class-name prompts ("a video
of {class name}") through the CLIP text tower, video-enhanced prompts, and class logits
``z = exp(s) cos(q, prompt_k)``. It is trained with cross-entropy on the class labels. (Step 1's
regression head is not used: retrieval classes have no order to regress.)

One teacher is trained per fold, on that fold's training clips only, and selected on its
validation clips; its logits for the fold's training clips are what the retrieval model is
distilled from. The fold's test clips are never seen by the teacher that serves that fold.

The vision tower is frozen by default (``freeze_vision``): its features are computed once per
clip and cached on disk, so five teachers cost five small trainings, not five video passes.
With ``freeze_vision = false`` the tower is trained too, on frames read from the frame cache
(far slower on a CPU).

Teacher outputs are written to ``teacher_outputs.h5``: ``clip_id`` (N,) strings, ``logits``
(F, N, K) float32 (row f: the fold-f teacher; NaN for fold f's test clips), attribute
``class_names``. A user's own file (``--teacher-outputs``) may instead hold ``logits`` (N, K),
one teacher for every fold; then it is the user's to make sure that teacher never saw the
clips it is evaluated on.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from videoadviser.data.clips import ClipFrames, decode_into_cache
from videoadviser.data.frames import FrameSampling, normalize_pixels
from videoadviser.data.records import ClipRecord
from videoadviser.errors import DataError
from videoadviser.retrieval.vegas import RetrievalSet
from videoadviser.teacher.features import cached_frame_features, weights_fingerprint
from videoadviser.teacher.model import TeacherArchitecture, VideoAdviserTeacher
from videoadviser.teacher.trainer import assemble_teacher, load_clip
from videoadviser.utils.engine import Selection, check_finite
from videoadviser.utils.io import atomic_path

logger = logging.getLogger(__name__)

TEACHER_FILE = "teacher_outputs.h5"


@dataclass(frozen=True)
class RetrievalTeacherConfig:
    """The ``[teacher]`` section of a retrieval recipe."""

    checkpoint: str = "random:tiny"  # hub id, local folder, or random:<architecture>
    prompt_template: str = "a video of {}"
    num_frames: int = 8
    freeze_vision: bool = True
    prompt_enhancement: bool = True
    epochs: int = 40
    patience: int = 8
    batch_size: int = 32
    lr: float = 1e-3
    tower_lr: float = 1e-4  # the CLIP towers that are trained (text; vision if not frozen)
    weight_decay: float = 0.01


@dataclass
class VideoInputs:
    """What the teacher reads for N clips: cached vision features when the tower is frozen
    (``frames`` (N, T, E), ``patches`` (N, P, E)), else the clips' decoded frames (``clips``,
    read from the frame cache a batch at a time)."""

    sampling: FrameSampling
    clips: ClipFrames | None = None
    frames: torch.Tensor | None = None
    patches: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.clips) if self.clips is not None else len(self.frames)  # type: ignore[arg-type]

    def batch(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The teacher's keyword inputs for clips ``rows`` (video only)."""
        n = len(rows)
        out = {
            "text_ids": torch.zeros(n, 1, dtype=torch.long),
            "text_mask": torch.zeros(n, 1, dtype=torch.long),
            "video_mask": torch.ones(n, dtype=torch.bool),
        }
        if self.clips is not None:
            pixels = torch.from_numpy(self.clips.read(rows))
            out["pixels"] = normalize_pixels(pixels, self.sampling)
        else:
            out["frame_features"] = self.frames[rows]  # type: ignore[index]
            out["patch_features"] = self.patches[rows]  # type: ignore[index]
        return out


def build_retrieval_teacher(
    cfg: RetrievalTeacherConfig,
    class_names: list[str],
    cache_dir: str | Path,
    seed: int,
    init_seed: int | None = None,
) -> VideoAdviserTeacher:
    """A fresh video-only teacher with one prompt per class name.

    ``seed`` draws a random-weight CLIP (``random:<arch>``); ``init_seed`` (default ``seed``)
    the teacher's own new layers, so a teacher does not depend on what ran before it.
    """
    clip, tokenizers = load_clip(cfg.checkpoint, cache_dir, seed)
    arch = TeacherArchitecture(
        num_frames=cfg.num_frames,
        num_classes=len(class_names),
        use_video=True,
        use_text=False,
        prompt_enhancement=cfg.prompt_enhancement,
        prompt_template=cfg.prompt_template,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed if init_seed is None else init_seed)
        teacher = assemble_teacher(
            clip, tokenizers, arch, names=class_names, pad_prompts_to_longest=True
        )
    for module in (clip.vision_model, clip.visual_projection):
        module.requires_grad_(not cfg.freeze_vision)
    teacher.head.requires_grad_(False)  # no step-1 regression for unordered classes
    # the K prompts use a handful of the 49k token rows; a dense optimizer step over all of
    # them was 60% of a teacher's training time
    clip.text_model.embeddings.token_embedding.requires_grad_(False)
    return teacher


def video_inputs(
    teacher: VideoAdviserTeacher,
    data: RetrievalSet,
    videos: Path,
    cfg: RetrievalTeacherConfig,
    cache_dir: str | Path,
    progress: bool = True,
) -> VideoInputs:
    """The teacher's inputs for every clip's ``videos/<clip_id>.mp4``, through the frame cache
    (and, with a frozen vision tower, the vision-feature cache)."""
    records = []
    for clip_id in data.clip_ids:
        path = videos / f"{clip_id}.mp4"
        if not path.is_file():
            raise DataError(
                f"{path}: no video for clip {clip_id!r}; the teacher needs every clip's video "
                "(or pass --teacher-outputs with logits made elsewhere)"
            )
        records.append(ClipRecord("vegas", clip_id, "", 0.0, "train", str(path)))
    sampling = FrameSampling(cfg.num_frames, teacher.clip.config.vision_config.image_size)
    if not cfg.freeze_vision:
        clips = decode_into_cache(
            records, cache_dir, sampling.num_frames, sampling.image_size, progress=progress
        )
        return VideoInputs(sampling, clips=clips)
    fingerprint = weights_fingerprint([teacher.clip.vision_model, teacher.clip.visual_projection])
    teacher.eval()
    frames, patches, _ = cached_frame_features(
        records, teacher.encode_frames, fingerprint, sampling, cache_dir, progress=progress
    )
    return VideoInputs(sampling, frames=frames, patches=patches)


def _logits(teacher: VideoAdviserTeacher, inputs: VideoInputs, rows: torch.Tensor) -> torch.Tensor:
    """Class logits (n, K) of clips ``rows``."""
    return teacher(**inputs.batch(rows)).logits


@torch.no_grad()
def predict_logits(
    teacher: VideoAdviserTeacher, inputs: VideoInputs, batch: int = 64
) -> np.ndarray:
    """Class logits of every clip: (N, K) float32."""
    teacher.eval()
    n = len(inputs)
    out = [_logits(teacher, inputs, torch.arange(s, min(s + batch, n))) for s in range(0, n, batch)]
    return torch.cat(out).float().numpy()


def train_fold_teacher(
    teacher: VideoAdviserTeacher,
    inputs: VideoInputs,
    labels: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    cfg: RetrievalTeacherConfig,
    seed: int,
    stage: str = "retrieval teacher",
) -> dict[str, float]:
    """Train ``teacher`` in place on ``train_rows`` with cross-entropy; keep the epoch with the
    lowest validation cross-entropy. Returns its validation accuracy and cross-entropy."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    y = torch.from_numpy(labels)
    towers = [p for n, p in teacher.named_parameters() if n.startswith("clip.") and p.requires_grad]
    own = [
        p for n, p in teacher.named_parameters() if not n.startswith("clip.") and p.requires_grad
    ]
    optimizer = torch.optim.AdamW(
        [{"params": own, "lr": cfg.lr}, {"params": towers, "lr": cfg.tower_lr}],
        weight_decay=cfg.weight_decay,
        foreach=True,
    )
    selection = Selection(patience=cfg.patience)
    best = copy.deepcopy(teacher.state_dict())
    train = torch.from_numpy(train_rows)
    valid = torch.from_numpy(valid_rows)
    for epoch in range(1, cfg.epochs + 1):
        teacher.train()
        order = train[torch.randperm(len(train), generator=generator)]
        for step, start in enumerate(range(0, len(order), cfg.batch_size)):
            rows = order[start : start + cfg.batch_size]
            loss = F.cross_entropy(_logits(teacher, inputs, rows), y[rows])
            check_finite(loss.item(), "loss", stage, epoch, step, "nothing (kept in memory)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        teacher.eval()
        with torch.no_grad():
            valid_ce = F.cross_entropy(_logits(teacher, inputs, valid), y[valid]).item()
        if selection.update(epoch, valid_ce):
            best = copy.deepcopy(teacher.state_dict())
        if selection.should_stop(epoch):
            break
    teacher.load_state_dict(best)
    with torch.no_grad():
        valid_logits = _logits(teacher.eval(), inputs, valid)
    accuracy = (valid_logits.argmax(1) == y[valid]).float().mean().item()
    return {
        "valid_accuracy": accuracy,
        "valid_ce": selection.best_mae,
        "best_epoch": selection.best_epoch,
    }


def write_teacher_outputs(
    path: str | Path, clip_ids: list[str], logits: np.ndarray, class_names: list[str]
) -> None:
    """Write teacher logits ``(F, N, K)`` or ``(N, K)`` keyed by clip, atomically."""
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("clip_id", data=np.array(clip_ids, dtype="S"))
        h5.create_dataset("logits", data=np.asarray(logits, dtype=np.float32))
        h5.attrs["class_names"] = np.array(class_names, dtype="S")


def read_teacher_outputs(
    path: str | Path, data: RetrievalSet, splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Teacher logits for every clip of ``data``, per fold: ``(folds, N, K)`` float32.

    A per-fold file ``(F, N, K)`` must leave exactly each fold's test clips NaN (so it was made
    with these folds: a teacher never serves a fold whose test clips it saw); an ``(N, K)``
    file serves every fold. Every fold's training and validation clips need finite logits.

    Raises:
        DataError: the file is missing or malformed, lacks a clip or class of ``data``, holds a
            clip twice, or was made with other folds; the message names the file, key, clip or
            fold.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: teacher outputs not found (videoadviser retrieval run writes "
            f"{TEACHER_FILE} into its run folder)"
        )
    try:
        with h5py.File(path, "r") as h5:
            missing = [k for k in ("clip_id", "logits") if k not in h5]
            if missing:
                raise DataError(
                    f"{path}: missing key(s) {', '.join(missing)} (needs clip_id, logits)"
                )
            ids = [v.decode() if isinstance(v, bytes) else str(v) for v in h5["clip_id"][()]]
            raw = np.asarray(h5["logits"][()])
            names = h5.attrs.get("class_names")
    except OSError as error:
        raise DataError(f"{path}: not an HDF5 file ({error})") from None
    if not np.issubdtype(raw.dtype, np.number):
        raise DataError(f"{path}:logits: expected numbers, got dtype {raw.dtype}")
    logits = raw.astype(np.float32)
    folds = len(splits)
    if logits.ndim == 2:
        logits = np.broadcast_to(logits, (folds, *logits.shape))
    if logits.ndim != 3 or logits.shape[1] != len(ids):
        raise DataError(
            f"{path}:logits: shape {raw.shape} does not match {len(ids)} clip ids "
            "(expected (N, K) or (folds, N, K))"
        )
    if logits.shape[0] != folds:
        raise DataError(f"{path}:logits: {logits.shape[0]} folds, this run has {folds}")
    if logits.shape[2] != data.num_classes:
        raise DataError(
            f"{path}:logits: {logits.shape[2]} classes, the features have {data.num_classes}"
        )
    if names is not None and not isinstance(names, str | bytes):
        given = [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names)]
        if given != data.class_names:
            raise DataError(
                f"{path}: class_names {given} differ from the features' {data.class_names}"
            )
    position: dict[str, int] = {}
    for i, clip in enumerate(ids):
        if clip in position:
            raise DataError(f"{path}:clip_id: clip {clip!r} appears twice")
        position[clip] = i
    absent = [c for c in data.clip_ids if c not in position]
    if absent:
        raise DataError(
            f"{path}: no teacher logits for clip {absent[0]!r} ({len(absent)} clip(s) missing)"
        )
    out = np.ascontiguousarray(logits[:, [position[c] for c in data.clip_ids]])
    for f, (train, valid, test) in enumerate(splits):
        used = np.concatenate([train, valid])
        bad = used[~np.isfinite(out[f, used]).all(1)]
        if bad.size:
            raise DataError(
                f"{path}: no finite logits for clip {data.clip_ids[bad[0]]!r}, a training clip "
                f"of fold {f} ({bad.size} such clip(s))"
            )
        if raw.ndim == 3 and not np.isnan(out[f, test]).all():
            raise DataError(
                f"{path}: fold {f}'s teacher has logits for fold {f}'s test clips, so it was "
                "made with other folds (or saw them); make it with this run's folds, or give "
                "one (N, K) teacher that never saw any of these clips"
            )
    return out
