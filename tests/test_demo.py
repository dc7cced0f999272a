"""The embedded dataset: layout, determinism, label process and the tweet cleaner."""

from __future__ import annotations

import csv
import re
import shutil
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from videoadviser.data.dataset import load_dataset
from videoadviser.data.demo import (
    DemoConfig,
    clean_tweet,
    is_demo_dataset,
    load_tweets,
    make_demo_dataset,
    plan_dataset,
)
from videoadviser.data.frames import decode_frames
from videoadviser.data.render import FaceIdentity, render_clip
from videoadviser.errors import ConfigError, DataError


def _rows(path: Path, name: str = "label.csv") -> list[dict[str, str]]:
    with open(path / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_layout_and_loading(tiny_demo: Path) -> None:
    rows = _rows(tiny_demo)
    assert list(rows[0]) == ["video_id", "clip_id", "text", "label", "annotation", "mode"]
    dataset = load_dataset(tiny_demo, progress=False)
    assert dataset.summary()["splits"] == {"train": 24, "valid": 8, "test": 8}
    for record in dataset.records:
        assert Path(record.video_path).is_file()  # type: ignore[arg-type]
    frames = decode_frames(dataset.records[0].video_path, 8, 32)  # type: ignore[arg-type]
    assert frames.shape == (8, 32, 32, 3)


def test_labels_look_like_mosi(tiny_demo: Path) -> None:
    labels = np.array([float(r["label"]) for r in _rows(tiny_demo)])
    assert labels.min() >= -3 and labels.max() <= 3
    np.testing.assert_allclose(labels * 5, np.round(labels * 5), atol=1e-9)  # mean of 5 votes


def test_splits_are_speaker_independent(tiny_demo: Path) -> None:
    splits: dict[str, set[str]] = defaultdict(set)
    for row in _rows(tiny_demo):
        splits[row["video_id"]].add(row["mode"])
    assert all(len(s) == 1 for s in splits.values())


def test_same_seed_same_dataset(
    tiny_demo: Path, tiny_demo_config: DemoConfig, tmp_path: Path
) -> None:
    again = make_demo_dataset(tmp_path / "again", tiny_demo_config, workers=2, progress=False)
    assert (again / "label.csv").read_bytes() == (tiny_demo / "label.csv").read_bytes()
    for clip in sorted((tiny_demo / "Raw").glob("*/*.mp4")):  # byte-identical video files
        assert (again / clip.relative_to(tiny_demo)).read_bytes() == clip.read_bytes(), clip
    first = _rows(tiny_demo)[3]
    rel = Path("Raw") / first["video_id"] / f"{first['clip_id']}.mp4"
    np.testing.assert_array_equal(
        decode_frames(again / rel, 6, 24), decode_frames(tiny_demo / rel, 6, 24)
    )


def test_other_seed_other_dataset(tiny_demo_config: DemoConfig) -> None:
    tweets = load_tweets()
    a = plan_dataset(tiny_demo_config, tweets)
    b = plan_dataset(replace(tiny_demo_config, seed=8), tweets)
    assert [p.tweet.text for p in a] != [p.tweet.text for p in b]


def test_reuse_and_refuse_foreign_folder(
    tiny_demo: Path, tiny_demo_config: DemoConfig, tmp_path: Path
) -> None:
    assert is_demo_dataset(tiny_demo, tiny_demo_config)
    assert not is_demo_dataset(tiny_demo, DemoConfig())
    stamp = (tiny_demo / "label.csv").stat().st_mtime_ns
    assert make_demo_dataset(tiny_demo, tiny_demo_config, progress=False) == tiny_demo
    assert (tiny_demo / "label.csv").stat().st_mtime_ns == stamp  # reused, not rewritten
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for overwrite in (False, True):  # a user's file: never replaced, and no flag suggested
        with pytest.raises(ConfigError, match="did not write: .*notes.txt") as refused:
            make_demo_dataset(foreign, tiny_demo_config, progress=False, overwrite=overwrite)
        assert "--overwrite" not in str(refused.value)
        assert (foreign / "notes.txt").read_text() == "mine"


def test_default_sizes_and_class_mix() -> None:
    plans = plan_dataset(DemoConfig(), load_tweets())
    counts = {s: sum(p.split == s for p in plans) for s in ("train", "valid", "test")}
    assert counts == {"train": 1284, "valid": 229, "test": 686}
    share_neutral = np.mean([p.tweet.sentiment == "neutral" for p in plans])
    assert 0.2 < share_neutral < 0.3
    assert len({p.tweet.text for p in plans}) == len(plans)


def test_video_carries_information_the_text_does_not() -> None:
    """Among clips with the same text sentiment, the label still follows the face."""
    plans = plan_dataset(DemoConfig(), load_tweets())
    s = np.array([p.text_sentiment for p in plans])
    v = np.array([p.face_valence for p in plans])
    y = np.array([p.label for p in plans])
    residual_y = y - np.polyval(np.polyfit(s, y, 1), s)
    residual_v = v - np.polyval(np.polyfit(s, v, 1), s)
    partial = np.corrcoef(residual_y, residual_v)[0, 1]
    assert partial > 0.5
    disagree = np.array([not p.face_agrees for p in plans])
    assert 0.25 < disagree.mean() < 0.35
    # ...and the text matters too: for a given face, labels still follow the words.
    residual_y2 = y - np.polyval(np.polyfit(v, y, 1), v)
    residual_s = s - np.polyval(np.polyfit(v, s, 1), v)
    assert np.corrcoef(residual_y2, residual_s)[0, 1] > 0.5


def test_rendered_mouth_follows_valence() -> None:
    identity = FaceIdentity(64, 64, 25, (0.8, 0.6, 0.5), (0.2, 0.3, 0.6), 0.4, 0.55, 0.38)
    smile = render_clip(identity, 1.0, 10, np.random.default_rng(0))[-1].astype(float)
    frown = render_clip(identity, -1.0, 10, np.random.default_rng(0))[-1].astype(float)
    neutral = render_clip(identity, 0.0, 10, np.random.default_rng(0))[-1].astype(float)
    # The head is centred with radius 25.6 px; the mouth sits about 11.5 px below the centre.
    mouth = (slice(36, 52), slice(20, 44))
    background = (slice(0, 64), slice(0, 5))
    assert (
        np.abs(smile[mouth] - frown[mouth]).mean()
        > 10 * np.abs(smile[background] - frown[background]).mean()
    )
    assert np.abs(smile[mouth] - neutral[mouth]).mean() > 3.0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("RT @someone: I love it http://t.co/abc #happy", "I love it happy"),
        ("@united thanks for nothing &amp; more", "thanks for nothing & more"),
        ("so good \u00e4\u00f3_ really", "so good really"),
        (".@McDonalds Shares a Slice", "Shares a Slice"),
    ],
)
def test_clean_tweet(raw: str, clean: str) -> None:
    assert clean_tweet(raw) == clean


def test_tweets_are_real_and_clean() -> None:
    tweets = load_tweets()
    assert len(tweets) > 20000
    assert not any("http" in t.text or re.search(r"@\w", t.text) for t in tweets)
    assert {t.sentiment for t in tweets} == {"negative", "neutral", "positive"}


def test_overwrite_replaces_only_an_embedded_dataset_made_with_other_settings(
    tiny_demo: Path, tmp_path: Path
) -> None:
    own = tmp_path / "own"
    shutil.copytree(tiny_demo, own)
    other = DemoConfig(seed=8, n_train=4, n_valid=2, n_test=2, clips_per_speaker=(2, 2))
    with pytest.raises(DataError, match="made with other settings; pass --overwrite"):
        make_demo_dataset(own, other, workers=1, progress=False)
    assert len((own / "label.csv").read_text().splitlines()) == 1 + 40  # as it was
    make_demo_dataset(own, other, workers=1, progress=False, overwrite=True)
    assert is_demo_dataset(own, other)
    assert len((own / "label.csv").read_text().splitlines()) == 1 + 8


def test_an_incomplete_embedded_dataset_is_never_reused(
    tiny_demo: Path, tiny_demo_config: DemoConfig, tmp_path: Path
) -> None:
    # review of issue 24: a dataset made with the same settings that lost a video was reused
    own = tmp_path / "own"
    shutil.copytree(tiny_demo, own)
    video = sorted((own / "Raw").glob("*/*.mp4"))[0]
    video.unlink()
    assert not is_demo_dataset(own, tiny_demo_config)
    remake = f"`videoadviser data make-demo {own} --overwrite`"
    with pytest.raises(DataError, match=re.escape(f"lacks {video}")) as refused:
        make_demo_dataset(own, tiny_demo_config, workers=1, progress=False)
    assert remake in str(refused.value)
    make_demo_dataset(own, tiny_demo_config, workers=1, progress=False, overwrite=True)
    assert video.is_file() and is_demo_dataset(own, tiny_demo_config)
