"""What to do with clips whose video is missing or corrupt: the video policy.

- ``error`` (default): stop with one message that lists every bad file and why;
- ``skip``: drop those rows and report how many;
- ``blank``: keep the rows with no video (``video_path = None``); the teacher sees their
  transcript only, through its modality mask.

Files are checked with a cheap probe (open, find a video stream, decode the first frame).
A file that passes the probe but fails later, during full decoding, is handled by
:func:`on_decode_failure` under the same policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from tqdm.auto import tqdm

from videoadviser.data.frames import probe_video
from videoadviser.data.records import ClipRecord, join_problems
from videoadviser.errors import ConfigError, DataError, VideoDecodeError

logger = logging.getLogger(__name__)

VideoPolicy = Literal["error", "skip", "blank"]
VIDEO_POLICIES: tuple[str, ...] = get_args(VideoPolicy)


@dataclass
class VideoReport:
    """What the video check found: ``bad`` maps each bad file to the reason."""

    policy: str
    checked: int = 0
    bad: dict[str, str] = field(default_factory=dict)
    dropped: int = 0
    blanked: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "checked": self.checked,
            "bad": len(self.bad),
            "dropped": self.dropped,
            "blanked": self.blanked,
            "bad_files": dict(self.bad),
        }


def check_policy(policy: str) -> VideoPolicy:
    if policy not in VIDEO_POLICIES:
        raise ConfigError(f"video policy {policy!r} is not one of {', '.join(VIDEO_POLICIES)}")
    return policy  # type: ignore[return-value]


def apply_video_policy(
    records: list[ClipRecord],
    policy: str = "error",
    probe: Callable[[str], str | None] = probe_video,
    progress: bool = True,
) -> tuple[list[ClipRecord], VideoReport]:
    """Probe every record's video and apply ``policy`` to the bad ones.

    Records that have no ``video_path`` at all (a processed pickle read without a raw folder)
    are passed through unchanged and not counted.

    Returns:
        The kept records (blanked ones with ``video_path=None``) and a :class:`VideoReport`.

    Raises:
        DataError: under ``error``, listing every bad file.
    """
    policy = check_policy(policy)
    report = VideoReport(policy=policy)
    with_video = [r for r in records if r.video_path is not None]
    for record in tqdm(with_video, desc="checking videos", unit="clip", disable=not progress):
        reason = probe(record.video_path)  # type: ignore[arg-type]
        report.checked += 1
        if reason is not None:
            report.bad[record.video_path] = reason  # type: ignore[index]
    if not report.bad:
        return list(records), report
    if policy == "error":
        problems = [f"{path}: {reason}" for path, reason in report.bad.items()]
        raise DataError(
            join_problems("missing or corrupt videos", problems)
            + "\nFix or remove them, or pass --video-policy skip (drop the rows) or "
            "--video-policy blank (keep them, transcript only)."
        )
    kept: list[ClipRecord] = []
    for record in records:
        if record.video_path not in report.bad:
            kept.append(record)
        elif policy == "blank":
            kept.append(replace(record, video_path=None))
            report.blanked += 1
        else:
            report.dropped += 1
    logger.warning(
        "%d of %d videos missing or corrupt: %s",
        len(report.bad),
        report.checked,
        f"{report.dropped} rows dropped"
        if policy == "skip"
        else f"{report.blanked} rows kept without video",
    )
    return kept, report


def on_decode_failure(error: VideoDecodeError, policy: str) -> None:
    """A probed video failed during full decoding: raise under ``error``, else warn.

    Under ``skip`` and ``blank`` the caller then treats the clip as having no video (a row
    cannot be dropped after splits and caches are built, so ``skip`` degrades to ``blank``).
    """
    if check_policy(policy) == "error":
        raise DataError(
            f"{error}\nThe file passed the quick check but failed to decode fully; fix it or "
            "use --video-policy skip/blank."
        ) from error
    logger.warning("%s; using the transcript only for this clip", error)
