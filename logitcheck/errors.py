"""The error family and the exit codes.

Core modules raise these; only the cli (cli/) turns them into a message and an exit code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class LogitcheckError(Exception):
    """A run that could not be completed. The message is one line for the user."""

    exit_code = EXIT_ERROR


class InputError(LogitcheckError):
    """An input file is missing, unreadable or malformed."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple:  # rebuilt from (path, problem): raised on dask workers
        return type(self), (self.path, self.problem)


_OS_PROBLEMS = {
    FileNotFoundError: "no such file",
    IsADirectoryError: "is a directory, not a file",
    PermissionError: "permission denied",
}


def os_input_error(path: object, exc: OSError) -> InputError:
    """An OSError met opening or reading `path`, as the one line the user sees."""
    problem = _OS_PROBLEMS.get(type(exc)) or f"cannot be read ({exc.strerror or exc})"
    return InputError(path, problem)


class UsageError(LogitcheckError):
    """Options that contradict each other or cannot apply to these inputs."""
