"""Inverse trigonometric functions: arcsin, arccos (for |u| < 1) and arctan."""

import math

import mpmath
import sympy as sp

from ..registry import Draw, FunctionRule, Mistake, Numeric, RULES, Text
from .printing import operator


def _inside_unit_interval(u):
    """|u| < 1, where arcsin and arccos are differentiable."""
    return ((1 - u**2, "positive"),)


RULES.register(FunctionRule(
    name="asin", title="Arcsine rule", function=r"\arcsin x", derivative=r"\frac{1}{\sqrt{1 - x^{2}}}",
    inverses=("sin",),
    text=Text("arcsin"), head=sp.asin, rate=lambda u: 1 / sp.sqrt(1 - u**2), condition=_inside_unit_interval,
    numeric=Numeric(math.asin, mpmath.asin), names=(("asin", sp.asin), ("arcsin", sp.asin)),
    latex=operator(r"\arcsin"), draw=Draw(build=lambda rng, u: sp.asin(u), weight=0, topics=("inverse-trig",))))
RULES.register(FunctionRule(
    name="acos", title="Arccosine rule", function=r"\arccos x", derivative=r"-\frac{1}{\sqrt{1 - x^{2}}}",
    inverses=("cos",),
    text=Text("arccos"), head=sp.acos, rate=lambda u: -1 / sp.sqrt(1 - u**2), condition=_inside_unit_interval,
    numeric=Numeric(math.acos, mpmath.acos), names=(("acos", sp.acos), ("arccos", sp.acos)),
    latex=operator(r"\arccos"), draw=Draw(build=lambda rng, u: sp.acos(u), weight=0, topics=("inverse-trig",)),
    mistakes=(Mistake("arccos-sign", "(arccos u)' without its minus sign",
                      lambda step: 1 / sp.sqrt(1 - step.wrt**2)),)))
RULES.register(FunctionRule(
    name="atan", title="Arctangent rule", function=r"\arctan x", derivative=r"\frac{1}{1 + x^{2}}",
    inverses=("tan",),
    text=Text("arctan"), head=sp.atan, rate=lambda u: 1 / (1 + u**2),
    numeric=Numeric(math.atan, mpmath.atan), names=(("atan", sp.atan), ("arctan", sp.atan)),
    latex=operator(r"\arctan"), draw=Draw(build=lambda rng, u: sp.atan(u), weight=0, topics=("inverse-trig",)),
    mistakes=(Mistake("arctan-no-square", "(arctan u)' taken as 1/(1 + u), without the square",
                      lambda step: 1 / (1 + step.wrt)),)))
