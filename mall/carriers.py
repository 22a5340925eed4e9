"""The common Chinese carriers an operator picks from when marking a redemption shipped.

The ship form offers them as a list (with 其他 and a free-text name); the CSV ship file keeps
accepting the names operators type (顺丰, 中通, EMS, SF…) and records them under these names.
"""

#: The carriers, as recorded on a redemption and shown to the member.
CARRIERS = [
    "顺丰速运",
    "中通快递",
    "圆通速递",
    "韵达快递",
    "申通快递",
    "京东物流",
    "中国邮政EMS",
    "极兔速递",
    "德邦快递",
]

#: The list's "other" entry: the carrier's name is then typed.
OTHER = "其他"

# Short and Latin names operators type, lower-cased, to the listed name.
_ALIASES = {
    "顺丰": "顺丰速运",
    "顺丰快递": "顺丰速运",
    "sf": "顺丰速运",
    "sf express": "顺丰速运",
    "中通": "中通快递",
    "zto": "中通快递",
    "圆通": "圆通速递",
    "圆通快递": "圆通速递",
    "yto": "圆通速递",
    "韵达": "韵达快递",
    "yunda": "韵达快递",
    "申通": "申通快递",
    "sto": "申通快递",
    "京东": "京东物流",
    "京东快递": "京东物流",
    "jd": "京东物流",
    "ems": "中国邮政EMS",
    "邮政": "中国邮政EMS",
    "中国邮政": "中国邮政EMS",
    "邮政ems": "中国邮政EMS",
    "极兔": "极兔速递",
    "极兔快递": "极兔速递",
    "j&t": "极兔速递",
    "德邦": "德邦快递",
    "德邦物流": "德邦快递",
}


def canonical(name: str) -> str:
    """The listed name for a carrier an operator typed (``顺丰`` → ``顺丰速运``); any other name as typed."""
    name = name.strip()
    if name in CARRIERS:
        return name
    return _ALIASES.get(name.lower(), name)


def choices(other_label: str) -> list[tuple[str, str]]:
    return [("", "---------")] + [(c, c) for c in CARRIERS] + [(OTHER, other_label)]
