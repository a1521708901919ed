"""Keras callbacks the tests share."""

from skcifar.utils.backend import import_keras


class CountSteps(import_keras().callbacks.Callback):
    """Counts the training steps a fit runs (``steps``)."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
