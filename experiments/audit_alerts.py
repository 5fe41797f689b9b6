"""DeleteTable audit alerts: CloudTrail → EventBridge rule → SNS → one email per account (A6).

An organization watches for DynamoDB ``DeleteTable`` calls: CloudTrail turns every management
API call into an "AWS API Call via CloudTrail" event on the default bus (best effort, after an
assumed lognormal delay with median 30 s, σ 1), a rule with the pattern ``{"source":
["aws.dynamodb"], "detail-type": ["AWS API Call via CloudTrail"], "detail": {"eventSource":
["dynamodb.amazonaws.com"], "eventName": ["DeleteTable"]}}`` sends the matching ones to an SNS
topic (EventBridge's target retry: 24 h / 185 attempts), and the topic emails every account of
the organization (N email subscriptions, one ``endpoint`` per account inbox). Each (call,
account) pair is one notification. SNS paces the emails at 10 per second, 0.1 s apart with no
burst (as the simulator models the quota): the k-th account (k = 0, 1, ...) of an alert waits
k/10 s, so the last of 500 waits 49.9 s (longer when alerts overlap). A
failed email is retried with the customer-managed policy (AWS: 2 attempts 10 s apart, 10
backing off from 10 s to 600 s, 38 every 600 s; the first attempt is the first of the 2, so
A = 50 attempts over 6.83 h, AWS's documented total).

Workload: DynamoDB management calls (CreateTable, UpdateTable, DeleteTable, weights 1:2:1)
at 4 per hour, so one DeleteTable per hour; the other calls do not match the rule
(``messages_unrouted``). EventBridge, SNS and the inboxes add no latency of their own (AWS
publishes none); the delay runs from the API call to SNS's successful hand-over of the email.

Studies, each under common random numbers (one root seed, the same replication indices):

* **emails**: accounts N ∈ {10, 50, 100, 250, 500} × email failure probability p per attempt ∈
  {0, 1%, 10%, 50%, 90%}, no CloudTrail loss; every N sees the same alerts (100 per
  replication), so differences between N are paired.
* **loss**: N × CloudTrail loss ∈ {0.1%, 1%} at p = 1%. A loss hits a whole alert, so the
  number of alerts matters, not N: each replication simulates about 12,000 notifications
  (1,200 alerts at N = 10, 24 at N = 500). Loss 0 is the emails study at p = 1%.
* **mail_outage**: N = 100, the mail provider of 20 accounts (acct081–acct100) unavailable for
  W ∈ {1, 6, 8, 12} h from t = 0, alerts at 12 per hour during the outage, p = 0.
* **sns_outage**: N = 500, alerts at 12 per hour for 30 minutes while nothing is down, the SNS
  topic is unavailable (EventBridge retries), or the event bus is unavailable (CloudTrail
  drops what the bus rejects).

Closed forms (independent attempts, isolated alerts: the 10/s quota shared by overlapping
alerts is ignored; with one alert per hour an alert to 500 accounts overlaps the previous one
with probability about 1.4%): P(account notified) = (1 − loss)(1 − p^A), P(every account) =
(1 − loss)(1 − p^A)^N, email attempts per notification (1 − loss)(1 − p^A)/(1 − p); the delay
is D + s_k + o_J with D the CloudTrail delay, s_k the pacing of account k and o_J the offset of
the first successful attempt (P(J = j) ∝ p^j), whose mean and quantiles are computed exactly
from that mixture. Outages from t = 0 with alerts made uniformly during [0, W): an affected
notification is lost when its last attempt, t + D + s_k + T (T = 6.83 h), still falls inside
the outage, P = E[(W − T − s_k − D)^+]/W; an alert is dropped by a bus outage when t + D < W,
P = E[(W − D)^+]/W (both with the lognormal partial expectation).

Writes ``audit_alerts.csv`` (tidy: one row per configuration and metric with n, mean, std, the
95% t-interval over replications and the closed form where there is one), ``delay_cdf.csv``
(the delay distribution of replication 0 at p = 10% against the closed form), ``manifest.json``
(the seed, the designs' points and replications, the CSV files' hashes), four PNG charts and
``findings.md`` into ``results/audit_alerts/``, then the results index. Same seed ⇒ the same
files, byte for byte.

Usage, from the repository root: ``python -m experiments.audit_alerts [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and
findings from the CSVs). The design is in :mod:`experiments.audit_alerts_design`, the charts
in :mod:`experiments.audit_alerts_charts`, the findings text in
:mod:`experiments.audit_alerts_findings`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from experiments.audit_alerts_charts import chart_cdf, chart_delay, chart_delivery, chart_outages
from experiments.audit_alerts_design import DEFAULT_SEED, delay_table, designs
from experiments.audit_alerts_findings import findings
from sim.study import Report, Study, run_study


def report(rep: Report) -> str:
    """The four charts and the findings, from ``audit_alerts.csv`` and ``delay_cdf.csv``."""
    df, cdf, out = rep.tables["audit_alerts"], rep.tables["delay_cdf"], rep.out
    reps = {s: int(df.loc[df["study"] == s, "n"].max()) for s in df["study"].unique()}
    chart_delivery(df, out / "delivery.png", reps["emails"])
    chart_delay(df, out / "delay.png", reps["emails"])
    chart_cdf(cdf, out / "delay_cdf.png")
    chart_outages(df, out / "outages.png", reps["mail_outage"], reps["sns_outage"])
    return findings(df, cdf, out.name, rep.quick, rep.seed)


STUDY = Study(
    "audit_alerts",
    "CloudTrail DeleteTable → EventBridge → SNS email to N accounts (DESIGN A6); writes "
    "results/audit_alerts/.",
    DEFAULT_SEED,
    designs,
    report,
    extra_tables=delay_table,
    extra_table_names=("delay_cdf",),
    replications_help="replications per configuration (default: 5 sweeps / 6 mail outage "
    "/ 16 SNS outage, --quick 3 / 3 / 3)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
