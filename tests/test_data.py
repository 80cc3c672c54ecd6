"""adcrnn_lib.data: discovery, checksums, file parsing, bad input, the corpus table, folds."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from adcrnn_lib import data
from adcrnn_lib.exceptions import CorpusNotFoundError, DataError, ParameterError
from adcrnn_lib.storage import sha256_file

from .helpers.audio import make_corpus, tone, write_wav


# ------------------------------------------------------------------------------------------
# file names
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, expected",
    [
        ("03a01Fa.wav", ("03", "male", "a01", "happiness", "a")),
        ("16b10Wb.wav", ("16", "female", "b10", "anger", "b")),
        ("09a05Lc.wav", ("09", "female", "a05", "boredom", "c")),
        ("12b02Ed.WAV", ("12", "male", "b02", "disgust", "d")),
    ],
)
def test_parse_filename(name, expected):
    row = data.parse_filename(Path("/x") / name)
    assert (row["speaker"], row["sex"], row["sentence"], row["emotion"], row["take"]) == expected
    assert row["utterance"] == Path(name).stem


@pytest.mark.parametrize(
    "name, message",
    [
        ("03a01Xa.wav", "unknown emotion code 'X'"),
        ("99a01Fa.wav", "unknown speaker '99'"),
        ("3a01Fa.wav", "does not parse"),
        ("03c01Fa.wav", "does not parse"),
        ("03a01Fa.mp3", "does not parse"),
        ("notes.wav", "does not parse"),
    ],
)
def test_parse_filename_rejects(name, message):
    with pytest.raises(DataError, match=message) as info:
        data.parse_filename(Path("/corpus") / name)
    assert name in str(info.value)


def test_emotion_order_is_the_papers():
    assert data.EMOTION_ABBREVIATIONS == ("An", "Bo", "Di", "Fe", "Ha", "Sa", "Ne")
    assert [e[:2].capitalize() for e in data.EMOTIONS] == ["An", "Bo", "Di", "Fe", "Ha", "Sa", "Ne"]
    assert set(data.EMOTION_CODES.values()) == set(data.EMOTIONS)


# ------------------------------------------------------------------------------------------
# load_audio
# ------------------------------------------------------------------------------------------
def test_load_audio_mono_16k(tmp_path):
    y = tone(200, 0.5)
    path = write_wav(tmp_path / "03a01Fa.wav", y, subtype="FLOAT")
    out = data.load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    np.testing.assert_array_equal(out, y)


def test_load_audio_resamples_and_mixes_stereo(tmp_path):
    sr, f = 44100, 440.0
    t = np.arange(int(0.5 * sr)) / sr
    left = 0.5 * np.sin(2 * np.pi * f * t)
    right = 0.1 * np.sin(2 * np.pi * f * t)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1), sr=sr, subtype="FLOAT")
    out = data.load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(out.size - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    assert abs(np.argmax(spectrum) * 16000 / out.size - f) < 3  # the tone survives resampling
    assert np.max(np.abs(out[2000:6000])) == pytest.approx(0.3, rel=0.02)  # the mean of 0.5 and 0.1


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = write_wav(tmp_path / "good.wav", tone(200, 0.5))
    raw = good.read_bytes()
    cases = {}
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["empty"] = (tmp_path / "empty.wav", "empty file")
    (tmp_path / "corrupt.wav").write_bytes(b"this is not audio at all" * 20)
    cases["corrupt"] = (tmp_path / "corrupt.wav", "unreadable or corrupt")
    (tmp_path / "truncated.wav").write_bytes(raw[: len(raw) // 2])
    cases["truncated"] = (tmp_path / "truncated.wav", "truncated")
    (tmp_path / "header_only.wav").write_bytes(raw[:44])
    cases["header only"] = (tmp_path / "header_only.wav", "truncated|no audio samples")
    nan = tone(200, 0.5)
    nan[100] = np.nan
    cases["nan"] = (write_wav(tmp_path / "nan.wav", nan, subtype="FLOAT"), "NaN or infinite")
    inf = tone(200, 0.5)
    inf[100] = np.inf
    cases["inf"] = (write_wav(tmp_path / "inf.wav", inf, subtype="FLOAT"), "NaN or infinite")
    cases["silent"] = (write_wav(tmp_path / "silent.wav", np.zeros(8000, np.float32)), "all-silent")
    cases["too short"] = (write_wav(tmp_path / "short.wav", tone(200, 0.02)), "shorter than one 25 ms")
    cases["missing"] = (tmp_path / "missing.wav", "no such file")
    return cases


@pytest.mark.parametrize(
    "case", ["empty", "corrupt", "truncated", "header only", "nan", "inf", "silent", "too short", "missing"]
)
def test_load_audio_bad_input_names_the_file(tmp_path, case):
    path, message = _bad_files(tmp_path)[case]
    with pytest.raises(DataError, match=message) as info:
        data.load_audio(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------------------------
# finding the corpus
# ------------------------------------------------------------------------------------------
@pytest.fixture
def no_default_corpus(tmp_path, monkeypatch):
    """No env var, and the default project folders are an empty temporary folder."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setattr(data, "_project_dirs", lambda: [project])
    return project


def test_find_corpus_order(tmp_path, monkeypatch, no_default_corpus):
    arg, env, local = (make_corpus(tmp_path / n / "wav", sentences=("a01",), extra_takes=0) for n in ("arg", "env", "local"))
    shutil.copytree(local, no_default_corpus / "data" / "emodb" / "wav")
    assert data.find_corpus() == (no_default_corpus / "data" / "emodb" / "wav").resolve()
    monkeypatch.setenv(data.ENV_VAR, str(env))
    assert data.find_corpus() == env.resolve()
    assert data.find_corpus(arg) == arg.resolve()
    assert data.find_corpus(arg.parent) == arg.resolve()  # the folder above wav/ works too


def test_find_corpus_explicit_locations_must_exist(tmp_path, monkeypatch, no_default_corpus):
    with pytest.raises(CorpusNotFoundError, match="data_dir=.*nowhere"):
        data.find_corpus(tmp_path / "nowhere")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(CorpusNotFoundError, match="ADCRNN_EMODB=.*elsewhere"):
        data.find_corpus()


def test_find_corpus_not_found_says_where_and_how(no_default_corpus):
    with pytest.raises(CorpusNotFoundError) as info:
        data.find_corpus()
    message = str(info.value)
    assert "ADCRNN_EMODB" in message and "adcrnn data download" in message
    assert str(no_default_corpus / "data" / "emodb" / "wav") in message


# ------------------------------------------------------------------------------------------
# checksums
# ------------------------------------------------------------------------------------------
def test_packaged_manifest_lists_the_corpus():
    manifest = data.load_manifest()
    assert len(manifest) == 535
    assert all(data.parse_filename(name)["emotion"] in data.EMOTIONS for name in manifest)


def test_verify_corpus_names_each_problem(tmp_path):
    wav = make_corpus(tmp_path / "wav", sentences=("a01",), extra_takes=0)
    manifest = {p.name: sha256_file(p) for p in wav.glob("*.wav")}
    data.verify_corpus(wav, manifest)  # intact: no error
    victim, gone = sorted(wav.glob("*.wav"))[:2]
    write_wav(victim, tone(300, 0.3))
    gone.unlink()
    write_wav(wav / "03a05Fa.wav", tone(300, 0.3))
    with pytest.raises(DataError) as info:
        data.verify_corpus(wav, manifest)
    message = str(info.value)
    assert f"{victim}: checksum mismatch" in message
    assert f"{gone}: missing" in message
    assert "03a05Fa.wav: not in the checksum manifest" in message


def test_load_manifest_rejects_garbage(tmp_path):
    bad = tmp_path / "SUMS"
    bad.write_text("deadbeef  03a01Fa.wav\n")
    with pytest.raises(DataError, match=r"SUMS:1"):
        data.load_manifest(bad)


# ------------------------------------------------------------------------------------------
# the corpus table
# ------------------------------------------------------------------------------------------
def test_load_emodb_table(synthetic_corpus):
    df = data.load_emodb(synthetic_corpus, verify=False)
    assert list(df.columns) == ["utterance", "path", "speaker", "sex", "sentence", "emotion", "take", "duration"]
    assert len(df) == len(list(synthetic_corpus.glob("*.wav")))
    assert list(df["emotion"].cat.categories) == list(data.EMOTIONS)
    assert df["utterance"].is_monotonic_increasing
    assert df["speaker"].nunique() == 10
    assert set(df["sex"]) == {"female", "male"}
    row = df.iloc[0]
    assert row["duration"] == pytest.approx(sf.info(row["path"]).duration)
    assert df.attrs["skipped"] == []


def test_load_emodb_verifies_against_a_manifest(synthetic_corpus):
    manifest = {p.name: sha256_file(p) for p in synthetic_corpus.glob("*.wav")}
    assert len(data.load_emodb(synthetic_corpus, manifest=manifest)) == len(manifest)
    with pytest.raises(DataError, match="checksum"):
        data.load_emodb(synthetic_corpus)  # the packaged manifest is EmoDB's, not these files'


def test_load_emodb_bad_file_raises_or_is_counted(tmp_path, caplog):
    wav = make_corpus(tmp_path / "wav", sentences=("a01",), extra_takes=0)
    (wav / "03a02Fa.wav").write_bytes(b"")
    write_wav(wav / "03a02Xa.wav", tone(200, 0.3))
    with pytest.raises(DataError, match="03a02Fa.wav: empty file|03a02Xa.wav: unknown emotion"):
        data.load_emodb(wav, verify=False)
    with caplog.at_level(logging.WARNING, logger="adcrnn_lib.data"):
        df = data.load_emodb(wav, verify=False, on_error="skip")
    assert len(df) == 70
    skipped = dict(df.attrs["skipped"])
    assert set(Path(p).name for p in skipped) == {"03a02Fa.wav", "03a02Xa.wav"}
    assert "2 file(s) skipped" in caplog.text
    with pytest.raises(ParameterError, match="on_error"):
        data.load_emodb(wav, verify=False, on_error="ignore")


# ------------------------------------------------------------------------------------------
# folds
# ------------------------------------------------------------------------------------------
def _assert_partition(df, folds):
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests) == list(range(len(df)))  # every utterance in exactly one test fold
    for f in folds:
        assert not set(f.test) & (set(f.train) | set(f.val))
        assert not set(f.train) & set(f.val)
        assert len(f.train) + len(f.val) + len(f.test) == len(df)


def _group(df):
    return df["speaker"] + df["sentence"] + df["emotion"].astype(str)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_paper_folds(synthetic_corpus, seed):
    df = data.load_emodb(synthetic_corpus, verify=False)
    folds = data.make_folds(df, protocol="paper", seed=seed)
    assert len(folds) == 5
    _assert_partition(df, folds)
    groups = _group(df).to_numpy()
    for f in folds:
        for part in (f.train, f.val):  # repeated takes never straddle test and the rest
            assert not set(groups[f.test]) & set(groups[part])
        assert not set(groups[f.train]) & set(groups[f.val])
        assert len(f.val) > 0


def test_folds_are_deterministic(synthetic_corpus):
    df = data.load_emodb(synthetic_corpus, verify=False)
    for protocol in ("paper", "loso"):
        a, b = data.make_folds(df, protocol=protocol, seed=3), data.make_folds(df, protocol=protocol, seed=3)
        for fa, fb in zip(a, b):
            for part in ("train", "val", "test"):
                np.testing.assert_array_equal(getattr(fa, part), getattr(fb, part))
    paper3, paper4 = data.make_folds(df, protocol="paper", seed=3), data.make_folds(df, protocol="paper", seed=4)
    assert any(not np.array_equal(x.test, y.test) for x, y in zip(paper3, paper4))  # another seed, other paper folds


def test_folds_and_checksums_are_remembered_and_a_change_is_seen(synthetic_corpus, tmp_path, monkeypatch):
    """A chapter reads many runs of one corpus: their folds are cut once and the corpus hashed once
    per process, while another table, another manifest or a changed file is looked at again."""
    df = data.load_emodb(synthetic_corpus, verify=False)
    cut, real = [], data._make_folds
    monkeypatch.setattr(data, "_make_folds", lambda *a, **k: cut.append(1) or real(*a, **k))
    monkeypatch.setattr(data, "_FOLDS", {})
    first = data.make_folds(df, protocol="paper", seed=11)
    first[0].test[:] = -1  # a caller's change to its folds stays its own
    again = data.make_folds(df, protocol="paper", seed=11)
    assert len(cut) == 1 and (again[0].test >= 0).all()
    data.make_folds(df.iloc[1:].reset_index(drop=True), protocol="paper", seed=11)
    assert len(cut) == 2
    wav = tmp_path / "wav"
    shutil.copytree(synthetic_corpus, wav)
    manifest = {p.name: sha256_file(p) for p in wav.glob("*.wav")}
    hashed = []
    monkeypatch.setattr(data, "sha256_file", lambda p: hashed.append(p) or sha256_file(p))
    data.verify_corpus(wav, manifest)
    data.verify_corpus(wav, manifest)
    assert len(hashed) == len(manifest)
    victim = sorted(wav.glob("*.wav"))[0]
    victim.write_bytes(victim.read_bytes()[:-2] + b"\x01\x02")
    with pytest.raises(DataError, match="checksum mismatch"):
        data.verify_corpus(wav, manifest)


def test_loso_folds(synthetic_corpus):
    df = data.load_emodb(synthetic_corpus, verify=False)
    folds = data.make_folds(df, protocol="loso", seed=0)
    assert len(folds) == 10
    _assert_partition(df, folds)
    spk = df["speaker"].to_numpy()
    assert sorted(spk[f.test][0] for f in folds) == sorted(data.SPEAKER_SEX)
    for f in folds:
        test_s, val_s, train_s = set(spk[f.test]), set(spk[f.val]), set(spk[f.train])
        assert len(test_s) == 1 and len(val_s) == 1
        assert not test_s & (val_s | train_s) and not val_s & train_s


def test_make_folds_rejects_bad_parameters(synthetic_corpus):
    df = data.load_emodb(synthetic_corpus, verify=False)
    with pytest.raises(ParameterError, match="allowed: 'paper', 'loso'"):
        data.make_folds(df, protocol="random")
    with pytest.raises(ParameterError, match="n_splits"):
        data.make_folds(df, protocol="loso", n_splits=5)
    with pytest.raises(ParameterError, match="n_splits"):
        data.make_folds(df, protocol="paper", n_splits=1)


# ------------------------------------------------------------------------------------------
# the real corpus
# ------------------------------------------------------------------------------------------
@pytest.mark.emodb
def test_real_emodb_table(emodb_dir):
    df = data.load_emodb(emodb_dir)  # also verifies all 535 checksums
    assert len(df) == 535 and df["speaker"].nunique() == 10
    counts = df["emotion"].value_counts().to_dict()
    assert counts == {"anger": 127, "boredom": 81, "neutral": 79, "happiness": 71, "fear": 69, "sadness": 62, "disgust": 46}
    assert df["duration"].sum() == pytest.approx(1487.09, abs=0.01)


@pytest.mark.emodb
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_emodb_paper_folds_are_stratified(emodb_dir, seed):
    df = data.load_emodb(emodb_dir, verify=False)
    folds = data.make_folds(df, protocol="paper", seed=seed)
    _assert_partition(df, folds)
    share = df["emotion"].value_counts(normalize=True)
    for f in folds:
        counts = df["emotion"].iloc[f.test].value_counts()
        assert (counts - share * len(f.test)).abs().max() <= 3
    groups = _group(df).to_numpy()
    for f in folds:
        assert not set(groups[f.test]) & set(groups[np.concatenate([f.train, f.val])])


@pytest.mark.emodb
def test_real_emodb_audio(emodb_dir):
    y = data.load_audio(emodb_dir / "03a01Fa.wav")
    assert y.dtype == np.float32 and y.size == sf.info(str(emodb_dir / "03a01Fa.wav")).frames
    assert isinstance(data.load_emodb(emodb_dir, verify=False), pd.DataFrame)


def test_corpus_tests_skip_without_the_corpus_and_fail_where_it_is_required(monkeypatch):
    """Locally a missing corpus skips the real-corpus tests; CI (.ci/run) sets $ADCRNN_REQUIRE_EMODB, which turns that skip into a failure."""
    from .helpers.audio import REQUIRE_EMODB_VAR, corpus_missing

    for value in (None, "", "0"):
        if value is None:
            monkeypatch.delenv(REQUIRE_EMODB_VAR, raising=False)
        else:
            monkeypatch.setenv(REQUIRE_EMODB_VAR, value)
        with pytest.raises(pytest.skip.Exception, match="no corpus here"):
            corpus_missing("no corpus here")
    monkeypatch.setenv(REQUIRE_EMODB_VAR, "1")
    with pytest.raises(pytest.fail.Exception, match=rf"no corpus here \(and \${REQUIRE_EMODB_VAR} requires it\)"):
        corpus_missing("no corpus here")
    assert f"export {REQUIRE_EMODB_VAR}=1" in (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
