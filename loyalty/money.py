"""Money is integer fen everywhere; this is the one place that formats it for people."""


def format_fen(fen: int | None) -> str:
    """``165000`` → ``¥1,650.00``; negative amounts keep their sign in front: ``-¥0.50``."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"
