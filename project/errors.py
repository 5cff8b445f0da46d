"""The one exception type for bad configuration."""


class SettingsError(Exception):
    """A setting is missing, mistyped or malformed.

    The message is written for the user: it names the setting, what was
    expected, where the value came from and how to fix it. Secrets are masked.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n\n".join(self.problems))
