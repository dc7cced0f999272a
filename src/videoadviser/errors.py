"""Exceptions with messages written for the user: each names the file, row or field at fault."""


class VideoAdviserError(Exception):
    """Base class for every error the command line reports without a traceback."""


class DataError(VideoAdviserError, ValueError):
    """Bad dataset input: a label file, a pickle or a video that cannot be used as it is."""


class UnsafePickleError(DataError):
    """A pickle names a global outside the allow-list; nothing from it was executed."""


class VideoDecodeError(DataError):
    """A video file is missing, unreadable or holds no decodable video frame."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # it crosses process boundaries
        return (type(self), (self.path, self.reason))


class ConfigError(VideoAdviserError, ValueError):
    """A recipe or command-line option that cannot be used."""


class TrainingError(VideoAdviserError, RuntimeError):
    """Training cannot go on: a non-finite loss, prediction or metric. The message names the
    stage, epoch and step, and the last good checkpoint (kept as it was)."""
