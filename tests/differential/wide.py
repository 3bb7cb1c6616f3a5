"""Inputs the first 1,300 seeds never drew, from a second random stream so those seeds keep their scenarios.

From ``WIDE_FROM`` on a seed may also draw an odd ``--metadata`` document (numbers past float64's range,
16-digit-plus integers, escapes, keys with ``/`` and ``~``, ``previous``/``next``/``metadata`` of the wrong
type or spelled in another case, nesting) and ``--component-versions-display-names``.
"""

from __future__ import annotations

import json
import random

#: The first seed that draws from this module.
WIDE_FROM = 1300

#: Number literals as written: past float64 (refused), huge integers and tiny values (rounded), Go's edge forms.
NUMBERS = (
    "1e400",
    "-1e309",
    "1e308",
    "12345678901234567890",
    "-0",
    "0.1",
    "1E+2",
    "5e-324",
    "1e-400",
    "9007199254740993",
    "1.0",
    "100000000000000000000000",
)
STRINGS = (
    '"plain"',
    '"\\u003c\\u0026\\u003e"',
    '"\\u2028 \\u2029"',
    '"\\ud83d\\ude80"',
    '"\\ud800 lone"',
    '"tab\\there"',
    '"é"',
    '""',
    '"\\/slash"',
)
KEYS = ("a", "b/c", "~x", "Z", "a.b", "é", "", "metadata", "previous", "url")
#: The Cincinnati document's own fields, some in another case (Go matches them case-insensitively).
FIELDS = ("previous", "Previous", "NEXT", "next", "metadata", "Metadata", "kind", "version", "KIND")
DISPLAY_NAMES = (
    "kubernetes=Kubernetes",
    "machine-os=Red Hat Enterprise Linux CoreOS",
    "kubernetes=K8s,crio=CRI-O",
    "kubernetes=",
    "=Kubernetes",
    "kubernetes",
    "Bad=Name",
    "kubernetes=a=b",
    "kubernetes=Kubernetes,kubernetes=Again",
)


#: The numbers float64 holds (a document of these and of the right types is built into the release).
IN_RANGE = tuple(n for n in NUMBERS if n not in ("1e400", "-1e309"))


def _value(rng: random.Random, depth: int, numbers: tuple[str, ...] = NUMBERS) -> str:
    """A JSON value's text (numbers as written)."""
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return _object(rng, depth + 1, KEYS, numbers)
    if depth < 3 and roll < 0.35:
        return "[" + ", ".join(_value(rng, depth + 1, numbers) for _ in range(rng.randint(0, 3))) + "]"
    if roll < 0.6:
        return rng.choice(numbers)
    if roll < 0.85:
        return rng.choice(STRINGS)
    return rng.choice(("true", "false", "null"))


def _object(rng: random.Random, depth: int, keys: tuple[str, ...], numbers: tuple[str, ...] = NUMBERS) -> str:
    """An object of distinct keys (Go reports a repeated key's first error, Python keeps its last value)."""
    chosen = rng.sample(keys, rng.randint(0, min(3, len(keys))))
    return "{" + ", ".join(f"{json.dumps(key)}: {_value(rng, depth, numbers)}" for key in chosen) + "}"


def odd_metadata(rng: random.Random) -> str:
    """An odd ``--metadata`` text: usually an object with a ``metadata`` map, sometimes Cincinnati fields;
    half of them valid (numbers in range, only the ``metadata`` field), so the release is built."""
    if rng.random() < 0.5:
        pairs = [f'"metadata": {_object(rng, 1, KEYS, IN_RANGE)}']
        pairs += [
            f"{json.dumps(key)}: {_value(rng, 1, IN_RANGE)}" for key in rng.sample(("url", "a/b", "~"), 2)
        ]
        return "{" + ", ".join(pairs) + "}"
    pairs = [f'"metadata": {_object(rng, 1, KEYS)}'] if rng.random() < 0.6 else []
    for field in rng.sample(FIELDS, rng.randint(0, 2)):
        if field.casefold() in ("previous", "next") and rng.random() < 0.6:
            items = [
                rng.choice(('"4.1.0"', '"x"', "5", "null", "[]", "1e400")) for _ in range(rng.randint(0, 3))
            ]
            value = "[" + ", ".join(items) + "]"
        else:
            value = _value(rng, 2)
        if field.casefold() not in {p.split(":")[0].strip('"').casefold() for p in pairs}:
            pairs.append(f"{json.dumps(field)}: {value}")
    for key in rng.sample(("url", "a/b", "n", "~"), rng.randint(0, 2)):
        pairs.append(f"{json.dumps(key)}: {_value(rng, 1)}")
    return "{" + ", ".join(pairs) + "}"


def widen(seed: int, args: list[str], features: set[str], errors: bool) -> list[str]:
    """``args`` with this module's draws put right after ``--insecure`` (a later ``--metadata`` replaced)."""
    if seed < WIDE_FROM or "canonical-rebuild" in features:  # (a rebuild without overrides stays one)
        return args
    rng = random.Random(f"wide-{seed}")
    extra: list[str] = []
    if rng.random() < (0.3 if errors else 0.12):
        features.add("odd-metadata")
        extra += ["--metadata", odd_metadata(rng)]
    if rng.random() < 0.1:
        features.add("display-names")
        extra += ["--component-versions-display-names", rng.choice(DISPLAY_NAMES)]
    if not extra:
        return args
    if "--metadata" in extra and "--metadata" in args:
        index = args.index("--metadata")
        args = args[:index] + args[index + 2 :]
    return args[:1] + extra + args[1:]
