"""bench/scaling.py's analytic side: attention's share of a layer's FLOPs grows with length and
passes 1/2 where 4 T^2 d = 2 T (4 d^2 + 2 d ff), i.e. at T = 2 d + ff positions; and the configs
it builds really read the asked length."""
from bench import scaling
from drzjax import tokens


def test_attention_share_rises_and_crosses_half_at_2d_plus_ff():
  for d, ff in ((64, 256), (128, 512), (256, 1024), (96, 192)):
    shares = [scaling.attention_share_at(t, d, ff) for t in range(1, 4 * (2 * d + ff))]
    assert all(a < b for a, b in zip(shares, shares[1:]))
    assert scaling.crossing_positions(d, ff) == 2 * d + ff


def test_scaled_config_reads_the_length_and_crossing_seconds():
  m = scaling.model_config("tiny", 60)
  assert m.num_audio == 751 and m.frontend == "mel"  # 12.5 positions per second (+1)
  assert m.vocab.num_times == m.num_audio           # one time bin per position
  # tiny: d 64, ff 256 -> T = 384 positions, of which 64 are labels: >= 320 audio positions, the
  # shortest such chunk on the 0.1 s grid (25.5 s gives 319, 25.6 s 321).
  positions = lambda secs: tokens.num_positions(tokens.num_samples(secs, 16000), 320, (2, 2))
  secs = scaling.crossing_secs("tiny", scaling.attention_share)
  assert positions(secs) >= 384 - 64 > positions(secs - 0.1)
