"""Reference tables for the synthetic bureau: institutions, regions, names, addresses, phones.

All of it is small, static and invented except the administrative division codes (real county
codes of GB/T 2260) and the mobile number prefixes (real ranges, each checked with
``phonenumbers`` by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COMPANY_WORDS",
    "GIVEN_CHARS",
    "INDUSTRIES",
    "INSTITUTIONS",
    "LATIN_GIVEN",
    "LATIN_SURNAMES",
    "MOBILE_PREFIXES",
    "PINYIN",
    "REGIONS",
    "STREETS",
    "SURNAMES",
    "Institution",
    "Region",
]


@dataclass(frozen=True, slots=True)
class Institution:
    """A furnisher: its code, name, kind, the account types it grants and its file format."""

    code: str
    name: str
    kind: str  # bank | consumer_finance | online_lending | marketplace | public_source
    person_products: tuple[str, ...] = ()
    enterprise_products: tuple[str, ...] = ()
    record_kinds: tuple[str, ...] = ()  # public_source only
    file_format: str = "jsonl"

    @property
    def is_public(self) -> bool:
        return self.kind == "public_source"


INSTITUTIONS: tuple[Institution, ...] = (
    Institution(
        "BANK01",
        "第一商业银行",
        "bank",
        ("credit_card", "credit_card", "installment_loan", "revolving_loan"),
        ("installment_loan", "revolving_loan", "guarantee"),
    ),
    Institution(
        "BANK02",
        "华东城市银行",
        "bank",
        ("credit_card", "installment_loan", "installment_loan", "revolving_loan"),
        ("installment_loan", "revolving_loan", "guarantee"),
    ),
    Institution(
        "CFC01",
        "安信消费金融有限公司",
        "consumer_finance",
        ("installment_loan", "installment_loan", "bnpl"),
        (),
        file_format="csv",
    ),
    Institution(
        "P2P01",
        "快贷网络小额贷款有限公司",
        "online_lending",
        ("installment_loan", "revolving_loan"),
        ("revolving_loan",),
    ),
    Institution(
        "MKT01",
        "优选电商平台",
        "marketplace",
        ("marketplace_credit", "bnpl"),
        ("marketplace_credit",),
    ),
    Institution(
        "COURT01",
        "人民法院公开信息",
        "public_source",
        record_kinds=("court_judgment", "enforcement"),
    ),
    Institution(
        "TAX01",
        "税务与市场监管公开信息",
        "public_source",
        record_kinds=("tax_arrears", "admin_penalty"),
    ),
)


@dataclass(frozen=True, slots=True)
class Region:
    """A county-level division: code, province abbreviation, city and district names."""

    code: str
    abbr: str
    city: str
    district: str


REGIONS: tuple[Region, ...] = (
    Region("110105", "京", "北京市", "朝阳区"),
    Region("110108", "京", "北京市", "海淀区"),
    Region("310104", "沪", "上海市", "徐汇区"),
    Region("310115", "沪", "上海市", "浦东新区"),
    Region("440106", "粤", "广州市", "天河区"),
    Region("440305", "粤", "深圳市", "南山区"),
    Region("330106", "浙", "杭州市", "西湖区"),
    Region("320102", "苏", "南京市", "玄武区"),
    Region("510107", "川", "成都市", "武侯区"),
    Region("420106", "鄂", "武汉市", "武昌区"),
    Region("500103", "渝", "重庆市", "渝中区"),
    Region("610113", "陕", "西安市", "雁塔区"),
    Region("120101", "津", "天津市", "和平区"),
    Region("370102", "鲁", "济南市", "历下区"),
    Region("430104", "湘", "长沙市", "岳麓区"),
    Region("350203", "闽", "厦门市", "思明区"),
    Region("410105", "豫", "郑州市", "金水区"),
    Region("210102", "辽", "沈阳市", "和平区"),
    Region("530102", "滇", "昆明市", "五华区"),
    Region("340104", "皖", "合肥市", "蜀山区"),
)

# Common surnames with their pinyin, so a few furnishers can send the romanised form.
SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN_CHARS: tuple[str, ...] = tuple(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥建国志文辉鹏飞宇浩然子涵欣怡"
    "梓轩雨婷俊杰思远嘉怡佳琪一鸣晓东海燕春梅立新永刚"
)
# One pinyin form per surname above, in the same order.
_PINYIN_TEXT = (
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo "
    "Zheng Liang Xie Song Tang Xu Han Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Yu "
    "Jiang Cai Yu Du Ye Cheng Su Wei Lyu Ding Ren Shen"
)
PINYIN: dict[str, str] = dict(zip(SURNAMES, _PINYIN_TEXT.split(" "), strict=True))
_LATIN_SURNAMES = (
    "Smith Kim Nguyen Tanaka Müller Ivanov Garcia Khan Sato Park Silva Brown Rossi Dubois"
)
_LATIN_GIVEN = "James Anna Minh Yuki Lukas Olga Maria Ahmed Hana Joon Pedro Emily Marco Claire"
LATIN_SURNAMES: tuple[str, ...] = tuple(_LATIN_SURNAMES.split(" "))
LATIN_GIVEN: tuple[str, ...] = tuple(_LATIN_GIVEN.split(" "))

STREETS: tuple[str, ...] = (
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平街",
    "文化路",
    "长江路",
    "黄河路",
    "学府路",
    "科技园路",
    "新华街",
    "青年路",
)
COMPANY_WORDS: tuple[str, ...] = (
    "华信",
    "瑞丰",
    "恒泰",
    "鼎盛",
    "宏达",
    "金桥",
    "新锐",
    "博远",
    "德润",
    "嘉禾",
    "天成",
    "永安",
)
INDUSTRIES: tuple[str, ...] = (
    "科技",
    "贸易",
    "餐饮管理",
    "建筑工程",
    "物流",
    "电子商务",
    "服装",
    "食品",
    "文化传媒",
    "机械制造",
)

# Real Chinese mobile ranges (1[3-9]X); every one is a valid number for ``phonenumbers``.
MOBILE_PREFIXES: tuple[str, ...] = (
    *(f"13{d}" for d in range(10)),
    "147",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "175",
    "176",
    "177",
    "178",
    *(f"18{d}" for d in range(10)),
    "191",
    "195",
    "198",
    "199",
)
