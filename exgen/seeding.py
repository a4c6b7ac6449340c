"""Derived random generators.

Every random choice in exgen comes from a `random.Random` built here and
passed down explicitly. Sub-generators are keyed by a string of their parts
rather than by `seed + index`, so seed 42 item 1 never equals seed 43 item 0.
"""

import hashlib
import random


def rng_for(*parts: object) -> random.Random:
    """A generator determined only by `parts` (their str forms, in order)."""
    key = ":".join(str(p) for p in parts).encode()
    digest = hashlib.sha256(key).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def short_code(*parts: object, length: int = 6) -> str:
    """A short, printable code for the given parts (to trace a printed page)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    key = ":".join(str(p) for p in parts).encode()
    n = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


def pick(rng: random.Random, options: tuple):
    """One of `options` (a tuple: ordered, so the same seed picks the same one)."""
    return options[rng.randrange(len(options))]
