"""Inquiries and public records: the events around the accounts, also driven by ``z``."""

from __future__ import annotations

import random
from datetime import date, timedelta

from credo.synth.people import Subject
from credo.synth.reference import Institution
from credo.synth.world import History, World, lognormal, month_index, poisson, sigmoid

__all__ = ["account_inquiries", "inquiry", "public_records"]


def inquiry(world: World, inst: str, subject: Subject, on: date, purpose: str, kind: str) -> dict:
    row = {
        "record_type": "inquiry",
        "id_type": subject.id_type,
        "id_number": subject.id_number,
        "inquired_on": min(on, world.as_of).isoformat(),
        "purpose": purpose,
        "kind": kind,
        "inquiry_ref": world.next_ref(f"{inst}-Q"),
    }
    return row


def account_inquiries(
    rng: random.Random,
    world: World,
    subject: Subject,
    inst: Institution,
    account_type: str,
    opened_on: date,
    end_month: int,
    history: History,
) -> None:
    """The approval check before an account opens and post-loan reviews while it runs."""
    rows = history.inquiries[inst.code]
    if rng.random() < 0.85:
        purpose = {
            "credit_card": "credit_card_approval",
            "guarantee": "guarantee_review",
            "marketplace_credit": "marketplace_risk",
        }.get(account_type, "loan_approval")
        on = opened_on - timedelta(days=rng.randint(0, 20))
        rows.append(inquiry(world, inst.code, subject, on, purpose, "hard"))
    months = end_month - month_index(opened_on)
    for _ in range(poisson(rng, months / 18.0)):
        on = world.day(rng.randint(month_index(opened_on), end_month), rng.randint(1, 28))
        rows.append(inquiry(world, inst.code, subject, on, "post_loan_management", "soft"))


def _public_record(
    world: World, subject: Subject, kind: str, on: date, amount: float, authority: str
) -> dict:
    region = subject.region
    year = on.year
    case_ref = {
        "court_judgment": f"({year}){region.abbr}{region.code[2:]}民初{world.next_ref('J')[-5:]}号",
        "enforcement": f"({year}){region.abbr}{region.code[2:]}执{world.next_ref('E')[-5:]}号",
        "tax_arrears": f"{region.abbr}税欠〔{year}〕{world.next_ref('T')[-5:]}号",
        "admin_penalty": f"{region.abbr}市监罚〔{year}〕{world.next_ref('P')[-5:]}号",
    }[kind]
    return {
        "record_type": "public_record",
        "id_type": subject.id_type,
        "id_number": subject.id_number,
        "kind": kind,
        "authority": authority,
        "case_ref": case_ref,
        "amount": f"{amount:.2f}",
        "currency": "CNY",
        "filed_on": on.isoformat(),
    }


def public_records(rng: random.Random, world: World, subject: Subject, history: History) -> None:
    """Court and administrative records, finished with resolution and notice dates."""
    region, z, as_of = subject.region, subject.z, world.as_of
    court = f"{region.city}{region.district}人民法院"
    rows: list[tuple[str, dict]] = []
    for charged_on, balance in history.charge_offs:
        filed = charged_on + timedelta(days=rng.randint(40, 240))
        if filed <= as_of and rng.random() < 0.4:
            rows.append(
                ("COURT01", _public_record(world, subject, "court_judgment", filed, balance, court))
            )
            enforced = filed + timedelta(days=rng.randint(30, 180))
            if enforced <= as_of and rng.random() < 0.6:
                rows.append(
                    (
                        "COURT01",
                        _public_record(world, subject, "enforcement", enforced, balance, court),
                    )
                )
    enterprise = subject.subject_type == "enterprise"
    window = (world.last - world.first) * 30
    chances = (
        ("COURT01", "court_judgment", -6.0 + 1.2 * z, court, 50_000),
        (
            "TAX01",
            "tax_arrears",
            (-2.8 if enterprise else -7.0) + z,
            "国家税务总局" + region.city + region.district + "税务局",
            20_000,
        ),
        (
            "TAX01",
            "admin_penalty",
            (-2.6 if enterprise else -6.5) + 0.5 * z,
            region.city + region.district + "市场监督管理局",
            5_000,
        ),
    )
    for inst, kind, logit, authority, median in chances:
        if rng.random() < sigmoid(logit):
            filed = as_of - timedelta(days=rng.randint(0, window))
            amount = lognormal(rng, median * (10 if enterprise else 1), 0.8, 100)
            rows.append((inst, _public_record(world, subject, kind, filed, amount, authority)))
    for inst, row in rows:
        filed = date.fromisoformat(row["filed_on"])
        if rng.random() < sigmoid(0.3 - z):
            resolved = filed + timedelta(days=rng.randint(20, 400))
            if resolved <= as_of:
                row["resolved_on"] = resolved.isoformat()
        row["subject_notified_on"] = min(
            as_of, filed + timedelta(days=rng.randint(0, 10))
        ).isoformat()
        history.public_records[inst].append(row)
