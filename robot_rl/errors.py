"""The project's own error types: what the user gave us was wrong, and we can say how.

``robot-rl`` prints an :class:`InputError` as one line (``robot-rl VERB: error: ...``) and exits 2;
any other exception is a bug and gets its traceback plus a request to report it. So raise
:class:`InputError` (or :class:`MissingInputError` for a file or name that does not exist) for bad
user input, with a message that names what was wrong and what is accepted, and let everything else
propagate.

Both subclass the built-in types callers already catch (``ValueError``, ``FileNotFoundError``), so
library users who catch those keep working.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a config key or value, a command-line argument, a bundle, an env kwarg."""


class MissingInputError(InputError, FileNotFoundError):
    """A file, directory or name the user pointed at does not exist."""
