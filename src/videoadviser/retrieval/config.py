"""Retrieval recipes: one TOML file (data only), ``recipes/retrieval.toml`` by default.

Sections ``[data]``, ``[teacher]`` (:class:`RetrievalTeacherConfig`), ``[model]``
(:class:`RetrievalTraining`, the baseline's and the distilled model's shared training) and
``[distill]``; top-level ``name``, ``seeds`` and ``cache_dir``. Unknown keys and wrong types are
errors naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videoadviser.config import (
    AT_LEAST_ONE,
    BATCH_SIZE,
    FRAMES,
    NON_NEGATIVE,
    POSITIVE,
    SHARE,
    Range,
    Source,
    build_config,
    check_at_most,
    check_ranges,
    check_seeds,
    read_toml,
)
from videoadviser.errors import ConfigError
from videoadviser.retrieval.teacher import RetrievalTeacherConfig
from videoadviser.retrieval.trainer import RetrievalTraining


@dataclass
class RetrievalDataConfig:
    """Where the features (and, for the teacher, the videos) are, and how folds are made."""

    # a packed vegas_feature.h5 or a per-video folder (labels.csv + audio/ + visual/)
    path: str = "data/vegas-demo/vegas_feature.h5"
    # the clips' videos as <clip_id>.mp4 ("": a videos/ folder beside the features)
    videos: str = ""
    # the K class names (the teacher's prompts), in label order; default: the file's own
    # (packed: attribute class_names; per-video: a class_name column), else "class <i>"
    class_names: list[str] = field(default_factory=list)
    make_demo: bool = True  # make the embedded VEGAS-like set at `path` if it is not there
    demo_clips_per_class: int = 50
    folds: int = 5  # class-balanced folds over all clips
    folds_file: str = ""  # or a CSV clip_id,fold
    fold_seed: int = 0
    valid_share: float = 0.15  # of each fold's training part, class-balanced, for selection


@dataclass
class DistillConfig:
    """The VideoAdviser term (training only)."""

    lambda_distill: float = 0.3
    temperature: float = 2.0


@dataclass
class RetrievalRecipe:
    name: str = "retrieval"
    seeds: list[int] = field(default_factory=lambda: [1111, 1112, 1113])
    cache_dir: str = ".cache/videoadviser"
    data: RetrievalDataConfig = field(default_factory=RetrievalDataConfig)
    teacher: RetrievalTeacherConfig = field(default_factory=RetrievalTeacherConfig)
    model: RetrievalTraining = field(default_factory=RetrievalTraining)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_retrieval_recipe(
    name_or_path: str | Path | None = None, overrides: list[str] | None = None
) -> RetrievalRecipe:
    """Load a retrieval recipe by packaged name (``retrieval``) or path, with overrides."""
    values, path = read_toml(name_or_path or "retrieval", overrides)
    source = Source.of_recipe(path, overrides)
    seeds = values.pop("seeds", None)
    recipe: RetrievalRecipe = build_config(RetrievalRecipe, values, source)
    if seeds is not None:
        if not isinstance(seeds, list):
            raise ConfigError(f"{source.blame('seeds')}: seeds must be a list of integers")
        recipe.seeds = check_seeds(seeds, f"{source.blame('seeds')}: seeds")
    validate_retrieval_recipe(recipe, source)
    return recipe


# every number a retrieval recipe holds that has a range, with the keys that hold it
_RANGES: tuple[tuple[Range, tuple[str, ...]], ...] = (
    (AT_LEAST_ONE, ("data.demo_clips_per_class", "teacher.epochs", "model.hidden", "model.dim",
                    "model.epochs")),
    (FRAMES, ("teacher.num_frames",)),
    (BATCH_SIZE, ("teacher.batch_size", "model.batch_size")),
    (POSITIVE, ("teacher.lr", "teacher.tower_lr", "model.lr", "distill.lambda_distill",
                "distill.temperature")),
    (NON_NEGATIVE, ("teacher.patience", "teacher.weight_decay", "model.patience",
                    "model.weight_decay", "model.margin", "model.triplet_weight")),
    (SHARE, ("model.dropout",)),
    ((lambda v: 0 < v < 1, "(0, 1)"), ("data.valid_share",)),
)  # fmt: skip


def validate_retrieval_recipe(recipe: RetrievalRecipe, source: Source | None = None) -> None:
    """Check every value of a retrieval recipe (seeds included) before any work starts.

    Raises:
        ConfigError: naming the key, its value, the allowed range and where it came from.
    """
    source = source or Source("the retrieval recipe")
    check_seeds(recipe.seeds, f"{source.blame('seeds')}: seeds")
    if recipe.data.folds < 2 and not recipe.data.folds_file:
        raise ConfigError(
            f"{source.blame('data.folds')}: data.folds = {recipe.data.folds} is out of range; "
            "allowed: at least 2 (or a data.folds_file)"
        )
    check_ranges(recipe, _RANGES, source)
    if recipe.data.make_demo and not recipe.data.folds_file:
        check_at_most(
            recipe,
            ("data.folds",),
            "data.demo_clips_per_class",
            source,
            "the embedded set has demo_clips_per_class clips of each class, and each "
            "class-balanced fold takes at least one of them",
        )
    if recipe.model.lambda_distill != 0:
        raise ConfigError(
            f"{source.blame('model.lambda_distill')}: set the distillation weight in "
            "[distill], not [model]"
        )
