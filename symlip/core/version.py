"""The version of symlip (``symlip.__version__``; recorded in every witness file's header)."""

VERSION = "0.1.0"
