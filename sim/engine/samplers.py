"""Duration and value distributions: specs (from :mod:`sim.config`) turned into samplers.

A sampler is a zero-argument callable returning one float (seconds for durations). Each
sampler owns its own named stream (see :mod:`sim.engine.streams`) and draws in blocks, so a sampler
costs one list index per value on the hot path.

Families (``docs/scenario.md``): a constant, ``exponential {mean}``, ``lognormal {median, sigma}``
(median = exp(mu)), ``uniform {low, high}``, ``gamma {mean, cv}`` (shape 1/cv², scale
mean·cv²) and ``empirical {file}`` (resampled uniformly with replacement).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sim.config.fields import (
    ConstantDist,
    DistSpec,
    EmpiricalDist,
    ExponentialDist,
    GammaDist,
    LognormalDist,
    UniformDist,
)
from sim.config.producer import ChoiceAttr
from sim.engine.streams import buffered

__all__ = ["Sampler", "attribute_sampler", "choice_sampler", "dist_mean", "is_zero", "make_sampler"]

Sampler = Callable[[], float]


def _constant(value: float) -> Sampler:
    def sample() -> float:
        return value

    return sample


def make_sampler(spec: DistSpec, rng: np.random.Generator) -> Sampler:
    """A sampler for ``spec`` drawing from ``rng`` (which it then owns)."""
    if isinstance(spec, ConstantDist):
        return _constant(float(spec.value))
    if isinstance(spec, ExponentialDist):
        mean = spec.mean
        return buffered(rng, lambda g, n: g.exponential(mean, n))
    if isinstance(spec, LognormalDist):
        mu, sigma = math.log(spec.median), spec.sigma
        return buffered(rng, lambda g, n: g.lognormal(mu, sigma, n))
    if isinstance(spec, UniformDist):
        low, high = spec.low, spec.high
        return buffered(rng, lambda g, n: g.uniform(low, high, n))
    if isinstance(spec, GammaDist):
        shape, scale = 1.0 / spec.cv**2, spec.mean * spec.cv**2
        return buffered(rng, lambda g, n: g.gamma(shape, scale, n))
    if isinstance(spec, EmpiricalDist):
        values = np.asarray(spec.values, dtype=float)
        return buffered(rng, lambda g, n: g.choice(values, n))
    raise TypeError(f"unknown distribution spec {spec!r}")


def dist_mean(spec: DistSpec) -> float:
    """The mean of a distribution spec, in its own units."""
    if isinstance(spec, ConstantDist):
        return float(spec.value)
    if isinstance(spec, ExponentialDist | GammaDist):
        return float(spec.mean)
    if isinstance(spec, LognormalDist):
        return float(spec.median * math.exp(spec.sigma**2 / 2))
    if isinstance(spec, UniformDist):
        return float((spec.low + spec.high) / 2)
    if isinstance(spec, EmpiricalDist):
        return float(np.mean(spec.values))
    raise TypeError(f"unknown distribution spec {spec!r}")


def is_zero(spec: DistSpec) -> bool:
    """True when the spec is the constant 0 (lets callers skip scheduling entirely)."""
    return isinstance(spec, ConstantDist) and spec.value == 0


def choice_sampler(
    values: Sequence[Any], weights: Sequence[float] | None, rng: np.random.Generator
) -> Callable[[], Any]:
    """One of ``values`` per draw, with probabilities proportional to ``weights`` (or equal)."""
    vals = list(values)
    p = None if weights is None else np.asarray(weights, float) / float(sum(weights))
    idx = buffered(rng, lambda g, n: g.choice(len(vals), n, p=p))
    return lambda: vals[int(idx())]


def attribute_sampler(value: Any, rng: np.random.Generator) -> Callable[[], Any]:
    """A message attribute: a constant, ``{choice: {values, weights}}`` or a distribution."""
    if isinstance(value, ChoiceAttr):
        return choice_sampler(value.choice.values, value.choice.weights, rng)
    if isinstance(value, str | int | float | bool):
        return lambda: value
    return make_sampler(value, rng)
