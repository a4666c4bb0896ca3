"""The version the reference server reports (admin ``version``): gearcheck's own.

Its own module so the admin commands need not import the package (whose
``__init__`` imports the server, which imports them).
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("gearcheck")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"
