"""Reason codes and plain-language names of the bureau features, in Chinese and English.

A code belongs to a feature, not to a model: ``PH01-H`` means "worst days past due in the last
6 months is high" in every model version that uses that feature, so reasons stay comparable
when the champion changes. Families: PH payment history, AO amounts owed, LH length of history,
NC new credit, CM credit mix, PR public records.
"""

from __future__ import annotations

from credo.scoring.reasons import ReasonCatalog, ReasonSpec

_SPECS: dict[str, tuple[str, str, str, str]] = {
    # feature: (code, English, Chinese, format)
    "worst_dpd_6m": ("PH01", "worst days past due in the last 6 months",
                     "近6个月最长逾期天数", "count"),
    "worst_dpd_12m": ("PH02", "worst days past due in the last 12 months",
                      "近12个月最长逾期天数", "count"),
    "worst_dpd_24m": ("PH03", "worst days past due in the last 24 months",
                      "近24个月最长逾期天数", "count"),
    "n_dpd30_6m": ("PH04", "months 30+ days late in the last 6 months",
                   "近6个月逾期30天以上的账户月数", "count"),
    "n_dpd60_6m": ("PH05", "months 60+ days late in the last 6 months",
                   "近6个月逾期60天以上的账户月数", "count"),
    "n_dpd90_6m": ("PH06", "months 90+ days late in the last 6 months",
                   "近6个月逾期90天以上的账户月数", "count"),
    "n_dpd30_12m": ("PH07", "months 30+ days late in the last 12 months",
                    "近12个月逾期30天以上的账户月数", "count"),
    "n_dpd60_12m": ("PH08", "months 60+ days late in the last 12 months",
                    "近12个月逾期60天以上的账户月数", "count"),
    "n_dpd90_12m": ("PH09", "months 90+ days late in the last 12 months",
                    "近12个月逾期90天以上的账户月数", "count"),
    "n_dpd30_24m": ("PH10", "months 30+ days late in the last 24 months",
                    "近24个月逾期30天以上的账户月数", "count"),
    "n_dpd60_24m": ("PH11", "months 60+ days late in the last 24 months",
                    "近24个月逾期60天以上的账户月数", "count"),
    "n_dpd90_24m": ("PH12", "months 90+ days late in the last 24 months",
                    "近24个月逾期90天以上的账户月数", "count"),
    "months_since_delinquency": ("PH13", "time since the last late payment",
                                 "距最近一次逾期的时间", "months"),
    "overdue_amount": ("PH14", "amount overdue now", "当前逾期金额", "money"),
    "revolving_utilisation": ("AO01", "revolving credit utilisation", "循环授信额度使用率",
                              "pct"),
    "total_balance": ("AO02", "total balance owed", "总欠款余额", "money"),
    "n_accounts_with_balance": ("AO03", "accounts with a balance", "有余额的账户数", "count"),
    "oldest_account_months": ("LH01", "age of the oldest account", "最早账户的账龄", "months"),
    "avg_account_months": ("LH02", "average account age", "账户平均账龄", "months"),
    "hard_inquiries_3m": ("NC01", "credit applications (hard inquiries) in the last 3 months",
                          "近3个月贷款审批类查询次数", "count"),
    "hard_inquiries_6m": ("NC02", "credit applications (hard inquiries) in the last 6 months",
                          "近6个月贷款审批类查询次数", "count"),
    "hard_inquiries_12m": ("NC03", "credit applications (hard inquiries) in the last 12 months",
                           "近12个月贷款审批类查询次数", "count"),
    "accounts_opened_12m": ("NC04", "accounts opened in the last 12 months",
                            "近12个月新开账户数", "count"),
    "n_open_accounts": ("CM01", "open accounts", "未结清账户数", "count"),
    "n_account_types": ("CM02", "kinds of credit held", "持有的信贷种类数", "count"),
    "has_installment": ("CM03", "installment loan history", "分期贷款记录", "count"),
    "n_public_records": ("PR01", "public records (judgments, tax arrears, ...)",
                         "公共记录（判决、欠税等）条数", "count"),
    "n_open_public_records": ("PR02", "unresolved public records", "未结案的公共记录条数",
                              "count"),
}  # fmt: skip

#: the catalog every bureau model is trained and served with
BUREAU_CATALOG = ReasonCatalog({name: ReasonSpec(*spec) for name, spec in _SPECS.items()})
