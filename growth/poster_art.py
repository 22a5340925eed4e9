"""Drawing a share poster with Pillow: the sharer, the thing shared, its price, and the mini-program code.

Pure drawing, no database and no network: ``growth.posters`` gathers the words and the pictures and
calls ``poster_draw``.  Chinese needs a CJK font (Debian's fonts-noto-cjk, ``POSTER_FONT_PATH``); a
missing one is ``PosterFontMissing``, never a poster of empty boxes.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

from growth.exceptions import PosterFontMissing

WIDTH, HEIGHT = 750, 1250
MARGIN = 40
PICTURE_BOX = (MARGIN, 180, WIDTH - MARGIN, 740)  # left, top, right, bottom
CODE_SIZE = 200
FOOT_TOP = HEIGHT - CODE_SIZE - 80  # the rule above the code
# Noto Sans CJK's collection: 0 JP, 1 KR, 2 SC (simplified Chinese glyph forms), 3 TC, 4 HK.
SIMPLIFIED_CHINESE = 2
INK, GREY, LIGHT, RED = "#1F2937", "#6B7280", "#F3F4F6", "#E53935"


@dataclass(frozen=True)
class PosterText:
    """Everything a poster says (strings, already formatted: prices in 元)."""

    sharer: str  # the sharer's nickname
    invitation: str  # 邀请你一起拼团
    title: str  # the item's, the card's or the shop's name
    price: str  # ¥39.00, 1,200 积分 + ¥9.90, 免费领取
    struck_price: str  # 原价 ¥69.00, drawn struck through ("" for none)
    hint: str  # 还差 1 人成团
    footer: str  # the shop's name
    accent: str  # the header band's colour, #RRGGBB


@lru_cache(maxsize=32)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=SIMPLIFIED_CHINESE)


def poster_fonts_check(regular: str, bold: str) -> tuple[str, str]:
    """The font files to draw with (a missing bold falls back to the regular); no regular font is an error."""
    if not os.path.isfile(regular):
        raise PosterFontMissing(details={"font": regular, "package": "fonts-noto-cjk"})
    return regular, bold if os.path.isfile(bold) else regular


def _lines(text: str, font: ImageFont.FreeTypeFont, width: int, most: int) -> list[str]:
    """``text`` cut into lines of at most ``width`` pixels (Chinese breaks anywhere), ``…`` past ``most``."""
    lines, line = [], ""
    for char in text:
        if font.getlength(line + char) <= width:
            line += char
            continue
        lines.append(line)
        line = char
    if line:
        lines.append(line)
    if len(lines) > most:
        last = lines[most - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = [*lines[: most - 1], last + "…"]
    return lines


def _fit(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    return _lines(text, font, width, 1)[0] if text else ""


def _round(picture: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", picture.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, *picture.size), radius=radius, fill=255)
    rounded = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    rounded.paste(picture.convert("RGBA"), (0, 0), mask)
    return rounded


def _avatar(avatar: Image.Image | None, name: str, size: int, font_path: str, accent: str) -> Image.Image:
    """The avatar in a white-ringed circle; without one, the name's first character on a plain disc."""
    if avatar is not None:
        face = ImageOps.fit(avatar.convert("RGB"), (size, size))
    else:
        face = Image.new("RGB", (size, size), "#FFFFFF")
        initial = (name or "友")[0]
        ImageDraw.Draw(face).text(
            (size / 2, size / 2), initial, font=_font(font_path, size // 2), fill=accent, anchor="mm"
        )
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    ring = Image.new("RGBA", (size + 8, size + 8), (0, 0, 0, 0))
    ImageDraw.Draw(ring).ellipse((0, 0, size + 7, size + 7), fill="#FFFFFF")
    ring.paste(face, (4, 4), mask)
    return ring


def poster_draw(
    *,
    text: PosterText,
    code: Image.Image,
    avatar: Image.Image | None,
    picture: Image.Image | None,
    font_paths: tuple[str, str],
) -> bytes:
    """The poster as PNG bytes, ``WIDTH`` × ``HEIGHT``."""
    regular, bold = font_paths
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "#FFFFFF")
    draw = ImageDraw.Draw(canvas)

    # The header: who shares, and what they ask.
    draw.rectangle((0, 0, WIDTH, 150), fill=text.accent)
    face = _avatar(avatar, text.sharer, 88, bold, text.accent)
    canvas.paste(face, (MARGIN - 4, 27), face)
    name_font, ask_font = _font(bold, 32), _font(regular, 26)
    draw.text(
        (150, 36), _fit(text.sharer or "微信用户", name_font, WIDTH - 190), font=name_font, fill="#FFFFFF"
    )
    draw.text((150, 84), _fit(text.invitation, ask_font, WIDTH - 190), font=ask_font, fill="#FFFFFF")

    # The picture of the item or card; without one, its name large on a plain panel.
    left, top, right, bottom = PICTURE_BOX
    box = (right - left, bottom - top)
    if picture is not None:
        framed = _round(ImageOps.fit(picture.convert("RGB"), box), 16)
        canvas.paste(framed, (left, top), framed)
    else:
        draw.rounded_rectangle(PICTURE_BOX, radius=16, fill=LIGHT)
        big = _font(bold, 56)
        lines = _lines(text.title, big, box[0] - 80, 3)
        y = top + box[1] / 2 - len(lines) * 40
        for line in lines:
            draw.text((WIDTH / 2, y + 40), line, font=big, fill=text.accent, anchor="mm")
            y += 80

    # The name and the price.
    title_font = _font(bold, 36)
    y = bottom + 28
    for line in _lines(text.title, title_font, WIDTH - 2 * MARGIN, 2):
        draw.text((MARGIN, y), line, font=title_font, fill=INK)
        y += 52
    price_font, struck_font = _font(bold, 46), _font(regular, 26)
    y = bottom + 140
    draw.text((MARGIN, y), text.price, font=price_font, fill=RED)
    if text.struck_price:
        x = MARGIN + price_font.getlength(text.price) + 20
        draw.text((x, y + 18), text.struck_price, font=struck_font, fill=GREY)
        left_, top_, right_, bottom_ = draw.textbbox((x, y + 18), text.struck_price, font=struck_font)
        middle = (top_ + bottom_) / 2
        draw.line((left_, middle, right_, middle), fill=GREY, width=2)

    # The mini-program code, and how to use it.
    line_y = FOOT_TOP
    draw.line((MARGIN, line_y, WIDTH - MARGIN, line_y), fill="#E5E7EB", width=2)
    code_box = (WIDTH - MARGIN - CODE_SIZE, line_y + 30)
    canvas.paste(code.convert("RGB").resize((CODE_SIZE, CODE_SIZE)), code_box)
    text_width = WIDTH - 3 * MARGIN - CODE_SIZE
    draw.text((MARGIN, line_y + 60), "长按识别小程序码", font=_font(bold, 30), fill=INK)
    hint_font = _font(regular, 24)
    draw.text((MARGIN, line_y + 110), _fit(text.hint, hint_font, text_width), font=hint_font, fill=RED)
    draw.text((MARGIN, line_y + 156), _fit(text.footer, hint_font, text_width), font=hint_font, fill=GREY)

    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=False)
    return out.getvalue()
