"""The OpenAPI document of the API, as committed at tests/data/openapi.json.

    python -m casecraft.server.openapi_doc > tests/data/openapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any, cast


def document() -> dict[str, Any]:
    """The app's OpenAPI document (built without a database: no route runs)."""
    from casecraft.engine import Engine
    from casecraft.server.app import create_app

    return create_app(cast(Engine, None), rate_limit=None).openapi()


def main() -> None:
    sys.stdout.write(json.dumps(document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
