"""A dataset's summary: speakers, emotions, hours of audio and frames per split."""
from __future__ import annotations

import collections

from dt_jax import timebase
from dt_jax.data import source as source_lib


def summarize(ds: source_lib.Dataset) -> dict:
  splits = {}
  for name, src in ds.splits.items():
    frames, samples = 0, 0
    speakers, emotions = collections.Counter(), collections.Counter()
    for i in range(len(src)):
      ex = src[i]
      frames += len(ex["motion"])
      samples += len(ex["audio"])
      speakers[ds.speakers[int(ex["speaker"])]] += 1
      emotions[ds.emotions[int(ex["emotion"])]] += 1
    splits[name] = {"examples": len(src), "frames": frames, "hours": samples / timebase.SAMPLE_RATE / 3600,
                    "speakers": sorted(speakers), "emotions": dict(emotions)}
  return {"dataset": ds.name, "motion_dim": ds.motion_dim, "speakers": ds.speakers, "emotions": ds.emotions,
          "vertices": ds.rig.num_vertices, "splits": splits}


def format_summary(s: dict) -> str:
  lines = [f"{s['dataset']}: {len(s['speakers'])} speakers, emotions {', '.join(s['emotions'])}; "
           f"motion D = {s['motion_dim']}, mesh V = {s['vertices']}",
           f"{'split':<12} {'examples':>8} {'frames':>8} {'hours':>7}  speakers"]
  total_h = 0.0
  for name, sp in s["splits"].items():
    total_h += sp["hours"]
    spk = sp["speakers"]
    spk_txt = f"{len(spk)} ({spk[0]}..{spk[-1]})" if spk else "0"
    lines.append(f"{name:<12} {sp['examples']:>8} {sp['frames']:>8} {sp['hours']:>7.3f}  {spk_txt}")
  lines.append(f"{'total':<12} {sum(sp['examples'] for sp in s['splits'].values()):>8} "
               f"{sum(sp['frames'] for sp in s['splits'].values()):>8} {total_h:>7.3f}")
  return "\n".join(lines)

