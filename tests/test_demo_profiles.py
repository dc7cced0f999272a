"""The embedded dataset's profiles: the default unchanged, the MOSEI-like one as documented."""

from __future__ import annotations

import csv
import hashlib
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from videoadviser.cli import main
from videoadviser.config import load_recipe
from videoadviser.data.demo import (
    FILLERS,
    MANIFEST,
    PROFILES,
    _write_labels,
    demo_profile,
    is_demo_dataset,
    load_tweets,
    make_demo_dataset,
    plan_dataset,
    plan_pool,
    profile_name,
    spoken_noise,
)
from videoadviser.errors import ConfigError, DataError
from videoadviser.pipeline import prepare_dataset, with_demo_profile
from videoadviser.utils.io import read_json, write_json

# A small MOSEI-profile set (its speakers' 5-20 clips, its frame sizes, rates and durations).
TINY_MOSEI = demo_profile("mosei", seed=3, n_train=16, n_valid=6, n_test=6)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def tiny_mosei(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_dataset(
        tmp_path_factory.mktemp("mosei") / "tiny", TINY_MOSEI, workers=1, progress=False
    )


def test_the_default_profile_writes_the_labels_it_always_wrote(tmp_path: Path) -> None:
    """The golden checksum of the default 2199-clip label.csv, from before profiles existed."""
    _write_labels(tmp_path, plan_dataset(demo_profile("mosi"), load_tweets()))
    digest = hashlib.md5((tmp_path / "label.csv").read_bytes()).hexdigest()
    assert digest == "5c3b0b804fa7ec4872d938a19ce6616f"


def test_profiles_are_deterministic_and_seeded(tiny_mosei: Path, tmp_path: Path) -> None:
    again = make_demo_dataset(tmp_path / "again", TINY_MOSEI, workers=2, progress=False)
    for name in ("label.csv", "latents.csv"):
        assert (again / name).read_bytes() == (tiny_mosei / name).read_bytes()
    for clip in sorted((tiny_mosei / "Raw").glob("*/*.mp4")):
        assert (again / clip.relative_to(tiny_mosei)).read_bytes() == clip.read_bytes(), clip
    tweets = load_tweets()
    other = plan_dataset(demo_profile("mosei", seed=4, n_train=16, n_valid=6, n_test=6), tweets)
    assert [p.text for p in other] != [p.text for p in plan_dataset(TINY_MOSEI, tweets)]
    assert read_json(tiny_mosei / MANIFEST)["profile"] == "mosei"
    assert is_demo_dataset(tiny_mosei, TINY_MOSEI)
    assert not is_demo_dataset(tiny_mosei, demo_profile("mosi", seed=3, n_train=16, n_valid=6))


def test_documented_parameters_are_visible_in_latents(tiny_mosei: Path) -> None:
    labels = {(r["video_id"], r["clip_id"]): r for r in _rows(tiny_mosei / "label.csv")}
    latents = _rows(tiny_mosei / "latents.csv")
    assert len(latents) == len(labels) == 28
    noisy = 0
    for row in latents:
        votes = [int(v) for v in row["votes"].split()]
        assert len(votes) == 3 and all(-3 <= v <= 3 for v in votes)  # three annotators
        label = labels[(row["video_id"], row["clip_id"])]
        assert float(label["label"]) == pytest.approx(float(Fraction(sum(votes), 3)), abs=1e-4)
        # the label's truth: 0.6 text + 0.4 face, on the clean tweet's sentiment
        s, v = float(row["text_sentiment"]), float(row["face_valence"])
        assert float(row["true_sentiment"]) == pytest.approx(
            3 * np.clip(0.6 * s + 0.4 * v, -1, 1), abs=2e-4
        )
        noisy += int(row["noisy_words"]) > 0
    assert noisy > 0  # text noise reached the written transcripts


def test_mosei_profile_statistics_follow_its_parameters() -> None:
    """Over the full 2400-clip plan: the documented shares, rates, sizes and durations."""
    config = PROFILES["mosei"]
    plans = plan_dataset(config, load_tweets())
    assert {s: sum(p.split == s for p in plans) for s in ("train", "valid", "test")} == {
        "train": 1680,
        "valid": 240,
        "test": 480,
    }
    assert abs(np.mean([p.face_agrees for p in plans]) - 0.6) < 0.03
    assert abs(np.mean([p.tweet.sentiment == "positive" for p in plans]) - 0.5) < 0.03
    words = sum(len(p.tweet.text.split()) for p in plans)
    assert abs(sum(p.noisy_words for p in plans) / words - 0.1) < 0.01
    assert {p.identity.fps for p in plans} == {24, 25, 30}
    assert {(p.identity.width, p.identity.height) for p in plans} == set(config.frame_sizes)
    seconds = [p.num_frames / p.identity.fps for p in plans]
    assert 1.45 < min(seconds) and max(seconds) < 3.05
    speakers: dict[str, int] = {}
    for p in plans:
        speakers[p.video_id] = speakers.get(p.video_id, 0) + 1
    assert max(speakers.values()) <= 20


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_no_tweet_is_shared_across_splits_or_with_the_pool(profile: str) -> None:
    tweets = load_tweets()
    plans = plan_dataset(PROFILES[profile], tweets)
    by_split: dict[str, set[str]] = {}
    for p in plans:
        by_split.setdefault(p.split, set()).add(p.tweet.text.lower())
    assert sum(len(v) for v in by_split.values()) == len(plans)  # none twice, in or across splits
    pool = {p.tweet.text.lower() for p in plan_pool(PROFILES[profile], tweets, 500)}
    assert not pool & set().union(*by_split.values())


def test_spoken_noise_drops_or_replaces_words_and_never_empties() -> None:
    rng = np.random.default_rng(0)
    text, changed = spoken_noise("one two three four five six seven eight", 0.5, rng)
    assert changed > 0 and text != "one two three four five six seven eight"
    assert set(text.split()) <= {*"one two three four five six seven eight".split()} | {
        w for f in FILLERS for w in f.split()
    }
    assert spoken_noise("a b", 0.9999, np.random.default_rng(1))[0]  # never empty
    assert spoken_noise("keep me whole", 0.0, rng) == ("keep me whole", 0)


def test_profile_names_and_errors() -> None:
    assert profile_name(PROFILES["mosi"]) == "mosi"
    assert profile_name(demo_profile("mosei", seed=9, n_train=5)) == "mosei"
    assert profile_name(demo_profile("mosi", p_face_agrees=0.5)) is None
    with pytest.raises(DataError, match="profiles: mosi, mosei"):
        demo_profile("cmu")


def test_a_recipe_on_another_profile_gets_its_own_folders() -> None:
    recipe = with_demo_profile(load_recipe("demo"), "mosei")
    assert recipe.data.demo_profile == "mosei" and recipe.data.make_demo
    assert recipe.data.path == "data/demo-mosei"
    assert recipe.data.unlabelled == "data/demo-mosei/unlabelled"
    assert with_demo_profile(load_recipe("demo"), "mosi").data.path == "data/demo"
    real = with_demo_profile(load_recipe("mosi"), "mosi")  # never the real MOSI folder
    assert real.data.path == "data/demo" and real.data.make_demo


def test_a_folder_of_another_profile_is_refused(tiny_mosei: Path) -> None:
    recipe = with_demo_profile(load_recipe("demo"), "mosi")
    recipe.data.path = str(tiny_mosei)
    with pytest.raises(DataError, match="holds the embedded 'mosei' profile.*--profile mosei"):
        prepare_dataset(recipe, progress=False)


def test_a_dataset_from_an_older_generator_is_remade(tiny_mosei: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(tiny_mosei, old)
    manifest = read_json(old / MANIFEST)
    write_json(old / MANIFEST, {**manifest, "generator": 1})
    (old / "latents.csv").write_text("stale")
    make_demo_dataset(old, TINY_MOSEI, workers=1, progress=False)
    assert (old / "latents.csv").read_bytes() == (tiny_mosei / "latents.csv").read_bytes()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep")
    with pytest.raises(ConfigError, match="did not write: .*mine.txt"):
        make_demo_dataset(foreign, TINY_MOSEI, progress=False)


def test_make_demo_profile_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "m"
    args = ["data", "make-demo", str(folder), "--profile", "mosei", "--n-train", "4"]
    assert main([*args, "--n-valid", "2", "--n-test", "2", "-q"]) == 0
    assert len(_rows(folder / "label.csv")) == 8
    assert read_json(folder / MANIFEST)["config"]["annotators"] == 3
    assert main(["data", "make-demo", str(tmp_path / "x"), "--profile", "cmu", "-q"]) == 2
    assert "profiles: mosi, mosei" in capsys.readouterr().err


def test_run_profile_and_data_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    others = (
        ["--data", "elsewhere"],
        ["--unlabelled", "pool"],
        ["--set", 'data.path="elsewhere"'],
        ["--set", 'data.unlabelled="pool"'],
    )
    for other in others:
        assert main(["run", "--profile", "mosei", *other, "-q"]) == 2
        assert "--set data.path, data.unlabelled" in capsys.readouterr().err
    assert main(["teacher", "train", "--profile", "cmu", "-q"]) == 2
    assert "no embedded profile 'cmu'" in capsys.readouterr().err
