"""What every service stands on; no service-specific code.

Messages, pairs and their fates (:mod:`message`, :mod:`fates`), the ledger and its counters
(:mod:`ledger`, :mod:`stats`), named random streams and samplers (:mod:`streams`,
:mod:`samplers`), faults, the cost meter, scheduling helpers (:mod:`schedule`, the only module
that touches SimPy internals), the shared context and component base (:mod:`context`,
:mod:`component`), the wiring handed to ``connect`` (:mod:`wiring`), ports and replies
(:mod:`ports`), retried deliveries (:mod:`retry`) and token buckets (:mod:`tokens`).
"""
