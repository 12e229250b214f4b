"""The one time base: a clip of T frames holds round(T * 16000 / 30) samples, and S samples cover the whole
frames T with samples_for(T) <= S < samples_for(T + 1)."""
from dt_jax import timebase


def test_frames_are_whole_frames_of_the_samples():
  for n in list(range(0, 2200)) + [16000, 47467, 160000]:
    t = timebase.frames_for(n)
    assert timebase.samples_for(t) <= n < timebase.samples_for(t + 1), n
  assert timebase.frames_for(532) == 0 and timebase.frames_for(533) == 1     # a frame is 533.3 samples
  assert [timebase.frames_for(timebase.samples_for(t)) for t in range(200)] == list(range(200))
