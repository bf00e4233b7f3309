"""compplan: design sales compensation plans that pay for the strategy."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("compplan")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
