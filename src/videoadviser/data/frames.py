"""The one frame sampler: decode a clip with PyAV and return T normalised CLIP-sized frames.

Sampling: the clip's N decoded frames are cut into T equal segments and the middle frame of
each is taken (index ``floor((i + 0.5) * N / T)``), so a clip shorter than T frames repeats
frames. Each frame is converted to RGB whatever its pixel format, its shorter side resized to
``image_size`` (bicubic, as CLIP's preprocessing), centre-cropped to a square, scaled to [0, 1]
and normalised with CLIP's mean and std.

Memory stays bounded for long clips: a cheap demux pass counts the frames, and only the T
chosen frames are converted while decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from videoadviser.errors import VideoDecodeError

CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class FrameSampling:
    """How frames are taken from a clip; part of every frame/feature cache key."""

    num_frames: int = 8
    image_size: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {self.image_size}")


def segment_indices(num_decoded: int, num_frames: int) -> np.ndarray:
    """Indices of the middle frame of ``num_frames`` equal segments of ``num_decoded`` frames.

    Returns:
        ``(num_frames,)`` int64, non-decreasing, in ``[0, num_decoded)``; repeats when
        ``num_decoded < num_frames``.
    """
    if num_decoded < 1:
        raise ValueError("a clip needs at least one frame")
    positions = (np.arange(num_frames) + 0.5) * num_decoded / num_frames
    return np.minimum(np.floor(positions).astype(np.int64), num_decoded - 1)


def resize_center_crop(image: Image.Image, size: int) -> np.ndarray:
    """Resize the shorter side to ``size`` (bicubic) and centre-crop: ``(size, size, 3)`` uint8."""
    width, height = image.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    image = image.convert("RGB").resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8)


def normalize_pixels(frames: torch.Tensor, sampling: FrameSampling) -> torch.Tensor:
    """``(..., S, S, 3)`` uint8 -> ``(..., 3, S, S)`` float32, scaled to [0, 1] and normalised."""
    mean = torch.tensor(sampling.mean, dtype=torch.float32)
    std = torch.tensor(sampling.std, dtype=torch.float32)
    scaled = (frames.float() / 255.0 - mean) / std
    return scaled.movedim(-1, -3).contiguous()


def normalize_frames(frames: np.ndarray, sampling: FrameSampling) -> np.ndarray:
    """numpy form of :func:`normalize_pixels`: ``(T, S, S, 3)`` uint8 -> ``(T, 3, S, S)``."""
    return normalize_pixels(torch.from_numpy(frames), sampling).numpy()


def _count_frames(path: str) -> int:
    with av.open(path) as container:
        stream = video_stream(container, path)
        return sum(1 for packet in container.demux(stream) if packet.size)


def video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    """The clip's first video stream; a file with none, or a still image, is a bad video."""
    if not container.streams.video:
        raise VideoDecodeError(path, "no video stream")
    stream = container.streams.video[0]
    still = image_format(container, stream)
    if still is not None:
        raise VideoDecodeError(
            path, f"an image ({still}), not a video; each clip must be a real video (an mp4)"
        )
    return stream


# Pixel conversion (libswscale) on one thread. PyAV >= 17 converts with a pool of threads by
# default, and a DataLoader worker forked after the main process used such a pool hangs in it
# forever; frames are decoded in parallel by worker processes instead.
SWSCALE_THREADS = 1
# FFmpeg's demuxers for still images: these two and every "<codec>_pipe" (png_pipe, jpeg_pipe..)
IMAGE_DEMUXERS = ("image2", "image2pipe")


def image_format(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> str | None:
    """The format's name if the file is a still image (a PNG renamed .mp4, a one-frame GIF),
    else None: an image demuxer, or one frame with no duration."""
    name = container.format.name
    if name in IMAGE_DEMUXERS or name.endswith("_pipe"):
        return name
    if container.duration is None and stream.frames == 1:
        return name
    return None


def _decode_selected(
    path: str, indices: np.ndarray, size: int
) -> tuple[dict[int, np.ndarray], int]:
    """Decode every frame, converting only those at ``indices``; returns (frames, count)."""
    wanted = set(indices.tolist())
    kept: dict[int, np.ndarray] = {}
    count = 0
    with av.open(path) as container:
        stream = video_stream(container, path)
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if count in wanted:
                kept[count] = resize_center_crop(frame.to_image(threads=SWSCALE_THREADS), size)
            count += 1
    return kept, count


def decode_frames(path: str | Path, num_frames: int, image_size: int) -> np.ndarray:
    """Decode ``num_frames`` frames of a clip, resized and centre-cropped.

    Returns:
        ``(num_frames, image_size, image_size, 3)`` uint8 RGB.

    Raises:
        VideoDecodeError: the file is missing, not a video, or has no decodable frame.
    """
    path = str(path)
    if not Path(path).is_file():
        raise VideoDecodeError(path, "file not found")
    try:
        estimate = max(_count_frames(path), 1)
        indices = segment_indices(estimate, num_frames)
        kept, count = _decode_selected(path, indices, image_size)
        if count == 0:
            raise VideoDecodeError(path, "no decodable video frame")
        if count != estimate:  # packet count was off (rare): decode again with the exact count
            indices = segment_indices(count, num_frames)
            kept, count = _decode_selected(path, indices, image_size)
    except VideoDecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as error:
        raise VideoDecodeError(path, f"cannot decode ({type(error).__name__}: {error})") from None
    missing = [int(i) for i in indices if int(i) not in kept]
    if missing:
        raise VideoDecodeError(path, f"frames {missing} vanished between decodes")
    return np.stack([kept[int(i)] for i in indices])


def sample_clip(path: str | Path, sampling: FrameSampling) -> np.ndarray:
    """Decode and normalise a clip: ``(T, 3, S, S)`` float32, ready for a CLIP vision tower."""
    frames = decode_frames(path, sampling.num_frames, sampling.image_size)
    return normalize_frames(frames, sampling)


def probe_video(path: str | Path) -> str | None:
    """Cheap health check: ``None`` if the file opens and its first frame decodes, else why not."""
    path = str(path)
    if not Path(path).is_file():
        return "file not found"
    try:
        with av.open(path) as container:
            stream = video_stream(container, path)
            for _frame in container.decode(stream):
                return None
        return "no decodable video frame"
    except VideoDecodeError as error:
        return error.reason
    except (av.FFmpegError, OSError, ValueError, EOFError) as error:
        return f"cannot decode ({type(error).__name__}: {error})"


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: int,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> None:
    """Encode ``(F, H, W, 3)`` uint8 RGB frames to a video file, with an optional mono audio
    track ``audio`` ``(S,)`` float in [-1, 1] at ``sample_rate`` (AAC).

    The default H.264 settings are single-threaded with no look-ahead, so that the same frames
    give the same file (x264's threaded look-ahead is not deterministic). yuv420p needs even
    frame sizes.
    """
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        if options is None and codec == "libx264":
            options = {
                "crf": "20",
                "preset": "veryfast",
                "x264-params": "threads=1:lookahead-threads=1:rc-lookahead=0:no-mbtree=1",
            }
        stream.options = options or {}
        stream.codec_context.thread_count = 1
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate)
            sound.layout = "mono"
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None and audio is not None:
            samples = np.asarray(audio, dtype=np.float32).reshape(1, -1)
            for start in range(0, samples.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, start : start + 1024]),
                    format="fltp",
                    layout="mono",
                )
                chunk.sample_rate = sample_rate
                chunk.pts = start
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
