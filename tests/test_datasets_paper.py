"""Paper datasets and the Mixed-omega seed: --mix-seed, tinyimagenet, imagenet:PATH, stl10+unlabeled, presets."""

from __future__ import annotations

import numpy as np

from core.runs.pipeline import load_run_data
from core.training.config import TrainConfig, make_config


def test_mix_seed_is_separate_from_the_training_seed():
    a = make_config("digits", mix=0.2, seed=1, epochs=1)
    b = make_config("digits", mix=0.2, seed=2, epochs=1)
    assert a.mix_seed == b.mix_seed == 0
    da, db = load_run_data(a), load_run_data(b)
    assert np.array_equal(da.mixed, db.mixed)
    assert np.array_equal(da.x_train, db.x_train)
    assert da.fingerprint == db.fingerprint
    c = load_run_data(make_config("digits", mix=0.2, seed=1, mix_seed=5, epochs=1))
    assert not np.array_equal(c.mixed, da.mixed)
    assert c.fingerprint != da.fingerprint
    assert int(c.mixed.sum()) == int(da.mixed.sum()) == round(0.2 * len(da.y_train))


def test_legacy_config_without_mix_seed_mixed_with_the_training_seed():
    old = make_config("digits", seed=7).to_dict()
    del old["mix_seed"]
    assert TrainConfig.from_dict(old).mix_seed == 7
    assert make_config("digits", seed=7).mix_seed == 0
