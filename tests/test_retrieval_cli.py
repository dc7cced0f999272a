"""``videoadviser retrieval``, end to end on a tiny embedded set, the way a user runs it."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from videoadviser.cli import main
from videoadviser.retrieval.pipeline import MODELS

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"

FAST = [
    "--set",
    "data.folds=2",
    "--set",
    "teacher.epochs=2",
    "--set",
    "model.epochs=3",
    "--set",
    'cache_dir=".cache-test"',
    "--seeds",
    "1",
    "2",
]


@pytest.fixture(scope="module")
def tiny_vegas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vegas") / "set"
    assert main(["retrieval", "make-demo", str(folder), "--clips-per-class", "6", "-q"]) == 0
    return folder


def test_run_prints_the_table_and_writes_results(
    tiny_vegas: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    data = tiny_vegas / "vegas_feature.h5"
    assert main(["retrieval", "run", "--data", str(data), "--out", str(out), "-q", *FAST]) == 0
    printed = capsys.readouterr().out
    assert "| Baseline (label space + cross-triplet) |" in printed
    assert "+VideoAdviser vs baseline:" in printed and "ASO epsilon_min" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["folds"] == 2 and results["seeds"] == [1, 2]
    for model in ("baseline", "videoadviser"):
        assert 0 < results["summary_test"][model]["mAP_mean"]["mean"] <= 1
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 2 * 2 * 2  # models x folds x seeds
    # every clip is a test query exactly once per seed (its own fold)
    queries = [
        row["clip_id"]
        for f in range(2)
        for row in csv.DictReader(
            (out / f"fold_{f}" / "seed_1" / "baseline" / "queries.csv").open()
        )
    ]
    assert sorted(queries) == sorted(results_clip_ids(data))
    # the teacher of fold f never predicts (so never serves) fold f's test clips
    with h5py.File(out / "teacher" / "teacher_outputs.h5") as h5:
        logits = h5["logits"][()]
    assert logits.shape == (2, 60, 10)
    fold0 = {
        row["clip_id"]
        for row in csv.DictReader((out / "fold_0" / "seed_1" / "baseline" / "queries.csv").open())
    }
    ids = results_clip_ids(data)
    assert all(np.isnan(logits[0, i]).all() == (c in fold0) for i, c in enumerate(ids))

    # the model that serves is the baseline's: the same tensors, names and shapes, in both
    # saved checkpoints; the cost benchmark counts the same parameters and FLOPs for both
    stage = out / "fold_0" / "seed_1"
    saved = {m: load_file(str(stage / m / "model" / "model.safetensors")) for m in MODELS}
    assert {k: v.shape for k, v in saved["baseline"].items()} == {
        k: v.shape for k, v in saved["videoadviser"].items()
    }
    assert not torch.equal(
        saved["baseline"]["audio.net.0.weight"], saved["videoadviser"]["audio.net.0.weight"]
    )  # trained differently
    bench = _benchmark("retrieval_cost.py", "--run", str(out), "--repeats", "3")
    lines = bench.splitlines()[1:3]
    assert lines[0].split()[1:3] == lines[1].split()[1:3]  # serving params, FLOPs

    # the controls benchmark: the real teacher against a uniform and a class-shuffled one
    sets = [a for a in FAST if a.startswith(("data.", "teacher.", "model.", "cache_dir"))]
    _benchmark(
        "retrieval_controls.py",
        "--teacher-outputs",
        str(out / "teacher" / "teacher_outputs.h5"),
        "--out",
        str(tmp_path / "controls"),
        *[x for s in sets for x in ("--set", s)],
        "--set",
        f"data.path={json.dumps(str(data))}",
        "--set",
        "seeds=[1]",
    )
    table = list(csv.DictReader((tmp_path / "controls" / "controls.csv").open()))
    assert [row["teacher"] for row in table] == ["real", "uniform", "class-shuffled"]

    # run again: every stage is reused, the numbers are the same
    assert main(["retrieval", "run", "--data", str(data), "--out", str(out), "-q", *FAST]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["summary_test"] == results["summary_test"]

    # a changed recipe does not silently reuse stages made by another
    code = main(
        [
            "retrieval",
            "run",
            "--data",
            str(data),
            "--out",
            str(out),
            "-q",
            *FAST,
            "--set",
            "model.margin=0.3",
        ]
    )
    assert code == 2
    assert "was made from other inputs" in capsys.readouterr().err

    # teacher outputs from a file: no video is needed
    teacher_file = tmp_path / "teacher.h5"
    shutil.copy(out / "teacher" / "teacher_outputs.h5", teacher_file)
    no_videos = _without_videos(tiny_vegas, tmp_path / "features-only")
    assert (
        main(
            [
                "retrieval",
                "run",
                "--data",
                str(no_videos / "vegas_feature.h5"),
                "--teacher-outputs",
                str(teacher_file),
                "--out",
                str(tmp_path / "run2"),
                "-q",
                *FAST,
            ]
        )
        == 0
    )
    assert "Teacher outputs from" in capsys.readouterr().out


def _without_videos(folder: Path, copy: Path) -> Path:
    """A copy of the embedded set with its features and no videos."""
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("videos"))
    return copy


def _benchmark(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def results_clip_ids(data: Path) -> list[str]:
    with h5py.File(data) as h5:
        return [c.decode() for part in ("train", "test") for c in h5[f"clip_id_{part}"][()]]


def test_bad_inputs_exit_2_naming_the_problem(
    tiny_vegas: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as h5:
        h5.create_dataset("audio_train", data=np.zeros((4, 128), np.float32))
    assert main(["retrieval", "run", "--data", str(bad), "-q", *FAST]) == 2
    assert "missing key(s) visual_train" in capsys.readouterr().err

    # a teacher file that lacks a clip
    short = tmp_path / "short.h5"
    with h5py.File(short, "w") as h5:
        h5.create_dataset("clip_id", data=np.array([b"x"]))
        h5.create_dataset("logits", data=np.zeros((1, 10), np.float32))
    data = tiny_vegas / "vegas_feature.h5"
    assert (
        main(
            [
                "retrieval",
                "run",
                "--data",
                str(data),
                "--teacher-outputs",
                str(short),
                "--out",
                str(tmp_path / "r"),
                "-q",
                *FAST,
            ]
        )
        == 2
    )
    assert "no teacher logits for clip 'baby_crying_0000'" in capsys.readouterr().err

    # videos missing for the teacher
    features_only = _without_videos(tiny_vegas, tmp_path / "nov")
    assert (
        main(
            [
                "retrieval",
                "run",
                "--data",
                str(features_only / "vegas_feature.h5"),
                "--out",
                str(tmp_path / "r2"),
                "-q",
                *FAST,
            ]
        )
        == 2
    )
    assert "no video for clip 'baby_crying_0000'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("seeds", "message"),
    [(["1", "1"], "--seeds: seed(s) 1 given more than once"), (["-5"], "--seeds: seed -5 is")],
)
def test_bad_seeds_stop_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seeds: list[str], message: str
) -> None:
    out = tmp_path / "r"
    assert main(["retrieval", "run", "--seeds", *seeds, "--out", str(out), "-q"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_teacher_with_a_trained_vision_tower(
    tiny_vegas: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    args = ["retrieval", "run", "--data", str(tiny_vegas / "vegas_feature.h5"), "--out", str(out)]
    fast = [a for a in FAST if a not in ("1", "2", "--seeds")]
    assert (
        main(
            [
                *args,
                "-q",
                *fast,
                "--seeds",
                "1",
                "--set",
                "teacher.freeze_vision=false",
                "--set",
                "teacher.num_frames=2",
            ]
        )
        == 0
    )
    teacher = json.loads((out / "teacher" / "metrics.json").read_text())
    assert len(teacher["folds"]) == 2 and 0 <= teacher["test_accuracy_mean"] <= 1
    stamp = json.loads((out / "teacher" / "stage.json").read_text())
    assert stamp["inputs"]["teacher"]["freeze_vision"] is False


def test_teacher_files_must_fit_the_folds(
    tiny_vegas: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tiny_vegas / "vegas_feature.h5"
    ids = results_clip_ids(data)
    args = ["retrieval", "run", "--data", str(data), "-q", *FAST]

    def teacher_file(name: str, logits: np.ndarray) -> str:
        path = tmp_path / name
        with h5py.File(path, "w") as h5:
            h5.create_dataset("clip_id", data=np.array(ids, dtype="S"))
            h5.create_dataset("logits", data=logits)
        return str(path)

    nan = np.zeros((60, 10), np.float32)
    nan[5] = np.nan
    assert main([*args, "--teacher-outputs", teacher_file("nan.h5", nan), "--out", "r1"]) == 2
    assert f"no finite logits for clip {ids[5]!r}" in capsys.readouterr().err

    per_fold = np.zeros((2, 60, 10), np.float32)  # no fold's test clips left NaN
    assert main([*args, "--teacher-outputs", teacher_file("f.h5", per_fold), "--out", "r2"]) == 2
    assert "fold 0's teacher has logits for fold 0's test clips" in capsys.readouterr().err


def test_per_video_folder_end_to_end_and_folds_file_changes(
    tiny_vegas: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    ids = [line.split(",")[0] for line in (tiny_vegas / "labels.csv").read_text().splitlines()[1:]]
    folds = tmp_path / "folds.csv"
    folds.write_text("clip_id,fold\n" + "".join(f"{c},{i % 2}\n" for i, c in enumerate(ids)))
    args = [
        "retrieval",
        "run",
        "--data",
        str(tiny_vegas),
        "--folds-file",
        str(folds),
        "--out",
        "run",
        "-q",
        *FAST,
    ]
    assert main(args) == 0  # the per-video layout, its videos/ inside, the user's folds
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["dataset"]["classes"][0] == "baby crying"  # from labels.csv's class_name
    # the folds file edited in place: the finished stages were made with other folds
    folds.write_text("clip_id,fold\n" + "".join(f"{c},{(i + 1) % 2}\n" for i, c in enumerate(ids)))
    assert main(args) == 2
    assert "was made from other inputs" in capsys.readouterr().err
    # names given in the recipe must be one per class
    assert main([*args, "--set", 'data.class_names=["a"]', "--out", "run2"]) == 2
    assert "data.class_names: 1 names for the 10 classes" in capsys.readouterr().err


def test_retrieval_run_into_another_videoadviser_folder_says_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24 re-probe: "not a retrieval run folder (no recipe.json of one)" for a run folder
    run = tmp_path / "run"
    (run / "seed_1" / "teacher").mkdir(parents=True)
    (run / "recipe.json").write_text('{"teacher": {}, "student": {}, "data": {}}')
    (run / "seed_1" / "teacher" / "stage.json").write_text('{"kind": "teacher", "hash": "0"}')
    said = {
        run: "is the folder of a `videoadviser run`",
        run / "seed_1" / "teacher": "is a teacher stage folder",
    }
    for folder, what in said.items():
        assert main(["retrieval", "run", "--out", str(folder), "-q"]) == 2
        err = capsys.readouterr().err
        assert f"--out {folder} {what}, not a retrieval run folder; nothing there" in err, err
        assert "no recipe.json" not in err
    assert sorted(p.name for p in run.iterdir()) == ["recipe.json", "seed_1"]


def test_make_demo_and_run_never_touch_a_users_file(
    tiny_vegas: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "d"
    mine.mkdir()
    (mine / "thesis.tex").write_bytes(b"keep\r\n")  # the reproduction
    for overwrite in ([], ["--overwrite"]):
        assert main(["retrieval", "make-demo", str(mine), "-q", *overwrite]) == 2
        err = capsys.readouterr().err
        assert "thesis.tex" in err and "--overwrite" not in err
        assert main(["retrieval", "run", "--out", str(mine), "-q", *overwrite]) == 2
        assert "not a retrieval run folder" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert (mine / "thesis.tex").read_bytes() == b"keep\r\n"
    file = tmp_path / "file"
    file.write_bytes(b"mine")
    assert main(["retrieval", "make-demo", str(file), "-q"]) == 2
    assert main(["retrieval", "run", "--out", str(file), "-q"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    # its own set is made again only with --overwrite
    own = tmp_path / "own"
    shutil.copytree(tiny_vegas, own)
    # issue 24 re-probe: the same settings again were refused; now the set is reused as is
    packed = (own / "vegas_feature.h5").stat()
    assert main(["retrieval", "make-demo", str(own), "--clips-per-class", "6", "-q"]) == 0
    assert "ready at" in capsys.readouterr().out
    assert (own / "vegas_feature.h5").stat().st_mtime_ns == packed.st_mtime_ns
    assert main(["retrieval", "make-demo", str(own), "--clips-per-class", "1", "-q"]) == 2
    assert f"`videoadviser retrieval make-demo {own} --clips-per-class 1" in capsys.readouterr().err
    again = ["retrieval", "make-demo", str(own), "--clips-per-class", "1", "-q", "--overwrite"]
    assert main(again) == 0
    assert len((own / "labels.csv").read_text().splitlines()) == 1 + 10


def test_every_stage_is_checked_before_the_teacher_trains_and_an_incomplete_one_reruns(
    tiny_vegas: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the re-probe of issue 24, for `retrieval run`: a user's file in a model stage was found
    # only after the teacher had retrained; a model stage that lost queries.csv was trusted
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    fast = [a for a in FAST if a not in ("1", "2", "--seeds")]
    args = ["retrieval", "run", "--data", str(tiny_vegas / "vegas_feature.h5"), "--out", str(out)]
    args += ["-q", *fast, "--seeds", "1"]
    assert main(args) == 0
    teacher = out / "teacher" / "metrics.json"
    trained = teacher.stat().st_mtime_ns
    stage = out / "fold_1" / "seed_1" / "videoadviser"
    (stage / "notes.txt").write_text("mine")
    assert main(args) == 0  # every stage reused: its files are only read
    capsys.readouterr()
    assert main([*args, "--set", "teacher.epochs=3", "--overwrite"]) == 2
    assert f"did not write: {stage / 'notes.txt'}" in capsys.readouterr().err
    assert teacher.stat().st_mtime_ns == trained  # refused before the teacher retrained
    assert (stage / "notes.txt").read_text() == "mine"
    (stage / "notes.txt").unlink()

    (stage / "queries.csv").unlink()
    assert main(args) == 0  # the tool's own stage, same stamp: it runs again
    assert (stage / "queries.csv").is_file() and teacher.stat().st_mtime_ns == trained


def test_a_refused_rerun_leaves_the_run_recipe_as_it_was(
    tiny_vegas: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # review of issue 24: `retrieval run` rewrote recipe.json before its stages were checked,
    # so a refused rerun with a changed recipe left the run folder saying the new recipe
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    (out / "teacher").mkdir(parents=True)
    recipe = b'{"model": {}, "distill": {}, "data": {}, "note": "the earlier run"}\r\n'
    (out / "recipe.json").write_bytes(recipe)
    stamp = {"kind": "retrieval teacher", "hash": "0", "inputs": {"teacher": {"epochs": 9}}}
    (out / "teacher" / "stage.json").write_text(json.dumps(stamp))
    (out / "teacher" / "metrics.json").write_text("{}")
    args = ["retrieval", "run", "--data", str(tiny_vegas / "vegas_feature.h5"), "--out", str(out)]
    assert main([*args, "-q", *FAST]) == 2
    assert "was made from other inputs" in capsys.readouterr().err
    assert (out / "recipe.json").read_bytes() == recipe


def test_make_demo_never_replaces_a_real_vegas_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # review of issue 24: a bare vegas_feature.h5 counted as an older embedded set, so
    # `retrieval make-demo ~/vegas --overwrite` deleted the user's real VEGAS data
    vegas = tmp_path / "vegas"
    (vegas / "videos").mkdir(parents=True)
    files = {
        vegas / "vegas_feature.h5": b"real features",
        vegas / "videos" / "dog_0001.mp4": b"a real video",
        vegas / "labels.csv": b"clip_id,label\r\ndog_0001,0\r\n",
    }
    for path, content in files.items():
        path.write_bytes(content)
    for overwrite in ([], ["--overwrite"]):
        args = ["retrieval", "make-demo", str(vegas), "--clips-per-class", "1", "-q", *overwrite]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "not an embedded VEGAS-like set videoadviser made" in err, err
        assert "vegas_feature.h5" in err and "--overwrite" not in err
    held = {p: p.read_bytes() for p in vegas.rglob("*") if p.is_file()}
    assert held == files


def test_an_incomplete_embedded_set_is_never_reused(
    tiny_vegas: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # review of issue 24: a set made with the same settings that lost a video was "ready",
    # and `retrieval run` on it failed later
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "own"
    shutil.copytree(tiny_vegas, own)
    video = sorted((own / "videos").iterdir())[0]
    video.unlink()
    remake = f"`videoadviser retrieval make-demo {own} --clips-per-class 6 --seed 2023 --overwrite`"
    assert main(["retrieval", "make-demo", str(own), "--clips-per-class", "6", "-q"]) == 2
    err = capsys.readouterr().err
    assert f"lacks {video}" in err and remake in err, err
    # the recipe's own embedded set (data.make_demo; with --data the set is the user's, and a
    # clip without video is refused by name when the teacher needs it)
    embedded = f"data.path={json.dumps(str(own / 'vegas_feature.h5'))}"
    run = ["retrieval", "run", "--set", embedded, "--out", "run", "-q"]
    assert main([*run, *FAST, "--set", "data.demo_clips_per_class=6"]) == 2
    err = capsys.readouterr().err
    assert f"lacks {video}" in err and remake in err, err
    assert not (tmp_path / "run").exists()
    assert (
        main(["retrieval", "make-demo", str(own), "--clips-per-class", "6", "-q", "--overwrite"])
        == 0
    )
    assert video.is_file()
