"""Feeding arrays to Keras without copying them.

``model.fit(ndarray)`` converts the training array to a tensor of the backend,
a full copy (0.6 GB for CIFAR-10 in float32). :func:`batches` instead gathers
each batch from the array's own memory. On TensorFlow it is a ``tf.data``
pipeline over the array shared through DLPack, which needs a buffer that is
C-contiguous, writeable and aligned to 64 bytes: :func:`aligned_empty`
allocates arrays so, :func:`as_tensor` shares them. On JAX and PyTorch it is
a ``keras.utils.PyDataset`` whose batches NumPy gathers (:class:`ArrayBatches`).
"""

from __future__ import annotations

import itertools

import numpy as np

from .backend import backend_name, import_keras

_ALIGN = 64


def aligned_empty(shape, dtype):
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    start = -buffer.ctypes.data % _ALIGN
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def shareable(X):
    """``X`` itself if TensorFlow can share its memory, else an aligned copy of it.

    An aligned, contiguous, writeable array in native byte order is returned
    as it is; any other array (read-only memory maps from joblib, views,
    NumPy's default 16-byte alignment, byte-swapped data) is copied once, as
    Keras itself would. Call it once on data that several datasets will read,
    so that none of them copies it again.
    """
    flags = X.flags
    if X.size == 0 or (
        flags.c_contiguous and flags.writeable and X.ctypes.data % _ALIGN == 0 and X.dtype.isnative
    ):
        return X
    # DLPack has no byte order: copy byte-swapped arrays into native order.
    copy = aligned_empty(X.shape, X.dtype.newbyteorder("="))
    np.copyto(copy, X)
    return copy


def as_tensor(X):
    """A TensorFlow tensor of ``X``, sharing its memory when possible (see :func:`shareable`)."""
    import tensorflow as tf

    if X.size == 0:
        return tf.convert_to_tensor(X)
    return tf.experimental.dlpack.from_dlpack(shareable(X).__dlpack__())


def distributed_batch_multiple():
    """The devices each batch is split over under the Keras distribution in effect (else 1).

    Within ``keras.distribution.DataParallel(...).scope()`` a batch's rows are
    shared out among the devices, so its size must be a multiple of their
    count; outside any distribution every size is.
    """
    distribution = import_keras().distribution.distribution()
    if distribution is None:
        return 1
    mesh = distribution.device_mesh
    axes = dict(zip(mesh.axis_names, mesh.shape, strict=True))
    return int(axes.get(getattr(distribution, "batch_dim_name", None), mesh.devices.size))


def epoch_steps(n_rows, batch_size, batch_multiple=1):
    """Batches in an epoch of ``n_rows`` rows, the last one cut to a multiple of ``batch_multiple``.

    Examples
    --------
    >>> from skcifar.utils.input_pipeline import epoch_steps
    >>> epoch_steps(203, 32), epoch_steps(203, 32, batch_multiple=2)
    (7, 7)
    >>> epoch_steps(193, 32), epoch_steps(193, 32, batch_multiple=2)
    (7, 6)
    """
    full, left = divmod(int(n_rows), int(batch_size))
    return full + int(left - left % int(batch_multiple) > 0)


def batches(
    X,
    y=None,
    sample_weight=None,
    *,
    batch_size,
    indices=None,
    shuffle=False,
    seed=None,
    flip=None,
    first_epoch=0,
    batch_multiple=None,
):
    """Batches gathered straight from ``X``'s memory, for ``model.fit`` and inference.

    Keras' own array feeding copies a float array that is not float32 into a
    float32 array first, and a validation split needs its rows copied out.
    Here each batch is a gather of its rows in ``X``'s dtype, except that
    float16 rows come out as float32; memory beyond ``X`` is a few batches.
    On TensorFlow ``X`` is shared with it once (:func:`as_tensor`); its
    oneDNN build logs an error for every float16 operation on CPUs without
    AVX512-FP16, so float16 data travels as its bit patterns and a lookup
    table of all 65,536 widens each batch, exactly. An epoch depends on the
    seed and its number only, so a fit resumed at epoch ``k`` sees what a fit
    from scratch sees in epoch ``k``. On JAX and PyTorch the batches come
    from an :class:`ArrayBatches`, whose epochs are other permutations (NumPy's
    generator, not TensorFlow's) with the same guarantees.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Inputs.
    y, sample_weight : ndarray of shape (n_samples,) or None
        Targets and per-sample weights; None leaves them out of the batches.
    batch_size : int
        Rows per batch (the last one of an epoch may be smaller, see
        ``batch_multiple``).
    indices : ndarray of int or None
        Rows of ``X`` to use, in this order (None: all of them).
    shuffle : bool, default=False
        False: one pass over the rows in their order (validation,
        prediction). True (training): an endless dataset of epochs
        ``first_epoch``, ``first_epoch + 1``, ... one after another, each a
        permutation of the rows drawn from ``(seed, epoch)`` alone (a
        stateless shuffle); pass ``steps_per_epoch`` to ``model.fit``.
    seed : int or None
        Seed of the shuffling; None draws one from NumPy's global random
        state (scikit-learn's convention for ``random_state=None``).
    flip : object or None, default=None
        Mirror some images left-right as they are gathered: ``flip.rows`` is
        a boolean array over all rows of ``X``; a row is mirrored where its
        entry differs from "the epoch is odd", so every image is mirrored on
        alternate epochs.
    first_epoch : int, default=0
        The number of the first epoch (of the only one, without ``shuffle``).
    batch_multiple : int or None, default=None
        Every batch holds a multiple of this many rows: the last, smaller
        batch of an epoch is cut to the largest multiple (and left out when
        that is 0), so at most ``batch_multiple - 1`` rows of an epoch are
        left out; in shuffled epochs those are other rows each epoch, the
        last ones of its permutation. ``batch_size`` should be a multiple of
        it. None: the number of devices a batch is split over under the
        Keras distribution in effect (:func:`distributed_batch_multiple`),
        1 (nothing cut) outside one.

    Returns
    -------
    tf.data.Dataset or ArrayBatches
        Elements ``x``, ``(x, y)`` or ``(x, y, sample_weight)``; ``x`` has
        ``X``'s dtype, or float32 where that is float16.

    Examples
    --------
    >>> import numpy as np
    >>> from skcifar.utils.input_pipeline import batches
    >>> X = np.arange(10, dtype=np.float32)
    >>> data = batches(X, batch_size=4, shuffle=True, seed=0, first_epoch=3)
    >>> def epoch(data):  # the first three batches, as one array
    ...     return np.concatenate([np.asarray(b) for _, b in zip(range(3), data)])
    >>> epoch_3 = epoch(data)
    >>> sorted(epoch_3) == list(X)
    True
    >>> again = batches(X, batch_size=4, shuffle=True, seed=0, first_epoch=3)
    >>> bool(np.array_equal(epoch(again), epoch_3))
    True
    """
    rows = np.arange(len(X)) if indices is None else indices
    rows = np.asarray(rows, dtype=np.int64)
    if batch_multiple is None:
        batch_multiple = distributed_batch_multiple()
    multiple = int(batch_multiple)
    if shuffle and seed is None:  # scikit-learn's random_state=None: NumPy's global generator
        seed = np.random.randint(np.iinfo(np.int32).max)  # noqa: NPY002
    if backend_name() != "tensorflow":
        arrays = (X,) + tuple(np.asarray(a) for a in (y, sample_weight) if a is not None)
        return ArrayBatches(arrays, rows, batch_size, shuffle, seed, flip, first_epoch, multiple)
    import tensorflow as tf

    half = X.dtype == np.float16
    if half:  # carried as its bit patterns, widened per batch below
        X = X.view(np.uint16)
    size = int(batch_size)

    def cut(index_batches):  # the last batch to a multiple of ``multiple`` rows, if any
        if multiple == 1:
            return index_batches
        index_batches = index_batches.map(lambda b: b[: tf.size(b) // multiple * multiple])
        return index_batches.filter(lambda b: tf.size(b) > 0)

    if shuffle:
        key = tf.constant(seed, tf.int64)
        every_row = tf.constant(rows)

        def epoch_batches(epoch):
            order = tf.random.experimental.stateless_shuffle(every_row, seed=tf.stack([key, epoch]))
            epoch_rows = cut(tf.data.Dataset.from_tensor_slices(order).batch(size))
            return epoch_rows.map(lambda b: (b, epoch))

        index_batches = tf.data.Dataset.counter(int(first_epoch)).flat_map(epoch_batches)
    else:
        epoch = tf.constant(int(first_epoch), tf.int64)
        index_batches = cut(tf.data.Dataset.from_tensor_slices(rows).batch(size))
        index_batches = index_batches.map(lambda b: (b, epoch))
    arrays = (as_tensor(X),) + tuple(
        tf.constant(np.asarray(a)) for a in (y, sample_weight) if a is not None
    )
    # The arrays enter as one dataset element repeated, not as captures of the
    # gather function: tf.data would otherwise serialise them into its graph.
    data = tf.data.Dataset.zip((index_batches, tf.data.Dataset.from_tensors(arrays).repeat()))

    widen = None
    if half:  # the float32 value of each float16 bit pattern: 256 KB, captured
        widen = tf.constant(np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32))
    flip_rows = None if flip is None else tf.constant(np.asarray(flip.rows, dtype=bool))

    def gather(batch, arrays):
        index, epoch = batch
        picked = tuple(tf.gather(a, index) for a in arrays)
        if widen is not None:
            picked = (tf.gather(widen, tf.cast(picked[0], tf.int32)),) + picked[1:]
        if flip_rows is not None:
            mirrored = tf.not_equal(tf.gather(flip_rows, index), tf.equal(epoch % 2, 1))
            images = picked[0]
            images = tf.where(mirrored[:, None, None, None], tf.reverse(images, axis=[2]), images)
            picked = (images,) + picked[1:]
        return picked if len(picked) > 1 else picked[0]

    options = tf.data.Options()  # as Keras' own array feeding: no graph rewrites to pay for
    options.experimental_optimization.apply_default_optimizations = False
    # No autotuning thread: destroying an iterator waits for that thread, and
    # with the garbage collector holding the interpreter (Keras models are
    # freed by it) that wait lasts seconds (docs/benchmarks.md). AUTOTUNE then
    # means one call per core and a small fixed prefetch, far faster than any
    # network here consumes.
    options.autotune.enabled = False
    data = data.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return data.with_options(options)


class ArrayBatches(import_keras().utils.PyDataset):
    """:func:`batches` for JAX and PyTorch: a ``keras.utils.PyDataset`` gathering from arrays.

    Each item is a batch gathered with NumPy from ``arrays`` (no copy of them
    is made); the last batch of an epoch is cut to a multiple of
    ``batch_multiple`` rows. Without ``shuffle``, item ``i`` is batch ``i`` of
    the one pass over ``rows``. With ``shuffle`` the dataset is endless, as
    :func:`batches`' tf.data one: item ``i`` is batch ``i % steps`` of epoch
    ``first_epoch + i // steps`` (``steps`` batches an epoch), whose order is a
    permutation of ``rows`` drawn from ``(seed, epoch)`` alone. Iterating the
    object yields its items in order. See :func:`batches` for the parameters.
    """

    def __init__(
        self, arrays, rows, batch_size, shuffle, seed, flip, first_epoch, batch_multiple=1
    ):
        super().__init__()
        self.arrays, self.rows, self.size = arrays, rows, int(batch_size)
        self.multiple = int(batch_multiple)
        self.steps = epoch_steps(len(rows), self.size, self.multiple)
        self.shuffle, self.seed, self.first_epoch = bool(shuffle), seed, int(first_epoch)
        self.flip_rows = None if flip is None else np.asarray(flip.rows, dtype=bool)
        self._epoch, self._order = None, None

    @property
    def num_batches(self):
        """The batches of the one pass; None (endless) for shuffled epochs."""
        return None if self.shuffle else self.steps

    def __len__(self):
        return self.steps  # of one epoch

    def _order_of(self, epoch):
        if not self.shuffle:
            return self.rows
        if epoch != self._epoch:  # one permutation per epoch, kept while it is read
            self._epoch = epoch
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.rows)
        return self._order

    def __getitem__(self, index):
        epoch, batch = divmod(int(index), self.steps) if self.shuffle else (0, int(index))
        epoch += self.first_epoch
        rows = self._order_of(epoch)[batch * self.size : (batch + 1) * self.size]
        rows = rows[: len(rows) - len(rows) % self.multiple]
        picked = [array[rows] for array in self.arrays]
        if picked[0].dtype == np.float16:
            picked[0] = picked[0].astype(np.float32)
        if self.flip_rows is not None:
            mirrored = self.flip_rows[rows] != (epoch % 2 == 1)
            picked[0] = np.where(mirrored[:, None, None, None], picked[0][:, :, ::-1], picked[0])
        return tuple(picked) if len(picked) > 1 else picked[0]

    def __iter__(self):
        indices = itertools.count() if self.shuffle else range(self.steps)
        return (self[index] for index in indices)
