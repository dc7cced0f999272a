"""VideoAdviser: distil a multimodal CLIP-based video teacher into a text-only student.

The package is laid out as the method's pipeline:
``data`` -> ``teacher`` -> ``distillation`` -> ``student`` -> ``evaluation``; ``cli`` is a thin
layer over these modules.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("videoadviser")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
