"""One error family: what a user can cause derives from ExgenError.

The CLI prints these as one line and exits non-zero; anything else is a bug
and keeps its traceback.
"""


class ExgenError(Exception):
    """A problem the user can fix; the message says what and how."""


class UnsupportedExpression(ExgenError):
    """The step engine has no rule for a sub-expression."""


class BudgetExceeded(ExgenError):
    """A SymPy computation ran past its time budget."""


class HangGuard(ExgenError):
    """A candidate problem ran past the guard against a hang: the run stops
    (never draws another candidate, which would change the sheet)."""


class SheetStarved(ExgenError):
    """The requested topics and difficulty cannot fill the sheet."""


class TexMissing(ExgenError):
    """No TeX engine on this machine."""


class TexFailed(ExgenError):
    """TeX stopped with an error; the message carries its error lines."""


def read_user_text(path, what: str, fix: str) -> str:
    """A user's text file (config, roster), or one line naming the file, the
    line and the problem: unreadable, not UTF-8, or binary."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExgenError(f"{name}: cannot read the {what}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ExgenError(f"{name}:{line}: not UTF-8 text; {fix}") from None
    if "\x00" in text:
        raise ExgenError(f"{name}: a binary file, not a {what}")
    return text
