"""The exported student: ONNX fp32 equals PyTorch, int8 keeps test MAE, and the CLI around it."""

from __future__ import annotations

import csv
import json
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from videoadviser.cli import main
from videoadviser.config import load_recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.errors import ConfigError, TrainingError
from videoadviser.student import export
from videoadviser.student.export import OnnxStudent, export_onnx, find_student
from videoadviser.student.trainer import predict_texts, train_student
from videoadviser.utils.io import current_umask

# texts of very different lengths: the graph was traced on two short ones (dynamic axes)
ODD_TEXTS = ["", "no", " ".join(["a long transcript that runs on and on"] * 12)]


@pytest.fixture(scope="module")
def student(tiny_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A student trained for two epochs on the tiny set (``.../student/best``); removed when
    the module ends."""
    root = tmp_path_factory.mktemp("export")
    recipe = load_recipe(
        "demo", [f'data.path="{tiny_demo}"', "student.epochs=2", "student.batch_size=8"]
    )
    dataset = load_dataset(tiny_demo, progress=False)
    train_student(recipe, dataset, root / "student", None, 0.0, progress=False)
    yield root / "student" / "best"
    shutil.rmtree(root, ignore_errors=True)


def _test_split(tiny_demo: Path) -> tuple[list[str], np.ndarray]:
    records = load_dataset(tiny_demo, progress=False).split("test")
    return [r.text for r in records], np.array([r.label for r in records])


def test_onnx_fp32_equals_pytorch_and_int8_keeps_test_mae(student: Path, tiny_demo: Path) -> None:
    texts, labels = _test_split(tiny_demo)
    texts = texts + ODD_TEXTS
    fp32_dir = export_onnx(student)
    assert fp32_dir == student.parent / "onnx"
    int8_dir = export_onnx(student, int8=True)
    assert int8_dir == student.parent / "onnx-int8"
    torch_scores = predict_texts(student, texts)
    fp32 = OnnxStudent(fp32_dir)
    np.testing.assert_allclose(fp32.predict(texts), torch_scores, atol=1e-4, rtol=0)
    np.testing.assert_allclose(fp32.predict(texts, batch_size=1), torch_scores, atol=1e-4, rtol=0)
    int8 = OnnxStudent(int8_dir)
    assert (fp32.precision, int8.precision) == ("fp32", "int8-dynamic")
    size = {d: (d / "model.onnx").stat().st_size for d in (fp32_dir, int8_dir)}
    assert size[int8_dir] < 0.75 * size[fp32_dir]  # int8 weights, not the fp32 graph copied
    n = len(labels)
    mae_fp32 = np.abs(fp32.predict(texts)[:n] - labels).mean()
    mae_int8 = np.abs(int8.predict(texts)[:n] - labels).mean()
    assert abs(mae_int8 - mae_fp32) <= 0.01 * mae_fp32
    moved = np.abs(int8.predict(texts) - fp32.predict(texts))
    assert moved.max() <= export.TOLERANCE["int8-dynamic"] and moved.mean() < 0.05
    # the export reads its own tokenizer and max_length: no videoadviser run folder needed
    assert int8.max_length == 64 and {"tokenizer.json", "videoadviser_student.json"} <= {
        p.name for p in int8_dir.iterdir()
    }


def test_a_failed_export_leaves_no_folder(
    student: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(source: Path, target: Path) -> None:
        target.write_bytes(b"half a model")
        raise RuntimeError("killed while quantising")

    monkeypatch.setattr(export, "_quantize_int8", broken)
    with pytest.raises(RuntimeError, match="killed while quantising"):
        export_onnx(student, tmp_path / "out", int8=True)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind


def test_an_export_that_disagrees_with_pytorch_is_refused(
    student: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "check_export", lambda model_dir, folder: 0.5)
    with pytest.raises(TrainingError, match="differs from PyTorch by 0.5"):
        export_onnx(student, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_never_replaces_what_is_not_an_export(student: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="it holds the student"):
        export_onnx(student, student.parent)  # e.g. --out RUN
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="did not write: .*notes/keep.txt"):
        export_onnx(student, tmp_path / "notes")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_export_into_another_videoadviser_folder_says_what_it_is(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24 re-probe: `export --out` into a run, a stage or a teacher checkpoint
    model = tmp_path / "model"  # refused before it is loaded: a student's config.json will do
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "roberta"}')
    run = tmp_path / "run"
    (run / "seed_1" / "teacher").mkdir(parents=True)
    (run / "recipe.json").write_text('{"teacher": {}, "student": {}, "data": {}}')
    (run / "seed_1" / "teacher" / "stage.json").write_text('{"kind": "teacher", "hash": "0"}')
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text('{"kind": "videoadviser-teacher"}')
    said = {
        run: "is the folder of a `videoadviser run`",
        run / "seed_1" / "teacher": "is a teacher stage folder",
        checkpoint: "holds a teacher checkpoint",
        tiny_demo: "holds an embedded dataset",
    }
    for folder, what in said.items():
        assert main(["export", str(model), "--onnx", "--out", str(folder)]) == 2
        err = capsys.readouterr().err
        assert f"{folder} {what}, not an ONNX export; it is left as it is" in err, err
        assert "did not write" not in err and "choose another --out" in err


def test_find_student_in_run_seed_and_stage_folders(student: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    for seed_name in ("seed_7", "seed_10"):  # 7 comes first by number, not as text
        for stage in ("student_distilled", "student_transfer_900", "student_transfer_1000"):
            (run / seed_name / stage).mkdir(parents=True)
            (run / seed_name / stage / "best").symlink_to(student)
    seed = run / "seed_7"
    assert find_student(student) == student
    assert find_student(run) == seed / "student_transfer_1000" / "best"  # the largest pool
    assert find_student(run, seed=7, stage="student_distilled") == (
        seed / "student_distilled" / "best"
    )
    assert find_student(seed / "student_distilled") == seed / "student_distilled" / "best"
    with pytest.raises(ConfigError, match="no seed_8 folder"):
        find_student(run, seed=8)
    with pytest.raises(ConfigError, match="no trained student found"):
        find_student(run, stage="student_baseline")
    teacher = tmp_path / "teacher" / "best"
    teacher.mkdir(parents=True)
    (teacher / "config.json").write_text('{"kind": "videoadviser-teacher"}')
    with pytest.raises(ConfigError, match="a teacher checkpoint, not a student"):
        find_student(teacher.parent)


def test_export_and_predict_from_the_command_line(
    student: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "served"
    assert main(["export", str(student), "--onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"to {out}" in printed and "largest |ONNX - PyTorch|" in printed
    texts = ["what a lovely day", "this is terrible"]
    assert main(["predict", "--model", str(student), *texts]) == 0
    torch_lines = capsys.readouterr().out.strip().splitlines()
    assert main(["predict", "--backend", "onnx", "--model", str(out), *texts]) == 0
    onnx_lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[1] for line in onnx_lines] == texts
    for a, b in zip(torch_lines, onnx_lines):
        assert abs(float(a.split("\t")[0]) - float(b.split("\t")[0])) <= 1e-4
    # a file of texts: one output row per line, in order, readable by others (the umask's modes)
    lines = tmp_path / "texts.txt"
    lines.write_text("\n".join(texts) + "\nthird line\n")
    scored = tmp_path / "scored.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(out),
                "--backend",
                "onnx",
                "--file",
                str(lines),
                "--out",
                str(scored),
            ]
        )
        == 0
    )
    with open(scored, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["text"] for r in rows] == [*texts, "third line"]
    assert scored.read_text().splitlines()[0] == "text,videoadviser_score"  # each column once
    # the same command again: its own file is replaced only with --overwrite
    again = ["predict", "--model", str(out), "--backend", "onnx", "--file", str(lines)]
    assert main([*again, "--out", str(scored)]) == 2
    assert "pass --overwrite to replace it" in capsys.readouterr().err
    assert main([*again, "--out", str(scored), "--overwrite"]) == 0
    # (the export, the student's save_pretrained folder and its tensorboard events too)
    folders = [out, student, *student.parent.glob("tensorboard/**/")]
    files = [out / "model.onnx", student / "config.json", scored]
    files += [p for p in student.parent.glob("tensorboard/**/*") if p.is_file()]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in folders + files}
    assert modes == {p: 0o777 & ~current_umask() for p in folders} | {
        p: 0o666 & ~current_umask() for p in files
    }


def test_export_and_onnx_predict_errors_name_the_fix(
    student: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(student)]) == 2
    assert "choose an export format: --onnx" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--onnx"]) == 2
    assert f"{tmp_path}: no trained student found" in capsys.readouterr().err
    assert main(["predict", "--backend", "onnx", "--model", str(student), "hello"]) == 2
    assert "videoadviser export MODEL --onnx" in capsys.readouterr().err
    served = export_onnx(student)
    assert main(["predict", "--model", str(served), "hello"]) == 2
    assert "an ONNX export; score with it by `--backend onnx`" in capsys.readouterr().err


def test_the_export_serves_with_onnxruntime_and_tokenizers_alone(student: Path) -> None:
    folder = export_onnx(student)  # the same folder as the first test's: rewritten whole
    # the last text is longer than the student's 64 tokens: tokenizer.json truncates it
    texts = ["what a lovely day", "this is terrible, truly", " ".join(["so very long"] * 40)]
    script = f"""
import json, sys
import numpy as np, onnxruntime, tokenizers
tokenizer = tokenizers.Tokenizer.from_file({str(folder / "tokenizer.json")!r})
session = onnxruntime.InferenceSession({str(folder / "model.onnx")!r})
out = []
for text in {texts!r}:
    ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
    feed = {{"input_ids": ids, "attention_mask": np.ones_like(ids)}}
    out.append(float(session.run(None, feed)[0][0, 0]))
assert "torch" not in sys.modules and not any(m.startswith("videoadviser") for m in sys.modules)
print(json.dumps(out))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    plain = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(plain, OnnxStudent(folder).predict(texts), atol=1e-5)


def test_export_never_replaces_a_users_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # review of issue 24: a bare config.json counted as an older export, so
    # `export --onnx --out ~/my-bert` deleted the user's Hugging Face checkpoint
    model = tmp_path / "model"  # refused before it is loaded: a student's config.json will do
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "roberta"}')
    mine = tmp_path / "my-bert"
    mine.mkdir()
    files = {
        "config.json": b'{"model_type": "bert"}\n',
        "model.safetensors": b"weights",
        "vocab.txt": b"[PAD]\n",
        "tokenizer.json": b"{}",
    }
    for name, content in files.items():
        (mine / name).write_bytes(content)
    assert main(["export", str(model), "--onnx", "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert f"--out {mine}: not an ONNX export videoadviser made" in err, err
    assert "config.json" in err and "--overwrite" not in err
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == files
