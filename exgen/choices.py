"""Multiple choice: each problem's right answer among wrong ones that real
mistakes give (`--choices N`).

A wrong option is one catalogued mistake (a `Mistake` of a rule, see
`exgen/mistakes.py`) applied to this problem's own derivation: the answer a
student who makes exactly that mistake writes, tidied like the right answer.
Where fewer mistakes apply than options are needed, the documented
`FALLBACKS` fill the rest (the sign of the whole derivative reversed, a
factor of 2 too many or too few, a stray constant); each is named like a
mistake. Every option is checked numerically at `POINTS` points drawn
inside the problem's domain: it must differ from the right answer and from
every other option at `MIN_POINTS` of them at least (a piecewise derivative
such as ReLU's agrees with some mistakes on half the line), so no two options
are equal functions on the domain. At-point values are numbers, compared
once.

Order: the options are shuffled by a stream derived by name from the sheet's
seed, the problem's number and the version; the right answer's place is
dealt evenly over the sheet (as many a's as b's, ...), and so is how many
options print shorter than it, so the right answer is neither always the
longest nor always the shortest.
"""

import itertools
import math
from dataclasses import dataclass, replace

import mpmath
import sympy as sp

from .check import MIN_POINTS, float_function, numeric_function, sample_points
from .errors import ExgenError
from .forms import MAX_ANSWER_LATEX, tex, tidy, visible_length
from .mistakes import variants
from .registry import to_elementary
from .seeding import rng_for
from .worked import choice_decimals

MIN_CHOICES, MAX_CHOICES = 2, 6
LABELS = "abcdef"
# Mistakes considered beyond those needed, when choosing which to show (outermost first).
SPARE = 2
RELATIVE = 1e-6  # two values this close (relatively) count as equal
POINTS = 12


@dataclass(frozen=True)
class Choice:
    """One option: the answers it gives (one per derivative asked, or values
    at the point), whether it is right, and the mistake it encodes."""

    label: str
    answers: tuple[sp.Expr, ...]
    correct: bool
    mistake: str | None = None
    words: str = ""


@dataclass(frozen=True)
class Fallback:
    """A wrong option not tied to a rule, used only where the rules' mistakes
    give too few: `make(answer)` of each answer (function or value)."""

    id: str
    words: str
    make: object


FALLBACKS = (
    Fallback("sign-reversed", "the sign of the whole derivative reversed", lambda a: -a),
    Fallback("plus-one", "a stray + 1 (a constant's derivative taken as 1 instead of 0)", lambda a: a + 1),
    Fallback("doubled", "a factor of 2 too many (a coefficient counted twice)", lambda a: 2 * a),
    Fallback("minus-one", "a stray - 1 (a sign slip on a constant)", lambda a: a - 1),
    Fallback("halved", "a factor of 1/2 too many (half of the derivative)", lambda a: a / 2),
    # Last, for a derivative that is 0 (ReLU at a negative point), where every
    # fallback above that scales it gives 0 again. With them the five shifts
    # (+1, -1, +2, -2, +3) alone always give MAX_CHOICES - 1 distinct wrong
    # options, so `--choices 6` never runs short.
    Fallback("plus-two", "a stray + 2 (a constant term's derivative kept)", lambda a: a + 2),
    Fallback("minus-two", "a stray - 2 (a constant term's derivative kept, with its sign slipped)", lambda a: a - 2),
    Fallback("plus-three", "a stray + 3 (constant terms' derivatives kept)", lambda a: a + 3),
)


def validate(count: int) -> None:
    if not MIN_CHOICES <= count <= MAX_CHOICES:
        raise ExgenError(f"--choices must be between {MIN_CHOICES} and {MAX_CHOICES}, got {count}")


@dataclass(frozen=True)
class _Option:
    answers: tuple[sp.Expr, ...]
    mistake: str | None
    words: str
    values: tuple  # per point, per answer: a float or None (undefined there)


def _tidy_value(value):
    from .sheet import tidy_value

    return tidy_value(value)


def _wrong_answers(problem):
    """(mistake, index, wrong result) for every catalogued mistake in the
    problem's derivations, one per mistake (its outermost place), in tree
    order. The result is not yet tidied (nor evaluated at the point): that is
    the costly part, done only for the options kept. A tree's top "simplify"
    node only tidies, so the mistakes are made in the tree below it."""
    seen = set()
    for i, tree in enumerate(problem.derivations):
        body = tree.substeps[0] if tree.rule == "simplify" else tree
        for wrong in variants(body):
            if wrong.mistake.id in seen:
                continue
            seen.add(wrong.mistake.id)
            yield wrong.mistake, i, wrong.result


def _finished(problem, answers: tuple) -> tuple:
    """Wrong answers in the form the right ones are printed: tidied, or exact values at the point."""
    if problem.values:
        point = dict(problem.at)
        return tuple(a if a in problem.values else _tidy_value(to_elementary(a).xreplace(point)) for a in answers)
    return tuple(a if a in problem.answers else tidy(a) for a in answers)


def _evaluate(problem, answers, points) -> tuple:
    """Each answer's value at each point (floats; None where undefined); at
    the problem's own point for an at-point problem."""
    if problem.values:  # numbers: one "point"
        point = dict(problem.at)
        return (tuple(_number(a if a in problem.values else to_elementary(a).xreplace(point)) for a in answers),)
    variables = problem.exercise.variables
    out = []
    for point in points:
        row = []
        for answer in answers:
            row.append(_at(variables, answer, point))
        out.append(tuple(row))
    return tuple(out)


def _number(value):
    try:
        v = complex(sp.N(to_elementary(value), 20))
    except (TypeError, ValueError):
        return None
    if abs(v.imag) > 1e-12 or not math.isfinite(v.real):
        return None
    return v.real


def _at(variables, expr, point):
    args = [point[v] for v in variables]
    fast = float_function(variables, expr)
    if fast is not None:
        try:
            v = fast(*(float(a) for a in args))
            if isinstance(v, float) and math.isfinite(v):
                return v
        except (ArithmeticError, ValueError, TypeError):
            pass
    slow = numeric_function(variables, expr)
    if slow is None:
        return None
    try:
        with mpmath.workdps(30):
            v = slow(*args)
    except (ArithmeticError, ValueError, TypeError):
        return None
    if isinstance(v, (mpmath.mpc, complex)):
        if abs(v.imag) > 1e-20:
            return None
        v = v.real
    v = float(v)
    return v if math.isfinite(v) else None


def differ(a: tuple, b: tuple, points_needed: int) -> bool:
    """Are two options' values different: for some answer, at
    `points_needed` points at least where both are defined?"""
    for k in range(len(a[0])):
        apart = sum(1 for p, q in zip(a, b) if p[k] is not None and q[k] is not None
                    and abs(p[k] - q[k]) > RELATIVE * max(1.0, abs(p[k]), abs(q[k])))
        if apart >= points_needed:
            return True
    return False


def _length(answers) -> int:
    return sum(visible_length(a) for a in answers)


def choices_for(problem, count: int, rng, position: int, shorter: int) -> tuple[Choice, ...]:
    """`count` options for the problem: the right answer at `position`, and
    (as nearly as the mistakes allow) `shorter` options printed shorter than it."""
    answers = tuple(problem.values or problem.answers)
    points = sample_points(problem.exercise.domain, problem.exercise.variables, rng, POINTS)
    needed = 1 if problem.values else MIN_POINTS
    right = _Option(answers, None, "", _evaluate(problem, answers, points))
    longest = max([MAX_ANSWER_LATEX] + [int(1.3 * len(tex(a))) for a in answers])
    accepted: list[_Option] = []

    def admit(wrong: tuple, mistake: str, words: str) -> None:
        values = _evaluate(problem, wrong, points)
        if all(differ(values, other.values, needed) for other in [right] + accepted):
            finished = _finished(problem, wrong)
            if problem.exercise.worked is not None:
                # A worked problem's options are printed as decimals (`worked.choice_decimals`):
                # they must differ as printed, and their length is the decimals'.
                shown = choice_decimals(finished, problem.decimals)
                if shown is not None:
                    if all(shown != choice_decimals(other.answers, problem.decimals)
                           for other in [right] + accepted):
                        accepted.append(_Option(finished, mistake, words, values))
                    return
            # An option the sheet cannot print on one line is not offered (the
            # right answer is held to the same length when it is drawn; an
            # exact value at a point may be longer, and its options with it).
            if all(len(tex(a)) <= longest for a in finished):
                accepted.append(_Option(finished, mistake, words, values))

    for mistake, index, result in _wrong_answers(problem):
        admit(answers[:index] + (result,) + answers[index + 1:], mistake.id, mistake.words)
        if len(accepted) >= count - 1 + SPARE:
            break
    mistakes = list(accepted)
    for fallback in FALLBACKS:
        if len(accepted) >= count - 1:
            break
        admit(tuple(fallback.make(a) for a in answers), fallback.id, fallback.words)
    if len(accepted) < count - 1:
        raise ExgenError(f"problem {problem.number}: only {len(accepted)} checked wrong options for --choices "
                         f"{count}")
    chosen = _pick(mistakes, accepted[len(mistakes):], count - 1, _length(answers), shorter)
    rng.shuffle(chosen)
    chosen.insert(position, right)
    return tuple(Choice(LABELS[i], o.answers, o is right, o.mistake, o.words) for i, o in enumerate(chosen))


def _pick(mistakes, fallbacks, needed: int, right_length: int, shorter: int) -> list:
    """`needed` wrong options, mistakes before fallbacks, choosing among the
    mistakes the set whose count of shorter options is nearest `shorter`
    (the first such set in catalogue order)."""
    if len(mistakes) <= needed:
        return list(mistakes) + list(fallbacks[:needed - len(mistakes)])
    best, best_gap = None, None
    for subset in itertools.combinations(mistakes, needed):
        gap = abs(sum(_length(o.answers) < right_length for o in subset) - shorter)
        if best is None or gap < best_gap:
            best, best_gap = subset, gap
            if gap == 0:
                break
    return list(best)


def dealt(key: str, what: str, version: str, total: int, count: int) -> list[int]:
    """0 .. count - 1 dealt evenly over `total` problems, in an order drawn from the seed."""
    cards = [k % count for k in range(total)]
    rng_for(key, "choices", what, version).shuffle(cards)
    return cards


def with_choices(sheet, count: int):
    """The sheet with `count` checked options on every problem."""
    validate(count)
    key, version = sheet.options.key, sheet.version or "A"
    total = len(sheet.problems)
    positions = dealt(key, "letters", version, total, count)
    shorter = dealt(key, "lengths", version, total, count)
    problems = []
    for problem, position, below in zip(sheet.problems, positions, shorter):
        rng = rng_for(key, "choices", version, problem.number)
        problems.append(replace(problem, choices=choices_for(problem, count, rng, position, below)))
    return replace(sheet, problems=tuple(problems))
