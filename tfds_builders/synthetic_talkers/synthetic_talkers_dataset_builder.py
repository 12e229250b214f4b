"""TFDS builder for synthetic_talkers: speech-driven 3D talking faces generated from a seed, no download.

Speech from several engines (espeak-ng voices; Piper's "joe", a neural voice trained from a person's recordings,
and pitch- and formant-shifted speakers made from it; Kokoro-82M's voice styles and their mixes), each utterance
with its phone timings. Faces: the speech-driven layer (visemes, coarticulation, jaw and loudness, the emotion's
expression, bilabial closure) plus a nonverbal layer drawn from its own random process (blinks, brows, gaze,
squints, effort, lead), so one utterance has many true motions: every test clip stores K of them. Faces are
MediaPipe's canonical mesh with per-speaker identity warps and our own procedural 52-shape basis; the rig
(templates, bases, triangles, regions, the inner-lip vertex pair) is written beside the data as `rig.npz`.

Splits: train / validation / test (seen speakers; validation and test sentences never occur in train),
test_unseen (held-out speakers of the voice families heard in training), test_unseen_voice (Kokoro voices no
training speaker has) and test_unseen_language (espeak-ng speakers of Spanish, German, French, Mandarin and Hindi
speaking their own languages; every other split is English).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import multiprocessing
import os

import numpy as np
import tensorflow_datasets as tfds
import tqdm

from dt_jax import timebase
from dt_jax.data import schema
from dt_jax.face import arkit
from dt_jax.face import mesh as mesh_lib
from dt_jax.face import rig as rig_lib
from tfds_builders.synthetic_talkers import corpus
from tfds_builders.synthetic_talkers import speech

_DEFAULT_ROSTER = corpus.Roster(seen=(("espeak", 10), ("piper", 7), ("kokoro", 3)),
                                held_out=(("espeak", 2), ("piper", 1), ("kokoro", 1)),
                                unseen_voice=("jf_gongitsune", "jf_nezumi", "jf_tebukuro"),
                                unseen_language=("es", "de", "fr", "cmn", "hi"))


@dataclasses.dataclass
class SyntheticTalkersConfig(tfds.core.BuilderConfig):
  roster: corpus.Roster = _DEFAULT_ROSTER
  train_sentences: int = 12          # per seen speaker, each spoken in every emotion
  validation_sentences: int = 1
  test_sentences: int = 1            # per speaker, in every test split
  alternates: int = 8                # K motions per test clip
  vertices: bool = False             # store vertex offsets [T, V*3] instead of weights [T, 52]
  seed: int = 0


class Builder(tfds.core.GeneratorBasedBuilder):
  """Synthetic talking faces: 16 kHz speech, 30 fps ARKit weights (or vertex offsets), speaker and emotion."""

  VERSION = tfds.core.Version("2.2.0")
  RELEASE_NOTES = {"1.0.0": "First release.",
                   "2.0.0": "Several speech engines (espeak-ng, Piper, Kokoro), a nonverbal layer, K alternative "
                            "motions per test clip, phone segments, the test_unseen_voice split.",
                   "2.1.0": "The test_unseen_language split (espeak-ng speakers of five other languages); the other "
                            "splits are unchanged.",
                   "2.2.0": "A face rig that never folds: the jaw and lip shapes hand over smoothly at the mouth "
                            "corners, the lids meet on the line between the eye's corners, the inner eye corners are "
                            "re-triangulated. The same motions; every vertex position (and so every metric) changes."}
  BUILDER_CONFIGS = [
      SyntheticTalkersConfig(name="default", description="32 speakers of three engines and six languages, 5 emotions."),
      SyntheticTalkersConfig(
          name="tiny", description="9 speakers; seconds to build.", train_sentences=4, validation_sentences=1,
          test_sentences=2, alternates=4,
          roster=corpus.Roster(seen=(("espeak", 3), ("piper", 1)), held_out=(("espeak", 1), ("piper", 1)),
                               unseen_voice=("jf_nezumi",), unseen_language=("es", "cmn"))),
      SyntheticTalkersConfig(
          name="vertices", description="Vertex offsets (D = 468*3) of 8 speakers.", train_sentences=3,
          validation_sentences=1, test_sentences=1, alternates=4, vertices=True,
          roster=corpus.Roster(seen=(("espeak", 4),), held_out=(("espeak", 2),), unseen_voice=("jf_nezumi",),
                               unseen_language=("es",))),
  ]
  DEFAULT_CONFIG_NAME = "default"

  def __init__(self, *, num_workers: int | None = None, **kwargs):
    self._num_workers = num_workers
    super().__init__(**kwargs)

  @property
  def speakers(self) -> list[corpus.Speaker]:
    return corpus.make_speakers(self.builder_config.roster, self.builder_config.seed)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    dim = mesh_lib.canonical().num_vertices * 3 if cfg.vertices else arkit.NUM
    speakers = self.speakers
    return self.dataset_info_from_configs(
        features=schema.features(motion_dim=dim, speakers=[s.name for s in speakers], emotions=list(corpus.EMOTIONS),
                                 alternates=True, voice=True, phones=True),
        supervised_keys=None,
        homepage="https://github.com/dt_jax",
        metadata=schema.metadata(
            representation="vertex_offsets" if cfg.vertices else "arkit52",
            phone_classes=list(speech.phones.CLASS_NAMES), alternates=cfg.alternates,
            voices={s.name: s.family for s in speakers}, groups={s.name: s.group for s in speakers}),
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    cfg = self.builder_config
    speakers = self.speakers
    templates, bases = corpus.speaker_faces(speakers)
    m = mesh_lib.canonical()
    rig = rig_lib.Rig(speakers=tuple(s.name for s in speakers), templates=templates, faces=m.faces,
                      regions=m.regions, basis=None if cfg.vertices else bases, lip_pair=mesh_lib.LIP_PAIR)
    os.makedirs(self.data_dir, exist_ok=True)
    rig.save(os.path.join(self.data_dir, schema.RIG_FILE))
    if any(s.voice.engine == "kokoro" for s in speakers if isinstance(s.voice, speech.NeuralVoice)):
      from tfds_builders.synthetic_talkers.speech import kokoro_engine  # pylint: disable=g-import-not-at-top
      kokoro_engine.model_file()            # joined once here, before the workers need it
    all_specs = corpus.specs(speakers, train_sentences=cfg.train_sentences,
                             validation_sentences=cfg.validation_sentences, test_sentences=cfg.test_sentences,
                             seed=cfg.seed)
    return {split: self._generate_examples([s for s in all_specs if s.split == split], templates, bases)
            for split in corpus.SPLITS}

  def _generate_examples(self, specs, templates, bases):
    cfg = self.builder_config
    workers = self._num_workers or min(os.cpu_count() or 1, 8)
    jobs = [(spec, cfg.roster, cfg.seed, cfg.alternates if spec.split in corpus.TEST_SPLITS else 1)
            for spec in specs]
    desc = f"synthetic_talkers/{cfg.name} {specs[0].split if specs else ''}"
    parallel = workers > 1 and len(jobs) > 8
    # Spawned (the parent may hold JAX threads), non-daemonic workers: espeak starts a child per utterance.
    pool = (concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if parallel else contextlib.nullcontext())
    with pool:
      results = pool.map(_work, jobs, chunksize=2) if parallel else map(_work, jobs)
      yield from self._examples(tqdm.tqdm(results, total=len(jobs), desc=desc, unit="utt"), templates, bases)

  def _examples(self, results, templates, bases):
    speakers = self.speakers
    for spec, clip in results:
      s = spec.speaker
      motions = clip.motions                                                   # [K, T, 52]
      if self.builder_config.vertices:
        offsets = np.einsum("ntk,kvc->ntvc", motions, bases[s]).reshape(motions.shape[:2] + (-1,))
        motions, template = offsets.astype(np.float32), templates[s].reshape(-1)
      else:
        template = np.zeros(arkit.NUM, np.float32)
      yield spec.key, {
          "audio": clip.audio, "motion": motions[0], "motion_alternates": motions, "template": template,
          "speaker": s, "emotion": spec.emotion, "intensity": 1, "utterance": spec.text,
          "voice": speakers[s].family,
          "phone_start": np.asarray([p.start for p in clip.phones], np.float32),
          "phone_end": np.asarray([p.end for p in clip.phones], np.float32),
          "phone_class": np.asarray([p.cls for p in clip.phones], np.int32)}


@functools.lru_cache(maxsize=2)
def _voices(roster: corpus.Roster, seed: int) -> tuple[list[corpus.Speaker], speech.Synthesizer]:
  """The speakers and a synthesizer holding their voices, made once per worker process."""
  speakers = corpus.make_speakers(roster, seed)
  return speakers, speech.Synthesizer([s.voice for s in speakers])


def _work(job):
  spec, roster, seed, draws = job
  speakers, synth = _voices(roster, seed)
  return spec, corpus.utterance(synth, speakers[spec.speaker], spec, seed, draws=draws)
