"""Exceptions of the data layer: every one names the file (or option) and what is wrong."""

from __future__ import annotations


class DataError(ValueError):
    """Bad or missing input data; the message names the file and the problem."""


class ChecksumError(DataError):
    """A file's sha256 differs from the registered one."""


class UnsafePickleError(DataError):
    """A pickle asks for a global (a class or function): refused, it could run code."""


class DataUnavailableError(DataError):
    """A file (or a whole split) cannot be found locally nor downloaded."""
