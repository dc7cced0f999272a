"""The command line, driven the way a user drives it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from videoadviser.cli import main


def test_make_demo_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    args = ["data", "make-demo", str(folder), "--n-train", "6", "--n-valid", "3", "--n-test", "3"]
    assert main([*args, "-q"]) == 0
    assert (folder / "label.csv").is_file()
    assert not (folder / "unlabelled").exists()
    assert main([*args, "--unlabelled", "5", "-q"]) == 0  # a pool beside the same dataset
    assert "unlabelled pool of 5 clips ready at" in capsys.readouterr().out
    pool = folder / "unlabelled"
    assert (pool / "label.csv").read_text().splitlines()[0] == "video_id,clip_id,text"
    assert len(list((pool / "Raw").glob("*/*.mp4"))) == 5
    assert main([*args, "--unlabelled", "3", "-q"]) == 0  # another size replaces the pool
    assert len(list((pool / "Raw").glob("*/*.mp4"))) == 3
    labelled = {line.split(",")[2] for line in (folder / "label.csv").read_text().splitlines()}
    pooled = {line.split(",")[2] for line in (pool / "label.csv").read_text().splitlines()[1:]}
    assert not labelled & pooled
    capsys.readouterr()
    report = tmp_path / "summary.json"
    assert main(["data", "check", str(folder), "-q", "--json", str(report)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["splits"] == {"train": 6, "valid": 3, "test": 3}
    assert json.loads(report.read_text())["videos"]["bad_files"] == {}
    # its own summary is replaced only with --overwrite
    assert main(["data", "check", str(folder), "-q", "--json", str(report)]) == 2
    assert "pass --overwrite to replace it" in capsys.readouterr().err
    assert main(["data", "check", str(folder), "-q", "--json", str(report), "--overwrite"]) == 0


def test_bad_dataset_exits_2_with_a_message(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(tiny_demo, root)
    victim = next((root / "Raw").glob("*/*.mp4"))
    victim.unlink()
    assert main(["data", "check", str(root), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("videoadviser: error: 1 missing or corrupt videos")
    assert str(victim) in err
    assert main(["data", "check", str(root), "-q", "--video-policy", "skip"]) == 0


def test_console_script_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "videoadviser.cli", "data", "check", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--video-policy" in result.stdout and "blank" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "--model", "{missing}", "hello", "--out", "{folder}"],
        [
            "teacher",
            "predict",
            "--teacher",
            "{missing}",
            "--data",
            "{missing}",
            "--out",
            "{folder}",
        ],
        ["data", "check", "{missing}", "--json", "{folder}"],
    ],
)
def test_a_file_output_that_is_a_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    folder, missing = tmp_path / "out", tmp_path / "missing"
    folder.mkdir()
    args = [a.format(folder=folder, missing=missing) for a in command]
    assert main([*args, "-q"] if command[0] != "predict" else args) == 2
    err = capsys.readouterr().err
    assert f"{folder}: is a folder; give a file path, e.g. {folder / 'predictions.csv'}" in err
    assert str(missing) not in err  # refused before the model or data was looked at
    assert list(folder.iterdir()) == []


def test_a_users_file_given_as_a_file_output_is_never_replaced(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24 re-probe: each of these replaced the user's file silently
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"my notes\r\n")
    data = tmp_path / "d"
    data.mkdir()
    shutil.copy(tiny_demo / "label.csv", data / "label.csv")
    texts = tmp_path / "in.txt"
    texts.write_bytes(b"what a day\n")
    missing = str(tmp_path / "missing")  # never loaded: the output is refused first
    teacher = ["teacher", "predict", "--teacher", missing, "--data", str(data), "-q"]
    commands = {
        notes: ["predict", "--model", missing, "hello", "--out", str(notes)],
        data / "label.csv": [*teacher, "--out", str(data / "label.csv")],
        texts: ["predict", "--model", missing, "--file", str(texts), "--out", str(texts)],
        tmp_path / "notes.json": ["data", "check", missing, "--json", str(tmp_path / "notes.json")],
    }
    (tmp_path / "notes.json").write_text('{"mine": 1}')
    files = {path: path.read_bytes() for path in commands}
    for path, command in commands.items():
        for overwrite in ([], ["--overwrite"]):
            assert main([*command, *overwrite]) == 2, command
            err = capsys.readouterr().err
            assert f"{path}: " in err and "--overwrite" not in err, err
            assert missing not in err  # refused before any work
    assert main(commands[texts]) == 2 and "is also the input --file" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in commands} == files


def test_a_file_output_the_command_wrote_is_replaced_only_with_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing")
    scored = tmp_path / "scored.csv"
    scored.write_text("text,videoadviser_score\nhi,0.5\n")  # as `predict --out` writes it
    predictions = tmp_path / "teacher.csv"  # as `teacher predict` writes it
    predictions.write_text("uid,split,label,has_video,r_T,logit_0,logit_1\na$_$1,train,1,1,1,0,0\n")
    teacher = ["teacher", "predict", "--teacher", missing, "--data", missing, "-q"]
    for path, command in (
        (scored, ["predict", "--model", missing, "hello", "--out", str(scored)]),
        (predictions, [*teacher, "--out", str(predictions)]),
    ):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{path}: " in err and "pass --overwrite to replace it" in err
        assert main([*command, "--overwrite"]) == 2  # accepted: then the missing model stops it
        assert missing in capsys.readouterr().err
    # the CSV predict writes for a CSV input keeps its columns: that header is recognised
    table = tmp_path / "table.csv"
    table.write_text("id,text\n1,hi\n")
    scored.write_text("id,text,videoadviser_score\n1,hi,0.5\n")
    command = ["predict", "--model", missing, "--csv", str(table), "--out", str(scored)]
    assert main([*command, "--overwrite"]) == 2 and missing in capsys.readouterr().err
    scored.write_text("text,videoadviser_score\nhi,0.5\n")  # for other columns: not replaced
    for overwrite in ([], ["--overwrite"]):
        assert main([*command, *overwrite]) == 2
        err = capsys.readouterr().err
        assert "a predictions CSV for other columns (header row text,videoadviser_score)" in err
        assert "--overwrite" not in err and "not a file videoadviser wrote" not in err
    assert scored.read_text() == "text,videoadviser_score\nhi,0.5\n"


def test_a_users_labelled_csv_is_never_taken_for_predict_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24 re-probe: `text,sentiment` (a common header of a user's labelled data) was
    # recognised as predict's own output, and --overwrite replaced the user's data
    missing = str(tmp_path / "missing")
    mine = tmp_path / "labelled.csv"
    mine.write_text("text,sentiment\ngreat film,1.5\n")
    texts = tmp_path / "in.txt"
    texts.write_text("what a day\n")
    for given in (["hello"], ["--file", str(texts)]):
        for overwrite in ([], ["--overwrite"]):
            command = ["predict", "--model", missing, *given, "--out", str(mine), *overwrite]
            assert main(command) == 2
            err = capsys.readouterr().err
            assert f"--out {mine}: exists and is not a file videoadviser wrote" in err, err
            assert "--overwrite" not in err and missing not in err
    assert mine.read_text() == "text,sentiment\ngreat film,1.5\n"


def test_a_csv_that_has_the_score_column_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24 re-probe: predict --csv replaced the input's own score column silently
    missing = str(tmp_path / "missing")
    table = tmp_path / "scored.csv"
    table.write_text("text,videoadviser_score\nhi,0.5\n")
    out = tmp_path / "out.csv"
    assert main(["predict", "--model", missing, "--csv", str(table), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{table}: already has a column 'videoadviser_score'" in err and missing not in err
    assert not out.exists()


def test_folder_arguments_are_named_as_the_user_gave_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24 re-probe: these take a positional folder but their messages said "--out"
    file = tmp_path / "file"
    file.write_bytes(b"mine")
    for command in (["report"], ["data", "make-demo"], ["retrieval", "make-demo", "-q"]):
        assert main([*command, str(file)]) == 2
        err = capsys.readouterr().err
        assert f"{file}: is a file, not a folder" in err and "--out" not in err, err
    assert file.read_bytes() == b"mine"


def test_predict_refuses_empty_texts_and_other_encodings_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(tmp_path / "no-model")  # never loaded: the texts are refused first
    assert main(["predict", "--model", model, "fine", ""]) == 2
    assert "1 empty texts:\n  text argument 2\n" in capsys.readouterr().err
    texts = tmp_path / "texts.txt"
    texts.write_text("fine\n\nfine again\n")
    assert main(["predict", "--model", model, "--file", str(texts)]) == 2
    assert f"1 empty texts:\n  {texts}:2\n" in capsys.readouterr().err
    texts.write_bytes("fine\ncafé\n".encode("latin-1"))
    assert main(["predict", "--model", model, "--file", str(texts)]) == 2
    assert f"{texts}:2: not UTF-8 text (byte 8 is b'\\xe9'" in capsys.readouterr().err
    # --csv as --file: a blank line is a row, refused by the line grep -n gives it
    table = tmp_path / "texts.csv"
    table.write_text('id,text\n1,"fine,\nreally"\n\n3,""\n4,good\n')
    assert main(["predict", "--model", model, "--csv", str(table)]) == 2
    assert f"2 empty texts:\n  {table}:4\n  {table}:5\n" in capsys.readouterr().err


def test_a_latin1_recipe_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "mine.toml"
    recipe.write_bytes('name = "café"\n'.encode("latin-1"))
    assert main(["run", "--recipe", str(recipe), "--out", str(tmp_path / "run"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"videoadviser: error: {recipe}:1: not UTF-8 text (byte 11 is")
    assert "iconv -f latin1 -t utf-8" in err


def _users_files(folder: Path) -> dict[Path, bytes]:
    """A user's files in ``folder`` (made if absent): thesis.tex, best/notes.txt, last/draft.txt."""
    files = {
        folder / "thesis.tex": b"\\section{keep}\r\n",
        folder / "best" / "notes.txt": b"x\n",
        folder / "last" / "draft.txt": b"y\n",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_no_command_deletes_or_replaces_a_users_file(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fast_recipe import FAST

    data = ["--data", str(tiny_demo), "-q", *FAST]
    folder = tmp_path / "mine"
    files = _users_files(folder)
    commands = {
        "data make-demo": ["data", "make-demo", str(folder), "--n-train", "4", "-q"],
        "teacher train": ["teacher", "train", *data, "--out", str(folder)],
        "student train": ["student", "train", *data, "--lambda2", "0", "--out", str(folder)],
        "run": ["run", *data, "--seeds", "1", "--out", str(folder)],
    }
    for name, command in commands.items():
        for overwrite in ([], ["--overwrite"]):
            assert main([*command, *overwrite]) == 2, name
            err = capsys.readouterr().err
            assert "thesis.tex" in err and "--overwrite" not in err, (name, err)
            assert {p: p.read_bytes() for p in files} == files, name  # byte for byte
    assert sorted(p.name for p in folder.iterdir()) == ["best", "last", "thesis.tex"]
    assert main(["report", str(folder)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in files} == files


def test_a_file_given_as_out_is_refused_up_front(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "out.txt"
    file.write_bytes(b"mine")
    data = ["--data", str(tiny_demo), "-q", "--out", str(file)]
    for command in (["teacher", "train"], ["student", "train", "--lambda2", "0"], ["run"]):
        assert main([*command, *data]) == 2
        assert f"--out {file}: is a file, not a folder" in capsys.readouterr().err
    assert main(["data", "make-demo", str(file), "-q"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert file.read_bytes() == b"mine"


def test_standalone_stages_are_stamped_and_never_replaced_silently(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fast_recipe import FAST

    from videoadviser.cli import _recipe, build_parser
    from videoadviser.pipeline import prepare_dataset, teacher_stamp

    out = tmp_path / "t"
    teacher = ["teacher", "train", "--data", str(tiny_demo), "--out", str(out), "-q", *FAST]
    teacher += ["--set", "teacher.epochs=1"]
    assert main(teacher) == 0
    # stamped as `run` stamps its teacher: a run reading this folder sees what made it
    recipe, _ = _recipe(build_parser().parse_args(teacher))
    saved = json.loads((out / "stage.json").read_text())
    assert saved["hash"] == teacher_stamp(recipe, prepare_dataset(recipe, False))["hash"]
    best = (out / "best" / "model.safetensors").read_bytes()
    # the same command again reuses it; another lr is refused, naming the change ...
    assert main(teacher) == 0 and "reused the finished stage" in capsys.readouterr().out
    other = [*teacher, "--set", "teacher.lr=0.0002"]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "teacher.lr (0.001 -> 0.0002)" in err and "--overwrite" in err
    assert (out / "best" / "model.safetensors").read_bytes() == best
    # ... and a student never replaces the teacher, even with --overwrite
    student = ["student", "train", "--data", str(tiny_demo), "--lambda2", "0", "-q", *FAST]
    assert main([*student, "--out", str(out), "--overwrite"]) == 2
    assert "holds a teacher stage, so a student cannot go there" in capsys.readouterr().err
    assert (out / "best" / "model.safetensors").read_bytes() == best
    # --overwrite retrains the teacher under the new stamp
    assert main([*other, "--overwrite"]) == 0
    assert json.loads((out / "stage.json").read_text())["inputs"]["teacher"]["lr"] == 0.0002


@pytest.mark.parametrize(
    ("command", "override", "message"),
    [
        # issue 24 (re-probe): a ValueError from teacher/model.py after the data was loaded,
        # with stage.json left in --out
        (["teacher", "train"], "teacher.transcript_tuned_layers=99",
         "teacher.transcript_tuned_layers = 99 is out of range; allowed: 0 to 6 (the "
         "transcript encoder 'minilm' has 6 layers)"),
        (["run"], "teacher.transcript_tuned_layers=7", "allowed: 0 to 6"),
        # ran out of memory (46 GB of frame cache for the 40 tiny clips first)
        (["teacher", "train"], "data.num_frames=100000",
         "data.num_frames = 100000 is out of range; allowed: 1 to 128"),
        (["run"], "data.num_frames=100000", "allowed: 1 to 128"),
        (["run"], "teacher.batch_size=100000", "allowed: 1 to 4096"),
        (["student", "train", "--lambda2", "0"], "student.max_length=100000",
         "student.max_length = 100000 is out of range; allowed: 3 to 512 for the student "
         "checkpoint 'minilm'"),
        (["run"], "student.max_length=1", "allowed: 3 to 512"),
        # known once the data is read: refused before the teacher trains
        (["run"], "teacher.oof_folds=50",
         "teacher.oof_folds = 50 is out of range; allowed: 0 (off) or 2 to "),
        (["run"], "teacher.video_first_epochs=4", "teacher.video_first_epochs = 4 is more than"),
    ],
)  # fmt: skip
def test_a_value_its_checkpoints_or_data_refuse_stops_before_any_folder(
    tiny_demo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    override: str,
    message: str,
) -> None:
    from fast_recipe import FAST

    out = tmp_path / "out"
    cache = f'cache_dir="{tmp_path / "cache"}"'
    args = [*command, "--data", str(tiny_demo), "--out", str(out), "-q", *FAST, "--set", cache]
    assert main([*args, "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"videoadviser: error: --set {override}") and message in err
    assert "Give another value with --set" in err or "raise teacher.epochs" in err
    assert not out.exists()  # no stage.json, no tensorboard/, no run folder


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: MemoryError(),
        lambda: RuntimeError("DefaultCPUAllocator: can't allocate memory: allocating 9G"),
        lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    ],
    ids=["MemoryError", "cpu-allocator", "torch.OutOfMemoryError"],
)
def test_running_out_of_memory_is_a_message_naming_what_to_lower(
    make_error: Callable[[], BaseException],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exception = make_error()

    def handler(args: object) -> int:
        raise exception

    monkeypatch.setattr("argparse.ArgumentParser.parse_args", _args_with(handler))
    assert main(["report", "x"]) == 1
    said = capsys.readouterr().err
    assert said.startswith("videoadviser: error: out of memory.") and "batch_size" in said
    assert "Traceback" not in said


def test_another_runtime_error_is_not_called_out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr("argparse.ArgumentParser.parse_args", _args_with(handler))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["report", "x"])


def _args_with(handler: object):  # type: ignore[no-untyped-def]
    """A parse_args that gives ``handler`` as the command (a stand-in for any command)."""
    import argparse

    def parse_args(self: argparse.ArgumentParser, argv: object = None) -> argparse.Namespace:
        return argparse.Namespace(handler=handler, verbose=False, quiet=True)

    return parse_args


def test_a_refused_stage_is_unclaimed_by_the_main_process_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review of issue 24: under torchrun every process removed the refused stage's stamp, and
    # the one that came second got FileNotFoundError instead of the DataError
    from videoadviser import cli
    from videoadviser.errors import DataError
    from videoadviser.utils import runtime

    out = tmp_path / "teacher"
    out.mkdir()
    (out / "stage.json").write_text("{}")
    monkeypatch.setattr(runtime, "is_main_process", lambda: False)
    with pytest.raises(DataError, match="refused"):
        with cli._unclaimed_if_refused(out, existed=False):
            raise DataError("refused")
    assert (out / "stage.json").is_file()  # another process's: left to the main one
    monkeypatch.setattr(runtime, "is_main_process", lambda: True)
    with pytest.raises(DataError, match="refused"):
        with cli._unclaimed_if_refused(out, existed=False):
            raise DataError("refused")
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["data", "make-demo", "D", "--n-train", "0"], "--n-train 0: out of range; allowed: 1 to"),
        (["data", "make-demo", "D", "--n-test", "-3"], "--n-test -3: out of range; allowed: 1 to"),
        (["data", "make-demo", "D", "--n-valid", "100001"], "allowed: 1 to 100,000"),
        (["data", "make-demo", "D", "--n-train", "20000"], "--n-train 20000, --n-valid 229, "),
        (["data", "make-demo", "D", "--seed", "-1"], "--seed -1: out of range; allowed: 0 to"),
        (["data", "make-demo", "D", "--unlabelled", "-1"], "--unlabelled -1: out of range"),
        (["data", "make-demo", "D", "--unlabelled", "26952"], "allowed: 0 to 26,951"),
        (["retrieval", "make-demo", "D", "--clips-per-class", "-1"], "--clips-per-class -1: "),
        (["retrieval", "make-demo", "D", "--clips-per-class", "0"], "allowed: 1 to 10,000"),
        (["retrieval", "make-demo", "D", "--seed", "-5"], "--seed -5: out of range; allowed: 0"),
    ],
)
def test_make_demo_options_out_of_range_are_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    # issue 24 re-probe: each of these was a raw ValueError traceback (or none at all)
    folder = tmp_path / "D"
    assert main([*[str(folder) if part == "D" else part for part in command], "-q"]) == 2
    assert message in capsys.readouterr().err
    assert not folder.exists()
