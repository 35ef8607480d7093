"""Accounts and their monthly statuses: the heart of the story (see :mod:`credo.synth.story`)."""

from __future__ import annotations

import random

from credo.synth.events import account_inquiries
from credo.synth.people import Subject
from credo.synth.reference import Institution
from credo.synth.world import EXP, History, World, lognormal

__all__ = ["simulate_account"]

_REVOLVING_MIN_DUE = {
    "credit_card": 0.10,
    "revolving_loan": 0.10,
    "bnpl": 0.34,
    "marketplace_credit": 0.50,
}


def _terms(rng: random.Random, inst: Institution, subject: Subject) -> tuple[float, int, float]:
    """Principal or limit, term in months and yearly rate for a new account."""
    scale = EXP(-0.2 * subject.z)  # riskier subjects are granted somewhat less
    if subject.subject_type == "enterprise":
        return lognormal(rng, 800_000 * scale, 0.8, 10_000), rng.choice((12, 24, 36, 60)), 0.06
    if inst.kind == "bank":
        return lognormal(rng, 60_000 * scale, 0.7, 1_000), rng.choice((24, 36, 60)), 0.07
    if inst.kind == "consumer_finance":
        return lognormal(rng, 15_000 * scale, 0.6, 500), rng.choice((12, 24, 36)), 0.18
    return lognormal(rng, 8_000 * scale, 0.6, 500), rng.choice((12, 24, 36)), 0.22


def _limit(rng: random.Random, account_type: str, subject: Subject) -> float:
    scale = EXP(-0.2 * subject.z)
    if subject.subject_type == "enterprise":
        return lognormal(rng, 500_000 * scale, 0.8, 10_000)
    median = {"credit_card": 30_000, "revolving_loan": 50_000, "bnpl": 5_000}.get(account_type)
    return lognormal(rng, (median or 10_000) * scale, 0.6, 500)


def simulate_account(
    rng: random.Random,
    world: World,
    subject: Subject,
    inst: Institution,
    account_type: str,
    open_month: int,
    history: History,
) -> None:
    """Open one account and furnish it month by month up to as_of (or its end)."""
    p = world.params
    ref = world.next_ref(f"{inst.code}-A")
    opened_on = world.day(open_month, rng.randint(1, 28))
    z = subject.z
    revolving = account_type in _REVOLVING_MIN_DUE
    row: dict = {
        "record_type": "account",
        "account_ref": ref,
        "id_type": subject.id_type,
        "id_number": subject.id_number,
        "account_type": account_type,
        "opened_on": opened_on.isoformat(),
        "currency": "CNY",
    }
    base = p.miss_intercept + p.miss_z * z
    if account_type == "guarantee":
        base -= 1.0  # a guarantee is called only when the borrower fails as well
    cure_base = p.cure_intercept + p.cure_z * z
    cure_k, stay_share, miss_util = p.cure_k, p.stay_share, p.miss_util
    if revolving:
        limit = _limit(rng, account_type, subject)
        row["credit_limit"] = f"{limit:.2f}"
        min_pct = _REVOLVING_MIN_DUE[account_type]
        mu = 1.0 / (1.0 + EXP(-(p.util_intercept + p.util_z * z)))
        # The account's usual utilisation; each month varies around it by up to +-50%.
        level = rng.betavariate(mu * p.util_concentration, (1.0 - mu) * p.util_concentration)
        transactor = 1.0 / (1.0 + EXP(-(0.3 - z)))
        util = level
        balance = util * limit
        close_rate = p.close_rate
        pay = rate = principal = 0.0
        term = 0
    else:
        principal, term, yearly = _terms(rng, inst, subject)
        if account_type == "guarantee":
            term = rng.choice((12, 24, 36))
        row["principal"] = f"{principal:.2f}"
        if account_type == "installment_loan":
            row["term_months"] = term
        rate = (yearly + rng.uniform(-0.02, 0.04)) / 12.0
        pay = round(principal * rate / (1.0 - (1.0 + rate) ** -term), 2)
        balance = principal
        util = 1.0
        prepay_rate = p.prepay_rate
        min_pct = level = transactor = limit = 0.0
    paid_count = n_paid = 0
    k = 0
    notice = ""
    status = "open"
    arrears_unit = 0.0
    statuses: list[dict] = []
    append = statuses.append
    macro, periods, first = world.macro, world.periods, world.first
    rand = rng.random
    # No month's miss probability exceeds this bound (utilisation is at most 1), so a draw
    # above it is a payment without evaluating the exact logistic: same draws, less work.
    bound = 1.0 / (1.0 + EXP(-(base + max(macro) + miss_util)))
    pay_s = f"{pay:.2f}"
    due_s = paid_s = "0.00"
    start = open_month - first
    for i in range(start, world.last - first + 1):
        if i > start:
            prev = balance
            if revolving:
                due = prev * min_pct if prev >= 100.0 else prev
                if k == 0:
                    r = rand()
                    if (
                        due >= 0.005
                        and r < bound
                        and r * (1.0 + EXP(-(base + macro[i] + miss_util * util))) < 1.0
                    ):
                        k, arrears_unit, paid = 1, due, 0.0
                        notice = world.day(first + i, 10).isoformat()
                        balance = prev * 1.015
                    else:
                        paid = prev if rand() < transactor else due
                        util = level * (0.5 + rand())
                        if util > 1.0:
                            util = 1.0
                        balance = util * limit
                        if i - start >= 12 and rand() < close_rate:
                            paid, balance, status = prev, 0.0, "closed"
                else:
                    due = arrears_unit * (k + 1)
                    r = rand()
                    p_cure = 1.0 / (1.0 + EXP(-(cure_base + cure_k * k)))
                    if r < p_cure:
                        paid, k = due, 0
                    elif r < p_cure + stay_share * (1.0 - p_cure):
                        paid = arrears_unit
                    else:
                        paid, k = 0.0, k + 1
                    balance = max(0.0, prev * 1.015 - paid)
                due_s, paid_s = f"{due:.2f}", f"{paid:.2f}"
            else:
                if k == 0:
                    due_s = pay_s
                    r = rand()
                    if r < bound and r * (1.0 + EXP(-(base + macro[i] + miss_util * util))) < 1.0:
                        k, paid, paid_s = 1, 0.0, "0.00"
                        notice = world.day(first + i, 10).isoformat()
                    elif paid_count >= 3 and rand() < prepay_rate:
                        paid, balance, status = prev * (1.0 + rate), 0.0, "closed"
                        paid_s = f"{paid:.2f}"
                    else:
                        paid, n_paid, paid_s = pay, 1, pay_s
                else:
                    due = pay * (k + 1)
                    due_s = f"{due:.2f}"
                    r = rand()
                    p_cure = 1.0 / (1.0 + EXP(-(cure_base + cure_k * k)))
                    if r < p_cure or paid_count + 1 >= term:
                        paid, n_paid, k, paid_s = due, k + 1, 0, due_s
                    elif r < p_cure + stay_share * (1.0 - p_cure):
                        paid, n_paid, paid_s = pay, 1, pay_s
                    else:
                        paid, k, paid_s = 0.0, k + 1, "0.00"
                if paid > 0.0 and status == "open":
                    for _ in range(n_paid):
                        balance = balance * (1.0 + rate) - pay
                    paid_count += n_paid
                    if paid_count >= term or balance < 1.0:
                        # the last instalment absorbs the rounding of the schedule
                        paid = max(0.0, paid + balance)
                        balance, status, k, paid_s = 0.0, "closed", 0, f"{paid:.2f}"
                util = balance / principal
        status_row = {
            "record_type": "status",
            "account_ref": ref,
            "period": periods[i],
            "balance": f"{balance:.2f}",
            "amount_due": due_s,
            "amount_paid": paid_s,
            "days_past_due": 30 * k,
        }
        append(status_row)
        if k:
            status_row["subject_notified_on"] = notice
            if k >= 3 and not history.ever_90dpd:
                history.ever_90dpd, history.first_90dpd = True, periods[i]
            if k >= p.chargeoff_cycles:
                status = "charged_off"
                notified = world.day(first + i, 20)
                row["subject_notified_on"] = notified.isoformat()
                history.charge_offs.append((notified, balance))
                break
            if k >= 3 and rand() < 0.02:
                status = "transferred"  # the debt is sold; the buyer reports from now on
                break
        elif status == "closed":
            row["closed_on"] = world.day(first + i, rng.randint(1, 28)).isoformat()
            break
    end_month = first + i
    row["status"] = status
    history.accounts[inst.code].append(row)
    history.statuses[inst.code].append(statuses)
    account_inquiries(rng, world, subject, inst, account_type, opened_on, end_month, history)
