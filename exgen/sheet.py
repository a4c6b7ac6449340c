"""Assembling a sheet: plan levels, draw candidates, keep only checked ones.

For problem i of a sheet, attempt a, the generator is `rng_for(seed,
"problem", i, a)`, and the numeric oracle draws its points from its own
`rng_for(seed, "oracle", i, a)`: each problem depends only on the seed, its
position, and which earlier candidates were rejected, never on global state,
the clock or the machine's speed. A candidate is accepted only when

- its derivation's rule count is inside the requested level's range,
- it belongs to its topic (the topic's `uses`/`root` rules),
- it passes the quality filters (new canonical form, non-constant derivative
  at medium and hard, answer short enough to print on one or two lines),
- every node of its derivation and the sheet.json `check` strings pass the
  numeric oracle (`check.py`).

Every limit that chooses among candidates is deterministic (rule counts,
printed lengths, magnitudes, attempt counts). The only clock is a guard
against a hang (`hang_seconds`): a candidate still running after it stops
the run with one line naming the problem and seed; it never makes the run
draw another candidate, which would print a different sheet on a slower
machine. Rejections are logged (logger "exgen.sheet") and never printed.
"""

import contextlib
import functools
import itertools
import logging
import math
import os
import pickle
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from . import __version__, compose
from .budget import time_budget
from .check import Verdict, check_contract, check_tree, sample_points
from .compose import Domain, Draft, Exercise, choose_domain, disguise, edge_on_a_grid, textbook_domain
from .errors import BudgetExceeded, ExgenError, HangGuard, SheetStarved, UnsupportedExpression
from .forms import MAX_ANSWER_LATEX, exact_dumps, plain, tex
from .narrate import POLICIES, Narration, Subject, checked_key
from .registry import RULES, to_elementary
from .rules.basic import FRACTIONAL_EXPONENTS, Sqrt
from .seeding import rng_for, short_code
from .steps import Step, derive, finish, shared_rule_count, stages
from .topics import LEVELS, TOPICS, Topic
from .worked import check_worked, plain_as_built
from .worked import narration as worked_narration

log = logging.getLogger("exgen.sheet")

DIFFICULTIES = tuple(LEVELS) + ("mixed",)
MAX_COUNT = 200
MAX_VERSIONS = 26
MAX_DECIMALS = 10
ATTEMPTS_PER_PARALLEL = 60
ATTEMPTS_PER_PROBLEM = 400
SHEET_SECONDS = 300
# A guard against a hang, not a budget: no candidate comes near it (the
# slowest of 22,721 attempts, for the stress run's 1000 sheets, 100 sheets of
# 20 problems and 100 of three versions, took 0.35 s; none hit the old 1 s
# budget). The environment variable changes it (the tests make it tiny).
HANG_SECONDS = 60.0
HANG_ENV = "EXGEN_HANG_SECONDS"
# Candidates a slot tries before it may repeat an outline (variety is a
# preference; a sheet that cannot have it still fills).
RELAX_AFTER = 80
RELAX_SPREAD = 60
# Attempts a slot gives each topic of its order before the next (`_topic_of`).
TOPIC_TURN = 40
FRIENDLY_MAGNITUDE = 1e8


@dataclass(frozen=True)
class Section:
    """A part of a sheet: its own heading, count, difficulty and topics."""

    title: str
    count: int
    difficulty: str = "mixed"
    topics: tuple[str, ...] = ()
    points: int | None = None  # each of its problems' points (default: the sheet's)


@dataclass(frozen=True)
class SheetOptions:
    count: int
    seed: int
    difficulty: str = "mixed"
    topics: tuple[str, ...] = ()
    title: str = "Derivatives"
    date: str = ""
    at_point: bool = False
    course: str = ""
    instructor: str = ""
    # When given, the sheet is these sections and count/difficulty/topics above are ignored.
    sections: tuple[Section, ...] = ()
    versions: int = 1
    shuffle: bool = False
    # Per-student sheets extend the seed with the student's id: (seed, "student", id).
    student: str = ""
    student_name: str = ""
    # Worked keys (backprop, matrix calculus) also give each value to this many decimal places.
    decimals: int = 0
    # Multiple choice and exports (exgen/choices.py, exgen/export/): options per
    # problem (0: none), parallel variants per problem slot, export formats.
    choices: int = 0
    variants: int = 1
    exports: tuple[str, ...] = ()
    # The handout: working space below each problem (a TeX length), points per
    # problem (0: none printed), the rule table on the sheet for students.
    # Presentation only: no problem and not the sheet code depends on them.
    space: str = "3cm"
    points: int = 0
    rules_table: bool = False
    # How much the guidebook shows (narrate.POLICIES); never part of the sheet code.
    key_level: str = "worked"

    @property
    def parts(self) -> tuple[Section, ...]:
        return self.sections or (Section("", self.count, self.difficulty, self.topics),)

    @property
    def total(self) -> int:
        return sum(part.count for part in self.parts)

    @property
    def key(self) -> str:
        """What every random generator of this sheet is derived from."""
        return str(self.seed) if not self.student else f"{self.seed}:student:{self.student}"

    @property
    def code(self) -> str:
        """A short code derived from the options, printed on every page."""
        if self.sections:
            parts = [__version__, self.key, "sections",
                     *(f"{p.title}/{p.count}/{p.difficulty}/{','.join(p.topics)}" for p in self.sections)]
        else:
            parts = [__version__, self.count, self.key, self.difficulty, ",".join(self.topics)]
        if self.at_point:
            parts.append("at-point")
        if self.decimals:
            parts.append(f"decimals-{self.decimals}")
        if self.versions > 1:
            parts += ["versions", self.versions, "shuffle" if self.shuffle else ""]
        if self.choices:
            parts += ["choices", self.choices]
        if self.variants > 1:
            parts += ["variants", self.variants]
        return short_code(*parts)


@dataclass(frozen=True)
class Problem:
    number: int
    level: str
    exercise: Exercise
    derivations: tuple[Step, ...]  # one per exercise target: each variable, or each Jacobian entry
    # "Evaluate at a point" problems: the point and each derivative's exact value there.
    at: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    values: tuple[sp.Expr, ...] = ()
    section: str = ""
    points: int = 0  # printed beside it on the handout (0: none)
    decimals: int = 0  # a worked key (backprop, matrix calculus) also gives its values to this many places
    # A higher derivative: per target, the derivations of its earlier stages
    # (f' for f''), each tidied; `derivations` differentiate the last of them.
    earlier: tuple[tuple[Step, ...], ...] = ()
    # Multiple choice (`choices.with_choices`): the options, the right one among them.
    choices: tuple = ()

    @property
    def trees(self) -> tuple[Step, ...]:
        """Every derivation tree of the problem, earlier stages included, each
        once (the Hessian's f_xx and f_xy both start from the one f_x)."""
        return tuple(tree for tree, _ in self.stages) + self.derivations

    @property
    def identity(self) -> str:
        """Two problems are the same when they ask the same derivatives of the
        same function (at the same point, where the topic gives the values:
        a softmax at other logits is another exercise; with --at-point only,
        the same function twice would be a near-copy)."""
        return problem_identity(self.draft) + (f" at {plain(self.at)}" if self.exercise.at_point else "")

    @property
    def draft(self) -> Draft:
        """What the sheet's rules of variety read of the problem (see `Taken`)."""
        ex = self.exercise
        return Draft(ex.expr, wrt=ex.wrt, components=ex.components, at_point=ex.at_point, order=ex.order,
                     shape=ex.shape)

    @property
    def outline(self) -> tuple[str, ...]:
        """The rules a reader sees first: the core rule after constant
        multiples, and for a chain its outer function and the inner's core
        (cos 2x and cos 3x share ("chain", "cos", "linear")); or the topic's own."""
        if self.exercise.outline:
            return self.exercise.outline
        core = _core(self.derivation)
        if core.rule != "chain":
            return (core.rule,)
        return ("chain", core.substeps[0].rule, _core(core.substeps[1]).rule)

    @property
    def signature(self) -> tuple:
        """What parallel versions of this problem share: topic, level, rule
        applications and the multiset of rules used."""
        rules = Counter(node.rule for d in self.trees for node in d.walk() if RULES[node.rule].counted)
        return (self.exercise.topic, self.level, self.steps, tuple(sorted(rules.items())))

    @property
    def derivation(self) -> Step:
        return self.derivations[0]

    @functools.cached_property
    def subject(self) -> Subject:
        """What its key narrates (`narrate.py`): a higher derivative's earlier
        stages first (f' before f'')."""
        ex = self.exercise
        name = ex.name if len(ex.name) == 1 and ex.name.isalpha() else ""
        return Subject(tuple(tree for tree, _ in self.stages) + self.derivations, ex.variables, name, self.at,
                       self.values, ex.components, len(self.stages))

    @property
    def stages(self) -> tuple[tuple[Step, tuple], ...]:
        """A higher derivative's earlier stages, each once (f_xx and f_xy share
        f_x), with the variables taken up to it: ((f' tree, (x,)), ...)."""
        found: dict = {}
        for stages, by in zip(self.earlier, self.exercise.orders):
            for position, tree in enumerate(stages):
                found.setdefault((tree.expr, tree.wrt), (tree, by[:position + 1]))
        return tuple(found.values())

    def key(self, level: str) -> Narration:
        """Its key at `level`, every line checked (each level narrated once)."""
        if level not in self._keys and self.exercise.worked is not None:
            # A worked computation (`worked.py`): its rows, every one checked
            # by `check_worked` when the problem was accepted, as lines.
            ex = self.exercise
            self._keys[level] = worked_narration(ex.worked, level, ex.variables, self.subject.name,
                                                 len(ex.worked.answers), self.decimals)
        if level not in self._keys:
            points = sample_points(self.exercise.domain, self.exercise.variables,
                                   rng_for("key", self.identity))
            self._keys[level] = checked_key(self.subject, level, points)
        return self._keys[level]

    @functools.cached_property
    def _keys(self) -> dict[str, Narration]:
        return {}

    @property
    def answers(self) -> tuple[sp.Expr, ...]:
        return tuple(d.result for d in self.derivations)

    @property
    def answer(self) -> sp.Expr:
        return self.answers[0]

    @property
    def steps(self) -> int:
        if self.exercise.worked is not None:  # worked once, gradients read off it (`worked.py`)
            return shared_rule_count(self.trees)
        return sum(d.rule_count for d in self.trees)

    @property
    def rules_used(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for d in self.trees for r in d.rules_used))

    @functools.cached_property
    def check(self) -> dict:
        """The sheet.json `check` object: plain SymPy strings, real symbols."""
        ex = self.exercise
        single = len(ex.wrt) == 1 and not ex.components
        # A worked key's values are exact numbers built as written: printed in that order
        # (ordering the terms of a number evaluates every one of them).
        printed = plain_as_built if ex.worked is not None and self.values else plain
        answers = [printed(a) for a in (self.values or self.answers)]
        check = {
            "variables": [v.name for v in ex.variables],
            "expr": plain(ex.expr),
            "wrt": ex.wrt[0].name if single else [w.name for w in ex.wrt],
            "answer": answers[0] if single else answers,
        }
        width = len(ex.wrt)
        rows = [answers[start:start + width] for start in range(0, len(answers), width)]
        if ex.components:
            # A Jacobian: rows are the components, columns the variables.
            check["expr"] = "Matrix([%s])" % ", ".join(plain(c) for _, c in ex.components)
            check["answer"] = "Matrix([%s])" % ", ".join("[%s]" % ", ".join(row) for row in rows)
        if ex.order > 1:
            check["order"] = ex.order
            if not single:  # the Hessian, row by row
                check["answer"] = "Matrix([%s])" % ", ".join("[%s]" % ", ".join(row) for row in rows)
        if self.at:
            check["at"] = {v.name: int(a) if a.is_Integer else sp.sstr(a) for v, a in self.at}
        return check


@dataclass(frozen=True)
class Sheet:
    options: SheetOptions
    problems: tuple[Problem, ...]
    version: str = ""


@dataclass
class Taken:
    """What the problems kept so far have used, which a new candidate may not
    repeat: the same problem (function and what is asked of it), a function
    of another version, a second bare table entry, and, until a slot has
    tried `RELAX_AFTER` candidates (a topic with few functions or shapes
    still fills a sheet of its own), the same function with another variable
    asked, the same shape (the same tree with other numbers), the outline of
    the problem before it, or an outline more often than a share of the
    sheet allows. `strict`: the functions of other versions, never relaxed."""

    count: int = 20  # problems on the sheet
    identities: set = field(default_factory=set)  # problems: function, variables, order, point
    functions: set = field(default_factory=set)   # their functions alone
    strict: set = field(default_factory=set)
    shapes: set = field(default_factory=set)
    outlines: Counter = field(default_factory=Counter)
    last_outline: tuple = ()
    bare: int = 0
    per_level: Counter = field(default_factory=Counter)  # the sheet's problems at each level
    counts: Counter = field(default_factory=Counter)     # (level, rule applications) kept
    # Attempts before the same function or shape is allowed, per level: every
    # topic of a slot's order gets its turn first (an ML hard sheet repeated a
    # logistic regression's shape while nine other topics were untried).
    relax: dict = field(default_factory=dict)

    def _strict(self, level: str, attempt: int) -> bool:
        return attempt < self.relax.get(level, RELAX_AFTER)

    def refuses_function(self, draft: "Draft", level: str, attempt: int) -> str | None:
        """A reason the drawn function is refused before it is derived."""
        function = identity(draft.expr, draft.components)
        if function in self.strict:
            return "the function of another version"
        if not draft.at_point and problem_identity(draft) in self.identities:
            return "duplicate of an earlier problem"
        if self._strict(level, attempt) and not draft.at_point and function in self.functions:
            return "the function of an earlier problem (another variable or order asked)"
        if self._strict(level, attempt) and not self.shapes.isdisjoint(
                shapes(draft.expr, draft.components, draft.shape)):
            return "the same shape as an earlier problem (other numbers only)"
        if not draft.components and is_bare(draft.expr) and (
                level != "easy" or self.bare >= max(1, self.count // 20)):
            return "a bare table entry (f(x) itself)" + ("" if level == "easy" else " above easy")
        return None

    def refuses_outline(self, outline: tuple, attempt: int, level: str = "", steps: int = 0,
                        span: int = 1) -> str | None:
        """A reason the derivation's outline (or its rule count) is refused: the
        hard problems spread over the `span` rule counts of their topic's range,
        as evenly as their number allows (hard chains not all at 7), for the
        first `RELAX_SPREAD` candidates."""
        if attempt >= RELAX_AFTER:
            return None
        if outline == self.last_outline and len(outline) > 1:
            return f"the same outline {'/'.join(outline)} as the problem before"
        if self.outlines[outline] >= max(2, -(-self.count // 4)):
            return f"the outline {'/'.join(outline)} is on the sheet often enough"
        if level == "hard" and attempt < RELAX_SPREAD and \
                self.counts[(level, steps)] >= max(1, -(-self.per_level[level] // span)):
            return f"{steps} rule applications: the sheet's {level} problems spread over their range"
        return None

    def refuses(self, problem: "Problem", attempt: int) -> str | None:
        """For a problem found apart from this sheet: what `_candidate` would say."""
        return (self.refuses_function(problem.draft, problem.level, attempt)
                or self.refuses_outline(problem.outline, attempt, problem.level, problem.steps,
                                        _span(problem.exercise.topic, problem.level))
                or ("duplicate of an earlier problem at the same point" if problem.identity in self.identities
                    else None))

    def keep(self, problem: "Problem") -> None:
        ex = problem.exercise
        self.identities.add(problem.identity)
        self.functions.add(identity(ex.expr, ex.components))
        self.shapes.update(shapes(ex.expr, ex.components, ex.shape))
        self.bare += is_bare(ex.expr) and not ex.components
        self.outlines[problem.outline] += 1
        self.last_outline = problem.outline
        self.counts[(problem.level, problem.steps)] += 1


def _span(topic: str, level: str) -> int:
    low, high = TOPICS[topic].range(level)
    return high - low + 1


def identity(expr: sp.Expr, components=()) -> str:
    """The function a problem is about."""
    return plain(tuple(c for _, c in components)) if components else plain(expr)


def problem_identity(draft) -> str:
    """The function and what is asked of it: its variables and order."""
    asked = ",".join(w.name for w in draft.wrt) + (f" order {draft.order}" if draft.order > 1 else "")
    return f"{identity(draft.expr, draft.components)} d/d{asked}"


@functools.lru_cache(maxsize=4096)  # read when a candidate is drawn and again when it is kept
def shapes(expr: sp.Expr, components=(), own: str = "") -> tuple:
    """The problem's shapes: its function's tree with every number replaced
    by K (x^2 sin 3x and x^4 sin 2x are one shape: a parallel version's, not
    another problem's), and its components' (a loss built in named steps);
    two problems sharing either have the same shape. In SymPy's own
    functions, as a reader of sheet.json sees them (sigma(x) is
    1/(1 + e^(-x)), the shape of sigma(2x)); read off the tree as nested
    tuples: rebuilding it in SymPy with K cost a tenth of the drawing.
    `own`: the topic's own shape (a network's layers, activations and loss),
    where reading the function's would cost more than the problem."""
    if own:
        return (("topic", own),)
    found = (("function", _skeleton(to_elementary(expr))),)
    if components:
        found += (("components",) + tuple(_skeleton(to_elementary(c)) for _, c in components),)
    return found


def _skeleton(node) -> tuple | str:
    if node.is_Number:
        return "K"
    if not node.args:
        return str(node)
    children = tuple(_skeleton(a) for a in node.args)
    if node.is_Add or node.is_Mul:  # SymPy orders terms by their numbers too: 3w3 + 5w2, 4w3 + 3w2
        children = tuple(sorted(children, key=repr))
    return (type(node).__name__,) + children


def is_bare(expr: sp.Expr) -> bool:
    """A table entry applied to the variable itself: x^n, e^x, cos x, ReLU(x)."""
    if expr.is_Pow:
        return expr.base.is_Symbol and expr.exp.is_Number
    rule = RULES.function_for(type(expr))
    return rule is not None and any(a.is_Symbol for a in expr.args) and all(
        a.is_Symbol or a.is_Number for a in expr.args)


def level_plan(count: int, difficulty: str, topics: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Mixed is an equal share of each level the chosen topics have (a third
    each for most; the remainder to the easier levels), easy first."""
    if difficulty != "mixed":
        return (difficulty,) * count
    levels = [level for level in LEVELS if _eligible(topics, level)]
    shares = [count // len(levels)] * len(levels)
    for i in range(count - sum(shares)):
        shares[i] += 1
    return tuple(level for level, share in zip(levels, shares) for _ in range(share))


SPACE = re.compile(r"^(?:\d{1,3}(?:\.\d{1,2})?)(?:cm|mm|in|pt|em|ex)$")
MAX_POINTS = 100


def points_of(options: SheetOptions, section_index: int) -> int:
    """The points of each problem of a section (0: none printed)."""
    part = options.parts[section_index] if options.sections else None
    return part.points if part is not None and part.points is not None else options.points


def validate(options: SheetOptions) -> None:
    if not 1 <= options.total <= MAX_COUNT:
        raise ExgenError(f"--count must be between 1 and {MAX_COUNT}, got {options.total}")
    if options.seed < 0:
        raise ExgenError(f"--seed must be a non-negative integer, got {options.seed}")
    if not 1 <= options.versions <= MAX_VERSIONS:
        raise ExgenError(f"--versions must be between 1 and {MAX_VERSIONS}, got {options.versions}")
    if not SPACE.match(options.space):
        raise ExgenError(f"--space must be a length such as 5cm, 40mm, 2in or 8em, got {options.space!r}")
    for points in [options.points] + [p.points for p in options.sections if p.points is not None]:
        if not 0 <= points <= MAX_POINTS:
            raise ExgenError(f"points must be a whole number from 0 to {MAX_POINTS}, got {points}")
    if options.key_level not in POLICIES:
        raise ExgenError(f"unknown key level {options.key_level!r}; use one of {', '.join(POLICIES)}")
    if options.shuffle and options.versions < 2:
        raise ExgenError("--shuffle permutes versions B, C, ...; give --versions 2 or more")
    if not 0 <= options.decimals <= MAX_DECIMALS:
        raise ExgenError(f"--decimals must be between 0 and {MAX_DECIMALS}, got {options.decimals}")
    for part in options.parts:
        where = f"section {part.title!r}: " if part.title else ""
        if part.count < 1:
            raise ExgenError(f"{where}count must be at least 1, got {part.count}")
        if part.difficulty not in DIFFICULTIES:
            raise ExgenError(f"{where}unknown difficulty {part.difficulty!r}; use one of {', '.join(DIFFICULTIES)}")
        for name in part.topics:
            if name not in TOPICS:
                raise ExgenError(f"{where}unknown topic {name!r}; `exgen topics` lists the valid names")
        for level in sorted(set(level_plan(part.count, part.difficulty, part.topics)), key=list(LEVELS).index):
            if not _eligible(part.topics, level):
                raise SheetStarved(
                    f"{where}no chosen topic has {level} problems; topics with {level} problems: "
                    + ", ".join(n for n, t in TOPICS.items() if level in t.levels))


def _eligible(topics: tuple[str, ...], level: str) -> tuple[Topic, ...]:
    names = topics or tuple(TOPICS)
    return tuple(TOPICS[n] for n in names if level in TOPICS[n].levels)


def build_sheet(options: SheetOptions) -> Sheet:
    """Version A alone: problems drawn from the seed."""
    return build_versions(replace(options, versions=1))[0]


def build_versions(options: SheetOptions, jobs: int = 1) -> tuple[Sheet, ...]:
    """Versions A, B, ...: problem k has the same topic, level, rule count and
    multiset of rules in every version, with a different function; no
    function appears twice across versions. A problem of version A is kept
    only once every other version has its parallel. With `shuffle`, versions
    after A permute their problems. `jobs` processes share the work; the
    sheets are the same for every `jobs`."""
    validate(options)
    # A safety net, not a limit a sheet normally meets: a run that cannot fill
    # its sheet stops and says where it starved instead of searching for hours.
    deadline = time.monotonic() + SHEET_SECONDS * options.versions
    letters = [chr(ord("A") + v) for v in range(options.versions)]
    slots = _slots(options)
    jobs = min(jobs, len(slots)) if options.versions == 1 and _can_fork() else 1
    guesses = _speculate(options, slots, jobs) if jobs > 1 else {}
    taken = _apart(options, slots)
    columns: list[list[Problem]] = [[] for _ in letters]
    for slot in slots:
        index, level, order = slot.index, slot.level, slot.order
        row = None
        exhausted: set[str] = set()  # topics without enough different parallel problems
        for original in _candidates(options, slot, taken, exhausted, guesses.get(index)):
            if time.monotonic() > deadline:
                break
            row = _parallels(options, letters[1:], index, original, taken.strict)
            if row is not None:
                break
            exhausted.add(original.exercise.topic)
        if row is None and time.monotonic() > deadline:
            raise SheetStarved(
                f"gave up after {SHEET_SECONDS * options.versions:g} s at problem {index + 1} of seed {options.seed} "
                f"({level}, topics "
                f"{', '.join(t.name for t in order)}): too few problems fit; try more topics or fewer problems")
        if row is None:
            raise SheetStarved(
                f"could not fill problem {index + 1} at {level} difficulty from topics "
                f"{', '.join(t.name for t in order)}"
                + (f" in {options.versions} parallel versions; try fewer versions or more topics"
                   if options.versions > 1 else "; try more topics or another difficulty"))
        taken.keep(row[0])
        for column, problem in zip(columns, row):
            if options.versions > 1:  # no function twice across versions, whatever is asked of it
                taken.strict.add(identity(problem.exercise.expr, problem.exercise.components))
            column.append(_placed(problem, section=slot.section, points=points_of(options, slot.part),
                                  decimals=options.decimals))
    sheets = []
    for letter, column in zip(letters, columns):
        if options.shuffle and letter != "A":
            rng_for(options.key, "shuffle", letter).shuffle(column)
            column = [replace(p, number=i + 1) for i, p in enumerate(column)]
        sheets.append(Sheet(options, tuple(column), letter if options.versions > 1 else ""))
    return tuple(sheets)


def _placed(problem: Problem, **place) -> Problem:
    """The problem at its place on the sheet (its section, points, decimals),
    with what was worked out for it before: its check object, and its keys
    (narrated in parallel by a guess) unless the decimals a worked key
    prints change."""
    placed = replace(problem, **place)
    kept = ["check"]
    if problem.exercise.worked is None or placed.decimals == problem.decimals:
        kept.append("_keys")
    for name in kept:  # functools.cached_property values, which `replace` does not copy
        if name in problem.__dict__:
            placed.__dict__[name] = problem.__dict__[name]
    return placed


@dataclass(frozen=True)
class Slot:
    """Problem `index` of a sheet before it is drawn: its level, the order in
    which topics are tried, and its place among the problems of that level."""

    index: int
    level: str
    order: tuple[Topic, ...]
    position: int
    section: str
    part: int = 0  # which of the options' parts (sections) it belongs to


def _slots(options: SheetOptions) -> tuple[Slot, ...]:
    """Each slot tries the topics of its level least used by the slots
    before it first (ties in an order shuffled by the seed): a sheet of
    several topics has each once before any twice, as far as the levels allow."""
    slots = []
    for number, part in enumerate(options.parts):
        used: Counter = Counter()
        shuffled = {}
        for level in level_plan(part.count, part.difficulty, part.topics):
            if level not in shuffled:
                order = list(_eligible(part.topics, level))
                rng_for(options.key, "topic-order", level, *([number] if options.sections else [])).shuffle(order)
                shuffled[level] = order
            order = sorted(shuffled[level], key=lambda t: used[t.name])  # stable: ties keep the shuffle
            used[order[0].name] += 1
            slots.append(Slot(len(slots), level, tuple(order), 0, part.title, number))
    return tuple(slots)


def _can_fork() -> bool:
    """Linux only (elsewhere fork is unsafe or missing), and not in a daemon
    (a pool worker may not have children)."""
    import multiprocessing
    import sys

    return sys.platform.startswith("linux") and not multiprocessing.current_process().daemon


@dataclass(frozen=True)
class Guess:
    """What a slot's search found on its own: the first candidate accepted
    as if no other problem existed (or None), and the attempt from which the
    search goes on in order."""

    problem: Problem | None
    resume: int
    # Each attempt before `resume` and what it logged, replayed by the parent
    # when it reaches the slot (`_replay`): `-v` then prints the same lines in
    # the same order for every `jobs`, and nothing a child logs is lost.
    attempts: tuple["Attempt", ...] = ()


@dataclass(frozen=True)
class Attempt:
    """One attempt of a search apart from the sheet: its topic, what it logged
    (logger, level, message), and what the sheet's rules of variety read of
    it (`Taken`), where the attempt got that far: with the sheet's state, an
    attempt made in order may be refused there first, and logs that instead."""

    number: int
    topic: str
    lines: tuple[tuple[str, int, str], ...]
    # The sheet's questions the attempt reached, in the order asked: ("function",
    # arguments of `Taken.refuses_function`) or ("outline", of `refuses_outline`).
    checks: tuple[tuple[str, tuple], ...] = ()


def _speculate(options: SheetOptions, slots, jobs: int) -> dict[int, Guess]:
    """Guesses for the slots, by `jobs` processes at once (this one included).

    Which candidate a slot gets is still decided in slot order, exactly as
    without guesses: an attempt is rejected for a reason of its own (its rule
    count, its check) or for repeating an earlier slot's problem. So the
    attempts before a guess would be rejected in order too, and the guess
    stands unless it is a repeat; then the search goes on from the next
    attempt. A guess stops at an attempt whose outcome depends on this
    process (stopped by the guard against a hang, or an error): that attempt
    is made again in order. Slots without a guess (a child that died) are
    searched in order from the start. So the sheet is the same for every
    `jobs`, and so is what `-v` logs (`Guess.records`); a slot's guess is the
    same whichever process makes it (each is drawn apart from the others)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    guesses: dict[int, Guess] = {}
    # fork: the children start with SymPy and exgen already imported, and
    # share the counter of claimed slots.
    context = multiprocessing.get_context("fork")
    claims = _Claims(context, _guess_order(slots))
    pool = ProcessPoolExecutor(jobs - 1, mp_context=context, initializer=_child_start, initargs=(claims,))
    try:
        pending = [pool.submit(_drawn_apart, options) for _ in range(jobs - 1)]
        guesses.update(_first_candidates(options, slots, claims))
        for future in pending:
            try:
                guesses.update(pickle.loads(future.result()))
            except Exception as exc:  # BrokenProcessPool (a child killed) among others
                log.info("a process drawing problems failed (%s); its slots are drawn here", exc)
    except BaseException:
        # Ctrl-C (or an error here): the children ignore SIGINT and the pool
        # would wait for their whole share; stop them now.
        for child in list((getattr(pool, "_processes", None) or {}).values()):
            child.terminate()
        # Waits only for the terminated children to be reaped (by the pool's
        # own thread, which a second waiter would race for their exit status).
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return guesses


def _guess_order(slots) -> tuple[int, ...]:
    """The order in which slots are handed out: the hardest first (a hard
    slot costs several easy ones), so the last ones handed out are short and
    no process is left finishing a long one while the others wait."""
    rank = {level: position for position, level in enumerate(LEVELS)}
    return tuple(sorted(range(len(slots)), key=lambda i: (-rank[slots[i].level], i)))


class _Claims:
    """Slot indices handed out one at a time to whichever process asks next
    (a counter in shared memory, which the forked children inherit): a fixed
    share each left one process with the costly slots while the other waited
    (seed 7: 0.12 s of guessing against 0.25 s)."""

    def __init__(self, context, order: tuple[int, ...]):
        self.order = order
        self.taken = context.Value("i", 0)

    def __iter__(self):
        lock = self.taken.get_lock()
        while True:
            # Held for a moment only; never released if a process died holding
            # it (the pool terminates its others when one dies): then the
            # slots left are drawn in order, not waited for.
            if not lock.acquire(timeout=CLAIM_WAIT):
                return
            try:
                k = self.taken.value
                self.taken.value = k + 1
            finally:
                lock.release()
            if k >= len(self.order):
                return
            yield self.order[k]


CLAIM_WAIT = 10.0  # seconds


_CLAIMS: _Claims | None = None  # a child's handle on its parent's claims


def _child_start(claims: _Claims) -> None:
    global _CLAIMS
    _CLAIMS = claims
    _quiet_child()


def _quiet_child() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to report


def _drawn_apart(options: SheetOptions) -> bytes:
    """A child's guesses for the slots it claims, pickled so that every
    expression comes back as built; a guess that would not (a head SymPy
    rebuilds evaluated) is not sent."""
    # A topic's builders are closures, which do not pickle: the child makes its own slots.
    guesses = _first_candidates(options, _slots(options), _CLAIMS)
    for index, guess in guesses.items():
        back = pickle.loads(exact_dumps(guess))
        if back != guess:
            guesses[index] = Guess(None, 0)
        elif guess.problem is not None and back.problem.__dict__.get("_keys") != guess.problem.__dict__.get("_keys"):
            guess.problem.__dict__.pop("_keys", None)  # narrated again where it is placed (`Problem.key`)
    return exact_dumps(guesses)


def _first_candidates(options: SheetOptions, slots, indices) -> dict[int, Guess]:
    """Guesses for the slots `indices` hands out (a `_Claims`, shared)."""
    return {i: _first_guess(options, slots[i]) for i in indices}


def _first_guess(options: SheetOptions, slot: Slot) -> Guess:
    attempts: list[Attempt] = []
    apart = _apart(options)  # never changed: nothing is kept apart from the sheet
    for attempt in range(ATTEMPTS_PER_PROBLEM):
        chosen, records, facts = _topic_of(slot, attempt), [], {}
        with keep_log(records):
            try:
                problem, reason = _attempt(options, slot, attempt, chosen, apart, facts)
            except Exception:  # BudgetExceeded, or an error the slot's own search may never reach
                return Guess(None, attempt, tuple(attempts))  # made again in order, and logs again
            if problem is None:
                _log_rejection(slot, attempt, chosen, reason)
        if problem is not None:
            # Narrated here, in parallel, at the sheet's decimals: remembered by
            # the problem, and kept when it is placed on the sheet (`_placed`).
            problem = _placed(problem, decimals=options.decimals)
            problem.key(options.key_level)
            return Guess(problem, attempt + 1, tuple(attempts))
        attempts.append(Attempt(attempt, chosen.name, tuple(records), tuple(facts.get("checks", ()))))
    return Guess(None, ATTEMPTS_PER_PROBLEM, tuple(attempts))


def _apart(options: SheetOptions, slots: tuple[Slot, ...] | None = None) -> "Taken":
    """The state of a sheet with no problem yet: what a search apart from the sheet assumes."""
    slots = _slots(options) if slots is None else slots
    relax = {}
    for slot in slots:  # every topic's turn, leaving a turn after it to fill the slot
        turns = min(ATTEMPTS_PER_PROBLEM - TOPIC_TURN, TOPIC_TURN * len(slot.order))
        relax[slot.level] = max(relax.get(slot.level, RELAX_AFTER), turns)
    return Taken(options.total, per_level=Counter(slot.level for slot in slots), relax=relax)


def _replay(slot: Slot, attempts: tuple[Attempt, ...], seen: "Taken") -> None:
    """Log a guess's rejected attempts as the search in order logs them: an
    attempt the sheet's state refuses (a shape already used, ...) says so
    instead of what the search apart from the sheet found later."""
    for attempt in attempts:
        reason = None
        for kind, arguments in attempt.checks:
            reason = (seen.refuses_function if kind == "function" else seen.refuses_outline)(*arguments)
            if reason:
                break
        if reason is None:
            emit_log(attempt.lines)
        else:
            _log_rejection(slot, attempt.number, TOPICS[attempt.topic], reason)


class _Keeper(logging.Handler):
    def __init__(self, records: list):
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


@contextlib.contextmanager
def keep_log(records: list):
    """What exgen's loggers log inside, appended to `records` (logger, level,
    message) instead of emitted: for a process whose work is reported in
    order by another (`emit_log`). Nests: the innermost keeps."""
    logger = logging.getLogger("exgen")
    handlers, propagate = logger.handlers[:], logger.propagate
    logger.handlers = [_Keeper(records)]
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers = handlers
        logger.propagate = propagate


def emit_log(records) -> None:
    for name, level, message in records:
        logging.getLogger(name).log(level, "%s", message)


def _log_rejection(slot: Slot, attempt: int, chosen: Topic, reason: str) -> None:
    log.debug("problem %d attempt %d (%s, %s) rejected: %s", slot.index + 1, attempt, chosen.name, slot.level, reason)


def _parallels(options, letters, index, original: Problem, strict) -> list[Problem] | None:
    """Versions B, C, ... of a problem: the same shape by design, so only the
    functions (of every version so far) may not repeat."""
    row = [original]
    taken = Taken(options.total, strict=set(strict) | {identity(original.exercise.expr, original.exercise.components)})
    for letter in letters:
        problem = _parallel(options, letter, index, original, taken)
        if problem is None:
            return None
        taken.strict.add(identity(problem.exercise.expr, problem.exercise.components))
        row.append(problem)
    return row


def _parallel(options, letter, index, original: Problem, seen) -> Problem | None:
    chosen = TOPICS[original.exercise.topic]
    plain = _is_plain(original)
    for attempt in range(ATTEMPTS_PER_PARALLEL if plain else ATTEMPTS_PER_PARALLEL // 2):
        rng = rng_for(options.key, "version", letter, index, attempt)
        # A calculus function keeps its shape with new numbers (x^2 sin 3x ->
        # x^4 sin 2x); other topics redraw until the signature matches.
        draft = Draft(perturb(original.exercise.expr, rng)) if plain and attempt % 4 != 3 else None
        oracle = rng_for(options.key, "oracle", "version", letter, index, attempt)
        try:
            with time_budget(hang_seconds()):
                problem, reason = _candidate(chosen, rng, index, original.level, seen, options.at_point, draft,
                                             signature=original.signature, oracle=oracle)
        except BudgetExceeded:
            raise _hung(options, f"version {letter} of problem {index + 1}", attempt, chosen.name,
                        original.level) from None
        if problem is not None:
            return problem
        log.debug("version %s problem %d attempt %d rejected: %s", letter, index + 1, attempt, reason)
    return None


def _is_plain(problem: Problem) -> bool:
    """A function f(x) the engine derives alone: new numbers make a parallel version."""
    return not problem.exercise.prompt and problem.exercise.name == "f"


def perturb(expr: sp.Expr, rng) -> sp.Expr:
    """The same expression with new small numbers: each coefficient, constant
    and exponent drawn afresh (same sign, same kind)."""
    if expr.is_Rational:
        if expr.is_Integer:
            return sp.Integer(rng.randint(2, 6)) * (1 if expr > 0 else -1) if abs(expr) >= 2 else expr
        options = tuple(f for f in FRACTIONAL_EXPONENTS if (f > 0) == (expr > 0))
        return options[rng.randrange(len(options))]
    if not expr.args:
        return expr
    # A rule's own constants (log_k's base, a softmax index) stay: they are part of the function.
    rule = RULES.function_for(type(expr))
    fixed = {position for _, position in rule.parameters} if rule is not None else set()
    return expr.func(*(a if i in fixed else perturb(a, rng) for i, a in enumerate(expr.args)))


def _candidates(options, slot: Slot, seen, exhausted=frozenset(), guess: "Guess | None" = None):
    """Accepted candidates for the slot, in attempt order, going on from its
    `guess` (see `_speculate`) where there is one."""
    start = 0
    if guess is not None:
        _replay(slot, guess.attempts, seen)
        if guess.problem is not None:
            reason = seen.refuses(guess.problem, guess.resume - 1)
            if reason is None:
                yield guess.problem
            else:  # as the attempt itself says when made in order
                _log_rejection(slot, guess.resume - 1, _topic_of(slot, guess.resume - 1), reason)
        start = guess.resume
    for attempt in range(start, ATTEMPTS_PER_PROBLEM):
        chosen = _topic_of(slot, attempt)
        if chosen.name in exhausted:
            continue
        try:
            problem, reason = _attempt(options, slot, attempt, chosen, seen)
        except BudgetExceeded:
            raise _hung(options, f"problem {slot.index + 1}", attempt, chosen.name, slot.level) from None
        if problem is not None:
            yield problem
        else:
            _log_rejection(slot, attempt, chosen, reason)


def _topic_of(slot: Slot, attempt: int) -> Topic:
    # Stay with the planned topic for a while, then move on to the next.
    return slot.order[(slot.position + attempt // TOPIC_TURN) % len(slot.order)]


def _attempt(options, slot: Slot, attempt: int, chosen: Topic, seen: Taken, facts: dict | None = None):
    rng = rng_for(options.key, "problem", slot.index, attempt)
    oracle = rng_for(options.key, "oracle", slot.index, attempt)
    with time_budget(hang_seconds()):
        return _candidate(chosen, rng, slot.index, slot.level, seen, options.at_point, oracle=oracle,
                          attempt=attempt, facts=facts)


def hang_seconds() -> float:
    """The guard against a hang: HANG_SECONDS, or the environment's EXGEN_HANG_SECONDS."""
    text = os.environ.get(HANG_ENV, "").strip()
    if not text:
        return HANG_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ExgenError(f"{HANG_ENV} must be a positive number of seconds, got {text!r}")
    return seconds


def _hung(options: SheetOptions, what: str, attempt: int, topic: str, level: str) -> HangGuard:
    student = f", student {options.student}" if options.student else ""
    return HangGuard(
        f"{what} of seed {options.seed}{student} ({topic}, {level}, attempt {attempt}) ran for more than "
        f"{hang_seconds():g} s; stopped rather than print a different sheet (a bug: please report this "
        f"command; {HANG_ENV} sets the limit)")


def _trees(draft: Draft) -> tuple[tuple[tuple[Step, ...], ...], tuple[Step, ...]]:
    """(earlier stages per target, each last-stage tree before its answer is tidied)."""
    if draft.order == 1:
        return (), draft.steps or tuple(derive(draft.expr, w) for w in draft.wrt)
    exercise = Exercise("", draft.expr, (), draft.wrt, Domain(), order=draft.order)
    staged = [stages(draft.expr, by) for by in exercise.orders]
    return tuple(s[:-1] for s in staged), tuple(s[-1] for s in staged)


def _finished(draft: Draft, trees: tuple[Step, ...]) -> tuple[Step, ...]:
    """The trees with their answers tidied (or in the course's preferred form)."""
    via = draft.via or (None,) * len(trees)
    return tuple(finish(tree, pref, form)
                 for tree, pref, form in zip(trees, _preferred(draft, trees), via, strict=True))


def _preferred(draft: Draft, trees: tuple[Step, ...]) -> tuple:
    """Each tree's answer in the course's form, or None where it is tidied."""
    return draft.preferred or (None,) * len(trees)


def _core(derivation: Step) -> Step:
    body = derivation.substeps[0] if derivation.rule == "simplify" else derivation
    while body.rule == "constant_multiple":
        body = body.substeps[0]
    return body


def _core_rule(derivation: Step) -> str:
    return _core(derivation).rule


def _candidate(chosen: Topic, rng, index, level, seen: Taken, at_point=False, draft=None, signature=None, *,
               oracle, attempt: int = 0, facts: dict | None = None):
    """Problem `index` drawn from `rng`, or None and the reason; `oracle` is
    the check's own stream, so how many points it draws changes no problem.
    `facts` receives what the sheet's rules of variety read (see `Attempt`)."""
    facts = {} if facts is None else facts
    low, high = chosen.range(level)
    if draft is None:
        budget = rng.randint(*chosen.budget(level))
        draft = chosen.build(rng, level if chosen.by_level else budget)
    if not isinstance(draft, Draft):
        draft = Draft(draft)
    expr = draft.expr
    if not expr.free_symbols:
        return None, "constant function"
    evaluated = at_point or draft.at_point

    def sheet_refuses(kind: str, *args) -> str | None:
        # A rule of the sheet's variety, which reads the sheet's state: recorded
        # in the order made, so `_replay` asks the same questions in that order.
        facts.setdefault("checks", []).append((kind, args))
        return seen.refuses_function(*args) if kind == "function" else seen.refuses_outline(*args)

    def function_refused() -> str | None:
        if signature is not None:  # a parallel version: the same shape by design
            return "the function of another version" if identity(expr, draft.components) in seen.strict else None
        # What `Taken` reads, without the topic's trees (a guess is pickled).
        read = Draft(expr, wrt=draft.wrt, components=draft.components, at_point=draft.at_point, order=draft.order,
                     shape=draft.shape)
        return sheet_refuses("function", read, level, attempt)

    # Cheapest and most often refusing first: a candidate's rule count is
    # read off its trees (a millisecond or two) before its shape, domain and
    # edges are asked about; which candidate is accepted does not depend on
    # the order, only the reason a refused one logs. A topic that completes
    # its draft later (a network: the trees cost more than the sheet's
    # questions) is asked about its function first.
    late = draft.complete is None
    if not late:
        reason = function_refused()
        if reason:
            return None, reason
    pair = disguise(expr)
    if pair:
        return None, f"a simpler problem in disguise ({pair})"
    if _tower_height(expr) > 2:
        return None, "an exponential tower (e^e^e^x): astronomically large, no friendly example"
    if draft.outline and signature is None:
        reason = sheet_refuses("outline", draft.outline, attempt)
        if reason:
            return None, reason
    if draft.complete is not None:  # the function is accepted: now its trees and key
        draft = draft.complete()
    variables = tuple(sorted(expr.free_symbols | set(draft.wrt), key=lambda v: v.name))
    try:
        earlier, trees = _trees(draft)
    except UnsupportedExpression as exc:
        return None, str(exc)
    exercise = Exercise(chosen.name, expr, variables, draft.wrt, None, draft.name, draft.note, draft.prompt,
                        draft.components, draft.point_values, draft.at_point, draft.order, draft.given, draft.worked,
                        draft.outline, draft.shape)
    # The rule filters read the trees before tidying (tidying, the costly part,
    # only puts an uncounted "simplify" node on top, which `signature`,
    # `steps`, `rules_used` and `_core_rule` all skip), so most rejected
    # candidates are never tidied; which candidate is accepted does not change.
    problem = Problem(index + 1, level, exercise, trees, earlier=earlier)
    if signature is not None and problem.signature != signature:
        return None, "not parallel: different rules or rule count"
    if not low <= problem.steps <= high:
        return None, f"{problem.steps} rule applications, outside {low}-{high}"
    if chosen.uses and not set(chosen.uses) & set(problem.rules_used):
        return None, f"does not use {'/'.join(chosen.uses)}"
    if chosen.root and _core_rule(problem.derivation) not in chosen.root:
        return None, f"is a {_core_rule(problem.derivation)}, not a {'/'.join(chosen.root)}"
    if late:
        reason = function_refused()
        if reason:
            return None, reason
    if signature is None:
        reason = sheet_refuses("outline", problem.outline, attempt, level, problem.steps, _span(chosen.name, level))
        if reason:
            return None, reason
    # Decided before tidying, the costly part, and before the domain and
    # edges (a millisecond or two, refusing less often): a function too long
    # to print, or a rules' result past TIDIED_AT_MOST times the printable length.
    if draft.worked is None and (len(draft.prompt or tex(expr)) > 2 * MAX_ANSWER_LATEX or any(
            form is None and len(tex(tree.result)) > TIDIED_AT_MOST * MAX_ANSWER_LATEX
            for tree, form in zip(trees, _preferred(draft, trees)))):
        return None, "too long to print"
    domain = draft.domain or choose_domain(expr, variables)
    if domain is None:
        return None, "no domain where every logarithm, root and denominator is defined"
    if len(variables) == 1 and expr.has(Sqrt, sp.asin, sp.acos, sp.Pow):
        edge = edge_on_a_grid(expr, variables[0])
        if edge is not None:
            return None, f"its derivative has no value at x = {edge}, a decimal a checker samples at"
    exercise = replace(exercise, domain=domain)
    if not draft.prompt and len(variables) == 1 and _shrinks(expr):
        return None, "a simpler problem in disguise (it simplifies to far fewer operations)"
    derivations = _finished(draft, trees)
    problem = Problem(index + 1, level, exercise, derivations, earlier=earlier)
    # A constant derivative is too easy above "easy" for a function of x; a
    # topic with its own prompt (a gradient of w^T x + w_0) may ask for one.
    if level != "easy" and not draft.prompt and not any(a.free_symbols for a in problem.answers):
        return None, "constant derivative"
    # A worked key prints its own rows (the topic keeps them short), not the trees' results.
    if draft.worked is None and any(len(tex(a)) > MAX_ANSWER_LATEX for a in problem.answers):
        return None, "too long to print"
    points = sample_points(domain, variables, oracle)
    if not _friendly(expr, variables, points):
        return None, "values too large for a worked example"
    # (A topic that gives the point, a network's weights, is asked there only: not at the corners,
    # 2^12 of them for a 2-2-2 network.)
    if not draft.given and not _tame(problem.answers, variables, domain):
        return None, "a derivative astronomically large inside the domain"
    if domain.bound is not None and _tower_height(expr) > 1:
        # tan(e^(e^(x^3))) on |x| < 1/2: beyond the interval (where a reader of
        # sheet.json may sample) too large for any checker to differentiate.
        return None, "an exponential tower posed on an interval"
    verdict = Verdict(True)
    passed = set() if len(problem.trees) > 1 else None  # subtrees the trees share are checked once
    for derivation in problem.trees:
        verdict = check_tree(derivation, points, passed)
        if not verdict.ok:
            break
    # With a point the topic gives, sheet.json's contract is the one at that point (`_at_point`).
    if verdict.ok and not draft.given:
        verdict = check_contract(problem.check, domain, oracle)
    if verdict.ok and draft.worked is not None:
        verdict = check_worked(draft.worked, variables, domain, oracle)
    if not verdict.ok:
        log.info("dropped a candidate that failed the independent check: %s", verdict.detail)
        return None, f"failed the check: {verdict.detail}"
    if draft.domain is None and len(variables) == 1:
        # Printed as the function's whole domain (x != 0 for 1/x^2, not the x > 0 it was sampled on).
        stated = textbook_domain(expr, variables[0])
        if stated is not None:
            problem = replace(problem, exercise=replace(exercise, stated=stated))
    if evaluated:
        problem, reason = _at_point(problem, rng, oracle)
        if problem is None:
            return None, reason
        if problem.identity in seen.identities:
            return None, "duplicate of an earlier problem at the same point"
    return problem, ""


# A rules' result longer than this many printable lengths is refused before
# it is tidied (`_candidate`). Measured over 1,700 tidied candidates (seeds
# 0-29, mixed and hard): at 1.3 (156 characters) 44% of those tidying
# leaves too long are refused untidied, at the cost of 8 in 1,100 that it
# would have brought to the printable length (products and multivariable
# chains, of which there are plenty more); at 2, none of either.
TIDIED_AT_MOST = 1.3

# A function whose simplest form has at most this share of its operations is
# a simpler problem in disguise (what SymPy's simplify would show a student).
SHRINK = 0.6


def _shrinks(expr: sp.Expr) -> bool:
    """Does `expr` reduce to SHRINK of its operations or fewer? The inverse
    pairs are caught before (`disguise`); here cheap rewrites decide (rational
    cancellation, powers combined), and SymPy's `simplify` (tens to hundreds
    of milliseconds) runs only where a Pythagorean identity could apply, so
    the costly test rarely runs."""
    ops = sp.count_ops(expr)
    if ops < 5:
        return False
    # Written in SymPy's own functions (sqrt u as u^(1/2)), like terms may merge: 5 sqrt x - 4 x^(1/2) is sqrt x.
    cheap = [to_elementary(expr)]
    if _powers_may_combine(expr):  # powsimp costs a few milliseconds; most functions have nothing for it
        cheap.append(sp.powdenest(sp.powsimp(expr)))
    if expr.is_rational_function():
        cheap.append(sp.cancel(expr))
    if any(sp.count_ops(c) <= SHRINK * ops for c in cheap):
        return True
    # sin^2 u + cos^2 u, 1 + tan^2 u: an even power of one beside the other of the same u.
    squared, present = set(), set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.sin, sp.cos, sp.tan, sp.sec)):
            present.add((type(node), node.args[0]))
        elif node.is_Pow and node.exp.is_even and isinstance(node.base, (sp.sin, sp.cos, sp.tan, sp.sec)):
            squared.add((type(node.base), node.base.args[0]))
    partners = {sp.sin: (sp.cos,), sp.cos: (sp.sin,), sp.tan: (sp.sec,), sp.sec: (sp.tan,)}
    if not any((other, u) in present for head, u in squared for other in partners[head]):
        return False
    return sp.count_ops(sp.simplify(expr)) <= SHRINK * ops


def _powers_may_combine(expr: sp.Expr) -> bool:
    """Two powers of one base, a power of a power or of a product holding
    one, or two exponentials: what powsimp and powdenest act on."""
    bases, exponentials = [], 0
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.exp):
            exponentials += 1
        elif node.is_Pow:
            if node.base.is_Pow or (node.base.is_Mul and any(f.is_Pow or isinstance(f, sp.exp)
                                                              for f in node.base.args)):
                return True
            bases.append(node.base)
    return exponentials > 1 or len(bases) != len(set(bases))


def _tower_height(expr: sp.Expr) -> int:
    """How many exponentials are nested in each other (e^(x e^x) is 2)."""
    below = max((_tower_height(a) for a in expr.args), default=0)
    return below + 1 if isinstance(expr, sp.exp) else below


def _friendly(expr: sp.Expr, variables, points) -> bool:
    """No astronomically large values (e^(e^(5x))) inside the sampled domain."""
    from .check import magnitude_at

    return all(magnitude_at(expr, variables, point, exact_near=FRIENDLY_MAGNITUDE) < FRIENDLY_MAGNITUDE
               for point in points)


# The derivative's size at the corners of the sampled interval. A bounded
# function can hide a wild derivative (sin(cos(e^(x^6))): 1e68 at x = 2.3),
# which no worked example can show and no numeric check samples reliably.
TAME_MAGNITUDE = 1e12


def _tame(answers, variables, domain) -> bool:
    from .check import magnitude_at

    # A domain narrower than the real line (tan on |x| < 1/2) is also judged on
    # the reals' interval: a reader who samples the function where it is
    # defined must not meet tan(e^(e^(x^3))) at x = 2.
    ends = {domain.sample_interval, Domain().sample_interval} if domain.bound is not None else {domain.sample_interval}
    corners = [dict(zip(variables, values)) for low, high in sorted(ends)
               for values in itertools.product((mpmath.mpf(low), mpmath.mpf(high)), repeat=len(variables))]
    # Infinity means undefined at a corner (not overflow: mpmath has no overflow); the oracle judges that.
    numeric = [a for a in answers if isinstance(a, sp.Expr) and not a.has(AppliedUndef)]
    return not any(TAME_MAGNITUDE < magnitude_at(a, variables, corner) < math.inf
                   for a in numeric for corner in corners)


def _at_point(problem: Problem, rng, oracle):
    """The same problem asking for the derivatives' exact values at a point,
    checked against the numeric derivative there, read back from the
    sheet.json strings like every other answer."""
    ex = problem.exercise
    if ex.expr.atoms(AppliedUndef):
        return problem, ""  # a general rule (any f, g) has no value at a point; it stays general
    if ex.given:
        # The topic gives the point (a network's weights) and, with a worked key, the values there.
        at = tuple(ex.given)
        point = dict(at)
        values = (ex.worked.answers if ex.worked is not None
                  else tuple(tidy_value(to_elementary(a).xreplace(point)) for a in problem.answers))
        evaluated = replace(problem, at=at, values=values)
        if check_contract(evaluated.check, ex.domain, oracle).ok:  # with "at", no random draw
            return evaluated, ""
        return None, "a value at the given point fails the check"
    choices = ex.point_values or ex.domain.friendly_points
    for _ in range(8):
        at = tuple((v, sp.sympify(compose.pick(rng, _LABELS if _is_label(v) else choices)))
                   for v in ex.variables)
        point = dict(at)
        # Exact values in SymPy's own functions: sigma(1) becomes 1/(1 + e^-1).
        values = tuple(tidy_value(to_elementary(a).xreplace(point)) for a in problem.answers)
        if any(v.is_finite is False or v.has(sp.nan, sp.zoo, sp.Piecewise) for v in values):
            continue
        evaluated = replace(problem, at=at, values=values)
        if check_contract(evaluated.check, ex.domain, oracle).ok:  # with "at", no random draw
            return evaluated, ""
    return None, "no point where every derivative is defined and checks"


_LABELS = (0, 1)


def _is_label(symbol: sp.Symbol) -> bool:
    """Class labels y, y_1, ... are 0 or 1 in a worked example."""
    return symbol.name.rstrip("0123456789") == "y"


@functools.lru_cache(maxsize=512)  # a Jacobian at a point repeats most of its entries
def tidy_value(value: sp.Expr) -> sp.Expr:
    from .forms import tidy

    if value.is_Float:
        value = sp.nsimplify(value)
    # Powers denested first: 27^(1/ln 3) is e^3 (force: the bases are numbers;
    # the value is checked against the numeric derivative afterwards all the same).
    value = sp.powdenest(value, force=True)
    # An exact value over one denominator: e (1 + 2e) / (1 + 3e)^2, not e (1 - e/(1 + 3e)) / (1 + 3e).
    return tidy(sp.together(value))
