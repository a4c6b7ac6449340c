"""The course's rule tables, one module per family, each rule one object.

Importing this package registers every rule in `exgen.registry.RULES`; the
registry does that itself on its first lookup. The import order below is the
order of the guidebook's rule table and of `exgen topics`' function lists.

To add a function: write one `FunctionRule` in the module of its family (or
a new module imported here). Nothing else changes: the engine, composer,
oracle, reader, printers and rule table find it in the registry.
"""

from ..registry import RULES, CourseFunction, FunctionRule, Rule, to_elementary  # noqa: F401
from . import basic, combination, exponentials, logarithms, trig, inverse_trig, activations, vectors, losses  # noqa: F401,E402
