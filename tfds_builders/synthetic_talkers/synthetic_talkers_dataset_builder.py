"""TFDS builder for synthetic_talkers: speech-driven 3D talking faces generated from a seed, no download.

Speech is real text-to-speech (libespeak-ng, exact phoneme timings) with a voice per speaker and emotion-dependent
prosody; motion is the 52 ARKit blendshape weights at 30 fps from visemes with coarticulation, bilabial closure,
per-speaker style partly tied to the voice, an emotion layer and blinks; faces are MediaPipe's canonical mesh with
per-speaker identity warps and our own procedural 52-shape basis. The rig (templates, bases, triangles, regions)
is written beside the data as `rig.npz` (see `dt_jax.face.rig`).

Splits: train / validation / test (seen speakers; validation and test sentences never occur in train) and
test_unseen (held-out speakers, for zero-shot evaluation).
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
from dt_jax.face import arkit
from dt_jax.face import mesh as mesh_lib
from dt_jax.face import rig as rig_lib
from tfds_builders.synthetic_talkers import corpus
from tfds_builders.synthetic_talkers import speech

RIG_FILE = "rig.npz"


@dataclasses.dataclass
class SyntheticTalkersConfig(tfds.core.BuilderConfig):
  num_speakers: int = 24
  num_held_out: int = 4
  train_sentences: int = 12          # per seen speaker, each spoken in every emotion
  validation_sentences: int = 1
  test_sentences: int = 2
  vertices: bool = False             # store vertex offsets [T, V*3] instead of weights [T, 52]
  seed: int = 0


class Builder(tfds.core.GeneratorBasedBuilder):
  """Synthetic talking faces: 16 kHz speech, 30 fps ARKit weights (or vertex offsets), speaker and emotion."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = [
      SyntheticTalkersConfig(name="default", description="24 speakers (20 seen, 4 held out), 5 emotions."),
      SyntheticTalkersConfig(name="tiny", description="6 speakers (4 seen, 2 held out); seconds to build.",
                             num_speakers=6, num_held_out=2, train_sentences=4, validation_sentences=1,
                             test_sentences=2),
      SyntheticTalkersConfig(name="vertices", description="Vertex offsets (D = 468*3) of 8 speakers.",
                             num_speakers=8, num_held_out=2, train_sentences=3, validation_sentences=1,
                             test_sentences=1, vertices=True),
  ]
  DEFAULT_CONFIG_NAME = "default"

  def __init__(self, *, num_workers: int | None = None, **kwargs):
    self._num_workers = num_workers
    super().__init__(**kwargs)

  @property
  def speakers(self) -> list[corpus.Speaker]:
    return corpus.make_speakers(self.builder_config.num_speakers, self.builder_config.seed)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    dim = mesh_lib.canonical().num_vertices * 3 if cfg.vertices else arkit.NUM
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "audio": tfds.features.Tensor(shape=(None,), dtype=np.float32),
            "motion": tfds.features.Tensor(shape=(None, dim), dtype=np.float32),
            "template": tfds.features.Tensor(shape=(dim,), dtype=np.float32),
            "speaker": tfds.features.ClassLabel(names=[f"S{k:02d}" for k in range(cfg.num_speakers)]),
            "emotion": tfds.features.ClassLabel(names=list(corpus.EMOTIONS)),
            "intensity": tfds.features.Scalar(dtype=np.int32),
            "utterance": tfds.features.Text(),
        }),
        supervised_keys=None,
        homepage="https://github.com/dt_jax",
        metadata=tfds.core.MetadataDict(fps=timebase.FPS, sample_rate=timebase.SAMPLE_RATE, representation=(
            "vertex_offsets" if cfg.vertices else "arkit52"), rig_file=RIG_FILE),
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    cfg = self.builder_config
    speakers = self.speakers
    templates, bases = corpus.speaker_faces(speakers)
    m = mesh_lib.canonical()
    rig = rig_lib.Rig(speakers=tuple(s.name for s in speakers), templates=templates, faces=m.faces,
                      regions=m.regions, basis=None if cfg.vertices else bases)
    os.makedirs(self.data_dir, exist_ok=True)
    rig.save(os.path.join(self.data_dir, RIG_FILE))
    all_specs = corpus.specs(num_speakers=cfg.num_speakers, num_held_out=cfg.num_held_out,
                             train_sentences=cfg.train_sentences, validation_sentences=cfg.validation_sentences,
                             test_sentences=cfg.test_sentences, seed=cfg.seed)
    return {split: self._generate_examples([s for s in all_specs if s.split == split], templates, bases)
            for split in corpus.SPLITS}

  def _generate_examples(self, specs, templates, bases):
    cfg = self.builder_config
    workers = self._num_workers or min(os.cpu_count() or 1, 8)
    jobs = [(spec, cfg.num_speakers, cfg.seed) for spec in specs]
    desc = f"synthetic_talkers/{cfg.name} {specs[0].split if specs else ''}"
    parallel = workers > 1 and len(jobs) > 8
    # Spawned (the parent may hold JAX threads), non-daemonic workers: each starts a child per utterance.
    pool = (concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if parallel else contextlib.nullcontext())
    with pool:
      results = pool.map(_work, jobs, chunksize=4) if parallel else map(_work, jobs)
      yield from self._examples(tqdm.tqdm(results, total=len(jobs), desc=desc, unit="utt"), templates, bases)

  def _examples(self, results, templates, bases):
    for spec, audio, weights in results:
      s = spec.speaker
      if self.builder_config.vertices:
        offsets = np.einsum("tk,kvc->tvc", weights, bases[s]).reshape(len(weights), -1)
        motion, template = offsets.astype(np.float32), templates[s].reshape(-1)
      else:
        motion, template = weights, np.zeros(arkit.NUM, np.float32)
      yield spec.key, {"audio": audio, "motion": motion, "template": template, "speaker": s,
                       "emotion": spec.emotion, "intensity": 1, "utterance": spec.text}


@functools.lru_cache(maxsize=2)
def _voices(num_speakers: int, seed: int) -> tuple[list[corpus.Speaker], speech.Synthesizer]:
  """The speakers and a synthesizer holding their voices, made once per worker process."""
  speakers = corpus.make_speakers(num_speakers, seed)
  return speakers, speech.Synthesizer([s.voice for s in speakers])


def _work(job):
  spec, num_speakers, seed = job
  speakers, synth = _voices(num_speakers, seed)
  audio, weights, _ = corpus.utterance(synth, speakers[spec.speaker], spec, seed)
  return spec, audio, weights
