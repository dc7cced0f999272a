"""Per-second audio and visual features of a video file, stored as uint8 like VEGAS's.

VEGAS's public features are VGGish (audio, 128-d) and Inception-V3 (visual, 1024-d) embeddings,
one per second, quantised to uint8. Neither network's weights can be had offline, so the
embedded set uses two documented, deterministic extractors with the same shapes and the same
uint8 storage; the retrieval code cannot tell them apart from the real ones.

- **Audio, 128-d per second**: VGGish's own front end (16 kHz mono, 25 ms Hann windows every
  10 ms, 64 mel bands over 125-7500 Hz, ``log(mel + 0.01)``), then, per second, the mean and the
  standard deviation of each band over its 100 frames (64 + 64). No CNN follows.
- **Visual, 1024-d per second**: per frame a 16 x 16 RGB thumbnail (768 values) and a 16 x 16
  hue-saturation histogram (256 values, square-rooted shares of pixels), averaged over the
  frames of each second. Like averaged CNN features, it keeps what things look like and
  little of how they move.

Quantisation maps each value's documented range linearly onto 0-255 (see :data:`AUDIO_RANGE`);
:func:`videoadviser.retrieval.vegas.pool_uint8` undoes the VEGAS way, ``(x - 128) / 256``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from videoadviser.data.frames import SWSCALE_THREADS, video_stream
from videoadviser.errors import VideoDecodeError

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512
MEL_BANDS = 64
MEL_RANGE = (125.0, 7500.0)
LOG_OFFSET = 0.01
# value ranges mapped onto 0..255: log-mel mean, log-mel std, visual values
AUDIO_RANGE = ((-5.0, 5.0), (0.0, 3.0))
AUDIO_DIM = 2 * MEL_BANDS
VISUAL_DIM = 1024
THUMB = 16
HIST_BINS = 16


def _mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(hz / 700.0)  # the HTK mel scale, as VGGish uses


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """Triangular mel filters: ``(FFT // 2 + 1, MEL_BANDS)`` float64."""
    freqs = np.fft.rfftfreq(FFT, 1 / SAMPLE_RATE)
    edges = np.linspace(_mel(np.array(MEL_RANGE[0])), _mel(np.array(MEL_RANGE[1])), MEL_BANDS + 2)
    mel = _mel(freqs)[:, None]
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (mel - lower) / (centre - lower)
    falling = (upper - mel) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel(wave: np.ndarray) -> np.ndarray:
    """``(S,)`` float samples at 16 kHz -> ``(frames, MEL_BANDS)`` log-mel, 10 ms per frame."""
    if wave.size < WINDOW:
        wave = np.pad(wave, (0, WINDOW - wave.size))
    count = 1 + (wave.size - WINDOW) // HOP
    index = np.arange(WINDOW)[None, :] + HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(wave[index] * np.hanning(WINDOW), FFT))
    return np.log(spectrum @ mel_filterbank() + LOG_OFFSET)


def whole_seconds(duration: float) -> int:
    """Per-second rows for a clip of ``duration`` s: a last part of half a second or more
    counts as a second (at least 1); the same rule for audio and video."""
    return max(1, math.floor(duration + 0.5))


def _quantise(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.round(np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0).astype(np.uint8)


def audio_features(wave: np.ndarray) -> np.ndarray:
    """``(S,)`` samples at 16 kHz -> ``(seconds, 128)`` uint8 (a partial last second counts if
    it is at least half a second long)."""
    wave = np.asarray(wave, dtype=np.float64)
    frames = log_mel(wave)
    per_second = SAMPLE_RATE // HOP
    seconds = whole_seconds(wave.size / SAMPLE_RATE)
    out = np.empty((seconds, AUDIO_DIM), dtype=np.uint8)
    for s in range(seconds):
        chunk = frames[s * per_second : (s + 1) * per_second]
        if chunk.shape[0] == 0:
            chunk = frames[-per_second:]
        out[s, :MEL_BANDS] = _quantise(chunk.mean(0), *AUDIO_RANGE[0])
        out[s, MEL_BANDS:] = _quantise(chunk.std(0), *AUDIO_RANGE[1])
    return out


def _hue_saturation(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(F, H, W, 3)`` RGB in [0, 1] -> hue and saturation, each ``(F, H, W)`` in [0, 1]."""
    top, bottom = frames.max(-1), frames.min(-1)
    delta = top - bottom
    saturation = np.where(top > 0, delta / np.maximum(top, 1e-8), 0.0)
    r, g, b = frames[..., 0], frames[..., 1], frames[..., 2]
    safe = np.maximum(delta, 1e-8)
    hue = np.where(
        top == r, ((g - b) / safe) % 6, np.where(top == g, (b - r) / safe + 2, (r - g) / safe + 4)
    )
    return np.where(delta > 0, hue / 6.0, 0.0), saturation


def frame_descriptors(frames: np.ndarray) -> np.ndarray:
    """``(F, H, W, 3)`` uint8 RGB -> ``(F, 1024)`` in [0, 1]: thumbnail and hue-saturation
    histogram."""
    f, h, w, _ = frames.shape
    rgb = frames.astype(np.float64) / 255.0
    thumb = rgb[:, : h - h % THUMB, : w - w % THUMB]
    thumb = thumb.reshape(f, THUMB, thumb.shape[1] // THUMB, THUMB, thumb.shape[2] // THUMB, 3)
    thumb = thumb.mean(axis=(2, 4)).reshape(f, -1)
    hue, sat = _hue_saturation(rgb)
    cell = (
        np.minimum((hue * HIST_BINS).astype(int), HIST_BINS - 1) * HIST_BINS
        + np.minimum((sat * HIST_BINS).astype(int), HIST_BINS - 1)
    ).reshape(f, -1)
    hist = np.stack([np.bincount(c, minlength=HIST_BINS**2) for c in cell]) / cell.shape[1]
    return np.concatenate([thumb, np.sqrt(hist)], axis=1)


def visual_features(frames: np.ndarray, fps: float) -> np.ndarray:
    """``(F, H, W, 3)`` uint8 frames at ``fps`` -> ``(seconds, 1024)`` uint8."""
    per_frame = frame_descriptors(frames)
    step = max(1, int(round(fps)))
    seconds = whole_seconds(len(frames) / fps)
    out = np.empty((seconds, VISUAL_DIM), dtype=np.uint8)
    for s in range(seconds):
        chunk = per_frame[s * step : (s + 1) * step]
        if chunk.shape[0] == 0:
            chunk = per_frame[-step:]
        out[s] = _quantise(chunk.mean(0), 0.0, 1.0)
    return out


def decode_av(path: str | Path) -> tuple[np.ndarray, float, np.ndarray]:
    """All video frames ``(F, H, W, 3)`` uint8, the frame rate, and the audio track as 16 kHz
    mono float ``(S,)`` (empty if the file has no audio stream).

    Raises:
        VideoDecodeError: the file is missing or holds no decodable video frame.
    """
    path = str(path)
    if not Path(path).is_file():
        raise VideoDecodeError(path, "file not found")
    try:
        with av.open(path) as container:  # one pass over the file for both streams
            stream = video_stream(container, path)  # a video's, not a still image's
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            wanted = {"video": 0, **({"audio": 0} if container.streams.audio else {})}
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            frames, chunks = [], []
            for frame in container.decode(**wanted):
                if isinstance(frame, av.VideoFrame):
                    frames.append(frame.to_ndarray(format="rgb24", threads=SWSCALE_THREADS))
                else:
                    chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(frame)]
            if "audio" in wanted:
                chunks += [r.to_ndarray().reshape(-1) for r in resampler.resample(None)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    except VideoDecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as error:
        raise VideoDecodeError(path, f"cannot decode ({type(error).__name__}: {error})") from None
    if not frames:
        raise VideoDecodeError(path, "no decodable video frame")
    return np.stack(frames), fps, audio


def video_features(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A video file's per-second features: audio ``(Ta, 128)`` and visual ``(Tv, 1024)`` uint8.

    Raises:
        VideoDecodeError: no decodable video, or no audio stream (retrieval needs both).
    """
    frames, fps, audio = decode_av(path)
    if audio.size == 0:
        raise VideoDecodeError(str(path), "no audio stream (audio-visual retrieval needs one)")
    duration = len(frames) / fps
    audio = audio[: int(round(duration * SAMPLE_RATE))]  # the codec's padding cut off
    return audio_features(audio), visual_features(frames, fps)
