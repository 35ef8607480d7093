"""The generative story: accounts, monthly statuses, inquiries and public records.

One latent risk ``z`` per subject drives everything a bureau observes about it:

* how often a payment is missed: ``p_miss = sigmoid(a + b*z + c*shock(month) + d*utilisation)``;
* how a delinquency develops: once behind, each month the subject cures (pays all arrears) with
  ``p_cure = sigmoid(e + f*z + g*k)`` for ``k`` missed cycles, pays one instalment and stays,
  or rolls one bucket further; ``days_past_due = 30*k`` and 180 days means charge-off;
* how much of a revolving line is used (``Beta`` with a mean rising in ``z``);
* how often credit is sought (hard inquiries ~ Poisson with a rate rising in ``z``);
* public records (judgments and enforcement mostly after a charge-off; tax arrears and
  administrative penalties mostly for enterprises).

Because the same ``z`` drives the history before any observation date and the outcomes after
it, future 90+ DPD is predictable from the history. See ``docs/synthetic.md``.
"""

from __future__ import annotations

import random

from credo.synth.accounts import simulate_account
from credo.synth.events import inquiry, public_records
from credo.synth.people import Subject
from credo.synth.reference import INSTITUTIONS, Institution
from credo.synth.world import EXP, History, StoryParams, World, poisson

__all__ = ["History", "StoryParams", "World", "simulate_subject"]


def _lenders_for(subject: Subject) -> tuple[list[Institution], list[float]]:
    lenders = [i for i in INSTITUTIONS if not i.is_public]
    if subject.subject_type == "enterprise":
        lenders = [i for i in lenders if i.enterprise_products]
        return lenders, [3.0 if i.kind == "bank" else 1.0 for i in lenders]
    # Riskier people lean towards consumer finance and online lenders.
    tilt = EXP(0.4 * subject.z)
    return lenders, [
        tilt if i.kind in ("consumer_finance", "online_lending") else 1.0 for i in lenders
    ]


def simulate_subject(rng: random.Random, world: World, subject: Subject) -> History:
    """Run one subject's whole credit life from its first account up to as_of."""
    p = world.params
    history = History()
    start = world.last - rng.randint(*p.history_months)
    n_accounts = min(p.max_accounts, 1 + poisson(rng, p.accounts_mean - 1.0))
    lenders, weights = _lenders_for(subject)
    span = world.last - start
    products = "enterprise_products" if subject.subject_type == "enterprise" else "person_products"
    opens = sorted([start] + [start + int(span * rng.random() ** 3) for _ in range(n_accounts - 1)])
    for open_month in opens:
        inst = rng.choices(lenders, weights)[0]
        account_type = rng.choice(getattr(inst, products))
        simulate_account(rng, world, subject, inst, account_type, open_month, history)
    # Applications that led nowhere: more of them for riskier subjects, more of them lately.
    rate = p.hard_inquiry_rate * EXP(p.inquiry_z * subject.z)
    for _ in range(poisson(rng, rate * span)):
        inst = rng.choices(lenders, weights)[0]
        month = world.last - int(span * rng.random() ** 1.5)
        on = world.day(month, rng.randint(1, 28))
        purpose = "marketplace_risk" if inst.kind == "marketplace" else "loan_approval"
        history.inquiries[inst.code].append(inquiry(world, inst.code, subject, on, purpose, "hard"))
    public_records(rng, world, subject, history)
    return history
