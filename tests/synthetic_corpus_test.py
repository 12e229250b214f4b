"""The synthetic corpus is a real task: several engines with phone timings a forced aligner agrees with, closed
bilabials, a one-to-many upper face, splits that hold out speakers and a whole voice family, learnable and
identifiable from audio, bit-reproducible."""
import time

import numpy as np
import pytest
import scipy.signal

from dt_jax.data import summary
from dt_jax.face import arkit
from dt_jax.face import mesh
from tfds_builders.synthetic_talkers import corpus
from tfds_builders.synthetic_talkers import speech
from tfds_builders.synthetic_talkers import synthetic_talkers_dataset_builder as builder_lib
from tfds_builders.synthetic_talkers.speech import aligner
from tfds_builders.synthetic_talkers.speech import phones as phones_lib

TINY = next(c for c in builder_lib.Builder.BUILDER_CONFIGS if c.name == "tiny")


@pytest.fixture(scope="module")
def generator():
  speakers = corpus.make_speakers(TINY.roster, TINY.seed)
  specs = corpus.specs(speakers, train_sentences=TINY.train_sentences, validation_sentences=TINY.validation_sentences,
                       test_sentences=TINY.test_sentences, seed=TINY.seed)
  return speakers, specs, speech.Synthesizer([s.voice for s in speakers])


def _one_per_family(speakers):
  seen = {}
  for k, s in enumerate(speakers):
    seen.setdefault(s.voice.engine if isinstance(s.voice, speech.NeuralVoice) else "espeak", k)
  return seen


def test_every_engine_speaks_with_phones_that_cover_the_audio(generator):
  speakers, specs, synth = generator
  families = _one_per_family(speakers)
  assert set(families) == {"espeak", "piper", "kokoro"}
  for k in families.values():
    spec = next(s for s in specs if s.speaker == k)
    utt = synth.synthesize(spec.text, speakers[k].voice, seed=1, base_rate=speakers[k].base_rate)
    assert utt.audio.dtype == np.float32 and np.max(np.abs(utt.audio)) <= 1.0
    starts = np.array([p.start for p in utt.phones])
    assert np.all(np.diff(starts) >= 0) and len(utt.phones) > 10
    assert abs(utt.phones[-1].end - len(utt.audio) / 16000) < 0.02          # the last phone ends the audio
    assert {phones_lib.VOWEL, phones_lib.BILABIAL, phones_lib.PAUSE} <= {p.cls for p in utt.phones}


def test_engine_timings_agree_with_the_aligner(generator):
  """pocketsphinx's forced alignment against each engine's own timings: after the constant offset between the
  two, most phone starts agree within 50 ms (neural voices align on every sentence; the recogniser loses about
  half of espeak-ng's Klatt-voiced sentences, whose timings are espeak's own events, exact by construction); and
  that offset, the aligner's own bias on espeak-ng, is the same for every engine once the neural engines' lags
  (speech.TIMING_LAG_S) are taken off, so each face moves with its sound."""
  speakers, _, synth = generator
  rng = np.random.default_rng(7)
  texts = [corpus.sentence(rng) for _ in range(4)]
  offsets = {}
  for family, k in _one_per_family(speakers).items():
    voice = speakers[k].voice
    if family == "espeak":                      # a Klatt-voiced espeak speaker, as two in three are
      voice = next(s.voice for s in speakers if isinstance(s.voice, speech.EspeakVoice) and s.voice.klatt)
    diffs, aligned = [], 0
    for text in texts:
      utt = synth.synthesize(text, voice, seed=2, base_rate=speakers[k].base_rate)
      try:
        diffs.append(aligner.start_differences(utt.phones, aligner.align(utt.audio, text)))
        aligned += 1
      except RuntimeError:                      # the recogniser found no path through the sentence
        continue
    result = aligner.agreement(np.concatenate(diffs) if diffs else np.zeros(0))
    assert aligned >= (1 if family == "espeak" else len(texts)), (family, aligned)
    assert result["matched"] > 15 and result["within"] >= 0.75, (family, result)
    offsets[family] = result["offset_s"]
  assert abs(offsets["espeak"]) < 0.03, offsets
  for family in ("piper", "kokoro"):
    assert abs(offsets[family] - offsets["espeak"]) < 0.02, offsets


def test_every_language_sentence_speaks_with_known_phones():
  """Every sentence of the test_unseen_language speakers, in every language of the pool: espeak-ng's IPA phone
  events all map to visemes (an unknown symbol is an error, never silence), the phones cover the audio, and each
  sentence has vowels, bilabials (every pool sentence has a p, b or m) and a pause."""
  speakers = corpus.make_speakers(corpus.Roster(seen=(), held_out=(), unseen_voice=(),
                                                unseen_language=tuple(corpus.LANGUAGE_SENTENCES)), seed=0)
  synth = speech.Synthesizer([s.voice for s in speakers])
  for spk in speakers:
    assert spk.group == "unseen_language" and spk.family == f"espeak:{spk.voice.accent}"
    for text in corpus.LANGUAGE_SENTENCES[spk.voice.accent]:
      utt = synth.synthesize(text, spk.voice, seed=3, base_rate=spk.base_rate)
      classes = [p.cls for p in utt.phones]
      assert {phones_lib.VOWEL, phones_lib.BILABIAL, phones_lib.PAUSE} <= set(classes), (text, utt.phones)
      assert abs(utt.phones[-1].end - len(utt.audio) / 16000) < 0.02 and len(utt.phones) > 10
      speech_phones = [p for p in utt.phones if p.cls != phones_lib.PAUSE]
      assert sum(p.end - p.start for p in speech_phones) > 0.6 * len(utt.audio) / 16000, text


def test_ipa_phones_of_other_languages_map_by_their_symbols():
  from tfds_builders.synthetic_talkers import visemes  # pylint: disable=g-import-not-at-top
  assert visemes.ipa_visemes("ˈonɡ") == (("O", "DD", "KK"), True)           # a Mandarin final, symbol by symbol
  assert visemes.ipa_visemes("tɕh") == (("CH",), False)                     # aspiration adds no viseme
  assert visemes.ipa_visemes("bʰ") == (("PP",), False) and visemes.ipa_visemes("β") == (("PP",), False)
  assert visemes.ipa_visemes("ˈã") == (("AE",), True)                       # a precomposed nasal vowel
  assert visemes.ipa_visemes("ç") == (("KK",), False)                       # English tables keep their own answers
  with pytest.raises(KeyError, match="symbol 'ʘ'"):
    visemes.ipa_visemes("ʘa")


def test_unknown_voice_is_an_error(generator):
  _, _, synth = generator
  bad = speech.EspeakVoice(name="nope", accent="xx-nowhere", gender="male", pitch_lo=90, pitch_hi=120,
                           formant_scale=1.0, breath=0, roughness=0)
  with pytest.raises(ValueError, match="rejected voice"):
    synth.synthesize("Hello.", bad)


def _lip_gap_mm(tiny, ex, motion):
  v = tiny.rig.vertices(motion, int(ex["speaker"]))
  t = tiny.rig.templates[int(ex["speaker"])]
  up, lo = mesh.LIP_PAIR
  return 1000 * (np.linalg.norm(v[:, up] - v[:, lo], axis=-1) - np.linalg.norm(t[up] - t[lo]))


def test_every_bilabial_closes_the_lips_in_every_alternate(tiny):
  checked, opened = 0, []
  for split in corpus.TEST_SPLITS:
    src = tiny.splits[split]
    for i in range(len(src)):
      ex = src[i]
      mid = (ex["phone_start"] + ex["phone_end"]) / 2
      frames = np.floor(mid[ex["phone_class"] == phones_lib.BILABIAL] * 30).astype(int)
      for alt in ex["motion_alternates"]:               # the face leads the audio by up to 40 ms: +-2 frames
        gap = _lip_gap_mm(tiny, ex, alt)
        opened.append(np.percentile(gap, 90))
        closest = [gap[max(f - 2, 0):f + 3].min() for f in frames]
        assert np.all(np.asarray(closest) < 1.0), (split, i, closest)
        checked += len(frames)
  assert checked > 200
  assert np.median(opened) > 4.0                     # and the mouth does open while speaking


def test_alternates_differ_in_the_upper_face_and_barely_at_the_lips(tiny):
  s = summary.summarize(tiny)
  for split in corpus.TEST_SPLITS:
    share = s["splits"][split]["nonverbal_share"]
    assert s["splits"][split]["alternates"] == TINY.alternates
    assert share["upper_face"] > 0.3 and share["lips"] < 0.1, (split, share)
  ex = tiny.splits["test"][0]
  np.testing.assert_array_equal(ex["motion_alternates"][0], ex["motion"])
  eyes = [arkit.INDEX["eyeBlinkLeft"], arkit.INDEX["eyeLookInLeft"]]       # blinks and gaze differ in every clip,
  assert np.all(np.std(ex["motion_alternates"][:, :, eyes], axis=0).max(0) > 0.05)
  brows = [arkit.INDEX[n] for n in arkit.NAMES if n.startswith("brow")]   # the brows in some
  test = tiny.splits["test"]
  assert max(np.std(test[i]["motion_alternates"][:, :, brows], axis=0).max() for i in range(len(test))) > 0.05
  assert len(tiny.splits["train"][0]["motion_alternates"]) == 1              # training clips carry one draw


def test_corpus_is_deterministic(tiny, generator):
  """Utterances of every engine rebuilt here equal the stored ones bit for bit, every alternate included."""
  speakers, specs, synth = generator
  stored, splits = {}, ("validation", "test_unseen_voice", "test_unseen_language")
  for split in splits:
    src = tiny.splits[split]
    for i in range(len(src)):
      ex = src[i]
      stored[(int(ex["speaker"]), int(ex["emotion"]), ex["utterance"].decode())] = ex
  chosen = {}
  for spec in specs:
    if spec.split in splits:
      family = speakers[spec.speaker].family
      chosen.setdefault(family if spec.split == "test_unseen_language" else family.split(":")[0], spec)
  assert set(chosen) == {"espeak", "piper", "kokoro", "espeak:es", "espeak:cmn"}
  for spec in chosen.values():
    draws = TINY.alternates if spec.split != "validation" else 1
    clip = corpus.utterance(synth, speakers[spec.speaker], spec, TINY.seed, draws=draws)
    ex = stored[(spec.speaker, corpus.EMOTIONS.index(spec.emotion), spec.text)]
    np.testing.assert_array_equal(ex["audio"], clip.audio)
    np.testing.assert_array_equal(ex["motion_alternates"], clip.motions)
    np.testing.assert_array_equal(ex["phone_start"], np.asarray([p.start for p in clip.phones], np.float32))


def test_espeak_breath_noise_follows_the_seed_not_the_clock():
  """espeak-ng seeds its noise generator from the clock (one-second resolution) unless told: a breathy voice of its
  default synthesizer (the default corpus's S06) spoke differently in two builds until the seed was passed on."""
  voice = speech.EspeakVoice(name="dtjbreath", accent="en-us", gender="male", pitch_lo=90, pitch_hi=120,
                             formant_scale=1.0, breath=2, roughness=0, klatt=0)
  text = "Mabel spotted the purple wool."
  synth = speech.Synthesizer([voice])
  first = synth.synthesize(text, voice, seed=7).audio
  time.sleep(1.1)                                        # another second of the clock espeak would seed from
  np.testing.assert_array_equal(first, synth.synthesize(text, voice, seed=7).audio)
  other = synth.synthesize(text, voice, seed=8).audio
  assert first.shape == other.shape and np.abs(first - other).max() > 1e-3     # the seed reaches the noise


def test_splits_hold_out_speakers_sentences_and_a_voice_family(tiny):
  s = summary.summarize(tiny)
  sp = s["splits"]
  train_speakers = set(sp["train"]["speakers"])
  for split in ("test_unseen", "test_unseen_voice", "test_unseen_language"):
    assert sp[split]["speakers"] and not train_speakers & set(sp[split]["speakers"])
  for split in ("train", "validation", "test"):
    assert sp[split]["emotions"] == {e: sp[split]["examples"] // 5 for e in corpus.EMOTIONS}
  train_voices = set(sp["train"]["voices"]) | set(sp["validation"]["voices"])
  assert set(sp["test_unseen"]["voices"]) <= train_voices
  unseen = set(sp["test_unseen_voice"]["voices"])
  assert unseen and not unseen & train_voices                      # no training speaker has those voices
  assert not any(v.split(":")[1] in t for v in unseen for t in train_voices if ":" in t)   # nor in a mix
  languages = set(sp["test_unseen_language"]["voices"])
  assert languages == {f"espeak:{lang}" for lang in TINY.roster.unseen_language} and not languages & train_voices
  texts = {split: {tiny.splits[split][i]["utterance"] for i in range(len(tiny.splits[split]))}
           for split in tiny.splits}
  assert not texts["train"] & set().union(*(texts[s] for s in tiny.splits if s != "train"))
  pool = {t.encode() for lang in TINY.roster.unseen_language for t in corpus.LANGUAGE_SENTENCES[lang]}
  assert texts["test_unseen_language"] <= pool and not pool & set().union(*(texts[s] for s in corpus.SPLITS[:5]))
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
