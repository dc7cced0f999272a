"""The documented feature extractors, and the embedded VEGAS-like set they feed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videoadviser.data.frames import write_video
from videoadviser.errors import VideoDecodeError
from videoadviser.retrieval.features import (
    AUDIO_DIM,
    MEL_BANDS,
    VISUAL_DIM,
    audio_features,
    frame_descriptors,
    log_mel,
    mel_filterbank,
    video_features,
)
from videoadviser.retrieval.scenes import CLASSES, SAMPLE_RATE, clip_sound, render_scene


def test_a_tone_lights_up_its_mel_band() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    low = log_mel(np.sin(2 * np.pi * 300 * t)).mean(0)
    high = log_mel(np.sin(2 * np.pi * 3000 * t)).mean(0)
    centres = (mel_filterbank() * np.fft.rfftfreq(512, 1 / SAMPLE_RATE)[:, None]).sum(0) / (
        mel_filterbank().sum(0)
    )
    assert abs(centres[low.argmax()] - 300) < 60
    assert abs(centres[high.argmax()] - 3000) < 300
    assert log_mel(np.zeros(SAMPLE_RATE)).shape == (98, MEL_BANDS)


def test_audio_features_are_uint8_per_second() -> None:
    wave = np.random.default_rng(0).normal(size=2 * SAMPLE_RATE) * 0.1
    features = audio_features(wave)
    assert features.shape == (2, AUDIO_DIM) and features.dtype == np.uint8


def test_frame_descriptor_of_a_flat_red_frame() -> None:
    frame = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    frame[..., 0] = 255
    d = frame_descriptors(frame)
    assert d.shape == (1, VISUAL_DIM)
    assert d[0, :768].reshape(256, 3).tolist() == [[1.0, 0.0, 0.0]] * 256
    hist = d[0, 768:]
    assert hist.max() == 1.0 and hist.argmax() == 0 * 16 + 15  # hue 0, saturation 1


def test_video_features_from_an_mp4_with_sound(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "clip.mp4"
    write_video(path, render_scene(CLASSES[2], rng, 2.0), 8, audio=clip_sound(2, rng, 2.0))
    audio, visual = video_features(path)
    assert audio.shape == (2, AUDIO_DIM) and visual.shape == (2, VISUAL_DIM)
    silent = tmp_path / "silent.mp4"
    write_video(silent, render_scene(CLASSES[2], rng, 1.0), 8)
    with pytest.raises(VideoDecodeError, match="silent.mp4: no audio stream"):
        video_features(silent)
    still = tmp_path / "still.mp4"
    Image.fromarray(render_scene(CLASSES[2], rng, 1.0)[0]).save(still, format="PNG")
    with pytest.raises(VideoDecodeError, match=r"still.mp4: an image \(png_pipe\), not a video"):
        video_features(still)


def test_every_class_renders_and_sounds_deterministically() -> None:
    for k, cls in enumerate(CLASSES):
        a = render_scene(cls, np.random.default_rng([1, k]), 1.0)
        b = render_scene(cls, np.random.default_rng([1, k]), 1.0)
        assert a.shape == (8, 64, 64, 3) and (a == b).all()
        sound = clip_sound(k, np.random.default_rng(k), 1.0)
        assert sound.shape == (SAMPLE_RATE,) and np.abs(sound).max() <= 0.9 + 1e-6
