"""What a Python user would otherwise run for webhooks: FastAPI behind uvicorn, decoding each body with
the official Fishjam SDK's `receive_binary`. Used once by `benches/webhook.rs` for comparison:

    python -m venv venv && venv/bin/pip install fishjam-server-sdk==0.31.1 fastapi uvicorn
    venv/bin/uvicorn --app-dir benches/python webhook_app:app --port 8000 --no-access-log --log-level warning &
    WEBHOOK_BENCH_EXTRA_URL=http://127.0.0.1:8000/webhook cargo bench --bench webhook
"""

from fastapi import FastAPI, Request, Response
from fishjam import receive_binary

app = FastAPI()


@app.post("/webhook")
async def webhook(request: Request) -> Response:
    notification = receive_binary(await request.body())
    if notification is None:
        return Response(status_code=400)
    return Response(status_code=200)
