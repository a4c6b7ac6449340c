"""Trigonometric functions: sin, cos, tan (and sec, which tan's derivative uses)."""

import math

import mpmath
import sympy as sp

from ..registry import Draw, FunctionRule, Mistake, Numeric, RULES, Text


def _float_tan(value: float) -> float:
    if abs(math.cos(value)) < 1e-12:
        raise ValueError("tan at a pole")
    return math.tan(value)


def _float_sec(value: float) -> float:
    return 1.0 / math.cos(value)  # ZeroDivisionError at a pole: mpmath decides


RULES.register(FunctionRule(
    name="sin", title="Sine rule", function=r"\sin x", derivative=r"\cos x",
    inverses=("asin",),
    text=Text("sin", "prefix"), head=sp.sin, rate=lambda u: sp.cos(u), numeric=Numeric(math.sin, mpmath.sin), names=(("sin", sp.sin),),
    draw=Draw(build=lambda rng, u: sp.sin(u), topics=("trig",)),
    mistakes=(Mistake("sin-sign", "the sign of sin' wrong: (sin u)' taken as -cos u",
                      lambda step: -sp.cos(step.wrt)),)))
RULES.register(FunctionRule(
    name="cos", title="Cosine rule", function=r"\cos x", derivative=r"-\sin x",
    inverses=("acos",),
    text=Text("cos", "prefix"), head=sp.cos, rate=lambda u: -sp.sin(u), numeric=Numeric(math.cos, mpmath.cos), names=(("cos", sp.cos),),
    draw=Draw(build=lambda rng, u: sp.cos(u), topics=("trig",)),
    mistakes=(Mistake("cos-sign", "the sign of cos' wrong: (cos u)' taken as sin u", lambda step: sp.sin(step.wrt)),)))
RULES.register(FunctionRule(
    name="tan", title="Tangent rule", function=r"\tan x", derivative=r"\sec^{2} x = 1 + \tan^{2} x",
    inverses=("atan",),
    text=Text("tan", "prefix"), head=sp.tan, rate=lambda u: sp.sec(u) ** 2, condition=lambda u: ((sp.cos(u), "nonzero"),),
    numeric=Numeric(_float_tan, mpmath.tan), names=(("tan", sp.tan),),
    draw=Draw(build=lambda rng, u: sp.tan(u), topics=("trig",)),
    mistakes=(Mistake("tan-sec", "(tan u)' taken as sec u, not sec^2 u", lambda step: sp.sec(step.wrt)),)))
RULES.register(FunctionRule(
    name="sec", title="Secant rule", function=r"\sec x", derivative=r"\sec x \tan x",
    text=Text("sec", "prefix"), head=sp.sec, rate=lambda u: sp.sec(u) * sp.tan(u), condition=lambda u: ((sp.cos(u), "nonzero"),),
    numeric=Numeric(_float_sec, mpmath.sec), names=(("sec", sp.sec),)))
