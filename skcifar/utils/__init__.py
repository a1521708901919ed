"""Helpers shared by the stages: not the user API, but public to the package.

Input checks and the image-shape rule (:mod:`~skcifar.utils.validation`,
:mod:`~skcifar.utils.sizes`); feeding Keras' backend (``input_pipeline``,
``backend``, ``keras_internals``); files that are safe to write and to read
(``atomic``, ``targets``, ``npy``, ``codec``, ``file_limits``); and
``estimator_checks``, ``versions`` and ``stacklevel`` (warnings that point
at the user's call). Each module's docstring says what it
holds. Importing this package imports none of them (nor Keras).
"""
