"""Money is integer fen everywhere; this is the one place that turns it into what people read and type.

People read ``¥1,650.00`` (``format_fen``) and type yuan (``parse_yuan``, ``YuanField``);
discounts are read and typed as 折 (``format_zhe``, ``parse_zhe``, ``ZheField``: 8.8 pays 88 %),
whatever unit the model stores them in (percent or basis points taken off).
"""

import re
import unicodedata
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

MAX_FEN = 10**12  # ¥10,000,000,000.00: far above any real amount, far below a BIGINT

# Digits with or without thousands separators, then at most any decimals (too many are refused
# with their own message); a sign and ¥ in either order, 元 after.
_YUAN = re.compile(
    r"(?P<sign1>[-+]?)¥?(?P<sign2>[-+]?)"
    r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<decimals>\d*))?"
    r"元?"
)


def format_fen(fen: int | None) -> str:
    """``165000`` → ``¥1,650.00``; negative amounts keep their sign in front: ``-¥0.50``."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def signed_fen(fen: int) -> str:
    """A change of an amount, always with its sign: ``+¥1.00``, ``-¥25.00``, ``¥0.00``."""
    return ("+" if fen > 0 else "") + format_fen(fen)


def yuan_text(fen: int | None) -> str:
    """What an input box shows for an amount: ``165000`` → ``1650.00`` (no ¥, no separators)."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan}.{cents:02d}"


def _normalise(text: str) -> str:
    """Full-width digits, ￥ and punctuation from a Chinese input method read as their ASCII forms."""
    text = unicodedata.normalize("NFKC", str(text)).replace("−", "-").strip()
    return re.sub(r"\s*([¥元折+-])\s*", r"\1", text)


def parse_yuan(text: str, *, allow_negative: bool = False, max_fen: int = MAX_FEN) -> int:
    """What an operator typed in yuan → integer fen: ``1650``, ``1,650.5``, ``¥1,650.00``, ``1650.00元``.

    Exact to the fen, never rounded: a third decimal is refused rather than
    guessed.  Refuses negatives unless ``allow_negative``, more than ``max_fen``
    either way, and anything that is not an amount (``ValidationError``).
    """
    match = _YUAN.fullmatch(_normalise(text))
    if not match or (match["sign1"] and match["sign2"]) or not (match["whole"] or match["decimals"]):
        raise ValidationError(_("Enter an amount in yuan, e.g. 1650 or 1,650.00."), code="invalid")
    decimals = match["decimals"] or ""
    if len(decimals) > 2:
        raise ValidationError(_("Amounts have at most two decimals (to the fen)."), code="decimals")
    whole = int((match["whole"] or "0").replace(",", ""))
    fen = whole * 100 + int(decimals.ljust(2, "0"))
    if "-" in match["sign1"] + match["sign2"]:
        fen = -fen
    if fen < 0 and not allow_negative:
        raise ValidationError(_("The amount cannot be negative."), code="negative")
    if abs(fen) > max_fen:
        raise ValidationError(
            _("The amount cannot be more than %(max)s."), code="max", params={"max": format_fen(max_fen)}
        )
    return fen


class YuanInput(forms.TextInput):
    """A text box for yuan between a ¥ and a 元; ``inputmode`` brings up the decimal keypad on a phone."""

    def __init__(self, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", "size": 14, **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        return format_html(
            '<span class="money-input"><span class="money-unit">¥</span> {} <span class="money-unit">{}</span></span>',
            box,
            _("yuan"),
        )


class YuanField(forms.Field):
    """An amount typed in yuan, cleaned to integer fen; shows the fen it is given as ``1650.00``.

    ``min_value`` and ``max_value`` are fen (``min_value`` 0 by default: no
    negative amounts unless a form asks for them).
    """

    widget = YuanInput

    def __init__(self, *, min_value: int | None = 0, max_value: int = MAX_FEN, **kwargs):
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def prepare_value(self, value):
        # Fen from the instance or ``initial``; the operator's own text when the form comes back with errors.
        if isinstance(value, int) and not isinstance(value, bool):
            return yuan_text(value)
        return value

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        allow_negative = self.min_value is None or self.min_value < 0
        return parse_yuan(value, allow_negative=allow_negative, max_fen=self.max_value)

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        if self.min_value is not None and value < self.min_value:
            raise ValidationError(
                _("The amount cannot be less than %(min)s."),
                code="min_value",
                params={"min": format_fen(self.min_value)},
            )
        if abs(value) > self.max_value:
            raise ValidationError(
                _("The amount cannot be more than %(max)s."),
                code="max",
                params={"max": format_fen(self.max_value)},
            )


# --- discounts as 折 ------------------------------------------------------------------------------


def _zhe_decimals(scale: int) -> int:
    """How many decimals of 折 a stored unit can hold: percent off → 8.8, basis points off → 8.85."""
    return min(2, len(str(scale)) - 2)


def zhe_of(off: int, *, scale: int) -> Decimal:
    """The 折 a stored discount means: ``scale`` is what "everything off" is stored as (100 or 10000)."""
    return (Decimal(scale - off) * 10 / scale).normalize()


def format_zhe(off: int | None, *, scale: int) -> str:
    """``12`` percent off → ``8.8折``; ``1150`` basis points off → ``8.85折``; nothing off → 不打折."""
    if off is None:
        return "—"
    if not off:
        return str(_("no discount"))
    return f"{zhe_of(off, scale=scale):f}折"


def parse_zhe(text: str, *, scale: int) -> int:
    """What an operator typed as 折 (``8.8``, ``8.8折``, ``9``) → the stored discount taken off.

    Between one step above 0 and one step below 10 (0.1–9.9 for a percent,
    0.01–9.99 for basis points), with no more decimals than the stored unit
    holds, so it converts exactly.
    """
    decimals = _zhe_decimals(scale)
    step = Decimal(1).scaleb(-decimals)
    raw = _normalise(text).removesuffix("折")
    zhe = Decimal(raw) if re.fullmatch(r"\d{1,2}(\.\d{0,9})?|\.\d{1,9}", raw) else None
    if zhe is not None and zhe != zhe.quantize(step):
        raise ValidationError(
            _("The discount has at most %(n)s decimal(s) here."), code="decimals", params={"n": decimals}
        )
    if zhe is None or not step <= zhe <= 10 - step:
        raise ValidationError(
            _("Enter the discount as 折 between %(min)s and %(max)s, e.g. 8.8 (the member pays 88%%)."),
            code="invalid",
            params={"min": step, "max": 10 - step},
        )
    return scale - int(zhe * scale / 10)


def zhe_preview(off: int | None, *, scale: int) -> str:
    """``¥100 的订单实付 ¥88.00``: what the discount means for a round basket."""
    if off is None:
        return str(_("Enter a number of 折 such as 8.8"))
    if not off:
        return str(_("No discount: a ¥100 order pays ¥100.00"))
    return str(_("A ¥100 order pays %(amount)s") % {"amount": format_fen(10_000 * (scale - off) // scale)})


class ZheInput(forms.TextInput):
    """A text box for 折 with, beside it, what a ¥100 basket pays (kept live by ``loyalty/zhe.js``)."""

    class Media:
        js = ["loyalty/zhe.js"]

    def __init__(self, attrs=None, *, scale: int = 100):
        self.scale = scale
        super().__init__({"inputmode": "decimal", "autocomplete": "off", "size": 6, **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        try:
            off = parse_zhe(value, scale=self.scale) if value not in (None, "") else 0
        except ValidationError:
            off = None
        return format_html(
            '<span class="zhe-input" data-decimals="{}" data-pays="{}" data-none="{}" data-invalid="{}">'
            '{} <span class="money-unit">折</span> <span class="zhe-preview">{}</span></span>',
            _zhe_decimals(self.scale),
            _("A ¥100 order pays %(amount)s") % {"amount": "{amount}"},
            _("No discount: a ¥100 order pays ¥100.00"),
            _("Enter a number of 折 such as 8.8"),
            box,
            zhe_preview(off, scale=self.scale),
        )


class ZheField(forms.Field):
    """A discount typed as 折 (8.8 pays 88 %), cleaned to what the model stores: the share taken off,
    out of ``scale`` (100 for percent, 10000 for basis points).  Empty means no discount (0)."""

    def __init__(self, *, scale: int = 100, **kwargs):
        self.scale = scale
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", ZheInput(scale=scale))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return "" if not value else f"{zhe_of(value, scale=self.scale):f}"
        return value

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return 0
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return parse_zhe(value, scale=self.scale)

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "placeholder": _("no discount")}


# --- a share of something, stored in basis points, typed and read as a percentage --------------------


def format_share(bp: int | None) -> str:
    """``5000`` basis points → ``50%``; ``1250`` → ``12.5%``."""
    if bp is None:
        return "—"
    return f"{(Decimal(bp) / 100).normalize():f}%"


class ShareField(forms.Field):
    """A share typed as a percentage (``50``, ``12.5%``), cleaned to basis points (5000, 1250): 0 to 100,
    to two decimals, so it converts exactly."""

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return format_share(value).removesuffix("%")
        return value

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raw = _normalise(str(value)).removesuffix("%")
        if not re.fullmatch(r"\d{1,3}(\.\d{1,2})?", raw) or Decimal(raw) > 100:
            raise ValidationError(
                _("Enter a percentage from 0 to 100, with at most two decimals, e.g. 50."), code="invalid"
            )
        return int(Decimal(raw) * 100)

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "inputmode": "decimal", "placeholder": "50"}
