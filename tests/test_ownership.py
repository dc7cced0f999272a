"""The one rule for folders: a command replaces or deletes only what videoadviser made there."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoadviser.errors import ConfigError
from videoadviser.pipeline import is_run_recipe
from videoadviser.retrieval.pipeline import is_retrieval_recipe
from videoadviser.utils.io import staged_folder, write_json
from videoadviser.utils.ownership import (
    DEMO_CONFIG_KEYS,
    ONNX_EXPORT,
    STAGE_LAYOUT,
    STUDENT_MODEL,
    STUDENT_RESUME_POINT,
    TEACHER_CHECKPOINT,
    check_folder_path,
    check_replaceable,
    claim_folder,
    foreign_files,
    product_kind,
    read_manifest,
)
from videoadviser.utils.stage import STAMP_FILE, claim_stage, make_stamp


def _product(folder: Path, kind: str = "checkpoint", content: bytes = b"w") -> None:
    with staged_folder(folder, kind) as staging:
        (staging / "model.safetensors").write_bytes(content)
        (staging / "sub").mkdir()
        (staging / "sub" / "tokenizer.json").write_text("{}")


def test_a_product_is_replaced_only_by_its_kind_and_only_while_it_holds_nothing_else(
    tmp_path: Path,
) -> None:
    best = tmp_path / "best"
    _product(best)
    _product(best, content=b"again")  # its own product, same kind: replaced
    assert (best / "model.safetensors").read_bytes() == b"again"
    with pytest.raises(ConfigError, match="holds a checkpoint, not an ONNX export"):
        check_replaceable(best, "ONNX export")
    (best / "sub" / "notes.txt").write_bytes(b"mine\n")
    with pytest.raises(ConfigError, match=r"did not write: .*best/sub/notes\.txt") as refused:
        _product(best, content=b"third")
    assert "--overwrite" not in str(refused.value)
    assert (best / "sub" / "notes.txt").read_bytes() == b"mine\n"
    assert (best / "model.safetensors").read_bytes() == b"again"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".best.")]  # no work left


def test_a_folder_without_a_manifest_is_never_replaced_but_an_empty_one_is_used(
    tmp_path: Path,
) -> None:
    users = tmp_path / "users"
    users.mkdir()
    for i in range(8):
        (users / f"thesis{i}.tex").write_text("keep")
    with pytest.raises(ConfigError, match=r"thesis0\.tex, .* and 3 more"):
        _product(users)
    assert sorted(p.name for p in users.iterdir()) == [f"thesis{i}.tex" for i in range(8)]
    empty = tmp_path / "empty"
    empty.mkdir()
    _product(empty)
    assert (empty / "model.safetensors").is_file()


def test_a_nested_product_is_judged_by_its_own_manifest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _product(data, "embedded dataset")
    _product(data / "unlabelled", "unlabelled pool")  # added later, as make-demo adds a pool
    assert foreign_files(data) == []
    (data / "unlabelled" / "draft.txt").write_text("mine")
    assert foreign_files(data) == ["unlabelled/draft.txt"]


def test_a_file_where_a_folder_is_expected_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "out"
    file.write_text("a file")
    with pytest.raises(ConfigError, match="--out .*out: is a file, not a folder"):
        check_folder_path(file, "--out")
    with pytest.raises(ConfigError, match=f"^{file}: is a file, not a folder"):
        check_folder_path(file)  # (a positional folder: named by its path alone)
    with pytest.raises(ConfigError, match="is a file"):
        claim_stage(file, make_stamp(kind="teacher", seed=1))
    assert file.read_text() == "a file"


def test_a_stage_never_deletes_a_users_files_whatever_the_flag(tmp_path: Path) -> None:
    # the reproduction: u/best/notes.txt and u/last/draft.txt, then `teacher train`
    u = tmp_path / "u"
    (u / "best").mkdir(parents=True)
    (u / "last").mkdir()
    (u / "best" / "notes.txt").write_bytes(b"x\n")
    (u / "last" / "draft.txt").write_bytes(b"y\n")
    stamp = make_stamp(kind="teacher", seed=1)
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match=r"best/notes\.txt, .*last/draft\.txt") as refused:
            claim_stage(u, stamp, overwrite=overwrite)
        assert "--overwrite" not in str(refused.value)
    assert (u / "best" / "notes.txt").read_bytes() == b"x\n"
    assert (u / "last" / "draft.txt").read_bytes() == b"y\n"
    assert not (u / STAMP_FILE).exists()


def test_overwrite_replaces_the_stages_own_files_only_of_the_same_kind(tmp_path: Path) -> None:
    stage = tmp_path / "teacher"
    first = make_stamp(kind="teacher", teacher={"lr": 1e-3})
    assert claim_stage(stage, first) is False
    _product(stage / "best")
    write_json(stage / "metrics.json", {})
    (stage / "tensorboard").mkdir()
    (stage / "tensorboard" / "events").write_text("log")
    assert foreign_files(stage, STAGE_LAYOUT) == []
    # a student never replaces a teacher, even with --overwrite
    student = make_stamp(kind="student", student={"lr": 5e-5})
    with pytest.raises(ConfigError, match="holds a teacher stage, so a student cannot go there"):
        claim_stage(stage, student, overwrite=True)
    assert (stage / "best" / "model.safetensors").is_file()
    # another teacher recipe: refused, then replaced with --overwrite
    second = make_stamp(kind="teacher", teacher={"lr": 2e-4})
    with pytest.raises(ConfigError, match=r"teacher\.lr \(0\.001 -> 0\.0002\).*--overwrite"):
        claim_stage(stage, second)
    assert claim_stage(stage, second, overwrite=True) is False
    assert sorted(p.name for p in stage.iterdir()) == [STAMP_FILE]
    # a user's file beside the stage's own stops even --overwrite
    write_json(stage / "metrics.json", {})
    (stage / "important.txt").write_text("keep")
    with pytest.raises(ConfigError, match=r"important\.txt"):
        claim_stage(stage, first, overwrite=True)
    assert (stage / "important.txt").read_text() == "keep"


def test_a_product_an_older_version_wrote_is_told_by_its_marker(tmp_path: Path) -> None:
    best = tmp_path / "best"  # a teacher checkpoint from before manifests existed
    best.mkdir()
    write_json(best / "config.json", {"kind": "videoadviser-teacher"})
    for name in ("model.safetensors", "tokenizer.json", "trainer_state.json"):
        (best / name).write_text("w")
    assert foreign_files(best) == []
    _product(best, TEACHER_CHECKPOINT)  # replaced by its own kind
    assert read_manifest(best)["kind"] == TEACHER_CHECKPOINT
    data = tmp_path / "data"  # an embedded dataset from before manifests existed
    (data / "Raw" / "v1").mkdir(parents=True)
    write_json(data / "demo.json", {"config": {k: 0 for k in DEMO_CONFIG_KEYS}, "clips": 1})
    for name in ("label.csv", "latents.csv", "Raw/v1/1.mp4"):
        (data / name).write_text("w")
    assert foreign_files(data) == []
    with pytest.raises(ConfigError, match="holds an embedded dataset, not an ONNX export"):
        check_replaceable(data, ONNX_EXPORT)
    (data / "Raw" / "v1" / "notes.txt").write_text("mine")
    assert foreign_files(data) == ["Raw/v1/notes.txt"]
    check_replaceable(tmp_path / "absent", ONNX_EXPORT)  # nothing there: free


def _run_folders(root: Path) -> dict[str, Path]:
    """Hand-made folders of each kind videoadviser writes in place, by their markers."""
    run, retrieval = root / "run", root / "retrieval"
    write_json(run / "recipe.json", {"teacher": {}, "student": {}, "data": {}})
    write_json(run / "seed_1" / "teacher" / STAMP_FILE, make_stamp(kind="teacher", seed=1))
    write_json(retrieval / "recipe.json", {"model": {}, "distill": {}, "data": {}})
    return {"run": run, "stage": run / "seed_1" / "teacher", "retrieval": retrieval}


def test_a_folder_of_another_videoadviser_kind_is_named_for_what_it_is(tmp_path: Path) -> None:
    # issue 24 re-probe: `export --out RUN` said the run's own files were "not written by
    # videoadviser", and `retrieval run --out RUN` that the run folder had "no recipe.json"
    folders = _run_folders(tmp_path)
    said = {
        "run": "is the folder of a `videoadviser run`",
        "stage": "is a teacher stage folder",
        "retrieval": "is the folder of a `videoadviser retrieval run`",
    }
    for name, folder in folders.items():
        with pytest.raises(ConfigError, match=f"{said[name]}, not an ONNX export") as refused:
            check_replaceable(folder, ONNX_EXPORT, "--out")
        assert "did not write" not in str(refused.value) and "--overwrite" not in str(refused.value)
    for name in ("run", "stage"):
        with pytest.raises(ConfigError, match=f"{said[name]}, not a retrieval run folder"):
            claim_folder(folders[name], "recipe.json", is_retrieval_recipe, "retrieval run folder")
    with pytest.raises(ConfigError, match=f"{said['retrieval']}, not a run folder"):
        claim_folder(folders["retrieval"], "recipe.json", is_run_recipe, "run folder")
    _product(tmp_path / "vegas", "embedded VEGAS-like set")
    with pytest.raises(ConfigError, match="holds an embedded VEGAS-like set, not a run folder"):
        claim_folder(tmp_path / "vegas", "recipe.json", is_run_recipe, "run folder")
    # the folder's own kind is claimed as before
    claim_folder(folders["run"], "recipe.json", is_run_recipe, "run folder")
    claim_folder(folders["retrieval"], "recipe.json", is_retrieval_recipe, "retrieval run folder")


def test_a_users_symlink_in_a_stage_or_product_is_foreign_and_never_deleted(
    tmp_path: Path,
) -> None:
    # issue 24 re-probe: `--overwrite` deleted a user's symlink placed in a stage folder
    mine = tmp_path / "mine"
    (mine / "empty").mkdir(parents=True)
    (mine / "notes.txt").write_bytes(b"keep\n")
    _product(mine / "product")  # a product of the tool's, elsewhere
    stage = tmp_path / "teacher"
    first = make_stamp(kind="teacher", teacher={"lr": 1e-3})
    claim_stage(stage, first)
    _product(stage / "best")
    write_json(stage / "metrics.json", {})
    second = make_stamp(kind="teacher", teacher={"lr": 2e-4})
    links = {  # entries a stage writes itself, and others; to files and to folders
        "tensorboard": mine / "empty",
        "history.csv": mine / "notes.txt",
        "last": mine / "product",
        "data": mine / "empty",
        "best/extra": mine / "empty",
    }
    for name, target in links.items():
        (stage / name).symlink_to(target)
        assert foreign_files(stage, STAGE_LAYOUT) == [name], name
        with pytest.raises(ConfigError, match=f"did not write: {stage / name}") as refused:
            claim_stage(stage, second, overwrite=True)
        assert "--overwrite" not in str(refused.value)
        assert (stage / name).is_symlink(), name
        (stage / name).unlink()
    assert (mine / "notes.txt").read_bytes() == b"keep\n" and (mine / "product").is_dir()
    # in a product: a link is foreign, so the product is not replaced (and its link kept)
    (stage / "best" / "extra").symlink_to(mine / "empty")
    with pytest.raises(ConfigError, match=r"did not write: .*best/extra"):
        _product(stage / "best")
    assert (stage / "best" / "extra").is_symlink()
    (stage / "best" / "extra").unlink()
    # a product's place that is a link is not replaced (nor written through)
    link = tmp_path / "served"
    link.symlink_to(mine / "empty")
    with pytest.raises(ConfigError, match="served: is a symbolic link"):
        _product(link)
    assert link.is_symlink() and list((mine / "empty").iterdir()) == []
    _product(stage / "best")  # with the links gone, its own product is replaced as before


def _users_folder(folder: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return files


def _held(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


HF_CHECKPOINT = {  # a plain Hugging Face checkpoint: what `~/my-bert` holds
    "config.json": b'{"model_type": "bert", "architectures": ["BertModel"]}\n',
    "model.safetensors": b"weights",
    "vocab.txt": b"[PAD]\n[UNK]\n",
    "tokenizer.json": b"{}",
}
OPTIMUM_EXPORT = {  # an ONNX export another tool wrote
    "model.onnx": b"graph",
    "config.json": b'{"model_type": "bert"}',
    "tokenizer.json": b"{}",
    "tokenizer_config.json": b"{}",
    "special_tokens_map.json": b"{}",
}


def test_a_users_checkpoint_or_export_is_never_taken_for_the_tools_own(tmp_path: Path) -> None:
    # review of issue 24: a bare config.json or model.onnx counted as an older videoadviser
    # product, so `export --onnx --out ~/my-bert` deleted the user's model
    for name, files in {"my-bert": HF_CHECKPOINT, "optimum": OPTIMUM_EXPORT}.items():
        folder = tmp_path / name
        _users_folder(folder, files)
        assert product_kind(folder) is None
        for kind in (ONNX_EXPORT, STUDENT_MODEL, TEACHER_CHECKPOINT, STUDENT_RESUME_POINT):
            with pytest.raises(ConfigError, match=f"not an? {kind} videoadviser made") as refused:
                check_replaceable(folder, kind, "--out")
            assert "config.json" in str(refused.value) and "--overwrite" not in str(refused.value)
            with pytest.raises(ConfigError, match="config.json"):
                _product(folder, kind)
        assert _held(folder) == files
    # a folder of a user's holding only a product of the tool's is not that product either
    users = tmp_path / "users"
    _product(users / "unlabelled", "unlabelled pool")
    with pytest.raises(ConfigError, match="not an embedded dataset videoadviser made"):
        check_replaceable(users, "embedded dataset")


def test_an_older_product_is_told_by_a_marker_only_videoadviser_writes(tmp_path: Path) -> None:
    best = tmp_path / "best"
    student = _users_folder(best, HF_CHECKPOINT)
    write_json(best / "videoadviser_student.json", {"kind": "videoadviser-student"})
    assert product_kind(best) == STUDENT_MODEL and foreign_files(best) == []
    export = tmp_path / "onnx"  # an export's metadata: the student's, with an onnx section
    _users_folder(export, {**OPTIMUM_EXPORT, "config.json": student["config.json"]})
    write_json(export / "videoadviser_student.json", {"student": {}, "onnx": {"opset": 18}})
    assert product_kind(export) == ONNX_EXPORT and foreign_files(export) == []
    check_replaceable(export, ONNX_EXPORT)
    data = tmp_path / "data"  # a demo.json without an embedded dataset's settings: a user's
    _users_folder(data, {"demo.json": b'{"title": "my demo"}', "label.csv": b"a,b\n"})
    assert product_kind(data) is None


def test_the_demo_markers_keys_are_the_datasets_settings() -> None:
    from dataclasses import fields

    from videoadviser.data.demo import DemoConfig

    assert DEMO_CONFIG_KEYS <= {f.name for f in fields(DemoConfig)}
