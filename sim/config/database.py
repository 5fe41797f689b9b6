"""The database spec: a server with a connection limit, a waiting line and load-dependent speed.

A ``database`` is a dependency: a Lambda handler calls it synchronously (see
:mod:`sim.services.database` for the behaviour and ``docs/scenario.md`` for the fields).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sim.config.common import ErrorsSpec
from sim.config.fields import DistSpec, NonNegFloat, Spec, const_dist
from sim.config.problems import ASSUMPTION, Source, Why

__all__ = ["ContentionSpec", "DatabaseSpec"]

_ONE_CONNECTION = Why("a database needs at least one connection")
_USL_SIGMA = Why("the contention coefficient of the Universal Scalability Law is a fraction")


class ContentionSpec(Spec):
    """Universal Scalability Law coefficients (N. J. Gunther) of a database.

    While N requests are in service each one progresses at rate
    1 / (1 + σ(N − 1) + κN(N − 1)), so throughput is X(N) = N·X(1) / (1 + σ(N − 1) + κN(N − 1)).
    ``sigma`` (σ) is contention (the serialised fraction of the work), ``kappa`` (κ) coherency
    (crosstalk between requests); with κ > 0 throughput peaks at N* = √((1 − σ)/κ) and falls
    beyond it. Both 0 (the default) is linear scaling: every request runs at full speed.
    AWS publishes no such curve for any database: they are numbers a team fits to its own
    measurements.
    """

    fields_source: ClassVar[Source] = Source("assumption", "measure your own")

    sigma: Annotated[float, Field(ge=0, le=1), _USL_SIGMA] = 0.0
    kappa: NonNegFloat = 0.0


class DatabaseSpec(Spec):
    """A relational database (or any server with a connection limit) that handlers call.

    ``max_connections`` connections serve one request each at a time. A request made on its own
    connection (a per-call connection, as through a pool or RDS Proxy) waits in a FIFO line for
    a free connection when all are taken; ``waiting`` bounds that line (0: refuse at once with a
    throttling error; null: unlimited). The default is unlimited because a per-call connection
    stands for a pool or a proxy, which keeps a client waiting for a connection rather than
    refusing it (RDS Proxy bounds the wait by time, ``ConnectionBorrowTimeout``, not by count);
    a caller bounds its own wait with its client timeout.

    ``service_time_s`` is one request's service time when it is alone on the server (default
    10 ms, an assumption: AWS publishes no query times); ``contention`` slows every request down
    while several are in service. ``latency_s`` (default 0) is network time added to every
    answer; ``errors.rate`` the probability that a request fails with a server error.

    ``max_connections`` defaults to 100, PostgreSQL's default ``max_connections`` (an RDS
    instance's default depends on its memory).
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    type: Literal["database"]
    max_connections: Annotated[
        int, Field(ge=1), _ONE_CONNECTION,
        Source("assumption", "PostgreSQL's default; an RDS instance's depends on its memory"),
    ] = 100  # fmt: skip
    waiting: Annotated[int, Field(ge=0)] | None = None
    service_time_s: DistSpec = const_dist(0.01)
    contention: ContentionSpec = Field(default_factory=ContentionSpec)
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = const_dist(0.0)
