"""Finding a CJK font for charts and diagrams, so Chinese labels never render as tofu boxes."""

from __future__ import annotations

import os
from pathlib import Path

from casecraft.base.errors import InputError

# Debian's fonts-wqy-microhei and fonts-noto-cjk; macOS and Windows system fonts.
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


def cjk_font() -> Path:
    """The path of a font with Chinese glyphs: ``$CASECRAFT_CJK_FONT`` or a known system font.

    Raises:
        InputError: no CJK font is installed (names the package to install).
    """
    env = os.environ.get("CASECRAFT_CJK_FONT")
    if env:
        if not Path(env).is_file():
            raise InputError("CASECRAFT_CJK_FONT={file} is not a font file", file=env)
        return Path(env)
    for cand in CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    raise InputError("no Chinese (CJK) font found; install one (Debian: `apt-get install fonts-wqy-microhei`) "
                     "or set CASECRAFT_CJK_FONT to a .ttf/.ttc/.otf file")
