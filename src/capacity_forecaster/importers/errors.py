"""The one error type importers raise for bad input; the CLI prints it as one line, exit 2."""


class ImportInputError(ValueError):
    """The input cannot be imported; the message names the file, column or option and why."""
