"""Recipes: packaged ones load, overrides apply, bad values name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from videoadviser.config import check_seeds, load_recipe, validate_recipe
from videoadviser.errors import ConfigError
from videoadviser.retrieval.config import load_retrieval_recipe, validate_retrieval_recipe


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
        "demo",
        [
            "teacher.epochs=3",
            "teacher.min_epochs=3",
            "teacher.video_first_epochs=0",
            'data.path="x y"',
            "student.lambda2=0",
            "seed=5",
        ],  # fmt: skip
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
        ("student.lambda2=-1", "student.lambda2 = -1.0 is out of range; allowed: >= 0"),
        ("teacher.transcript_dropout=1.0", "teacher.transcript_dropout = 1.0 is out of range"),
        ("teacher.video_first_epochs=-1", "teacher.video_first_epochs = -1 is out of range"),
        ("teacher.transcript_warmup_epochs=-1", "transcript_warmup_epochs = -1 is out of range"),
        ("teacher.video_dropout=1", "teacher.video_dropout = 1.0 is out of range; allowed: [0, 1)"),
        ("teacher.transcript_lr=0", "teacher.transcript_lr = 0.0 is out of range; allowed: > 0"),
        ('teacher.fusion="sum"', "teacher.fusion = 'sum' is not one of mean, gated"),
        ('teacher.transcript_pooling="max"', "transcript_pooling = 'max' is not one of mean"),
        ("teacher.transcript_tuned_layers=-1", "transcript_tuned_layers = -1 is out of range"),
        ("nonsense", "expected section.key=value"),
        ('student.distill_loss="kl"', "student.distill_loss = 'kl' is not one of mse, l1, huber"),
        ("student.ema_decay=1.0", "student.ema_decay = 1.0 is out of range; allowed: [0, 1)"),
        ("student.temperature=0", "student.temperature = 0.0 is out of range; allowed: > 0"),
        ("teacher.oof_folds=1", "allowed: 0 (off) or at least 2"),
        ("data.unlabelled_limit=-1", "data.unlabelled_limit = -1 is out of range"),
        ('student.schedule="linear"', "student.schedule = 'linear' is not one of"),
        ("student.transfer.epoch=3", "student.transfer: unknown key(s) epoch"),
        ("student.transfer.epochs=0", "student.transfer.epochs = 0 is out of range; allowed: >= 1"),
        ('student.transfer.distill_loss="kl"', "student.transfer.distill_loss = 'kl' is not"),
        ("student.transfer.transfer.epochs=2", "cannot hold another [transfer] section"),
        ("student.transfer=3", "student.transfer: expected a [transfer] section"),
        ("student.transfer.lambda2=0", "student.transfer.lambda2 = 0.0 is out of range"),
        ("teacher.lr=inf", "teacher.lr: expected a finite number, got inf"),
    ],
)
def test_bad_values_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_recipe("demo", [override])
    # the value came from --set, so the error blames it (not the packaged recipe file)
    if override != "nonsense":
        assert str(error.value).startswith(f"--set {override}: ")
        assert "demo.toml" not in str(error.value)


@pytest.mark.parametrize(
    "key",
    ["teacher.lr", "teacher.tower_lr", "teacher.transcript_lr", "student.lr", "student.head_lr",
     "student.transfer.lr", "student.transfer.head_lr"],
)  # fmt: skip
@pytest.mark.parametrize("value", ["-1", "0"])
def test_every_learning_rate_must_be_positive(key: str, value: str) -> None:
    # issue 24: --set teacher.lr=-1 trained (validation MAE 312,157 -> 45,788,068)
    with pytest.raises(ConfigError) as error:
        load_recipe("demo", [f"{key}={value}"])
    assert str(error.value) == (
        f"--set {key}={value}: {key} = {float(value)!r} is out of range; allowed: > 0. "
        "Give another value with --set"
    )


def test_a_bad_value_in_a_recipe_file_blames_the_file_and_says_how_to_override_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[teacher]\nlr = -1\n")
    with pytest.raises(ConfigError) as error:
        load_recipe(str(path))
    assert str(error.value) == (
        f"{path}: teacher.lr = -1.0 is out of range; allowed: > 0. Change it in {path}, or "
        "override it with --set teacher.lr=VALUE"
    )
    path.write_text('[teacher]\nepochs = "two"\n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: teacher.epochs: expected int")):
        load_recipe(str(path))
    # the override that fixes it is not blamed for the file's other values
    path.write_text("[teacher]\nlr = -1\nepochs = 3\nmin_epochs = 0\n")
    assert load_recipe(str(path), ["teacher.lr=0.01"]).teacher.lr == 0.01


def test_set_epochs_as_a_word_blames_set_and_zero_names_the_minimum() -> None:
    # issue 24: "teacher.epochs=two" was blamed on the packaged demo.toml; "epochs=0" said
    # "too small" without the minimum
    with pytest.raises(ConfigError) as error:
        load_recipe("demo", ["teacher.epochs=two"])
    assert str(error.value) == (
        "--set teacher.epochs=two: teacher.epochs: expected int, got 'two' (a bare word is "
        "read as text); give another value with --set"
    )
    with pytest.raises(ConfigError) as error:
        load_recipe("demo", ["teacher.epochs=0"])
    assert "teacher.epochs = 0 is out of range; allowed: >= 1" in str(error.value)


@pytest.mark.parametrize("section", ["teacher", "student"])
def test_min_epochs_may_not_exceed_epochs(section: str) -> None:
    # issue 24: min_epochs = 5 with epochs = 2 was accepted
    with pytest.raises(ConfigError) as error:
        load_recipe("demo", [f"{section}.min_epochs=5", f"{section}.epochs=2"])
    message = str(error.value)
    assert message.startswith(
        f"--set {section}.min_epochs=5 and --set {section}.epochs=2: {section}.min_epochs = 5 "
        f"is more than {section}.epochs = 2"
    )
    assert f"allowed: {section}.min_epochs <= {section}.epochs" in message
    assert f"--set {section}.min_epochs=2" in message  # the way out
    other = ["teacher.video_first_epochs=0"] if section == "teacher" else []
    recipe = load_recipe("demo", [f"{section}.min_epochs=2", f"{section}.epochs=2", *other])
    assert getattr(recipe, section).min_epochs == 2  # equal is fine
    with pytest.raises(ConfigError, match=r"student.transfer.min_epochs = 7 is more than"):
        load_recipe("demo", ["student.transfer.min_epochs=7"])


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ([1, 1], "--seeds: seed(s) 1 given more than once"),
        ([3, 2, 3, 2], "--seeds: seed(s) 2, 3 given more than once"),
        ([-5], "--seeds: seed -5 is out of range; allowed: integers from 0 to 4294967295"),
        ([2**32], "--seeds: seed 4294967296 is out of range"),
        ([], "--seeds: give at least one seed"),
    ],
)
def test_seeds_are_unique_and_in_range(seeds: list[int], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_seeds(seeds, "--seeds")
    assert check_seeds([3, 1, 2]) == [3, 1, 2]
    with pytest.raises(ConfigError, match=re.escape("--set seed=-5: seed = -5 is out of range")):
        load_recipe("demo", ["seed=-5"])


def test_a_recipe_built_in_python_is_checked_too() -> None:
    recipe = load_recipe("demo")
    recipe.teacher.lr = -1.0
    with pytest.raises(ConfigError, match=re.escape("teacher.lr = -1.0 is out of range")):
        validate_recipe(recipe)


def test_retrieval_recipes_check_seeds_and_learning_rates() -> None:
    with pytest.raises(ConfigError, match=re.escape("--set seeds=[1, 1]: seeds: seed(s) 1")):
        load_retrieval_recipe("retrieval", ["seeds=[1, 1]"])
    with pytest.raises(ConfigError, match=re.escape("seeds: seed -5 is out of range")):
        load_retrieval_recipe("retrieval", ["seeds=[-5]"])
    for key in ("teacher.lr", "teacher.tower_lr", "model.lr"):
        with pytest.raises(ConfigError, match=re.escape(f"--set {key}=-1: {key} = -1.0 is out")):
            load_retrieval_recipe("retrieval", [f"{key}=-1"])
    recipe = load_retrieval_recipe("retrieval")
    recipe.seeds = [7, 7]
    with pytest.raises(ConfigError, match="given more than once"):
        validate_retrieval_recipe(recipe)


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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # issue 24 (re-probe): each was accepted, and training silently never reached them
        (["teacher.epochs=5", "teacher.min_epochs=0"],
         "teacher.video_first_epochs = 20 is more than teacher.epochs = 5"),
        (["teacher.transcript_warmup_epochs=30"],
         "teacher.transcript_warmup_epochs + teacher.video_first_epochs = 30 + 20 = 50 is more "
         "than teacher.epochs = 40"),
        (["teacher.warmup_epochs=41"], "teacher.warmup_epochs = 41.0 is more than teacher.epochs"),
        (["student.warmup_epochs=7"],
         "student.warmup_epochs = 7.0 is more than student.epochs = 6"),
        (["student.transfer.warmup_epochs=6.5"],
         "student.transfer.warmup_epochs = 6.5 is more than student.epochs = 6"),
    ],
)  # fmt: skip
def test_epoch_counts_cannot_exceed_the_epochs_run(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_recipe("demo", overrides)
    assert message in str(error.value)
    assert "allowed: " in str(error.value) and "<= " in str(error.value)
    # as many as the epochs is fine
    assert load_recipe("demo", ["teacher.epochs=20", "student.warmup_epochs=6"])


def test_a_relation_names_both_keys_and_where_each_came_from(tmp_path: Path) -> None:
    # issue 24 (re-probe): min_epochs > epochs named only one key and blamed only one --set
    with pytest.raises(ConfigError) as error:
        load_recipe("demo", ["student.min_epochs=5", "student.epochs=2"])
    assert str(error.value).startswith(
        "--set student.min_epochs=5 and --set student.epochs=2: student.min_epochs = 5 is more "
        "than student.epochs = 2 (student.min_epochs is from --set student.min_epochs=5, "
        "student.epochs from --set student.epochs=2); allowed: student.min_epochs <= "
        "student.epochs"
    )
    path = tmp_path / "mine.toml"
    path.write_text("[student]\nmin_epochs = 5\n")
    with pytest.raises(ConfigError) as error:
        load_recipe(str(path), ["student.epochs=3"])
    assert str(error.value).startswith(
        f"{path} and --set student.epochs=3: student.min_epochs = 5 is more than student.epochs "
        f"= 3 (student.min_epochs is from {path}, student.epochs from --set student.epochs=3)"
    )
    path.write_text("[student]\nmin_epochs = 5\nepochs = 3\n")  # one source: said once
    with pytest.raises(ConfigError) as error:
        load_recipe(str(path))
    assert str(error.value).startswith(
        f"{path}: student.min_epochs = 5 is more than student.epochs = 3; allowed: "
    )
    assert "Lower student.min_epochs (e.g. --set student.min_epochs=3)" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_recipe(
            "demo", ['teacher.transcript_encoder="clip"', "teacher.transcript_tuned_layers=2"]
        )
    assert str(error.value).startswith(
        '--set teacher.transcript_encoder="clip" and --set teacher.transcript_tuned_layers=2: '
    )
    assert "(teacher.transcript_encoder is from --set teacher.transcript_encoder=" in str(
        error.value
    )


@pytest.mark.parametrize(
    ("override", "allowed"),
    [
        ("data.num_frames=100000", "1 to 128"),  # issue 24 (re-probe): out of memory
        ("data.num_frames=129", "1 to 128"),
        ("teacher.batch_size=100000", "1 to 4096"),
        ("student.batch_size=5000", "1 to 4096"),
        ("teacher.max_text_length=0", ">= 1"),
    ],
)
def test_sizes_have_a_stated_range(override: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_recipe("demo", [override])
    assert str(error.value).startswith(f"--set {override}: ")
    assert f"is out of range; allowed: {allowed}. Give another value with --set" in str(error.value)


def test_the_size_limits_refuse_no_packaged_recipe() -> None:
    # the paper-scale recipes (and the GPU benchmark's settings) sit well inside the limits
    for name in ("demo", "mosi", "mosei"):
        recipe = load_recipe(name)
        assert recipe.data.num_frames <= 128 // 8
        assert max(recipe.teacher.batch_size, recipe.student.batch_size) <= 4096 // 64
    assert load_recipe("mosi", ["data.num_frames=128", "teacher.batch_size=4096"])
    assert load_retrieval_recipe("retrieval").teacher.num_frames == 8


def test_retrieval_recipes_check_sizes_and_folds_against_the_embedded_set() -> None:
    for override, allowed in (
        ("teacher.num_frames=1000", "1 to 128"),
        ("model.batch_size=100000", "1 to 4096"),
    ):
        with pytest.raises(ConfigError, match=re.escape(f"--set {override}: ")) as error:
            load_retrieval_recipe("retrieval", [override])
        assert f"allowed: {allowed}" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_retrieval_recipe("retrieval", ["data.folds=60"])
    assert str(error.value).startswith("--set data.folds=60 and ")
    assert "data.folds = 60 is more than data.demo_clips_per_class = 50" in str(error.value)
    # a fold file, or data that is not the embedded set, decides its own folds
    assert load_retrieval_recipe("retrieval", ["data.folds=60", "data.make_demo=false"])
