"""Named random streams from one root seed.

Every random draw in a run comes from a ``numpy.random.Generator`` obtained with
``RandomStreams(root_seed, rep).get(component, purpose)``. The generator is built from a
``SeedSequence`` whose entropy is the root seed and whose spawn key is
``(rep, id(component), id(purpose))``, where ``id`` is a stable CRC32 of the name (never the
built-in ``hash()``, which changes between processes). Streams are keyed by name, not by
position, so adding a component does not reshuffle the streams of the others, and a variant
that keeps a producer unchanged sees exactly the same workload (common random numbers).

Draws on the hot path go through :func:`buffered`, which pulls blocks of values from its
generator; the sequence of values is a pure function of (seed, rep, component, purpose).
"""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Final

import numpy as np

__all__ = ["RandomStreams", "Stream", "buffered", "stable_id"]

_BLOCK: Final = 1024


def stable_id(name: str) -> int:
    """A stable 32-bit id for a name (CRC32 of its UTF-8 bytes)."""
    return zlib.crc32(name.encode("utf-8"))


class RandomStreams:
    """Factory of named, independent random streams for one replication.

    Args:
        root_seed: The experiment's root seed (one per experiment).
        rep: The replication index; each replication gets independent streams.
    """

    def __init__(self, root_seed: int, rep: int = 0) -> None:
        self.root_seed = int(root_seed)
        self.rep = int(rep)

    def get(self, component: str, purpose: str) -> np.random.Generator:
        """A fresh generator for ``(component, purpose)``; same names give the same stream."""
        seq = np.random.SeedSequence(
            entropy=self.root_seed,
            spawn_key=(self.rep, stable_id(component), stable_id(purpose)),
        )
        return np.random.Generator(np.random.PCG64(seq))

    def uniform(self, component: str, purpose: str) -> Stream:
        """A buffered stream of U(0, 1) floats for ``(component, purpose)``."""
        return buffered(self.get(component, purpose), lambda g, n: g.random(n))


Stream = Callable[[], Any]


def buffered(
    rng: np.random.Generator,
    draw: Callable[[np.random.Generator, int], np.ndarray],
) -> Stream:
    """A zero-argument callable returning the next value of a stream drawn in blocks.

    ``draw(rng, n)`` returns an array of ``n`` values; blocks of ``_BLOCK`` values are drawn
    as needed, so the sequence depends only on the generator, never on how it is consumed.
    The callable is a C-level ``next`` over a chain of blocks: about 70 ns per value.
    """
    return functools.partial(next, itertools.chain.from_iterable(_blocks(rng, draw)))


def _blocks(
    rng: np.random.Generator,
    draw: Callable[[np.random.Generator, int], np.ndarray],
) -> Iterator[list[Any]]:
    """Blocks of ``_BLOCK`` values, drawn one at a time as they are needed.

    A generator function, not a generator expression: mypyc (the compiled build) evaluates a
    generator expression eagerly, as a list, which over an endless ``repeat`` never ends.
    """
    while True:
        yield draw(rng, _BLOCK).tolist()
