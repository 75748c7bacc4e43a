"""The one exception family users see: each message is a single line that says what to do."""


class HexwatchError(Exception):
    """A user-facing error (bad input, missing data, wrong option). The CLI prints it as one line."""
