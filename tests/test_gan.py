"""WaveGAN and SpecGAN networks (Tables II and III), phase shuffle, the spectrogram codec."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adcrnn_lib.augment.specgan import SpectrogramCodec, build_specgan_discriminator, build_specgan_generator, griffin_lim, log_spectrogram
from adcrnn_lib.augment.wavegan import PhaseShuffle, build_wavegan_discriminator, build_wavegan_generator

D = 64
# Table II, D = 64: (layer, output shape without the batch) and kernel shape where the table gives one
WAVEGAN_G = [("dense", (256 * D,)), ("reshape", (16, 16 * D)), ("tconv1", (64, 8 * D)), ("tconv2", (256, 4 * D)), ("tconv3", (1024, 2 * D)), ("tconv4", (4096, D)), ("tconv5", (16384, 1))]
WAVEGAN_D = [("conv1", (4096, D)), ("conv2", (1024, 2 * D)), ("conv3", (256, 4 * D)), ("conv4", (64, 8 * D)), ("conv5", (16, 16 * D)), ("reshape", (256 * D,)), ("critic", (1,))]
SPECGAN_G = [("dense", (256 * D,)), ("reshape", (4, 4, 16 * D)), ("tconv1", (8, 8, 8 * D)), ("tconv2", (16, 16, 4 * D)), ("tconv3", (32, 32, 2 * D)), ("tconv4", (64, 64, D)), ("tconv5", (128, 128, 1))]
SPECGAN_D = [("conv1", (64, 64, D)), ("conv2", (32, 32, 2 * D)), ("conv3", (16, 16, 4 * D)), ("conv4", (8, 8, 8 * D)), ("conv5", (4, 4, 16 * D)), ("reshape", (256 * D,)), ("critic", (1,))]


@pytest.mark.parametrize(
    "build, table",
    [(build_wavegan_generator, WAVEGAN_G), (build_wavegan_discriminator, WAVEGAN_D), (build_specgan_generator, SPECGAN_G), (build_specgan_discriminator, SPECGAN_D)],
)
def test_layer_shapes_match_the_tables(build, table):
    model = build(D)
    for name, shape in table:
        assert tuple(model.get_layer(name).output.shape[1:]) == shape, name


def test_kernel_sizes_match_the_tables():
    g, d = build_wavegan_generator(D), build_wavegan_discriminator(D)
    assert tuple(g.get_layer("tconv1").kernel.shape) == (25, 8 * D, 16 * D)  # (25, 16D, 8D) in Table II's order
    assert tuple(d.get_layer("conv1").kernel.shape) == (25, 1, D)
    assert [type(layer).__name__ for layer in d.layers].count("PhaseShuffle") == 4
    assert not any("Normalization" in type(layer).__name__ for model in (g, d) for layer in model.layers)
    sg = build_specgan_generator(D)
    assert tuple(sg.get_layer("tconv1").kernel.shape) == (5, 5, 8 * D, 16 * D)


def test_generators_produce_bounded_output():
    z = np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype("float32")
    for build in (build_wavegan_generator, build_specgan_generator):
        out = keras.ops.convert_to_numpy(build(4)(z))
        assert np.all(np.abs(out) <= 1.0)


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 2])
def test_phase_shuffle_shifts_with_reflection(k):
    x = np.arange(1, 11, dtype="float32")[None, :, None]
    out = keras.ops.convert_to_numpy(PhaseShuffle(2).shift(x, k))[0, :, 0]
    padded = np.pad(x[0, :, 0], 2, mode="reflect")
    np.testing.assert_array_equal(out, padded[2 - k : 2 - k + 10])
    assert out.shape == (10,)
    if k > 0:
        np.testing.assert_array_equal(out[k:], x[0, : 10 - k, 0])  # content moved k steps later


def test_phase_shuffle_in_training_stays_within_n():
    x = np.arange(1, 33, dtype="float32").reshape(1, 32, 1)
    layer = PhaseShuffle(2, seed=3)
    seen = set()
    for _ in range(40):
        out = keras.ops.convert_to_numpy(layer(x, training=True))
        assert out.shape == x.shape
        k = int(round(16 - out[0, 15, 0]))  # out[t] = x[t - k], and x[t] = t + 1
        assert -2 <= k <= 2
        np.testing.assert_array_equal(out, keras.ops.convert_to_numpy(layer.shift(x, k)))
        seen.add(k)
    assert len(seen) > 1
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


def _signal(seconds_samples=16384, sr=16000):
    t = np.arange(seconds_samples) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t + 2 * np.sin(2 * np.pi * 3 * t)) + 0.1 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)


def test_spectrogram_shape_and_codec_round_trip(rng):
    spec = log_spectrogram(_signal())
    assert spec.shape == (128, 128) and spec.dtype == np.float32
    train = np.stack([log_spectrogram(_signal() * g + 0.01 * rng.standard_normal(16384).astype(np.float32)) for g in (0.5, 1.0, 2.0)])
    codec = SpectrogramCodec.fit(train)
    encoded = codec.encode(train[1])
    assert encoded.min() >= -1 and encoded.max() <= 1
    inside = np.abs((train[1] - codec.mean) / codec.std) < 3  # clipping is the only loss
    np.testing.assert_allclose(codec.decode(encoded)[inside], train[1][inside], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(codec.decode(encoded)[~inside] != train[1][~inside], True)


def test_griffin_lim_reconstructs_the_magnitudes():
    """Stated minimum: 15 dB magnitude SNR after the paper's 16 Griffin-Lim iterations."""
    y = _signal()
    mag = np.exp(log_spectrogram(y)) - 1e-6
    y_hat = griffin_lim(mag, n_iter=16)
    assert y_hat.shape == (16384,)
    mag_hat = np.exp(log_spectrogram(y_hat)) - 1e-6
    snr = 10 * np.log10(np.sum(mag**2) / np.sum((mag - mag_hat) ** 2))
    assert snr >= 15


# --- WGAN-GP training (adcrnn_lib.augment.gan) ------------------------------------------------

from adcrnn_lib.augment.gan import WGANGP, GanSettings, gradient_penalty, spectrogram_sampler, wave_sampler  # noqa: E402
from adcrnn_lib.augment.gan_clips import emotion_gan, generate_clips, screen_clip  # noqa: E402
from adcrnn_lib.exceptions import ParameterError, TrainingError  # noqa: E402

from .helpers.audio import tone, write_wav  # noqa: E402

TINY = dict(size=2, batch_size=4, critic_steps=2, checkpoint_every=1)


def _weights(gan: WGANGP) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v.value) for v in gan.generator.variables + gan.critic.variables + gan.d_opt.variables]


def test_gradient_penalty_of_a_linear_critic_is_hand_computable():
    # critic(x) = w . x + b has gradient w everywhere, so the penalty is (||w|| - 1)^2 for any batch
    critic = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    w = np.array([[2.0], [1.0], [2.0]], np.float32)  # ||w|| = 3
    critic.layers[0].set_weights([w, np.array([0.5], np.float32)])
    real = np.random.default_rng(0).normal(size=(5, 3))
    fake = np.random.default_rng(1).normal(size=(5, 3))
    assert gradient_penalty(critic, real, fake, np.linspace(0, 1, 5)) == pytest.approx((3.0 - 1.0) ** 2, rel=1e-5)
    critic.layers[0].set_weights([w / 3.0, np.zeros(1, np.float32)])  # unit-norm gradient: no penalty
    assert gradient_penalty(critic, real, fake, np.full(5, 0.3)) == pytest.approx(0.0, abs=1e-6)


def test_gan_settings_reject_bad_values():
    with pytest.raises(ParameterError, match="kind"):
        GanSettings("melgan")
    with pytest.raises(ParameterError, match="steps"):
        GanSettings("wavegan", steps=0)
    paper = GanSettings.from_profile("wavegan", "paper")
    assert (paper.size, paper.batch_size, paper.steps, paper.critic_steps) == (64, 64, 90_000, 5)
    assert GanSettings.from_profile("specgan", "paper").steps == 35_000


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "eager"])
@pytest.mark.parametrize("kind", ["wavegan", "specgan"])
def test_training_is_finite_and_a_checkpoint_resumes_exactly(kind, traced, tmp_path, rng, monkeypatch):
    """Both paths of the TensorFlow step functions: traced (every real training) and eager (one of
    fewer than ``TRACED_FROM_UPDATES`` critic updates, the smoke profile's)."""
    import tensorflow as tf

    from adcrnn_lib.augment import gan

    monkeypatch.setattr(gan, "TRACED_FROM_UPDATES", 0 if traced else 10**6)
    if kind == "wavegan":
        sampler = wave_sampler([tone(150, 1.3, seed=i) for i in range(3)] + [tone(200, 0.5)])  # one shorter than a slice
    else:
        sampler = spectrogram_sampler([rng.uniform(-1, 1, (150, 128)).astype(np.float32), rng.uniform(-1, 1, (60, 128)).astype(np.float32)])
    straight = WGANGP(GanSettings(kind, steps=4, **TINY), seed=3)
    history = straight.train(sampler)
    assert isinstance(straight._step_functions()[0], tf.types.experimental.PolymorphicFunction) == traced
    assert len(history["critic_loss"]) == 4 and np.all(np.isfinite(history["gradient_penalty"]))
    # "killed" after 2 steps: a new process with the full step count resumes from the checkpoint
    ckpt = tmp_path / "ckpt.npz"
    WGANGP(GanSettings(kind, steps=2, **TINY), seed=3).train(sampler, checkpoint=ckpt)
    resumed = WGANGP(GanSettings(kind, steps=4, **TINY), seed=3)
    resumed.train(sampler, checkpoint=ckpt)
    assert resumed.step == 4 and resumed.history["critic_loss"] == history["critic_loss"]
    for a, b in zip(_weights(straight), _weights(resumed)):
        np.testing.assert_array_equal(a, b)
    out = resumed.generate(3, seed=0)
    assert out.shape[0] == 3 and np.all(np.abs(out) <= 1.0)
    np.testing.assert_array_equal(out, resumed.generate(3, seed=0))


def test_checkpoint_errors_name_the_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    WGANGP(GanSettings("wavegan", steps=1, **TINY), seed=0).save(path)
    with pytest.raises(TrainingError, match="other GAN settings"):
        WGANGP(GanSettings("wavegan", steps=1, **{**TINY, "size": 3}), seed=0).load(path)
    with pytest.raises(TrainingError, match="seed"):
        WGANGP(GanSettings("wavegan", steps=1, **TINY), seed=1).load(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(TrainingError, match="ckpt.npz"):
        WGANGP(GanSettings("wavegan", steps=1, **TINY), seed=0).load(path)


def test_screening_rejects_unusable_clips():
    y = tone(200, 1.0)
    assert screen_clip(y) is None
    assert screen_clip(np.where(np.arange(y.size) == 5, np.nan, y)) == "nonfinite"
    assert screen_clip(np.zeros(100)) == "silent"
    assert screen_clip(np.sign(y)) == "clipped"


def test_emotion_gan_is_keyed_by_its_sources_and_clips_are_cached(tmp_path):


    paths = [str(write_wav(tmp_path / f"w{i}.wav", tone(150 + 10 * i, 1.2, seed=i))) for i in range(3)]
    settings = GanSettings("wavegan", steps=2, **TINY)
    a = emotion_gan(settings, ["u0", "u1"], paths[:2], seed=0, cache_dir=tmp_path / "c")
    b = emotion_gan(settings, ["u0", "u2"], [paths[0], paths[2]], seed=0, cache_dir=tmp_path / "c")
    assert a.key != b.key and a.sources == ("u0", "u1")
    clips, counts = generate_clips(a, 5, seed=1)
    assert len(clips) == 5 == counts["accepted"] and counts["drawn"] >= 5
    assert all(screen_clip(c) is None and c.shape == (16384,) for c in clips)
    again = emotion_gan(settings, ["u0", "u1"], paths[:2], seed=0, cache_dir=tmp_path / "c")  # loads, trains nothing
    assert again.gan.step == 2 and (again.folder / "checkpoint.npz").exists()
    cached, _ = generate_clips(again, 5, seed=1)
    for x, y in zip(clips, cached):
        np.testing.assert_array_equal(x, y)


def _fold0_train(small_corpus):
    """Fold 0's training rows under the smoke profile's paper protocol: the rows whose GANs the
    smoke book trains too, so that the tests and the book share one cache of GANs and clips."""
    from adcrnn_lib import profiles
    from adcrnn_lib.data import load_emodb, make_folds

    df = load_emodb(small_corpus, verify=False)
    fold = make_folds(df, protocol="paper", n_splits=profiles.get_profile("smoke").n_splits, seed=0)[0]
    return df, df.iloc[fold.train]


@pytest.mark.parametrize("kind", ["wavegan", "specgan"])
def test_gan_balancing_fills_each_emotion_from_its_training_rows_only(kind, small_corpus):
    from adcrnn_lib.augment import augment_training_set
    from adcrnn_lib.augment.balance import emotion_sources

    df, train = _fold0_train(small_corpus)
    missing = {e: n for e, (_, n) in emotion_sources(train).items()}
    clips = augment_training_set(kind, train, seed=0, fold=0, profile="smoke")  # what fold 0 of a run trains on
    counts = {e: sum(c.emotion == e for c in clips) for e in missing}
    assert counts == missing and sum(missing.values()) > 0
    train_ids = set(train["utterance"])
    for clip in clips:
        own = set(train.loc[train["emotion"] == clip.emotion, "utterance"])
        assert set(clip.sources) == own <= train_ids and clip.method == kind
        assert clip.audio.shape == (16384,) and screen_clip(clip.audio) is None
    assert not set().union(*(c.sources for c in clips)) & (set(df["utterance"]) - train_ids)


# --- quality report (adcrnn_lib.experiments.quality) ----------------------------------------------
def test_classifier_scores_by_hand():
    from adcrnn_lib.experiments.quality import classifier_scores

    confident = np.eye(7)[[4, 4, 0, 1]]  # two of four are happiness (index 4)
    scores = classifier_scores(confident, "happiness")
    assert scores["intended_share"] == 0.5
    # p(y) = (1/4, 1/4, 0, 0, 1/2, 0, 0); KL of each one-hot row = -log p(y of that row)
    expected = np.exp(np.mean([np.log(2), np.log(2), np.log(4), np.log(4)]))
    assert scores["inception_score"] == pytest.approx(expected, rel=1e-6)
    assert classifier_scores(np.full((5, 7), 1 / 7), "fear")["inception_score"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        classifier_scores(np.ones((3, 4)), "fear")


def test_memorization_flags_copies_and_not_new_clips():
    from adcrnn_lib.experiments.quality import memorization, nearest_distances

    train = [tone(120 + 15 * i, 1.1, seed=i) for i in range(6)]
    copies = memorization([t.copy() for t in train[:3]], train)
    assert copies["gen_to_train_median"] == pytest.approx(0.0, abs=1e-4) and copies["share_closer_than_train_p5"] == 1.0
    noise = memorization([np.random.default_rng(i).normal(0, 0.1, 16384).astype(np.float32) for i in range(3)], train)
    assert noise["share_closer_than_train_p5"] == 0.0 and noise["ratio"] > 1.0
    x = np.array([[0.0], [1.0], [3.0]])
    np.testing.assert_allclose(nearest_distances(x, x, exclude_self=True), [1.0, 1.0, 2.0])


def test_gan_quality_scores_each_emotions_own_clips(small_corpus):
    from adcrnn_lib.augment import augment_training_set
    from adcrnn_lib.augment.balance import emotion_sources
    from adcrnn_lib.data import EMOTIONS
    from adcrnn_lib.experiments.quality import gan_quality

    _, train = _fold0_train(small_corpus)
    # the clips fold 0 of a wavegan run trains on (cached by the balancing test or the smoke book)
    emotion_of = {np.asarray(c.audio).tobytes(): c.emotion for c in augment_training_set("wavegan", train, seed=0, fold=0, profile="smoke")}
    seen = []

    def predict(y):  # a classifier right on fear and sadness clips that calls every other clip neutral
        emotion = emotion_of[np.asarray(y).tobytes()]  # a KeyError: the report scored clips the run never trained on
        seen.append(emotion)
        return np.eye(7)[EMOTIONS.index(emotion if emotion in ("fear", "sadness") else "neutral")]

    table = gan_quality(train, "wavegan", predict, seed=0, fold=0, profile="smoke")
    missing = {e: n for e, (_, n) in emotion_sources(train).items()}
    assert list(table.index) == list(missing) and table["kept"].to_dict() == missing
    assert sorted(seen) == sorted(e for e, n in missing.items() for _ in range(n))  # every clip scored once
    assert table["intended_share"].to_dict() == {e: 1.0 if e in ("fear", "sadness", "neutral") else 0.0 for e in missing}
    assert table["inception_score"].to_numpy() == pytest.approx(1.0)  # one class per emotion: no spread
    assert (table["drawn"] >= table["kept"]).all() and table["gen_to_train_median"].gt(0).all()
