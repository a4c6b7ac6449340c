"""Problem generators, one registered per topic.

A topic turns `(rng, budget)` into a function to differentiate: a SymPy
expression in x, or a `compose.Draft` that also says what to differentiate
by, on which domain, and in which form the course writes the answer.
`budget` is the rule-application count the sheet is aiming for; the sheet
measures the real count afterwards, so a generator only has to aim.

To add a topic:

    @topic("hyperbolic", "tanh and friends", levels=("easy", "medium"))
    def _hyperbolic(rng, budget):
        return sp.tanh(compose.inner(rng))

Registering a name twice is an error. `exgen topics` lists the registry in
the order the family modules below are imported.
"""

import random
from dataclasses import dataclass
from typing import Callable

ALL_LEVELS = ("easy", "medium", "hard")

# Rule applications per level, measured on the derivation tree. A topic whose
# problems are longer by nature (a gradient has one derivation per variable)
# declares its own ranges.
LEVELS: dict[str, tuple[int, int]] = {"easy": (1, 3), "medium": (4, 5), "hard": (6, 10)}
# The budgets a topic's builder is given to aim at each level. A builder
# counts every node of the tree it builds (a constant, the 3 of 3x); a
# student, and so a level, does not (`Step.rule_count`): the budgets aim
# higher than the levels to land inside them.
BUDGETS: dict[str, tuple[int, int]] = {"easy": (1, 3), "medium": (5, 8), "hard": (9, 14)}


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    levels: tuple[str, ...]
    build: Callable[[random.Random, int], object]
    # A candidate belongs to the topic only if its derivation uses one of
    # `uses` and (when given) starts with one of `root` after any constant
    # multiple: a "product" whose factors cancel to x^-2 is redrawn.
    uses: tuple[str, ...] = ()
    root: tuple[str, ...] = ()
    ranges: tuple[tuple[str, tuple[int, int]], ...] = ()
    # True: `build` takes the level's name instead of a rule budget (for
    # topics whose levels are different questions, not longer functions).
    by_level: bool = False
    family: str = "calculus"
    budgets: tuple[tuple[str, tuple[int, int]], ...] = ()

    def range(self, level: str) -> tuple[int, int]:
        """The rule applications a problem of the level has (as `Step.rule_count` counts them)."""
        return dict(self.ranges).get(level, LEVELS[level])

    def budget(self, level: str) -> tuple[int, int]:
        """The budgets `build` is given at the level (see BUDGETS)."""
        return dict(self.budgets).get(level, BUDGETS[level])


TOPICS: dict[str, Topic] = {}


def topic(name: str, description: str, levels: tuple[str, ...] = ALL_LEVELS,
          uses: tuple[str, ...] = (), root: tuple[str, ...] = (),
          ranges: dict[str, tuple[int, int]] | None = None, by_level: bool = False,
          family: str = "calculus", budgets: dict[str, tuple[int, int]] | None = None):
    def register(build):
        if name in TOPICS:
            raise ValueError(f"topic {name!r} registered twice")
        TOPICS[name] = Topic(name, description, levels, build, uses, root,
                             tuple(sorted((ranges or {}).items())), by_level, family,
                             tuple(sorted((budgets or ranges or {}).items())))
        return build

    return register


from . import calculus, ml, networks, matrices  # noqa: E402,F401  (registration order = listing order)

# Names that stand for every topic of a family module in `--topics`.
GROUPS: dict[str, tuple[str, ...]] = {
    family: tuple(n for n, t in TOPICS.items() if t.family == family)
    for family in ("calculus", "ml")
}


def expand(names: tuple[str, ...]) -> tuple[str, ...]:
    """Topic names with group names (calculus, ml) replaced by their topics, in order, once each."""
    out: dict[str, None] = {}
    for name in names:
        for member in GROUPS.get(name, (name,)):
            out.setdefault(member, None)
    return tuple(out)
