"""The transfer set: reading, the video policy, the overlap check and the embedded pool."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import pytest

from videoadviser.data.dataset import load_dataset
from videoadviser.data.demo import (
    DemoConfig,
    is_demo_dataset,
    load_tweets,
    plan_dataset,
    plan_pool,
    unused_tweets,
)
from videoadviser.data.unlabelled import (
    UNLABELLED,
    check_no_overlap,
    load_unlabelled,
    normalise_text,
    read_unlabelled_csv,
)
from videoadviser.errors import DataError


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path / "label.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, header: str, lines: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "label.csv").write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_pool_layout_and_records(tiny_pool: Path, tiny_demo_config: DemoConfig) -> None:
    assert list(_rows(tiny_pool)[0]) == ["video_id", "clip_id", "text"]  # no labels written
    transfer = load_unlabelled(tiny_pool, progress=False)
    assert len(transfer) == 12 and transfer.summary()["with_video"] == 12
    assert all(r.split == UNLABELLED and math.isnan(r.label) for r in transfer.records)
    assert all(Path(r.video_path).is_file() for r in transfer.records)  # type: ignore[arg-type]
    assert [r.uid for r in transfer.head(5).records] == [r.uid for r in transfer.records[:5]]
    assert transfer.head(0) is transfer
    assert is_demo_dataset(tiny_pool, tiny_demo_config, unlabelled=12)


def test_pool_tweets_never_overlap_the_labelled_splits() -> None:
    config = DemoConfig()  # the default embedded dataset
    tweets = load_tweets()
    labelled = {normalise_text(p.tweet.text) for p in plan_dataset(config, tweets)}
    free = unused_tweets(config, tweets)
    assert len(free) == len(tweets) - len(labelled)  # every labelled tweet is distinct
    assert len(free) >= 20000  # room for the transfer curve's largest pool
    pool = plan_pool(config, tweets, 3000)
    texts = [normalise_text(p.tweet.text) for p in pool]
    assert len(set(texts)) == 3000 and not labelled & set(texts)
    assert {p.split for p in pool} == {UNLABELLED}
    with pytest.raises(DataError, match=f"give 1..{len(free)}"):
        plan_pool(config, tweets, len(free) + 1)


def test_the_labelled_dataset_is_unchanged_by_the_pool_generator(tiny_demo: Path) -> None:
    # the labelled splits' random stream is the one it was before pools existed
    before = plan_dataset(
        DemoConfig(seed=7, n_train=24, n_valid=8, n_test=8, clips_per_speaker=(4, 8)), load_tweets()
    )
    assert [p.tweet.text for p in before] == [r["text"] for r in _rows(tiny_demo)]


def test_columns_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such unlabelled folder.*make-demo DIR --unlabelled"):
        read_unlabelled_csv(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty/label.csv: no label file"):
        read_unlabelled_csv(tmp_path / "empty")
    no_text = _write(tmp_path / "notext", "video_id,clip_id,label", ["v,1,0.5"])
    with pytest.raises(DataError, match=r"missing column\(s\) text"):
        read_unlabelled_csv(no_text)
    no_rows = _write(tmp_path / "norows", "video_id,clip_id,text", [])
    with pytest.raises(DataError, match="norows/label.csv: no data rows"):
        read_unlabelled_csv(no_rows)
    bad = _write(tmp_path / "bad", "video_id,clip_id,text,label,mode", ["v,1,,2,train"])
    with pytest.raises(DataError, match=r"bad/label.csv:2: empty text"):
        read_unlabelled_csv(bad)
    # label and mode columns are ignored, not checked
    ok = _write(tmp_path / "ok", "video_id,clip_id,text,label,mode", ["v,1,hi there,oops,zzz"])
    (record,) = read_unlabelled_csv(ok)
    assert record.text == "hi there" and math.isnan(record.label) and record.extra == {}


def test_a_pool_clip_without_video_follows_the_video_policy(
    tiny_pool: Path, tmp_path: Path
) -> None:
    pool = tmp_path / "pool"
    shutil.copytree(tiny_pool, pool)
    first = _rows(pool)[0]
    (pool / "Raw" / first["video_id"] / f"{first['clip_id']}.mp4").unlink()
    with pytest.raises(DataError, match=f"{first['video_id']}/{first['clip_id']}.mp4"):
        load_unlabelled(pool, "error", progress=False)
    assert len(load_unlabelled(pool, "skip", progress=False)) == 11
    blank = load_unlabelled(pool, "blank", progress=False)
    assert len(blank) == 12 and blank.summary()["with_video"] == 11


def test_overlap_with_evaluation_clips_is_refused(tiny_demo: Path, tmp_path: Path) -> None:
    dataset = load_dataset(tiny_demo, progress=False)
    train, test = dataset.split("train")[0], dataset.split("test")[0]
    shouted = "  " + test.text.upper() + " "  # the same transcript up to case and spaces
    pool = _write(
        tmp_path / "p",
        "video_id,clip_id,text",
        [
            "fresh,1,a sentence no split holds",
            f"{train.video_id},{train.clip_id},another new sentence",
            f'fresh,2,"{shouted}"',
            f'fresh,3,"{train.text}"',  # a training transcript is not an evaluation leak
        ],
    )
    transfer = load_unlabelled(pool, "blank", progress=False)
    with pytest.raises(DataError) as error:
        check_no_overlap(dataset, transfer)
    message = str(error.value)
    assert "2 unlabelled clips" in message and "Nothing was trained" in message
    assert f"{train.uid!r} has the id of a labelled train clip" in message
    assert f"'fresh$_$2' has the transcript of test clip {test.uid!r}" in message
    assert "fresh$_$3" not in message and "fresh$_$1" not in message


def test_pools_are_nested() -> None:
    config, tweets = DemoConfig(), load_tweets()
    small, large = plan_pool(config, tweets, 50), plan_pool(config, tweets, 3000)
    assert small == large[:50]  # the same clips, speakers and render seeds
