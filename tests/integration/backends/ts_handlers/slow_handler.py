"""Test-only TorchServe handler: answers valid predictions, but only after 1.5 s."""

import json
import time


def handle(data, context):
    if data is None:
        return None
    time.sleep(1.5)
    out = []
    for request in data:
        body = request.get("body") or request.get("data")
        rows = body["instances"] if isinstance(body, dict) else json.loads(body)["instances"]
        predictions = [
            {"action": "buy", "confidence": 0.9, "risk_score": 0.1, "latency": 1.5, "reason": ""}
            for _ in rows
        ]
        out.append(json.dumps({"model_id": "slow/1", "predictions": predictions}))
    return out
