"""The experiments: what is trained and where its results live.

Cross-validation runs and their fold records (:mod:`.cv`), the baselines (:mod:`.baselines`),
the TIM-Net calibration (:mod:`.timnet`), the leaky protocols (:mod:`.leaky`), the Dask workers
(:mod:`.distributed`), the book's grid and the studies' points (:mod:`.grid`), the GAN quality
report (:mod:`.quality`) and the GAN budget ladder (:mod:`.gan_ladder`).

This layer uses the science of :mod:`adcrnn_lib` (data, features, models, losses, augmenters,
training) and is used by :mod:`adcrnn_lib.chapters`; it imports neither the chapters nor the command line.
"""
