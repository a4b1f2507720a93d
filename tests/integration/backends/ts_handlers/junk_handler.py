"""Test-only TorchServe handler: answers 200 with a body that is not JSON."""


def handle(data, context):
    if data is None:
        return None
    return ["<html>definitely not json" for _ in data]
