"""Test-only TorchServe handler: our wire protocol over a constant predictor (answers at once)."""

from nautilus_ai.models.base import Action, Prediction
from nautilus_ai.models.torchserve_wire import handle_batch


class _Constant:
    model_id = "fast/1"
    spec_hash = None

    def predict(self, features, context):
        action = Action.BUY if features[0] >= 0 else Action.SELL
        return Prediction(action, 0.75, 0.25, "fast/1")

    def predict_batch(self, features, contexts=None):
        return [self.predict(row, None) for row in features]

    def close(self):
        pass


_PREDICTOR = _Constant()


def handle(data, context):
    if data is None:
        return None
    bodies, statuses = handle_batch(_PREDICTOR, data, feature_count=None)
    for index, status in enumerate(statuses):
        if status != 200:
            context.set_response_status(status, "Bad Request", index)
    return bodies
