"""Helpers shared by the stages: not the user API, but public to the package.

* :mod:`skcifar.utils.validation` - input checks and the image-shape rule;
* :mod:`skcifar.utils.sizes` - the one normaliser of layer-size parameters (NumPy only);
* :mod:`skcifar.utils.input_pipeline` - feeding arrays to TensorFlow without copies;
* :mod:`skcifar.utils.backend` - quiet Keras/TensorFlow imports and calls, threads, seeding;
* :mod:`skcifar.utils.atomic` - files that appear complete or not at all;
* :mod:`skcifar.utils.keras_internals` - every use of Keras' and TensorFlow's non-public API;
* :mod:`skcifar.utils.npy` - ``.npy`` data checked before its declared size is allocated;
* :mod:`skcifar.utils.codec` - values <-> JSON without pickle (parameters, fitted attributes);
* :mod:`skcifar.utils.file_limits` - what a file may declare, checked before it is read;
* :mod:`skcifar.utils.targets` - what a writer may replace: only what skcifar wrote;
* :mod:`skcifar.utils.estimator_checks` - scikit-learn's estimator checks for skcifar;
* :mod:`skcifar.utils.versions` - skcifar's version and the libraries' versions;
* :mod:`skcifar.utils.stacklevel` - warnings that point at the user's call.

Importing this package imports none of them (nor TensorFlow).
"""
