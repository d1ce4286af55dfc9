"""Errors a user can act on: each prints as one line naming the file and the field."""


class CultureClipError(Exception):
    """Base class for errors the CLI reports as a single line instead of a traceback."""


class ConfigError(CultureClipError):
    """A configuration file or override is malformed."""


class CatalogError(CultureClipError):
    """A catalogue file is malformed; the message names the file, row and field."""


class DataError(CultureClipError):
    """A dataset or checkpoint on disk is missing or unreadable."""


class MissingDependencyError(CultureClipError):
    """An optional dependency is missing; the message gives the pip line that fixes it."""


class GenerationError(CultureClipError):
    """A generator (LLM, image model, server) could not produce an output after its retries."""


class GeneratorUnreachable(CultureClipError):
    """A generator's server cannot be reached or refuses us (connection refused, unknown host, 401, 403,
    404): no retry helps, so the stage stops at once instead of failing or falling back row by row."""
