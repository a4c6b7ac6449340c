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


class SheetStarved(ExgenError):
    """The requested topics and difficulty cannot fill the sheet."""


class TexMissing(ExgenError):
    """No TeX engine on this machine."""


class TexFailed(ExgenError):
    """TeX stopped with an error; the message carries its error lines."""
