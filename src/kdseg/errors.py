"""Exceptions with one-line, user-facing messages."""


class KdsegError(Exception):
    """Base class: the message is shown to the user as it is (no traceback)."""


class ConfigError(KdsegError):
    """A config key is unknown, of the wrong type, or out of range."""


class RawDataError(KdsegError):
    """A raw dataset (nnU-Net v2 layout) is unreadable or inconsistent."""

    def __init__(self, problems: list[str], dataset: str = "") -> None:
        self.problems = list(problems)
        where = f" in dataset {dataset}" if dataset else ""
        head = f"{len(self.problems)} problem(s){where}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))
