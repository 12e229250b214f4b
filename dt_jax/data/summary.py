"""A dataset's summary: speakers, emotions, hours of audio and frames per split, and, where clips carry alternative
motions (the synthetic corpus's test splits), the share of each region's motion variance that differs between
them (the nonverbal share: 0 when the audio decides the motion, 1 when nothing of it does)."""
from __future__ import annotations

import collections

import numpy as np

from dt_jax import timebase
from dt_jax.data import source as source_lib

SHARE_REGIONS = ("lips", "upper_face")


def _variances(ds: source_lib.Dataset, ex: dict, region: np.ndarray) -> tuple[float, float]:
  """(variance across alternates, total variance over alternates and frames) of a region's vertices, summed."""
  alternates = np.asarray(ex["motion_alternates"], np.float32)                      # [K, T, D]
  verts = np.stack([ds.rig.vertices(m, int(ex["speaker"]))[:, region] for m in alternates])   # [K, T, R, 3]
  across = np.mean(np.sum((verts - verts.mean(0, keepdims=True)) ** 2, axis=-1))
  total = np.mean(np.sum((verts - verts.mean((0, 1), keepdims=True)) ** 2, axis=-1))
  return float(across), float(total)


def summarize(ds: source_lib.Dataset) -> dict:
  splits = {}
  can_share = ds.rig is not None and ds.rig.templates is not None and ds.rig.has_regions
  for name, src in ds.splits.items():
    frames, samples = 0, 0
    speakers, emotions, voices = collections.Counter(), collections.Counter(), collections.Counter()
    share = {r: [0.0, 0.0] for r in SHARE_REGIONS}
    alternates = 0
    for i in range(len(src)):
      ex = src[i]
      frames += len(ex["motion"])
      samples += len(ex["audio"])
      speakers[ds.speakers[int(ex["speaker"])]] += 1
      emotions[ds.emotions[int(ex["emotion"])]] += 1
      if "voice" in ex:
        voices[source_lib.text(ex["voice"])] += 1
      k = len(ex["motion_alternates"]) if "motion_alternates" in ex else 0
      alternates = max(alternates, k)
      if can_share and k > 1:
        for r in SHARE_REGIONS:
          across, total = _variances(ds, ex, np.asarray(ds.rig.regions[r]))
          share[r][0] += across
          share[r][1] += total
    splits[name] = {"examples": len(src), "frames": frames, "hours": samples / timebase.SAMPLE_RATE / 3600,
                    "speakers": sorted(speakers), "emotions": dict(emotions), "voices": dict(voices),
                    "alternates": alternates,
                    "nonverbal_share": {r: a / t for r, (a, t) in share.items() if t > 0}}
  return {"dataset": ds.name, "motion_dim": ds.motion_dim, "speakers": ds.speakers, "emotions": ds.emotions,
          "vertices": ds.rig.num_vertices, "splits": splits}


def format_summary(s: dict) -> str:
  lines = [f"{s['dataset']}: {len(s['speakers'])} speakers, emotions {', '.join(s['emotions'])}; "
           f"motion D = {s['motion_dim']}, mesh V = {s['vertices']}",
           f"{'split':<20} {'examples':>8} {'frames':>8} {'hours':>7}  {'speakers':<14} {'K':>2}  "
           f"{'nonverbal share (lips / upper face)':<36} voices"]
  total_h = 0.0
  for name, sp in s["splits"].items():
    total_h += sp["hours"]
    spk = sp["speakers"]
    spk_txt = f"{len(spk)} ({spk[0]}..{spk[-1]})" if spk else "0"
    share = sp.get("nonverbal_share", {})
    share_txt = " / ".join(f"{share[r]:.2f}" for r in SHARE_REGIONS) if share else "-"
    voices = ", ".join(f"{v} {n}" for v, n in sorted(sp.get("voices", {}).items()))
    lines.append(f"{name:<20} {sp['examples']:>8} {sp['frames']:>8} {sp['hours']:>7.3f}  {spk_txt:<14} "
                 f"{sp.get('alternates', 0):>2}  {share_txt:<36} {voices}")
  lines.append(f"{'total':<20} {sum(sp['examples'] for sp in s['splits'].values()):>8} "
               f"{sum(sp['frames'] for sp in s['splits'].values()):>8} {total_h:>7.3f}")
  return "\n".join(lines)
