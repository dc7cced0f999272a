"""Recipes: an experiment is one TOML file (data only; TOML cannot execute code).

A recipe has the sections ``[data]``, ``[teacher]``, ``[student]`` and top-level ``seed`` /
``cache_dir``; any field left out takes the default below. Unknown sections or keys, values
of the wrong type, values out of their range (:data:`_RANGES`) and epoch counts beyond the
epochs run (:data:`_WITHIN_EPOCHS`) are errors that name the key (each key, for a relation),
the allowed range and where each value came from: the recipe file, or the ``--set`` override
that gave it. All are checked before any work starts, and so are the values that the
checkpoints decide (from their configs: ``check_teacher_checkpoints``,
``check_student_checkpoints``) and the data decides (``check_oof_folds``, once it is read),
which get the recipe's :class:`Source` from :func:`load_recipe_and_source`.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videoadviser.distillation.losses import DISTILL_LOSSES
from videoadviser.errors import ConfigError
from videoadviser.utils.io import read_user_text
from videoadviser.utils.schedule import SCHEDULES

RECIPE_DIR = Path(__file__).parent / "recipes"


@dataclass
class DataConfig:
    """Where the data is and how clips become frames."""

    path: str = "data/demo"  # MMSA raw-layout folder or processed .pkl
    raw_root: str | None = None  # for a .pkl: the raw-layout folder with its videos
    make_demo: bool = True  # make the embedded dataset at `path` if it is not there
    video_policy: str = "error"  # error | skip | blank
    num_frames: int = 8
    # processes that decode clips into the frame cache (DataLoader workers): 0 = this
    # process, -1 = one per CPU core (at most 8)
    num_workers: int = -1
    # The transfer set: an MMSA raw-layout folder of unlabelled clips (label.csv with
    # video_id,clip_id,text + Raw/); the teacher labels them, the student learns from them
    # through the distillation term alone. "" = none (the paper's setting only).
    unlabelled: str = ""
    unlabelled_limit: int = 0  # use only the first N unlabelled clips (0 = all)
    # with make_demo: also make an unlabelled pool of this many clips at `unlabelled`
    demo_unlabelled: int = 0
    # with make_demo: which embedded profile to make (mosi, the default, or mosei; README,
    # "The embedded dataset")
    demo_profile: str = "mosi"


@dataclass
class TeacherConfig:
    """The CLIP-based teacher and its training (METHOD.md §2)."""

    checkpoint: str = "random:tiny"  # hub id, local folder, or random:<architecture>
    inputs: str = "both"  # both | video | transcript
    prompt_enhancement: bool = True
    freeze_vision: bool = False
    # the CLIP text tower and any transcript encoder (whose transcript_tuned_layers, if any,
    # are tuned all the same)
    freeze_text: bool = False
    # "clip": transcripts go through the CLIP text tower (the paper). Otherwise a pretrained
    # text encoder for transcripts: "minilm" (packaged), a hub id or a local folder.
    transcript_encoder: str = "clip"
    # a pretrained transcript encoder's top N layers are tuned at transcript_lr, the layers
    # below stay frozen and their states are cached (0: the whole encoder follows freeze_text)
    transcript_tuned_layers: int = 0
    transcript_lr: float = 5e-5  # a pretrained transcript encoder's rate when tuned
    # training only: the first N epochs train the transcript path alone (video hidden), and
    # only they tune the transcript_tuned_layers (frozen after them); video_first_epochs follow
    transcript_warmup_epochs: int = 0
    transcript_pooling: str = "mean"  # mean | attention: its token states into one embedding
    # mean: the query is the mean of the video and transcript embeddings (the paper's
    # video-text embedding); gated: a learned per-clip softmax weight for each
    fusion: str = "mean"
    num_classes: int = 7
    head: str = "mlp"  # mlp | expectation
    lambda1: float = 1.0
    transcript_dropout: float = 0.0  # training only: hide the transcript of this share of clips
    # training only: for the first N epochs hide every transcript of a clip with video, so the
    # video path learns before the (easier) transcript path can dominate
    video_first_epochs: int = 0
    # training only: hide the video of this share of the clips whose transcript is shown
    video_dropout: float = 0.0
    temporal_layers: int = 1
    cross_layers: int = 2
    alpha_init: float = 0.1
    max_text_length: int = 77
    # K > 1: the training clips' r_T come out of fold: K teachers, each trained without one
    # (speaker-disjoint) fold, predict it, so the student never sees an in-sample target
    oof_folds: int = 0
    prompt_template: str = "a video of a person expressing {} sentiment"
    epochs: int = 40
    min_epochs: int = 15  # no early stop before this: from-scratch towers plateau first
    patience: int = 8
    batch_size: int = 32
    lr: float = 1e-3  # new modules (temporal, prompts, head)
    tower_lr: float = 3e-4  # pretrained towers when tuned (paper scale: 1e-5)
    schedule: str = "constant"  # constant | cosine (decays to 0 at `epochs`)
    warmup_epochs: float = 0.0
    weight_decay: float = 0.01
    grad_clip: float = 0.0  # > 0: clip the gradient norm to this
    mixed_precision: str = "auto"  # auto (bf16 on GPU, none on CPU) | no | bf16


@dataclass
class StudentConfig:
    """The text-only student and step 2 (METHOD.md §3)."""

    checkpoint: str = "minilm"  # hub id, local folder, or "minilm" (the packaged MiniLM)
    lambda2: float = 1.0
    # the step-2 term: mse (the paper's MSE(r_S, r_T)) | l1 | huber (delta 1)
    distill_loss: str = "mse"
    # weight of a soft-class term KL(softmax(z_T / tau) || q_S), q_S from r_S (0 = off)
    soft_weight: float = 0.0
    temperature: float = 2.0  # tau of the soft-class term
    dropout: float = 0.1
    max_length: int = 64
    epochs: int = 6
    min_epochs: int = 0  # no early stop before this many epochs
    # validate (and select) every N optimizer steps; 0: at the end of each epoch. Patience
    # counts validations, so with a large transfer set a long epoch is still watched
    eval_every: int = 0
    patience: int = 3
    batch_size: int = 32
    lr: float = 5e-5
    head_lr: float = 1e-3
    schedule: str = "constant"  # constant | cosine (decays to 0 at `epochs`)
    warmup_epochs: float = 0.0
    # > 0: validate and export an exponential moving average of the weights (this decay per
    # step) instead of the last weights
    ema_decay: float = 0.0
    weight_decay: float = 0.01
    grad_clip: float = 0.0  # > 0: clip the gradient norm to this
    mixed_precision: str = "auto"
    # [student.transfer]: keys of this section that differ for the student trained with a
    # transfer set (unlabelled clips), e.g. its step-2 loss; the other students ignore them
    transfer: dict[str, Any] = field(default_factory=dict)

    def resolved(self, with_transfer_set: bool) -> StudentConfig:
        """The settings one student trains with: these, with the ``[student.transfer]`` ones
        applied when it learns from a transfer set; ``transfer`` itself is emptied."""
        overrides = self.transfer if with_transfer_set else {}
        return dataclasses.replace(self, **overrides, transfer={})

    def settings(self) -> dict[str, Any]:
        """The settings as plain data, without the ``transfer`` section (what a stamp or a
        resume point records: :meth:`resolved` has already applied it)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "transfer"}


@dataclass
class Recipe:
    """A whole experiment."""

    name: str = "demo"
    seed: int = 1111
    cache_dir: str = ".cache/videoadviser"
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


IN_PYTHON = "the recipe object"  # the source of a recipe built or changed in Python


@dataclass(frozen=True)
class Source:
    """Where a recipe's values came from: its file, and the ``--set`` overrides applied over
    it, so that an error blames the one that gave the bad value.

    ``overrides`` pairs each override's dotted key with the override as given; ``renamed``
    maps a checked key to the name the user wrote (``student.lr`` checked for the transfer-set
    student is ``student.transfer.lr``)."""

    path: str
    overrides: tuple[tuple[str, str], ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_recipe(cls, path: str | Path, overrides: list[str] | None = None) -> Source:
        return cls(str(path), tuple((override_key(o), o) for o in overrides or []))

    def name(self, key: str) -> str:
        """The name of ``key`` as the user wrote it."""
        return dict(self.renamed).get(key, key)

    def blame(self, key: str) -> str:
        """``--set KEY=VALUE`` when an override set ``key``, a section holding it or a key
        inside it (the last such override), else the recipe file."""
        key = self.name(key)
        for set_key, override in reversed(self.overrides):
            if f"{set_key}.".startswith(f"{key}.") or f"{key}.".startswith(f"{set_key}."):
                return f"--set {override}"
        return self.path

    def blame_all(self, *keys: str) -> tuple[str, str]:
        """Where the values of ``keys`` (which an error names together) came from: every
        source once, in the order of ``keys`` (the start of the message), and, when they are
        not one and the same, which key came from which (`` (a is from --set a=1, b from
        recipe.toml)``), else ``""``."""
        blamed = {key: self.blame(key) for key in keys}
        sources = list(dict.fromkeys(blamed.values()))
        if len(sources) == 1:
            return sources[0], ""
        each = [
            f"{self.name(key)} {'is ' if i == 0 else ''}from {where}"
            for i, (key, where) in enumerate(blamed.items())
        ]
        return " and ".join(sources), f" ({', '.join(each)})"

    def fix(self, key: str) -> str:
        """What to do about a bad value of ``key``, where it came from."""
        if self.path == IN_PYTHON:
            return f"set {self.how_to_set(key, 'VALUE')} instead"
        if self.blame(key) != self.path:
            return "give another value with --set"
        return f"change it in {self.path}, or override it with {self.how_to_set(key, 'VALUE')}"

    def how_to_set(self, key: str, value: object) -> str:
        """How the user gives ``key`` the value ``value``: ``--set`` or, for a recipe built in
        Python, an assignment."""
        if self.path == IN_PYTHON:
            return f"recipe.{self.name(key)} = {value}"
        return f"--set {self.name(key)}={value}"

    def transfer(self, keys: list[str]) -> Source:
        """The source of the settings of the transfer-set student, whose ``[student.transfer]``
        section sets ``keys``: they are checked as ``student.KEY``."""
        return dataclasses.replace(
            self, renamed=tuple((f"student.{k}", f"student.transfer.{k}") for k in keys)
        )


def _as_source(source: Source | str) -> Source:
    return source if isinstance(source, Source) else Source(source)


def _check_type(value: Any, annotation: Any, key: str, source: Source) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        annotation = next(a for a in options if a is not type(None))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    where = f"{source.blame(key)}: {key}"
    if origin is dict and not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a [{key.rsplit('.', 1)[-1]}] section")
    if annotation in (int, float, str, bool) and (
        not isinstance(value, annotation) or (annotation is int and isinstance(value, bool))
    ):
        hint = " (a bare word is read as text)" if isinstance(value, str) else ""
        raise ConfigError(
            f"{where}: expected {annotation.__name__}, got {value!r}{hint}; {source.fix(key)}"
        )
    if annotation is float and not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}; {source.fix(key)}")
    return value


def build_config(cls: type, values: dict[str, Any], source: Source | str, prefix: str = "") -> Any:
    """A dataclass ``cls`` from plain data, nested sections included; unknown keys and values
    of the wrong type are errors naming the key (``prefix`` + its name) and blaming its
    ``source`` (a recipe file's path, or a :class:`Source` that knows the overrides)."""
    source = _as_source(source)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        blamed = sorted({source.blame(f"{prefix}{key}") for key in unknown})
        section = f"{source.path if blamed == [source.path] else ', '.join(blamed)}"
        where = f"{section}: {prefix.rstrip('.')}" if prefix else section
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if dataclasses.is_dataclass(hints[key]):
            if not isinstance(value, dict):
                raise ConfigError(f"{source.blame(dotted)}: {dotted}: expected a [{key}] section")
            kwargs[key] = build_config(hints[key], value, source, f"{dotted}.")
        else:
            kwargs[key] = _check_type(value, hints[key], dotted, source)
    return cls(**kwargs)


def recipe_from_dict(values: dict[str, Any], source: Source | str = "<recipe>") -> Recipe:
    """Build and validate a :class:`Recipe` from plain data."""
    source = _as_source(source)
    recipe: Recipe = build_config(Recipe, values, source)
    _validate(recipe, source)
    return recipe


def validate_recipe(recipe: Recipe, source: Source | str = IN_PYTHON) -> None:
    """Check every value of ``recipe`` (one built in Python, say) as :func:`load_recipe` does.

    Raises:
        ConfigError: naming the key, its value and the allowed range.
    """
    _validate(recipe, _as_source(source))


MAX_SEED = 2**32 - 1  # what every random generator the seeds reach accepts
# Sizes that multiply memory and disk. Frames: each is one more vision-tower pass per clip and
# step and 3 x S x S bytes of frame cache per clip (147 KiB at CLIP's 224 px): the paper and
# every packaged recipe take 8, so 128 (16 times that) refuses no real configuration, while
# 100,000 frames (46 GB of cache for 40 tiny clips) is refused before any work.
MAX_FRAMES = 128
# A batch is one forward pass (no gradient accumulation): the recipes use 16 to 64.
MAX_BATCH_SIZE = 4096

# a range: a test of a value, and the allowed values in words
Range = tuple[Callable[[Any], bool], str]
POSITIVE: Range = (lambda v: v > 0, "> 0")
NON_NEGATIVE: Range = (lambda v: v >= 0, ">= 0")
AT_LEAST_ONE: Range = (lambda v: v >= 1, ">= 1")
SHARE: Range = (lambda v: 0 <= v < 1, "[0, 1)")  # a dropout, a decay
FRAMES: Range = (lambda v: 1 <= v <= MAX_FRAMES, f"1 to {MAX_FRAMES}")
BATCH_SIZE: Range = (lambda v: 1 <= v <= MAX_BATCH_SIZE, f"1 to {MAX_BATCH_SIZE}")

# every number a recipe holds that has a range, with the keys that hold it
_RANGES: tuple[tuple[Range, tuple[str, ...]], ...] = (
    ((lambda v: 0 <= v <= MAX_SEED, f"0 to {MAX_SEED}"), ("seed",)),
    (FRAMES, ("data.num_frames",)),
    (BATCH_SIZE, ("teacher.batch_size", "student.batch_size")),
    # (their upper bounds, and the lowest that leaves room for the tokenizer's special tokens,
    # depend on the checkpoints: checked with them, before any work)
    (AT_LEAST_ONE, ("teacher.epochs", "teacher.max_text_length", "student.max_length",
                    "student.epochs")),
    (POSITIVE, ("teacher.lr", "teacher.tower_lr", "teacher.transcript_lr", "student.lr",
                "student.head_lr", "student.temperature")),
    (NON_NEGATIVE, ("data.demo_unlabelled", "teacher.transcript_tuned_layers",
                    "teacher.transcript_warmup_epochs", "teacher.video_first_epochs",
                    "teacher.lambda1", "teacher.min_epochs", "teacher.patience",
                    "teacher.warmup_epochs", "teacher.weight_decay", "student.min_epochs",
                    "student.patience", "student.warmup_epochs", "student.weight_decay")),
    ((lambda v: v >= 0, ">= 0 (0: off)"), ("teacher.grad_clip", "student.grad_clip",
                                          "student.soft_weight")),
    (SHARE, ("teacher.transcript_dropout", "teacher.video_dropout", "student.dropout",
             "student.ema_decay")),
    ((lambda v: v >= 0, ">= 0 (0: all)"), ("data.unlabelled_limit",)),
    ((lambda v: v >= 0, ">= 0 (0: every epoch)"), ("student.eval_every",)),
    ((lambda v: v >= 0, ">= 0 (0: no distillation)"), ("student.lambda2",)),
    ((lambda v: v >= -1, ">= 0, or -1 (one per CPU core)"), ("data.num_workers",)),
    ((lambda v: v >= 2, ">= 2"), ("teacher.num_classes",)),
    ((lambda v: v == 0 or v >= 2, "0 (off) or at least 2"), ("teacher.oof_folds",)),
)  # fmt: skip


def _value(config: Any, key: str) -> Any:
    """The value of dotted ``key`` in a (nested) config dataclass."""
    for part in key.split("."):
        config = getattr(config, part)
    return config


def check_ranges(
    config: Any, ranges: tuple[tuple[Range, tuple[str, ...]], ...], source: Source
) -> None:
    """Check every key of ``ranges`` on ``config`` against its range.

    Raises:
        ConfigError: the first key out of range, with its value, the allowed range, where the
            value came from and how to change it.
    """
    for (test, allowed), keys in ranges:
        for key in keys:
            value = _value(config, key)
            if not test(value):
                raise range_error(source, key, value, allowed)


def range_error(source: Source, key: str, value: Any, allowed: str) -> ConfigError:
    """The error for ``key`` = ``value`` out of its range (``allowed``, in words): it names
    the key, the value, the range, where the value came from and how to change it."""
    fix = source.fix(key)
    return ConfigError(
        f"{source.blame(key)}: {source.name(key)} = {value!r} is out of range; "
        f"allowed: {allowed}. {fix[:1].upper()}{fix[1:]}"
    )


def check_seeds(seeds: list[int], where: str = "seeds") -> list[int]:
    """``seeds`` as given, if they are integers in [0, MAX_SEED], each once.

    A seed given twice would be counted as two independent runs (a zero spread, "better in 2
    of 2 seeds"), so it is an error, as is a negative one (it would fail after the teacher).

    Raises:
        ConfigError: naming ``where`` (e.g. ``--seeds``), the seed and the allowed range.
    """
    if not seeds:
        raise ConfigError(f"{where}: give at least one seed")
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
            raise ConfigError(
                f"{where}: seed {seed!r} is out of range; allowed: integers from 0 to {MAX_SEED}"
            )
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ConfigError(
            f"{where}: seed(s) {', '.join(map(str, repeated))} given more than once; each seed "
            "is one independent run, so give each once"
        )
    return list(seeds)


def check_at_most(
    config: Any, lows: tuple[str, ...], high: str, source: Source, reason: str
) -> None:
    """The sum of the values of ``lows`` is at most that of ``high`` (dotted keys of
    ``config``), e.g. ``teacher.min_epochs <= teacher.epochs``; ``reason`` says why.

    Raises:
        ConfigError: naming each key of the sum that is not 0 and ``high``, their values,
            where each came from (a recipe file, ``--set``), the allowed relation and a way out.
    """
    values = {key: _value(config, key) for key in lows}
    total, limit = sum(values.values()), _value(config, high)
    if total <= limit:
        return
    given = [key for key in lows if values[key]]  # (a 0 adds nothing: not named)
    name = source.name
    if len(given) == 1:
        stated = f"{name(given[0])} = {values[given[0]]!r}"
        example = source.how_to_set(given[0], limit)
        way_out = f"Lower {name(given[0])} (e.g. {example}) or raise {name(high)}"
    else:
        stated = (
            f"{' + '.join(map(name, given))} = {' + '.join(repr(values[k]) for k in given)} = "
            f"{total!r}"
        )
        example = source.how_to_set(high, math.ceil(total))
        way_out = f"Lower {' or '.join(map(name, given))}, or raise {name(high)} (e.g. {example})"
    allowed = " + ".join(map(name, lows))  # (each one's own range is checked on its own)
    where, each = source.blame_all(*given, high)
    raise ConfigError(
        f"{where}: {stated} is more than {name(high)} = {limit!r}{each}; allowed: {allowed} <= "
        f"{name(high)} ({reason}). {way_out}"
    )


# in each section, values that count epochs and so cannot exceed its epochs: (keys, why)
_WITHIN_EPOCHS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "teacher": (
        (("min_epochs",), "no early stop before min_epochs, so it cannot exceed the epochs run"),
        (
            ("transcript_warmup_epochs", "video_first_epochs"),
            "the transcript warm-up, then the video-first epochs, open the training: together "
            "they cannot exceed the epochs run",
        ),
        (("warmup_epochs",), "the learning rate warms up over them, within the epochs run"),
    ),
    "student": (
        (("min_epochs",), "no early stop before min_epochs, so it cannot exceed the epochs run"),
        (("warmup_epochs",), "the learning rate warms up over them, within the epochs run"),
    ),
}


def check_within_epochs(recipe: Recipe, source: Source) -> None:
    """Every value that counts epochs of a section (:data:`_WITHIN_EPOCHS`) is within its
    ``epochs``: :func:`check_at_most` for each."""
    for section, relations in _WITHIN_EPOCHS.items():
        for keys, reason in relations:
            lows = tuple(f"{section}.{key}" for key in keys)
            check_at_most(recipe, lows, f"{section}.epochs", source, reason)


def _validate(recipe: Recipe, source: Source) -> None:
    choices = {
        "data.video_policy": (recipe.data.video_policy, ("error", "skip", "blank")),
        "teacher.inputs": (recipe.teacher.inputs, ("both", "video", "transcript")),
        "teacher.head": (recipe.teacher.head, ("mlp", "expectation")),
        "teacher.transcript_pooling": (recipe.teacher.transcript_pooling, ("mean", "attention")),
        "teacher.fusion": (recipe.teacher.fusion, ("mean", "gated")),
        "teacher.schedule": (recipe.teacher.schedule, SCHEDULES),
        "student.schedule": (recipe.student.schedule, SCHEDULES),
        "student.distill_loss": (recipe.student.distill_loss, DISTILL_LOSSES),
        # no fp16: it needs loss scaling, which the trainers do not do; bf16 does not
        "teacher.mixed_precision": (recipe.teacher.mixed_precision, ("auto", "no", "bf16")),
        "student.mixed_precision": (recipe.student.mixed_precision, ("auto", "no", "bf16")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(
                f"{source.blame(key)}: {source.name(key)} = {value!r} is not one of "
                f"{', '.join(allowed)}"
            )
    check_ranges(recipe, _RANGES, source)
    check_within_epochs(recipe, source)
    teacher = recipe.teacher
    clip_only = [
        key
        for key, used in (
            ("teacher.transcript_tuned_layers", teacher.transcript_tuned_layers != 0),
            ("teacher.transcript_pooling", teacher.transcript_pooling != "mean"),
        )
        if used
    ]
    if teacher.transcript_encoder == "clip" and clip_only:
        where, each = source.blame_all("teacher.transcript_encoder", *clip_only)
        raise ConfigError(
            f"{where}: teacher.transcript_tuned_layers and transcript_pooling apply to a "
            f'pretrained transcript encoder, and teacher.transcript_encoder = "clip"{each}; '
            'set teacher.transcript_encoder (e.g. "minilm")'
        )
    if recipe.student.transfer:
        _validate_transfer(recipe, source)


def _validate_transfer(recipe: Recipe, source: Source) -> None:
    """``[student.transfer]``: known keys of the right type, and the settings they make pass
    every check the ``[student]`` ones do (run after those, so an error is named by its
    section). The checked values (an int given for a float becomes a float) are kept."""
    transfer = recipe.student.transfer
    if "transfer" in transfer:
        raise ConfigError(
            f"{source.blame('student.transfer.transfer')}: student.transfer cannot hold "
            "another [transfer] section"
        )
    student = build_config(
        StudentConfig, {**recipe.student.settings(), **transfer}, source, "student.transfer."
    )
    if "lambda2" in transfer and student.lambda2 <= 0:
        raise ConfigError(
            f"{source.blame('student.transfer.lambda2')}: student.transfer.lambda2 = "
            f"{student.lambda2!r} is out of range; allowed: > 0 (the transfer-set clips learn "
            "through the distillation term alone)"
        )
    _validate(dataclasses.replace(recipe, student=student), source.transfer(list(transfer)))
    recipe.student.transfer = {key: getattr(student, key) for key in transfer}


def load_recipe(
    name_or_path: str | Path | None = None, overrides: list[str] | None = None
) -> Recipe:
    """Load a recipe by name (``demo``, ``mosi``, ``mosei``: the packaged ones) or path.

    ``overrides`` are ``section.key=value`` strings in TOML syntax (``teacher.epochs=3``,
    ``data.path="x"``; bare words are taken as strings).
    """
    return load_recipe_and_source(name_or_path, overrides)[0]


def load_recipe_and_source(
    name_or_path: str | Path | None = None, overrides: list[str] | None = None
) -> tuple[Recipe, Source]:
    """:func:`load_recipe`, and where its values came from: what the checks that need more
    than the recipe (its checkpoints, its data) are given, so that they too blame the file or
    the ``--set`` that gave a bad value."""
    values, path = read_toml(name_or_path or "demo", overrides)
    source = Source.of_recipe(path, overrides)
    return recipe_from_dict(values, source), source


def read_toml(name_or_path: str | Path, overrides: list[str] | None = None) -> tuple[dict, Path]:
    """A recipe file's values, by packaged name or path, with ``overrides`` applied."""
    path = Path(name_or_path)
    if not path.is_file():
        packaged = RECIPE_DIR / f"{name_or_path}.toml"
        if not packaged.is_file():
            names = ", ".join(sorted(p.stem for p in RECIPE_DIR.glob("*.toml")))
            raise ConfigError(f"{name_or_path}: no such recipe file; packaged recipes: {names}")
        path = packaged
    try:
        values = tomllib.loads(read_user_text(path, ConfigError))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    for override in overrides or []:
        _apply_override(values, override)
    return values, path


def override_key(override: str) -> str:
    """The ``section.key`` that a ``section.key=value`` override sets."""
    return override.partition("=")[0].strip()


def _apply_override(values: dict[str, Any], override: str) -> None:
    key = override_key(override)
    _, sep, raw = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    node = values
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {override!r}: {part} is not a section")
    node[leaf] = value
