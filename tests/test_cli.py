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
