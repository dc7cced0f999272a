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

from videoadviser.config import build_config, read_toml
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
    seeds = values.pop("seeds", None)
    recipe: RetrievalRecipe = build_config(RetrievalRecipe, values, str(path))
    if seeds is not None:
        if (
            not isinstance(seeds, list)
            or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
        ):
            raise ConfigError(f"{path}: seeds must be a non-empty list of integers")
        recipe.seeds = seeds
    if recipe.data.folds < 2 and not recipe.data.folds_file:
        raise ConfigError(f"{path}: data.folds must be at least 2")
    if not 0 < recipe.data.valid_share < 1:
        raise ConfigError(f"{path}: data.valid_share must be in (0, 1)")
    if recipe.distill.lambda_distill <= 0 or recipe.distill.temperature <= 0:
        raise ConfigError(f"{path}: distill.lambda_distill and distill.temperature must be > 0")
    if recipe.model.lambda_distill != 0:
        raise ConfigError(f"{path}: set the distillation weight in [distill], not [model]")
    return recipe
