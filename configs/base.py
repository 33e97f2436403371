"""drzjax configs: `get_config(arg)` with named variants tiny | small | base | medium | large.

  python -m drzjax.main --config=configs/base.py              # base: the shipped model's config
  python -m drzjax.main --config=configs/base.py:small        # the 60-minute CPU recipe
  python -m drzjax.main --config=configs/base.py:tiny         # tests / smoke runs
  python -m drzjax.main --config=configs/base.py:medium --config.train.steps=100000

base trains for hours on a CPU (README); medium and large are accelerator configs.
Every field is read somewhere; an override of a key that is not here is an error.
"""
import ml_collections


def get_config(arg=None):
  variant = arg or "base"
  if variant not in ("tiny", "small", "base", "medium", "large"):
    raise ValueError(f"unknown config variant {variant!r}: choose tiny, small, base, medium or "
                     "large")
  c = ml_collections.ConfigDict()
  c.variant = variant
  c.seed = 0

  # Speaker bank(s). An empty path (or "default") means the embedded default: espeak-ng voices
  # synthesised into cache_dir the first time they are needed. Several banks, separated by
  # commas, are mixed: "default,/data/banks/libritts" draws voices from both, each bank with its
  # weight in bank.weights ("1,1"; "" = equal), so one mixture may combine voices of both.
  c.bank = ml_collections.ConfigDict()
  c.bank.path = ""
  c.bank.weights = ""
  c.bank.cache_dir = "~/.cache/drzjax"
  c.bank.tts_speakers = 240
  c.bank.tts_utterances = 6          # utterances per synthetic speaker
  c.bank.val_fraction = 0.1          # of speakers; train/val/test never share a speaker
  c.bank.test_fraction = 0.1

  # Mixture synthesis (docs/design.md, "Data"). Times in seconds.
  c.data = ml_collections.ConfigDict()
  c.data.sample_rate = 16000
  c.data.min_secs = 5.0
  c.data.max_secs = 10.0
  c.data.num_speakers = 3            # mixtures have 2 .. num_speakers speakers
  # "conversation": voices return (any next speaker, short turns, backchannels) and the chunk is
  # a random-offset crop of a longer conversation; "relay": each voice once, in order (nanodrz).
  c.data.style = "conversation"
  c.data.min_turn_secs = 0.3         # conversation turns last [min_turn_secs, max_turn_secs]
  c.data.backchannel_prob = 0.2      # per turn: another voice says something short inside it
  c.data.crop_secs = 3.0             # the chunk starts up to this far into the conversation
  c.data.prompt_prob = 0.3           # share of chunks built as diarize's later chunks (prompted)
  # Chunks where nobody or one voice speaks, so that silence and noise decode to nothing
  # (docs/design.md, "Data"): each a probability per conversation chunk.
  c.data.empty_prob = 0.05           # no speech: digital silence, -90..-45 dBFS noise, hum, clicks
  c.data.solo_prob = 0.1             # one voice alone for the whole chunk
  c.data.lead_prob = 0.15            # silence of any length before the first voice
  c.data.trail_prob = 0.15           # silence of any length after the last voice
  c.data.far_prob = 0.1              # the whole chunk 10-30 dB quieter (far-field, quiet talkers)
  # Reverberation (channel.reverb_prob): "pyroomacoustics" = image-source rooms of a fixed pool
  # (drzjax/data/rooms.py, RT60 0.2-0.9 s, talkers 0.5-4 m away); "synthetic" = decaying noise.
  c.data.room = "pyroomacoustics"
  c.data.speaker_weights = ""        # e.g. "1,1" = P(2 spk)=P(3 spk); "" = uniform
  c.data.silence_max = 1.0           # gap before a turn is drawn from [-interrupt_max, silence_max]
  c.data.interrupt_max = 0.5
  c.data.max_turn_secs = 3.0
  c.data.gain_db = 6.0               # per-speaker gain drawn from [-gain_db, gain_db]
  c.data.noise_prob = 0.5
  c.data.snr_min = 10.0
  c.data.snr_max = 40.0
  c.data.speed_prob = 0.2
  c.data.speed_range = 0.1           # factor in [1 - r, 1 + r]
  c.data.pitch_prob = 0.1
  c.data.pitch_semitones = 2.0
  c.data.volume_prob = 0.2           # slow sinusoidal volume
  c.data.volume_depth = 0.5
  # Real labelled recordings mixed in (drzjax/data/real.py): a folder of NAME.wav + NAME.rttm
  # (+ NAME.uem); real_weight is the share of chunks cut from them (0 = off). A seeded hash of
  # each name keeps real_val_fraction of the recordings for validation only.
  c.data.real_dir = ""
  c.data.real_weight = 0.0
  c.data.real_val_fraction = 0.1
  c.data.workers = 0                 # grain worker processes (0 = in the training process)
  c.data.prefetch = 4

  # Channels that real recordings have (drzjax/data/channel.py), each a probability: per voice
  # (eq, reverb) or per conversation (the rest). They carry the model to real recordings
  # (MODEL.md, "Real voices"); all 0: clean synthetic audio (tiny, small).
  c.channel = ml_collections.ConfigDict()
  c.channel.eq_prob = 0.5
  c.channel.reverb_prob = 0.3
  c.channel.babble_prob = 0.2
  c.channel.hum_prob = 0.1
  c.channel.click_prob = 0.1
  c.channel.breath_prob = 0.3
  c.channel.floor_prob = 0.8
  c.channel.telephone_prob = 0.05

  # Token layout (docs/design.md): V ids = PAD, EOS, time bins, speaker slots. 136 ids over
  # 10 s = 126 bins of 80 ms: one bin per audio position (model.hop * strides = 80 ms).
  c.tokens = ml_collections.ConfigDict()
  c.tokens.vocab_size = 136
  c.tokens.speaker_slots = 8
  c.tokens.max_label_len = 91        # 30 triplets + EOS

  c.model = ml_collections.ConfigDict()
  c.model.n_mels = 80
  c.model.n_fft = 640               # 40 ms windows, 20 ms hop; the stem strides 2 x 2 -> 80 ms
  c.model.hop = 320
  c.model.strides = (2, 2)
  c.model.d_model = 256
  c.model.num_layers = 4
  c.model.num_heads = 4
  c.model.mlp_ratio = 4
  c.model.dropout = 0.0
  c.model.use_bias = True
  c.model.attention = "prefix"       # "prefix" (bidirectional over audio) or "causal" (nanodrz)
  c.model.use_time_pos = True        # time tokens also carry a sinusoid of their time value
  c.model.dtype = "float32"          # compute dtype; "bfloat16" on GPU/TPU (params stay float32)
  # Pretrained front ends joining the log-mel stem (drzjax/frontends.py): "mel", "mel+seg",
  # "mel+campp" or "mel+seg+campp"; frozen unless frontend_trainable. base reads
  # segmentation-3.0 (MODEL.md, "What each change bought"); tiny and small log-mel only.
  c.model.frontend = "mel+seg"
  c.model.frontend_trainable = False

  c.train = ml_collections.ConfigDict()
  c.train.steps = 10000
  c.train.max_minutes = 0.0          # > 0: stop (with a checkpoint) after this long; equal-time runs
  c.train.batch_size = 8             # global batch
  c.train.grad_accum = 1             # microbatches per step (batch_size must divide)
  c.train.lr = 3e-4
  c.train.warmup_steps = 300
  c.train.min_lr_ratio = 0.1
  c.train.weight_decay = 0.01
  c.train.b1 = 0.9
  c.train.b2 = 0.98
  c.train.grad_clip = 1.0
  c.train.log_every = 10
  c.train.checkpoint_every = 200
  c.train.keep_checkpoints = 3
  c.train.eval_every = 1000          # validation DER on a fixed held-out set
  c.train.eval_size = 16
  c.train.time_sigma = 0.5           # time targets: Gaussian over neighbouring bins (0 = one-hot)
  c.train.frame_weight = 1.0         # weight of the frame-level speaker-activity loss (0 = off)
  c.train.init_from = ""             # an exported model (drzjax.export) to fine-tune from

  # Device mesh; -1 takes the remaining devices.
  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = -1
  c.mesh.fsdp = 1
  c.mesh.tensor = 1

  if variant in ("tiny", "small"):
    # tiny: the tests' exact labels-vs-energy checks; small: the CPU recipe as MODEL.md measured it.
    for key in c.channel:
      c.channel[key] = 0.0
    for key in ("empty_prob", "solo_prob", "lead_prob", "trail_prob", "far_prob"):
      c.data[key] = 0.0
    c.model.frontend = "mel"
  if variant == "tiny":
    c.bank.tts_speakers = 30
    c.bank.tts_utterances = 3
    # 7.76 s = 97 positions of 80 ms: 98 time bins, and 104 ids divide over up to 8 devices.
    c.data.min_secs, c.data.max_secs = 4.0, 7.76
    c.data.num_speakers = 2
    c.data.max_turn_secs = 3.0
    c.tokens.vocab_size = 104        # 98 bins of 80 ms
    c.tokens.speaker_slots = 4
    c.tokens.max_label_len = 64
    c.model.d_model, c.model.num_layers, c.model.num_heads = 64, 2, 2
    c.train.steps = 20
    c.train.batch_size = 8
    c.train.warmup_steps = 5
    c.train.lr = 1e-3
    c.train.log_every = 5
    c.train.checkpoint_every = 10
    c.train.eval_every = 0
    c.train.eval_size = 4
  elif variant == "small":  # the 60-minute CPU recipe (MODEL.md): narrower, bigger steps
    c.model.d_model, c.model.num_layers, c.model.num_heads = 128, 4, 4
    c.train.batch_size = 16
    c.train.lr = 1.5e-3
    c.train.warmup_steps = 100
    c.train.steps = 3000
    c.train.max_minutes = 60.0
    c.train.eval_every = 200
    c.train.eval_size = 32
  elif variant == "medium":  # nanodrz medium_mel
    c.data.min_secs, c.data.max_secs = 8.0, 15.0
    c.tokens.vocab_size = 392        # 382 bins of ~40 ms over 15 s (ids divide over 8 devices)
    c.tokens.max_label_len = 151
    c.data.num_speakers = 3
    c.model.d_model, c.model.num_layers, c.model.num_heads = 1536, 16, 16
    c.model.dtype = "bfloat16"
    c.train.batch_size = 64
    c.train.steps = 200000
    c.train.checkpoint_every = 1000
    c.mesh.fsdp = -1
    c.mesh.data = 1
  elif variant == "large":  # pod scale
    c.data.min_secs, c.data.max_secs = 10.0, 30.0
    c.data.num_speakers = 6
    c.tokens.vocab_size = 392        # 382 bins of ~79 ms over 30 s (ids divide over 8 devices)
    c.tokens.max_label_len = 301
    c.model.d_model, c.model.num_layers, c.model.num_heads = 2048, 24, 16
    c.model.dtype = "bfloat16"
    c.train.batch_size = 256
    c.train.steps = 500000
    c.train.checkpoint_every = 2000
    c.mesh.fsdp = -1
    c.mesh.data = 1
  return c
