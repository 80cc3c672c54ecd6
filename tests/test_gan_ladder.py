"""The GAN budget ladder: kept rungs, resuming from the rung below, and judges that know real speech."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adcrnn_lib import data
from adcrnn_lib.augment.gan import GanSettings
from adcrnn_lib.augment.gan_clips import emotion_gan, snapshot_path
from adcrnn_lib.exceptions import TrainingError
from adcrnn_lib.experiments.gan_ladder import Judges, _compare_judge, climb, compare_functionals, gan_record_path, load_ladder, middle_slice, real_ceiling
from adcrnn_lib.experiments.quality import classifier_scores

from .helpers.audio import tone, write_wav

TINY = dict(size=2, batch_size=4, critic_steps=1, checkpoint_every=1)


def _weights(model) -> list[np.ndarray]:
    return [np.asarray(v) for v in model.gan.generator.get_weights()]


def test_a_kept_step_is_read_back_exactly_and_a_checkpoint_past_the_asked_steps_is_refused(tmp_path):
    paths = [str(write_wav(tmp_path / f"w{i}.wav", tone(150 + 10 * i, 1.2, seed=i))) for i in range(2)]
    ids = ["u0", "u1"]
    at1 = emotion_gan(GanSettings("wavegan", steps=1, **TINY), ids, paths, seed=0, cache_dir=tmp_path / "c", keep=True)
    first = _weights(at1)
    at3 = emotion_gan(GanSettings("wavegan", steps=3, **TINY), ids, paths, seed=0, cache_dir=tmp_path / "c", keep=True)
    assert at3.folder == at1.folder and at3.gan.step == 3 and snapshot_path(at1.folder, 1).exists()
    again = emotion_gan(GanSettings("wavegan", steps=1, **TINY), ids, paths, seed=0, cache_dir=tmp_path / "c")
    assert again.gan.step == 1  # the kept rung, not the checkpoint's step 3
    for a, b in zip(first, _weights(again)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TrainingError, match="past the 2 steps asked"):
        emotion_gan(GanSettings("wavegan", steps=2, **TINY), ids, paths, seed=0, cache_dir=tmp_path / "c")


class _CountingJudge:
    """Probabilities from a clip's loudness (a stand-in judge) and how many clips it has seen."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, y: np.ndarray) -> np.ndarray:
        self.seen += 1
        probs = np.full(len(data.EMOTIONS), 0.1)
        probs[int(np.abs(y).mean() * 1e4) % len(data.EMOTIONS)] = 1.0
        return probs / probs.sum()


def test_the_ladder_trains_each_rung_from_the_rung_below_and_resumes_at_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr("adcrnn_lib.augment.gan.GanSettings.from_profile", classmethod(lambda cls, kind, profile: cls(kind, steps=1, **TINY)))
    paths = [str(write_wav(tmp_path / f"w{i}.wav", tone(150 + 10 * i, 1.2, seed=i))) for i in range(2)]
    rows = pd.DataFrame({"utterance": ["u0", "u1"], "path": paths})
    judge = _CountingJudge()
    record = gan_record_path(tmp_path / "ladder", "wavegan", "fear")
    kwargs = dict(fold_seed=1, profile="smoke", record=record, n_clips=4, cache_dir=tmp_path / "c")
    first = climb("wavegan", "fear", rows, Judges(judge), rungs=(1, 2), **kwargs)
    assert [(r["steps"], r["from_steps"]) for r in first] == [(1, 0), (2, 1)] and judge.seen == 8
    trained = []
    original = emotion_gan

    def counting(settings, *args, **kw):
        model = original(settings, *args, **kw)
        trained.append((settings.steps, len(model.gan.history["step"])))
        return model

    monkeypatch.setattr("adcrnn_lib.augment.gan_clips.emotion_gan", counting)
    second = climb("wavegan", "fear", rows, Judges(judge), rungs=(1, 2, 4), **kwargs)
    assert trained == [(4, 4)]  # only the new rung, resumed at step 2: one history of four steps
    assert second[:2] == first and (second[2]["steps"], second[2]["from_steps"], second[2]["trained_from"]) == (4, 2, 2) and judge.seen == 12
    assert json.loads(record.read_text()) == second
    table, _ = load_ladder(tmp_path / "ladder")
    assert table["steps"].tolist() == [1, 2, 4] and set(table["adcrnn_intended_share"]) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    # a variant (another model size) is another GAN: trained from scratch, with its own state
    trained.clear()
    wider = climb("wavegan", "fear", rows, Judges(judge), rungs=(1,), **{**kwargs, "record": gan_record_path(tmp_path / "wider", "wavegan", "fear")}, overrides={"size": 4})
    assert trained == [(1, 1)] and wider[0]["gan_key"] not in {r["gan_key"] for r in second}


def test_a_ladder_variant_names_what_it_changes_and_refuses_the_rest(tmp_path):
    from adcrnn_lib.exceptions import ParameterError
    from adcrnn_lib.experiments.gan_ladder import check_gan_overrides, ladder_dir, variant_name

    assert variant_name(None) == "" == variant_name({"precision": "float32"})
    assert variant_name({"learning_rate": 3e-4, "size": 16}) == "-size16-learning_rate0.0003"
    assert ladder_dir("cpu", overrides={"precision": "mixed_bfloat16"}, results_dir=tmp_path).name == "fold0-seed0-mixed_bfloat16"
    assert ladder_dir("cpu", results_dir=tmp_path).name == "fold0-seed0"
    with pytest.raises(ParameterError, match=r"\['critic_steps'\] cannot be changed"):
        check_gan_overrides({"critic_steps": 1})
    with pytest.raises(ParameterError, match="float16"):
        check_gan_overrides({"precision": "float16"})
    with pytest.raises(ParameterError, match="learning_rate='abc'"):
        check_gan_overrides({"learning_rate": "abc"})


def test_middle_slice_takes_the_middle_and_pads_the_short():
    np.testing.assert_array_equal(middle_slice(np.arange(10), 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(middle_slice(np.arange(3), 5), [0, 1, 2, 0, 0])


def test_the_compare_judge_recognizes_real_speech_and_a_constant_clip_scores_at_the_floor(small_corpus):
    pytest.importorskip("opensmile")
    df = data.load_emodb(small_corpus, verify=False)
    fold = data.make_folds(df, protocol="paper", n_splits=2, seed=0)[0]
    judge = _compare_judge(df, fold, seed=0, progress=False)
    test = df.iloc[fold.test]
    clips = [data.load_audio(p) for p in test["path"]] + [np.full(16384, 0.05, np.float32)] * 5  # one openSMILE pass for all
    probs = judge(compare_functionals(clips))
    emotions = test["emotion"].astype(str).to_numpy()
    for emotion in data.EMOTIONS:  # every synthetic emotion is its own pitch: its test utterances are recognized far above chance (1 in 7)
        assert classifier_scores(probs[: len(test)][emotions == emotion], emotion)["intended_share"] >= 0.5, emotion
    constant = [classifier_scores(probs[len(test) :], emotion) for emotion in data.EMOTIONS]
    assert all(s["inception_score"] == pytest.approx(1.0) for s in constant)  # one class distribution for every clip: the floor
    assert sum(s["intended_share"] for s in constant) == pytest.approx(1.0)  # one emotion for all of them, whatever it is


def test_the_ceiling_judges_the_middle_second_of_each_test_utterance_of_the_emotion(small_corpus):
    df = data.load_emodb(small_corpus, verify=False)
    fold = data.make_folds(df, protocol="paper", n_splits=2, seed=0)[0]
    lengths = []
    judge = _CountingJudge()

    def seen(y):
        lengths.append(len(y))
        return judge(y)

    ceiling = real_ceiling(df, fold, Judges(seen), ["fear", "sadness"])
    test = df.iloc[fold.test]["emotion"].astype(str)
    assert {e: got["clips"] for e, got in ceiling.items()} == {"fear": int((test == "fear").sum()), "sadness": int((test == "sadness").sum())}
    assert set(lengths) == {16384} and len(lengths) == sum(got["clips"] for got in ceiling.values())


def test_bfloat16_gans_train_resume_exactly_and_live_apart_while_float32_keys_stay_as_before(tmp_path):
    import hashlib

    from adcrnn_lib.augment.gan import WGANGP, wave_sampler
    from adcrnn_lib.augment.gan_clips import gan_key
    from adcrnn_lib.storage import sha256_file

    paths = [str(write_wav(tmp_path / f"w{i}.wav", tone(150 + 10 * i, 1.2, seed=i))) for i in range(2)]
    f32, bf16 = GanSettings("wavegan", steps=2, **TINY), GanSettings("wavegan", steps=2, precision="mixed_bfloat16", **TINY)
    payload = {"kind": "wavegan", "size": 2, "batch_size": 4, "critic_steps": 1, "gp_weight": 10.0, "learning_rate": 1e-4, "beta_1": 0.5, "beta_2": 0.9}
    payload.update(seed=0, sources=sorted(sha256_file(p) for p in paths))  # the key's payload before precision existed
    assert gan_key(f32, paths, 0) == hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24] != gan_key(bf16, paths, 0)
    sampler = wave_sampler([np.asarray(tone(150, 1.2), np.float32)])
    whole = WGANGP(bf16, seed=0)
    whole.train(sampler)
    assert whole.generator.get_layer("tconv1").compute_dtype == "bfloat16" and whole.generator.output.dtype == "float32"
    half = WGANGP(GanSettings("wavegan", steps=1, precision="mixed_bfloat16", **TINY), seed=0)
    half.train(sampler, checkpoint=tmp_path / "half.npz")
    resumed = WGANGP(bf16, seed=0)
    resumed.train(sampler, checkpoint=tmp_path / "half.npz")
    for a, b in zip(whole.generator.get_weights(), resumed.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    clips = whole.generate(3)
    assert clips.dtype == np.float32 and np.all(np.isfinite(clips))
    with pytest.raises(TrainingError, match="other GAN settings"):
        WGANGP(GanSettings("wavegan", steps=2, **TINY), seed=0).load(tmp_path / "half.npz")


def _write_ladder(folder, shares: dict, *, copies: float = 0.0):
    """Records of a constructed ladder: kind -> emotion -> {steps: (ADCRNN share, ComParE share)}, 2 s a step."""
    from adcrnn_lib.storage import write_json

    for kind, emotions in shares.items():
        for emotion, rungs in emotions.items():
            rows, below = [], 0
            for steps, (a, c) in sorted(rungs.items()):
                rows.append({"steps": steps, "from_steps": below, "train_s": 2.0 * (steps - below), "seconds_per_step": 2.0, "clips": 40,
                             "counts": {"accepted": 40, "drawn": 40}, "adcrnn_intended_share": a, "adcrnn_inception_score": 1.5,
                             "compare_intended_share": c, "compare_inception_score": 1.5, "memorization_share_closer_than_train_p5": copies})
                below = steps
            write_json(gan_record_path(folder, kind, emotion), rows)
    write_json(folder / "ceiling.json", {e: {"clips": 10, "adcrnn_intended_share": 0.8, "compare_intended_share": 0.4} for e in ("fear", "sadness")})


def test_the_chosen_rung_is_the_cheapest_that_half_reaches_the_ceiling_under_both_judges(tmp_path, monkeypatch):
    from adcrnn_lib import chapters
    from adcrnn_lib.experiments.gan_ladder import ceiling_medians, chosen_rung, extrapolated_steps, ladder_dir, ladder_summary

    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(tmp_path / "no-reference"))
    folder = ladder_dir("cpu", results_dir=tmp_path)
    # WaveGAN: ADCRNN reaches half its ceiling (0.4) at 100 steps, ComParE (0.2) only at 300; SpecGAN never does under ComParE
    _write_ladder(folder, {
        "wavegan": {"fear": {20: (0.0, 0.0), 100: (0.5, 0.1), 300: (0.6, 0.3)}, "sadness": {20: (1.0, 0.0), 100: (0.4, 0.1), 300: (0.5, 0.2)}},
        "specgan": {"fear": {20: (0.0, 0.0), 100: (0.9, 0.0)}, "sadness": {20: (1.0, 0.0), 100: (0.9, 0.12)}},
    })
    table, ceiling = load_ladder(folder)
    summary, medians = ladder_summary(table), ceiling_medians(ceiling, ["fear", "sadness"])
    assert medians == {"adcrnn": pytest.approx(0.8), "compare": pytest.approx(0.4)}
    assert summary.loc[("wavegan", 100), "adcrnn_share"] == pytest.approx(0.45) and summary.loc[("wavegan", 300), "minutes_per_gan"] == pytest.approx(10.0)
    assert chosen_rung(summary, medians, "wavegan") == 300 and chosen_rung(summary, medians, "specgan") is None
    found = chapters.gan_ladder("cpu", results_dir=tmp_path)
    assert found.facts["ladder_choice_wavegan"] == "300 steps" and found.facts["ladder_choice_specgan"] == "no rung up to 100 steps"
    assert found.facts["ladder_source"] == "this build" and found.facts["ladder_ceiling_compare"] == "40"
    assert "WaveGAN after 300 generator steps: 55 % (ADCRNN judge) and 25 % (ComParE judge), goal met at 300 steps" in found.facts["ladder_sentence"]
    assert found.facts["ladder_short"].startswith("Trained longer, the GANs learn: WaveGAN meets the quality goal at 300 generator steps")
    # SpecGAN's ComParE median rose from 0.0 to 0.06 between 20 and 100 steps: a straight line over log
    # steps reaches its goal of 0.2 after (0.2 - 0.06) / (0.06 / log10(5)) = 1.63 more decades, at 4,275 steps
    assert extrapolated_steps(summary, medians, "specgan") == (4_300, "")
    assert found.facts["ladder_extrapolated_specgan"].startswith("about 4,300 steps (about 2 h a GAN")
    assert found.facts["ladder_extrapolated_wavegan"] == "met at 300 steps"
    _write_ladder(folder, {"wavegan": {"fear": {300: (0.6, 0.3)}, "sadness": {300: (0.5, 0.2)}}}, copies=0.5)  # near-copies: refused
    assert chosen_rung(ladder_summary(load_ladder(folder)[0]), medians, "wavegan") is None
    # a median that falls between the top two rungs gives no extrapolation, and the chapter says no GAN learned
    _write_ladder(folder, {"wavegan": {"fear": {100: (0.3, 0.1), 300: (0.2, 0.2)}, "sadness": {100: (0.3, 0.1), 300: (0.2, 0.2)}}})
    assert extrapolated_steps(ladder_summary(load_ladder(folder)[0]), medians, "wavegan") == (None, "the ADCRNN judge's median share did not rise from 100 to 300 steps")
