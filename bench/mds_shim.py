"""Compatibility shim for DeepMind's mathematics_dataset (PyPI 1.0.1, 2019)
on current SymPy (1.14) and NumPy (2.x). Used only by bench/run.py;
mathematics_dataset is an optional extra of the benchmark (install it with
`pip install mathematics-dataset`), never a dependency of exgen.

    from mds_shim import load_calculus
    calculus = load_calculus()          # mathematics_dataset.modules.calculus

What it patches (nothing in site-packages is edited; all in memory):
- `sympy.solvers.diophantine.base_solution_linear` moved into
  `sympy.solvers.diophantine.diophantine` (SymPy 1.7): re-exported from the
  package before mathematics_dataset imports it.
- `np.object`, `np.int`, `np.float`, `np.bool` (removed in NumPy 1.24) are
  restored as the builtins they were aliases of.
- `ndarray.itemset` (removed in NumPy 2.0; a C type, so it cannot be put
  back) is used by `sample.polynomials.sample_coefficients` and
  `expand_coefficients`: those functions are recompiled from their own
  source with `a.itemset(i, v)` rewritten to `a[i] = v`, which is what
  itemset did for a full index (object arrays included).
"""

import builtins
import importlib
import inspect
import re
import sys
import textwrap

ITEMSET = re.compile(r"(\w+)\.itemset\(([^,()]+),\s*([^()]+?)\)")


def _patch_sympy() -> None:
    from sympy.solvers.diophantine.diophantine import base_solution_linear

    # `import sympy.solvers.diophantine as m` would bind the *function*
    # diophantine, which shadows the package on sympy.solvers: take the module.
    importlib.import_module("sympy.solvers.diophantine")
    package = sys.modules["sympy.solvers.diophantine"]
    if not hasattr(package, "base_solution_linear"):
        package.base_solution_linear = base_solution_linear


def _patch_numpy_aliases() -> None:
    import numpy as np

    for name in ("object", "int", "float", "bool"):
        if name not in np.__dict__:
            setattr(np, name, getattr(builtins, name))


def _patch_itemset(module) -> list[str]:
    import numpy as np

    if hasattr(np.ndarray, "itemset"):
        return []
    patched = []
    for name, function in list(vars(module).items()):
        if not inspect.isfunction(function) or function.__module__ != module.__name__:
            continue
        source = textwrap.dedent(inspect.getsource(function))
        if ".itemset(" not in source:
            continue
        new_source = ITEMSET.sub(r"\1[\2] = \3", source)
        if ".itemset(" in new_source:
            raise RuntimeError(f"mds_shim: cannot rewrite itemset in {module.__name__}.{name}")
        namespace: dict = {}
        exec(compile(new_source, inspect.getsourcefile(function), "exec"), module.__dict__, namespace)
        setattr(module, name, namespace[name])
        patched.append(name)
    return patched


def load_calculus():
    """mathematics_dataset.modules.calculus, working on this SymPy/NumPy."""
    _patch_sympy()
    _patch_numpy_aliases()
    polynomials = importlib.import_module("mathematics_dataset.sample.polynomials")
    _patch_itemset(polynomials)
    return importlib.import_module("mathematics_dataset.modules.calculus")
