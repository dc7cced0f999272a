"""The command line, driven the way a user drives it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_a_latin1_recipe_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "mine.toml"
    recipe.write_bytes('name = "café"\n'.encode("latin-1"))
    assert main(["run", "--recipe", str(recipe), "--out", str(tmp_path / "run"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"videoadviser: error: {recipe}:1: not UTF-8 text (byte 11 is")
    assert "iconv -f latin1 -t utf-8" in err
