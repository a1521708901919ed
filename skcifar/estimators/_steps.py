"""How many steps a fit trains, and :class:`StepLimit`, the callback that counts and ends them.

(A ``time_budget`` fit's limit is planned instead: :mod:`skcifar.estimators._budget`.)
"""

from __future__ import annotations

from ..utils.backend import import_keras


def training_steps(epochs, steps_per_epoch):
    """Optimiser steps in ``epochs`` epochs, a fraction of one to the batch; at least 1."""
    return max(1, round(epochs * steps_per_epoch))


def as_epochs(steps, steps_per_epoch):
    """``steps`` in epochs: an int when whole, else a float (``training_steps`` inverts it)."""
    whole, rest = divmod(int(steps), steps_per_epoch)
    return whole if not rest else steps / steps_per_epoch


class StepLimit(import_keras().callbacks.Callback):
    """Counts the training steps of a fit and ends it after ``limit`` of them.

    ``trained`` starts at ``done``, the steps trained before this fit (it
    resumes a cached run): they count towards ``limit`` and :meth:`epochs`.
    """

    def __init__(self, limit, steps_per_epoch, done=0):
        super().__init__()
        self.limit = int(limit)
        self.steps_per_epoch = int(steps_per_epoch)
        self.trained = int(done)

    @property
    def max_steps(self):
        """The most steps the fit may take (``model.fit`` is given epochs for them)."""
        return self.limit

    def epochs(self):
        """The epochs trained so far (see :func:`as_epochs`)."""
        return as_epochs(self.trained, self.steps_per_epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.trained += 1
        self._after_step()
        if self.trained >= self.limit:
            self.model.stop_training = True

    def _after_step(self):
        pass  # a subclass's work after each step is counted, before the limit is checked
