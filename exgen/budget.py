"""Wall-clock limits for SymPy work.

SymPy calls cannot be interrupted from outside, and a simplification that
takes minutes must never hang a run. Inside `time_budget(s)` a SIGALRM
raises `BudgetExceeded` in the main thread once `s` seconds have passed.
What the caller does then must not depend on the machine's speed where the
output is meant to be reproducible: a sheet stops with an error naming the
problem (sheet.hang_seconds), never draws another candidate; `exgen solve`
refuses the expression. Budgets nest: an inner budget
never extends an outer one. Outside the main thread (where signals cannot be
delivered) the budget is not enforced, which is only ever the case in
library use from worker threads.
"""

import contextlib
import signal
import threading
import time

from .errors import BudgetExceeded

_deadline: list[float] = []


def _on_alarm(signum, frame):
    raise BudgetExceeded("time budget exceeded")


@contextlib.contextmanager
def time_budget(seconds: float):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    now = time.monotonic()
    deadline = now + seconds
    if _deadline:
        deadline = min(deadline, _deadline[-1])
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    _deadline.append(deadline)
    try:
        if deadline <= now:
            raise BudgetExceeded("time budget exceeded")
        signal.setitimer(signal.ITIMER_REAL, deadline - now)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _deadline.pop()
        if _deadline:
            remaining = _deadline[-1] - time.monotonic()
            signal.signal(signal.SIGALRM, previous)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-4))
        else:
            signal.signal(signal.SIGALRM, previous)
