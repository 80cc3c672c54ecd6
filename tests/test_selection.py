"""Model selection, learning-rate schedules and the training options of the profiles."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import ParameterError
from adcrnn_lib.features import segment
from adcrnn_lib.profiles import LEGACY_TRAINING, get_profile
from adcrnn_lib.train import SegmentData, _Select, learning_rate

#: The default profile, whose own values the tests below read rather than copy.
CPU = get_profile("cpu")


class _Scripted(_Select):
    """_Select whose validation scores are scripted instead of computed."""

    def __init__(self, script, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.script = list(script)

    def score(self):
        ua = self.script.pop(0) if self.script else 0.0
        return {"wa": ua, "ua": ua, "macro_f1": ua}


class _Snapshots(keras.callbacks.Callback):
    """The base model's weights after every epoch (runs before _Select's end-of-epoch work)."""

    def __init__(self, base):
        super().__init__()
        self.base, self.weights = base, []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.base.get_weights()])


def _fit(script, *, selection="best", patience=2, epochs=6, average_last=2):
    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    base.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).standard_normal((32, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    val = SegmentData(x[:4], y[:4], np.arange(4), y[:4])
    snaps = _Snapshots(base)
    select = _Scripted(script, base, val, 2, patience, selection=selection, epochs=epochs, average_last=average_last)
    base.fit(x, y, batch_size=8, epochs=epochs, callbacks=[snaps, select], verbose=0, shuffle=False)
    select.finish()
    return base, select, snaps.weights


def _same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


def test_best_keeps_the_best_epoch_and_stops_on_patience():
    base, select, snaps = _fit([0.5, 0.7, 0.6, 0.6, 0.9, 0.9], patience=2)
    assert select.best_epoch == 2
    assert select.best_val["ua"] == 0.7
    assert len(select.history["val_ua"]) == 4  # epochs 3 and 4 without a better score: stop
    assert _same(base.get_weights(), snaps[1])
    assert not _same(base.get_weights(), snaps[-1])


def test_best_keeps_the_earliest_of_tied_epochs():
    base, select, snaps = _fit([0.5, 0.7, 0.7, 0.7, 0.1, 0.1], patience=3)
    assert select.best_epoch == 2
    assert _same(base.get_weights(), snaps[1])


def test_last_runs_every_epoch_and_keeps_the_final_weights():
    base, select, snaps = _fit([0.9, 0.1, 0.1, 0.1, 0.1, 0.2], selection="last", patience=1)
    assert len(select.history["val_ua"]) == 6
    assert select.best_epoch == 6
    assert select.best_val["ua"] == 0.2
    assert _same(base.get_weights(), snaps[-1])


def test_average_keeps_the_mean_of_the_last_epochs():
    base, select, snaps = _fit([0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.33], selection="average", average_last=3)
    assert len(select.history["val_ua"]) == 6
    expected = [np.mean([s[i] for s in snaps[-3:]], axis=0) for i in range(len(snaps[-1]))]
    for got, want in zip(base.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert not _same(base.get_weights(), snaps[-1])
    assert select.best_val["ua"] == 0.33  # the averaged weights are scored once more


def test_cosine_schedule_warms_up_then_decays_to_zero():
    prof = get_profile("cpu").with_overrides({"lr_schedule": "cosine", "warmup_epochs": 2, "epochs": 10, "learning_rate": 1e-3})
    lr = learning_rate(prof, steps_per_epoch=10)
    values = [float(lr(step)) for step in (0, 10, 20, 60, 100)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert values[1] == pytest.approx(5e-4, rel=1e-4)  # half-way through the warm-up
    assert values[2] == pytest.approx(1e-3, rel=1e-4)  # peak at the end of the warm-up
    assert values[2] > values[3] > values[4]
    assert values[4] == pytest.approx(0.0, abs=1e-9)
    constant = get_profile("cpu").with_overrides({"lr_schedule": "constant"})
    assert learning_rate(constant, 10) == constant.learning_rate
    assert CPU.lr_schedule == "cosine" and CPU.warmup_epochs == 0
    cpu = learning_rate(CPU, 10)  # cosine from the first step: no warm-up, zero at the last of its epochs x 10 steps
    assert float(cpu(0)) == pytest.approx(CPU.learning_rate, rel=1e-6) and float(cpu(CPU.epochs * 10)) == pytest.approx(0.0, abs=1e-9)
    assert float(cpu(CPU.epochs * 5)) == pytest.approx(CPU.learning_rate / 2, rel=1e-4)  # half-way down the cosine


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"lr_schedule": "step"}, "lr_schedule='step'; allowed: constant, cosine"),
        ({"selection": "median"}, "selection='median'; allowed: best, last, average"),
        ({"bn_momentum": 1.0}, "bn_momentum=1.0"),
        ({"bn_momentum": "0.9"}, "bn_momentum='0.9'"),
        ({"warmup_epochs": 30}, "warmup_epochs=30"),
        ({"epochs": 0}, "epochs=0"),
        ({"segment_frames": 300, "segment_hop": 400}, "segment_hop=400 is more than segment_frames=300"),
        ({"selection": "average", "average_last": CPU.epochs + 1}, f"average_last={CPU.epochs + 1} is more than epochs={CPU.epochs}"),
        ({"weight_decay": -0.1}, "weight_decay=-0.1"),
        ({"validation": "test"}, "validation='test'; allowed: held_out, trained"),
        ({"validation": "trained", "selection": "best"}, "validation='trained' with selection='best' would choose the epoch on utterances it trained on"),
        ({"n_splits": 3}, "cannot override n_splits"),
        ({"dropout": 0.1}, "cannot override dropout"),
    ],
)
def test_bad_training_options_are_refused_with_their_name(overrides, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        ExperimentConfig(overrides=overrides)


def test_overrides_change_the_key_but_legacy_values_do_not():
    plain = ExperimentConfig()
    assert ExperimentConfig(overrides={"epochs": CPU.epochs}).key() == plain.key()  # the cpu profile's own value
    assert ExperimentConfig(overrides={k: getattr(get_profile("cpu"), k) for k in LEGACY_TRAINING}).key() == plain.key()
    # a setting at the value every run before it trained with is left out of the hash
    smoke = ExperimentConfig(profile="smoke")
    assert ExperimentConfig(profile="smoke", overrides=dict(LEGACY_TRAINING)).key() == smoke.key()
    assert CPU.bn_momentum != LEGACY_TRAINING["bn_momentum"]  # cpu's own momentum is not the legacy one ...
    assert ExperimentConfig(overrides={"bn_momentum": LEGACY_TRAINING["bn_momentum"]}).key() != plain.key()  # ... so the legacy one is an override
    keys = {ExperimentConfig(overrides={name: value}).key() for name, value in [("epochs", CPU.epochs + 5), ("bn_momentum", 0.5), ("selection", "last"), ("segment_hop", 25)]}
    assert plain.key() not in keys and len(keys) == 4
    # a dict and pairs in another order are the same configuration, and survive JSON
    a = ExperimentConfig(overrides={"epochs": 30, "selection": "last"})
    b = ExperimentConfig(overrides=[("selection", "last"), ("epochs", 30)])
    assert a == b and a.key() == b.key()
    assert ExperimentConfig(**json.loads(json.dumps(a.to_dict()))).key() == a.key()
    assert a.settings().epochs == 30 and a.settings().selection == "last"


def test_segments_with_a_hop_overlap_and_the_default_hop_just_covers():
    f = np.arange(250, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    default = segment(f, length=100)
    assert len(default) == 3  # ceil(250 / 100)
    halves = segment(f, length=100, hop=50)
    assert len(halves) == 4  # ceil((250 - 100) / 50) + 1
    starts = [int(s[0, 0, 0]) for s in halves]
    assert starts[0] == 0 and starts[-1] == 150 and max(np.diff(starts)) <= 50
    with pytest.raises(ParameterError, match="hop=101"):
        segment(f, length=100, hop=101)


def test_a_profile_that_trains_on_its_validation_part_trains_on_it_and_still_logs_its_scores(small_corpus, monkeypatch):
    """validation="trained": the fold's model sees its training and validation utterances (the
    record's training utterances say so), and the validation part is still scored each epoch."""
    from adcrnn_lib import data, train
    from adcrnn_lib.experiments import cv

    seen = {}

    def spy(train_data, val_data, **kwargs):
        seen.setdefault("train", []).append(len(train_data.labels))
        seen.setdefault("val", []).append(len(val_data.labels))
        return real(train_data, val_data, **kwargs)

    real = train.train_model
    monkeypatch.setattr(train, "train_model", spy)
    df = data.load_emodb(small_corpus, verify=False)
    fold = data.make_folds(df, protocol="paper", n_splits=get_profile("smoke").n_splits, seed=0)[0]
    feats = cv.extract_features(df["path"].tolist(), progress=False)
    records = {}
    for validation in ("held_out", "trained"):
        config = ExperimentConfig(profile="smoke", data_dir=str(small_corpus), overrides={"selection": "last", "validation": validation})
        records[validation] = cv.run_fold(config, df, fold, feats, progress=False)
    assert seen["train"] == [len(fold.train), len(fold.train) + len(fold.val)] and seen["val"] == [len(fold.val)] * 2
    held, trained = records["held_out"], records["trained"]
    assert trained["n_train_utterances"] == held["n_train_utterances"] + len(fold.val)
    assert set(trained["train_utterances"]) == set(held["train_utterances"]) | set(trained["val_utterances"])
    assert trained["history"]["val_ua"] and ExperimentConfig(overrides={"selection": "last", "validation": "held_out"}).key() == ExperimentConfig(overrides={"selection": "last"}).key()
