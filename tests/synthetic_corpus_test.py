"""The synthetic corpus is a real task: exact timings, closed bilabials, learnable and identifiable from audio."""
import numpy as np
import pytest
import scipy.signal

from dt_jax.data import summary
from dt_jax.face import arkit
from dt_jax.face import mesh
from tfds_builders.synthetic_talkers import corpus
from tfds_builders.synthetic_talkers import motion
from tfds_builders.synthetic_talkers import speech
from tfds_builders.synthetic_talkers import synthetic_talkers_dataset_builder as builder_lib
from tfds_builders.synthetic_talkers import visemes

TINY = next(c for c in builder_lib.Builder.BUILDER_CONFIGS if c.name == "tiny")


@pytest.fixture(scope="module")
def generator():
  speakers = corpus.make_speakers(TINY.num_speakers, TINY.seed)
  specs = corpus.specs(num_speakers=TINY.num_speakers, num_held_out=TINY.num_held_out,
                       train_sentences=TINY.train_sentences, validation_sentences=TINY.validation_sentences,
                       test_sentences=TINY.test_sentences, seed=TINY.seed)
  return speakers, specs, speech.Synthesizer([s.voice for s in speakers])


def test_speech_timings_cover_the_audio(generator):
  speakers, specs, synth = generator
  for spec in specs[::7]:
    utt = synth.synthesize(spec.text, speakers[spec.speaker].voice)
    assert utt.audio.dtype == np.float32 and np.max(np.abs(utt.audio)) <= 1.0
    starts = np.array([p[0] for p in utt.phones])
    assert np.all(np.diff(starts) >= 0) and len(utt.phones) > 10
    assert abs(utt.phones[-1][1] - len(utt.audio) / speech.OUTPUT_RATE) < 0.01   # last phone ends the audio
    # Voiced speech lies inside the phone span: nothing loud before the first phone starts.
    head = utt.audio[: int(utt.phones[0][0] * speech.OUTPUT_RATE)]
    assert head.size == 0 or np.max(np.abs(head)) < 0.01


def test_unknown_voice_is_an_error(generator):
  _, _, synth = generator
  bad = speech.Voice(name="nope", accent="xx-nowhere", gender="male", pitch_lo=90, pitch_hi=120,
                     formant_scale=1.0, breath=0, roughness=0)
  with pytest.raises(ValueError, match="rejected voice"):
    synth.synthesize("Hello.", bad)


def test_every_bilabial_closes_the_lips(generator):
  speakers, specs, synth = generator
  templates, bases = corpus.speaker_faces(speakers)
  up, lo = list(mesh.LIPS_INNER_UPPER[1:-1]), list(mesh.LIPS_INNER_LOWER[1:-1])
  checked, opened = 0, []
  for spec in specs[::3]:
    audio, w, phones = corpus.utterance(synth, speakers[spec.speaker], spec, TINY.seed)
    v = templates[spec.speaker][None] + np.einsum("tk,kvc->tvc", w, bases[spec.speaker])
    gap_mm = 1000 * np.max(v[:, up, 1] - v[:, lo, 1], axis=1)          # [T] widest opening along the slit
    opened.append(np.percentile(gap_mm, 90))
    lead = speakers[spec.speaker].style.lead_s
    for start, end, ph in phones:
      if ph in visemes.BILABIAL:
        f0, f1 = int(np.floor((start - lead) * 30)), int(np.ceil((end - lead) * 30))
        assert gap_mm[max(f0, 0):max(f1, f0 + 1)].min() < 0.5, (spec.key, ph, start)
        checked += 1
  assert checked > 50
  assert np.median(opened) > 3.0          # and the mouth does open while speaking


def test_corpus_is_deterministic(tiny, generator):
  speakers, specs, synth = generator
  src = tiny.splits["validation"]
  by_text = {}
  for i in range(len(src)):
    ex = src[i]
    by_text[(int(ex["speaker"]), int(ex["emotion"]), ex["utterance"].decode())] = ex
  for spec in [s for s in specs if s.split == "validation"][:4]:
    audio, w, _ = corpus.utterance(synth, speakers[spec.speaker], spec, TINY.seed)
    ex = by_text[(spec.speaker, corpus.EMOTIONS.index(spec.emotion), spec.text)]
    np.testing.assert_array_equal(ex["audio"], audio)
    np.testing.assert_array_equal(ex["motion"], w)


def test_splits_hold_out_speakers_and_sentences(tiny):
  s = summary.summarize(tiny)
  sp = s["splits"]
  held = set(sp["test_unseen"]["speakers"])
  assert held == {"S04", "S05"}
  for split in ("train", "validation", "test"):
    assert not held & set(sp[split]["speakers"])
    assert sp[split]["emotions"] == {e: sp[split]["examples"] // 5 for e in corpus.EMOTIONS}
  texts = {split: {tiny.splits[split][i]["utterance"] for i in range(len(tiny.splits[split]))}
           for split in tiny.splits}
  assert not texts["train"] & (texts["test"] | texts["validation"] | texts["test_unseen"])
  for split in tiny.splits:                    # schema: audio and motion agree to within one frame
    for i in range(0, len(tiny.splits[split]), 9):
      ex = tiny.splits[split][i]
      assert abs(len(ex["audio"]) - len(ex["motion"]) * 16000 / 30) <= 16000 / 30
      assert ex["motion"].shape[1] == 52 and np.all(ex["template"] == 0)


def _features(audio, frames):
  """[T, 40] log band energies at 30 fps (25 ms windows), a plain audio front end for probing."""
  _, _, z = scipy.signal.stft(audio, fs=16000, nperseg=400, noverlap=400 - 160, boundary=None, padded=True)
  power = np.abs(z.T) ** 2                                                  # [N100, 201]
  edges = np.geomspace(2, 200, 41).astype(int)
  bands = np.stack([power[:, a:max(b, a + 1)].mean(1) for a, b in zip(edges[:-1], edges[1:])], 1)
  logb = np.log(bands + 1e-8)
  idx = np.clip(((np.arange(frames) + 0.5) / 30 * 100).astype(int), 0, len(logb) - 1)
  return logb[idx]


def _context(f, k=4):
  pad = np.pad(f, ((k, k), (0, 0)), mode="edge")
  return np.concatenate([pad[i:i + len(f)] for i in range(0, 2 * k + 1, 2)], axis=1)


def _ridge(x, y, lam=1.0):
  mu, sd = x.mean(0), x.std(0) + 1e-6
  xs = np.c_[(x - mu) / sd, np.ones(len(x))]
  w = np.linalg.solve(xs.T @ xs + lam * np.eye(xs.shape[1]), xs.T @ y)
  return lambda q: np.c_[(q - mu) / sd, np.ones(len(q))] @ w


def _split_arrays(ds, split):
  src = ds.splits[split]
  frames, pooled, jaw, spk, emo = [], [], [], [], []
  for i in range(len(src)):
    ex = src[i]
    f = _features(ex["audio"], len(ex["motion"]))
    frames.append(_context(f))
    jaw.append(ex["motion"][:, arkit.INDEX["jawOpen"]])
    pooled.append(np.r_[f.mean(0), f.std(0)])
    spk.append(int(ex["speaker"]))
    emo.append(int(ex["emotion"]))
  return np.concatenate(frames), np.concatenate(jaw), np.stack(pooled), np.array(spk), np.array(emo)


def test_jaw_is_predictable_and_identity_and_emotion_are_audible(tiny):
  xf, jaw, xp, spk, emo = _split_arrays(tiny, "train")
  tf_, tjaw, tp, tspk, temo = _split_arrays(tiny, "test")          # seen speakers, unseen sentences
  pred = _ridge(xf, jaw, lam=10.0)(tf_)
  r2 = 1 - np.sum((tjaw - pred) ** 2) / np.sum((tjaw - tjaw.mean()) ** 2)
  assert r2 > 0.4, r2
  for labels, test_labels, n_cls in ((spk, tspk, 4), (emo, temo, 5)):
    onehot = np.eye(labels.max() + 1)[labels]
    acc = np.mean(np.argmax(_ridge(xp, onehot, lam=1.0)(tp), 1) == test_labels)
    assert acc > 2.5 / n_cls, (n_cls, acc)        # chance is 1 / n_cls
