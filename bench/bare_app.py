"""The floor under an API call: a bare FastAPI app on uvicorn that does what every route does but the work.

    CASECRAFT_BARE_PAYLOAD=case.json python -m uvicorn bench.bare_app:app --port N

``POST /fire`` reads a JSON body, hops the threadpool once (as every engine
call does) and answers the payload of the file (a real fire's response,
serialised again on every request, as the API does). bench/api.py runs it
beside the real server: its round trip is the part of an API call that no
change to casecraft can remove on this machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

app = FastAPI()
_PAYLOAD: Any = json.loads(Path(os.environ["CASECRAFT_BARE_PAYLOAD"]).read_text(encoding="utf-8"))


@app.post("/fire")
async def fire(request: Request) -> Response:
    json.loads(await request.body())
    payload = await run_in_threadpool(lambda: _PAYLOAD)
    return Response(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                    media_type="application/json")
