"""casecraft serve: the operators' API over HTTP (FastAPI on uvicorn).

    from casecraft.server import create_app
"""

from casecraft.server.app import Settings, create_app
from casecraft.server.security import RateLimit

__all__ = ["RateLimit", "Settings", "create_app"]
