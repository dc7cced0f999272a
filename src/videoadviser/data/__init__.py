"""Data layer: MMSA readers, the frame sampler, the video policy and the embedded dataset."""

from videoadviser.data.dataset import SentimentDataset, load_dataset
from videoadviser.data.frames import FrameSampling, decode_frames, sample_clip
from videoadviser.data.records import ClipRecord
from videoadviser.data.videos import VIDEO_POLICIES

__all__ = [
    "VIDEO_POLICIES",
    "ClipRecord",
    "FrameSampling",
    "SentimentDataset",
    "decode_frames",
    "load_dataset",
    "sample_clip",
]
