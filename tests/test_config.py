"""Recipes: packaged ones load, overrides apply, bad values name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from videoadviser.config import load_recipe
from videoadviser.errors import ConfigError


@pytest.mark.parametrize("name", ["demo", "mosi", "mosei"])
def test_packaged_recipes_load(name: str) -> None:
    recipe = load_recipe(name)
    assert recipe.name == name


def test_paper_scale_recipes_name_the_paper_models() -> None:
    mosi = load_recipe("mosi")
    assert mosi.teacher.checkpoint == "openai/clip-vit-base-patch32"
    assert mosi.student.checkpoint == "roberta-large"
    assert load_recipe("mosei").data.video_policy == "blank"


def test_overrides() -> None:
    recipe = load_recipe(
        "demo", ["teacher.epochs=3", 'data.path="x y"', "student.lambda2=0", "seed=5"]
    )
    assert recipe.teacher.epochs == 3 and recipe.data.path == "x y"
    assert recipe.student.lambda2 == 0.0 and isinstance(recipe.student.lambda2, float)
    assert recipe.seed == 5


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("teacher.epoch=3", "unknown key(s) epoch"),
        ("teacher.epochs=three", "teacher.epochs: expected int, got 'three'"),
        (
            'teacher.inputs="audio"',
            "teacher.inputs = 'audio' is not one of both, video, transcript",
        ),
        ("student.lambda2=-1", "lambda2 must be >= 0"),
        ("teacher.transcript_dropout=1.0", "teacher.transcript_dropout must be in [0, 1)"),
        ("teacher.video_first_epochs=-1", "video_first_epochs and transcript_warmup_epochs must"),
        ("teacher.transcript_warmup_epochs=-1", "and transcript_warmup_epochs must be >= 0"),
        ("teacher.video_dropout=1", "teacher.video_dropout must be in [0, 1)"),
        ("teacher.transcript_lr=0", "transcript_tuned_layers must be >= 0, transcript_lr > 0"),
        ('teacher.fusion="sum"', "teacher.fusion = 'sum' is not one of mean, gated"),
        ('teacher.transcript_pooling="max"', "transcript_pooling = 'max' is not one of mean"),
        ("teacher.transcript_tuned_layers=-1", "transcript_tuned_layers must be >= 0"),
        ("nonsense", "expected section.key=value"),
        ('student.distill_loss="kl"', "student.distill_loss = 'kl' is not one of mse, l1, huber"),
        ("student.ema_decay=1.0", "student.ema_decay must be in [0, 1)"),
        ("student.temperature=0", "temperature > 0"),
        ("teacher.oof_folds=1", "teacher.oof_folds is 0 (off) or at least 2"),
        ("data.unlabelled_limit=-1", "data.unlabelled_limit and data.demo_unlabelled"),
        ('student.schedule="linear"', "student.schedule = 'linear' is not one of"),
        ("student.transfer.epoch=3", "student.transfer: unknown key(s) epoch"),
        ("student.transfer.epochs=0", "[student.transfer]: student.epochs is too small"),
        ('student.transfer.distill_loss="kl"', "[student.transfer]: student.distill_loss = 'kl'"),
        ("student.transfer.transfer.epochs=2", "cannot hold another [transfer] section"),
        ("student.transfer=3", "student.transfer: expected a [transfer] section"),
        ("student.transfer.lambda2=0", "student.transfer.lambda2 must be > 0"),
        # an error outside [student.transfer] is named by its own section
        ('teacher.inputs="x"', "demo.toml: teacher.inputs = 'x'"),
    ],
)
def test_bad_values_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_recipe("demo", [override])


def test_recipe_file_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[teacher]\ninputs = "video"\n')
    recipe = load_recipe(str(path))
    assert recipe.name == "mine" and recipe.teacher.inputs == "video"
    assert recipe.student.checkpoint == "minilm"  # defaults fill the rest
    path.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_recipe(str(path))
    with pytest.raises(ConfigError, match="packaged recipes: demo, mosei, mosi"):
        load_recipe("nope")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_recipe_in_utf8_with_a_bom_loads(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "mine.toml"
    path.write_bytes(bom + 'name = "café"\n'.encode())
    assert load_recipe(str(path)).name == "café"


def test_a_latin1_recipe_is_a_config_error_naming_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_bytes('# my recipe\nname = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"mine.toml:2: not UTF-8 text \(byte 23 is b'\\xe9'"):
        load_recipe(str(path))


def test_transfer_settings_apply_to_the_transfer_student_only() -> None:
    recipe = load_recipe(
        "demo", ["student.distill_loss=\"mse\"", "student.transfer.distill_loss=\"l1\"",
                 "student.transfer.epochs=2", "student.epochs=5"]
    )  # fmt: skip
    pool, labelled = recipe.student.resolved(True), recipe.student.resolved(False)
    assert (pool.distill_loss, pool.epochs) == ("l1", 2)
    assert (labelled.distill_loss, labelled.epochs) == ("mse", 5)
    assert pool.transfer == {} and labelled.transfer == {}
    assert "transfer" not in pool.settings()
    assert recipe.student.transfer == {"distill_loss": "l1", "epochs": 2}  # the recipe is kept
    # values are kept as checked (a float field given an int), so stamps hash them alike
    floats = load_recipe("demo", ["student.transfer.warmup_epochs=1"]).student.transfer
    assert floats["warmup_epochs"] == 1.0 and isinstance(floats["warmup_epochs"], float)
    assert load_recipe("demo", ["student.lambda2=0"]).student.lambda2 == 0.0  # no pool needed


def test_transcript_options_need_a_pretrained_transcript_encoder() -> None:
    with pytest.raises(ConfigError, match="apply to a pretrained transcript encoder"):
        load_recipe(
            "demo", ['teacher.transcript_encoder="clip"', "teacher.transcript_tuned_layers=2"]
        )
