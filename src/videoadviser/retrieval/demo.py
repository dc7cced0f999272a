"""The embedded VEGAS-like set: rendered scenes with synthesized sounds, as real mp4 files.

``make_vegas_demo(folder)`` writes, for ``clips_per_class`` clips of each of the ten classes of
:mod:`videoadviser.retrieval.scenes` (2 s, 64 x 64, 8 fps, AAC audio at 16 kHz):

    videos/<clip_id>.mp4           the clip, audio and video (what a teacher sees)
    audio/<clip_id>.npy            per-second audio features, uint8 (Ta, 128)
    visual/<clip_id>.npy           per-second visual features, uint8 (Tv, 1024)
    labels.csv                     clip_id,label,class_name  (the per-video layout)
    vegas_feature.h5               the packed layout: clip-level features, 80% train / 20% test

Features are computed from the mp4 files by :mod:`videoadviser.retrieval.features`, the way a
user's own videos would be. The folder is built under a temporary name and renamed into place,
so a half-made set is never read. A set made earlier with the same settings is reused as it
is (its manifest records them); one made with other settings is replaced only when asked to,
and nothing else ever (:mod:`videoadviser.utils.ownership`). Every clip is a pure function of
``(seed, clip index)``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from videoadviser.data.clips import default_workers
from videoadviser.data.frames import write_video
from videoadviser.errors import ConfigError
from videoadviser.retrieval.features import video_features
from videoadviser.retrieval.scenes import CLASSES, FPS, SAMPLE_RATE, clip_sound, render_scene
from videoadviser.retrieval.vegas import RetrievalSet, pool_uint8, write_packed
from videoadviser.utils.io import staged_folder, write_text
from videoadviser.utils.ownership import (
    VEGAS_SET,
    check_complete,
    check_replaceable,
    is_free,
    missing_files,
    read_manifest,
)

logger = logging.getLogger(__name__)

PACKED_FILE = "vegas_feature.h5"
VIDEOS_DIR = "videos"


@dataclass(frozen=True)
class VegasDemoConfig:
    """Size of the embedded set (its content is fixed by :mod:`~videoadviser.retrieval.scenes`)."""

    clips_per_class: int = 50
    seconds: float = 2.0
    seed: int = 2023
    test_share: float = 0.2  # of each class, for the packed file's train / test keys


def is_vegas_demo(folder: str | Path, config: VegasDemoConfig) -> bool:
    """Whether ``folder`` holds a complete embedded set made with exactly ``config`` (its
    manifest, written once the set was complete, records the settings and every file, all
    still there)."""
    return _same_settings(Path(folder), config) and not missing_files(Path(folder))


def _same_settings(folder: Path, config: VegasDemoConfig) -> bool:
    """Whether ``folder`` holds an embedded set made with exactly ``config``, whole or not."""
    manifest = read_manifest(folder)
    same = manifest.get("config") == json.loads(json.dumps(asdict(config)))
    return manifest.get("kind") == VEGAS_SET and same and (folder / PACKED_FILE).is_file()


def remake_command(folder: Path, config: VegasDemoConfig) -> str:
    """The command that makes the set at ``folder`` again with ``config``, replacing it."""
    return (
        f"videoadviser retrieval make-demo {folder} --clips-per-class {config.clips_per_class} "
        f"--seed {config.seed} --overwrite"
    )


def _make_clip(job: tuple[Path, str, int, int, int, float]) -> tuple[str, np.ndarray, np.ndarray]:
    """Render, encode and featurise one clip; returns its id and uint8 features."""
    folder, clip_id, label, seed, index, seconds = job
    rng = np.random.default_rng([seed, index])
    frames = render_scene(CLASSES[label], rng, seconds)
    sound = clip_sound(label, rng, seconds)
    path = folder / VIDEOS_DIR / f"{clip_id}.mp4"
    write_video(path, frames, FPS, audio=sound, sample_rate=SAMPLE_RATE)
    audio, visual = video_features(path)
    for modality, array in (("audio", audio), ("visual", visual)):
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        (folder / modality / f"{clip_id}.npy").write_bytes(buffer.getvalue())
    return clip_id, audio, visual


def make_vegas_demo(
    folder: str | Path,
    config: VegasDemoConfig | None = None,
    workers: int = -1,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Make the embedded set at ``folder`` (see the module docstring); returns the packed file.

    ``workers``: processes that render and encode clips (-1: one per CPU core, at most 8).

    A set made there earlier with this very ``config`` is reused (not made again) unless
    ``overwrite``.

    Raises:
        ConfigError: ``folder`` is not empty and holds anything but an earlier set, or holds
            one made with other settings and ``overwrite`` is off.
        DataError: it holds one made with these settings that lost some of its files, and
            ``overwrite`` is off (the message names them and the command that remakes it).
    """
    config = config or VegasDemoConfig()
    folder = Path(folder)
    if _same_settings(folder, config) and not overwrite:
        check_complete(folder, remake_command(folder, config))
        logger.info("reusing the embedded VEGAS-like set at %s (same settings)", folder)
        return folder / PACKED_FILE
    check_replaceable(folder, VEGAS_SET)
    if not overwrite and not is_free(folder):
        raise ConfigError(
            f"{folder}: holds an embedded VEGAS-like set made with other settings; make it "
            f"again with these with `{remake_command(folder, config)}` (only what videoadviser "
            "wrote there is replaced), or choose another folder"
        )
    k = len(CLASSES)
    labels = np.repeat(np.arange(k), config.clips_per_class)
    ids = [f"{CLASSES[c].name.replace(' ', '_')}_{i:04d}" for i, c in enumerate(labels)]
    workers = default_workers(workers)
    with staged_folder(folder, VEGAS_SET, config=asdict(config)) as staging:
        for sub in (VIDEOS_DIR, "audio", "visual"):
            (staging / sub).mkdir()
        jobs = [
            (staging, ids[i], int(labels[i]), config.seed, i, config.seconds)
            for i in range(len(ids))
        ]
        bar = tqdm(
            total=len(jobs), desc="making the VEGAS-like set", unit="clip", disable=not progress
        )
        results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if workers <= 1:
            for job in jobs:
                clip_id, audio, visual = _make_clip(job)
                results[clip_id] = (audio, visual)
                bar.update()
        else:
            with ProcessPoolExecutor(workers) as pool:
                for clip_id, audio, visual in pool.map(_make_clip, jobs, chunksize=8):
                    results[clip_id] = (audio, visual)
                    bar.update()
        bar.close()
        test_per_class = int(round(config.test_share * config.clips_per_class))
        split = np.array(
            [
                "test"
                if i % config.clips_per_class >= config.clips_per_class - test_per_class
                else "train"
                for i in range(len(ids))
            ]
        )
        data = RetrievalSet(
            audio=np.stack([pool_uint8(results[c][0], c) for c in ids]),
            visual=np.stack([pool_uint8(results[c][1], c) for c in ids]),
            labels=labels.astype(np.int64),
            clip_ids=ids,
            class_names=[c.name for c in CLASSES],
            source=str(folder / PACKED_FILE),
            packed_split=split,
        )
        write_packed(staging / PACKED_FILE, data)
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["clip_id", "label", "class_name"])
        writer.writerows([ids[i], int(labels[i]), CLASSES[labels[i]].name] for i in range(len(ids)))
        write_text(staging / "labels.csv", table.getvalue())
    return folder / PACKED_FILE
