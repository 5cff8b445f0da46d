"""The project's exception types: each says what happened, in words for the user."""


class ProjectError(Exception):
    """An error whose message is the whole story: one paragraph per problem, no traceback.

    The message names what was wrong, where it came from and how to fix it;
    secrets are masked. Command-line entry points print it as it is.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n\n".join(self.problems))


class SettingsError(ProjectError):
    """A setting is missing, mistyped or malformed."""


class DatabaseStartupError(ProjectError):
    """A database was unreachable at startup and DATABASE_STARTUP_CHECK is "fail"."""
