"""The embedded default voices: espeak-ng (from the espeakng-loader wheel) through ctypes.

A speaker is a deterministic function of (seed, index): a language / accent, one of espeak's
voice variants (each has its own formants, pitch base, breathiness), pitch, pitch range,
speaking rate, word gap, and a formant shift. The shift is the resampling trick: the 22050 Hz
output is declared to be at 22050 * f Hz and resampled to 16 kHz, which scales every formant
(and the pitch, and the tempo) by f, like a shorter or longer vocal tract. Together these make
voices that differ in timbre, not only in pitch.

The text of each utterance is generated here too, deterministically from (seed, index,
utterance): English-like template sentences, pseudo-words built from syllables (each language
reads them with its own letter-to-sound rules, so they sound native), and numbers (which
espeak reads in the voice's language). Only Latin-script languages are used, so the text is
read by the voice's own rules rather than switched to another language.

espeak-ng keeps global state and is not thread-safe: everything here runs in one process,
sequentially, under a lock. It is fast (~4 ms for 2.6 s of speech), and deterministic here
because each synthesis starts from a freshly loaded library (see `_fresh_engine`).
"""
import ctypes
import threading

import numpy as np

ESPEAK_RATE = 22050

# Latin-script languages / accents espeak-ng reads well (all checked to exist in the wheel).
LANGUAGES = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc", "de", "fr", "fr-be", "es", "es-419", "it", "pt", "pt-br", "nl", "sv",
    "da", "nb", "fi", "pl", "cs", "sk", "hu", "ro", "hr", "sl", "et", "lv", "lt", "id", "ms",
    "tr", "sw", "af", "ca", "eu", "cy", "ga", "is", "eo", "sq", "mt", "bs")

# Voice variants (espeak-ng-data/voices/!v) that sound like people; the robotic, whispering
# and deliberately odd ones are left out.
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Alicia", "Andrea", "Andy", "Annie", "Denis",
    "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael",
    "Mike", "Nguyen", "Reed", "Storm", "adam", "anika", "announcer", "antonio", "aunty",
    "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward", "edward2", "gustave",
    "ian", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "linda", "marcelo", "max",
    "michel", "miguel", "mike2", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert",
    "sandro", "shelby", "steph", "steph2", "steph3", "travis", "victor", "zac")


class TTSError(Exception):
  """espeak-ng could not be loaded or could not speak."""


# --- text --------------------------------------------------------------------------------------

_NAMES = ("Anna", "Boris", "Clara", "Daniel", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas",
          "Karla", "Luca", "Marta", "Nils", "Olga", "Pablo", "Rosa", "Samuel", "Tomas", "Vera")
_NOUNS = ("river", "garden", "window", "letter", "market", "bridge", "candle", "doctor",
          "engine", "forest", "harbour", "island", "kitchen", "ladder", "mountain", "orange",
          "pencil", "question", "rabbit", "station", "teacher", "violin", "wagon", "yellow boat",
          "table", "morning train", "old radio", "blue jacket", "little dog", "village church",
          "paper map", "silver key", "winter coat", "summer festival", "heavy box", "quiet street")
_VERBS = ("found", "painted", "carried", "opened", "forgot", "repaired", "visited", "described",
          "counted", "cleaned", "followed", "borrowed", "noticed", "ordered", "watched", "sold")
_ADJS = ("early", "strange", "careful", "bright", "narrow", "patient", "noisy", "gentle",
         "simple", "distant", "curious", "heavy", "warm", "quiet", "famous", "ordinary")
_PLACES = ("near the station", "behind the old mill", "in the north", "on the third floor",
           "by the lake", "after the storm", "before dinner", "at the end of the road",
           "during the holidays", "under the bridge", "across the valley", "next to the bakery")
_TEMPLATES = (
    "{name} {verb} the {noun} {place}.",
    "Yesterday {name} {verb} a {adj} {noun}.",
    "The {adj} {noun} was {place}, so {name} {verb} it.",
    "Did you know that {name} {verb} the {noun} {place}?",
    "We {verb} {num} {noun}s {place}, and nobody noticed.",
    "It is {adj}, but the {noun} is still {place}.",
    "Please tell {name} that the {noun} is {adj} today.",
    "When {name} {verb} the {noun}, everyone laughed.",
    "There were {num} of them {place}, all quite {adj}.",
    "Honestly, I think the {noun} looks {adj} {place}.",
    "{name} and {name2} {verb} the {adj} {noun} together.",
    "Why would anyone leave a {noun} {place}?",
)
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "tr",
           "pl", "st", "gr", "kl", "")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ou", "ie")
_CODAS = ("", "", "", "n", "r", "s", "l", "m", "t")


def _pseudo_word(rng):
  return "".join(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                 + _CODAS[rng.integers(len(_CODAS))] for _ in range(1 + rng.binomial(2, 0.3)))


def _pick(rng, seq):
  return seq[rng.integers(len(seq))]


def _sentence(rng, english):
  kind = rng.random()
  if kind < (0.7 if english else 0.4):
    return _pick(rng, _TEMPLATES).format(
        name=_pick(rng, _NAMES), name2=_pick(rng, _NAMES), verb=_pick(rng, _VERBS),
        noun=_pick(rng, _NOUNS), adj=_pick(rng, _ADJS), place=_pick(rng, _PLACES),
        num=int(rng.integers(2, 40)))
  if kind < (0.9 if english else 0.8):
    words = [_pseudo_word(rng) for _ in range(rng.integers(3, 8))]
    end = "?" if rng.random() < 0.2 else "."
    return " ".join(words).capitalize() + (end if rng.random() < 0.7 else ", " + _pseudo_word(rng)
                                           + " " + _pseudo_word(rng) + end)
  nums = " ".join(str(int(rng.integers(1, 10 ** rng.integers(1, 5)))) for _ in range(
      rng.integers(2, 5)))
  return f"{_pseudo_word(rng).capitalize()} {nums}, {_pseudo_word(rng)} {nums.split()[0]}."


def utterance_sentences(seed, speaker, utterance, language="en"):
  """The 1-3 sentences of one utterance, a pure function of its arguments."""
  rng = np.random.default_rng([seed, speaker, utterance, 7])
  english = language.startswith("en")
  return [_sentence(rng, english) for _ in range(rng.integers(1, 4))]


def utterance_text(seed, speaker, utterance, language="en"):
  return " ".join(utterance_sentences(seed, speaker, utterance, language))


# --- voices ------------------------------------------------------------------------------------

def voice(seed, speaker):
  """The voice of speaker `speaker`: a dict of espeak settings and the formant shift."""
  rng = np.random.default_rng([seed, speaker, 3])
  return {
      "language": _pick(rng, LANGUAGES),
      "variant": _pick(rng, VARIANTS),
      "pitch": int(rng.integers(20, 81)),      # espeak 0..100 (50 = the variant's own)
      "range": int(rng.integers(15, 91)),      # 0 = monotone
      "rate": int(rng.integers(130, 211)),     # words per minute
      "wordgap": int(rng.integers(0, 3)),      # extra pause between words, 10 ms units
      "formant": float(np.round(rng.uniform(0.88, 1.14), 3)),
      "gain": float(np.round(rng.uniform(0.5, 0.9), 3)),  # peak level of the speaker
  }


# --- engine ------------------------------------------------------------------------------------
# espeak-ng keeps state in C statics that espeak_Terminate/Initialize do not reset (the pitch
# flutter phase, the wave generator), so the same text comes out a few samples different each
# time. Every synthesis therefore starts from a freshly loaded library: dlclose drops the last
# reference, dlopen maps it anew with its statics zeroed. That costs ~0.6 ms and makes
# `synthesize` a pure function of (text, voice), whatever was spoken before. (Were another
# module to hold the same library open, dlclose would not unload it and this would not hold.)

_LOCK = threading.Lock()
_ENGINE = {}
_SET_RATE, _SET_PITCH, _SET_RANGE, _SET_WORDGAP = 1, 3, 4, 7  # espeak_PARAMETER values
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)


def _on_audio(wav, n, events):
  if n > 0:
    _ENGINE["chunks"].append(np.ctypeslib.as_array(wav, (n,)).copy())
  return 0  # 0 = keep going


def _fresh_engine():
  """A just-loaded, initialised espeak-ng (synchronous mode, samples to _on_audio)."""
  import _ctypes
  if "lib" in _ENGINE:
    _ENGINE["lib"].espeak_Terminate()
    _ctypes.dlclose(_ENGINE.pop("lib")._handle)
  try:
    import espeakng_loader
    path, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    lib = ctypes.CDLL(path)
  except (ImportError, OSError, RuntimeError) as e:
    raise TTSError(f"espeak-ng is not usable (pip install espeakng-loader): {e}") from None
  # 2 = AUDIO_OUTPUT_SYNCHRONOUS (samples come to our callback), 0x8000 = don't exit on error.
  rate = lib.espeak_Initialize(2, 0, data.encode(), 0x8000)
  if rate != ESPEAK_RATE:
    raise TTSError(f"espeak-ng failed to initialise with data at {data} (returned {rate})")
  _ENGINE.setdefault("cb", _CALLBACK(_on_audio))  # kept alive: espeak holds the pointer
  _ENGINE.setdefault("libc", ctypes.CDLL(None))
  lib.espeak_SetSynthCallback(_ENGINE["cb"])
  lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
  lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
  lib.espeak_ng_SetRandSeed(1)  # noise sources (klatt): espeak's own generator and libc's
  _ENGINE["libc"].srand(1)
  _ENGINE["lib"], _ENGINE["chunks"] = lib, []
  return lib


def synthesize(text, v, sample_rate=16000):
  """float32 samples at `sample_rate` of `text` spoken by voice `v` (see `voice`); the same
  arguments always give the same samples."""
  import soxr
  with _LOCK:
    lib = _fresh_engine()
    name = f"{v['language']}+{v['variant']}"
    if lib.espeak_SetVoiceByName(name.encode()) != 0:
      raise TTSError(f"espeak-ng has no voice {name!r}")
    for p, val in ((_SET_RATE, v["rate"]), (_SET_PITCH, v["pitch"]), (_SET_RANGE, v["range"]),
                   (_SET_WORDGAP, v["wordgap"])):
      lib.espeak_SetParameter(p, int(val), 0)
    b = text.encode("utf-8")
    # position 0 (POS_CHARACTER=1), no end, flags 1 = espeakCHARS_UTF8.
    err = lib.espeak_Synth(b, len(b) + 1, 0, 1, 0, 1, None, None)
    chunks = _ENGINE["chunks"]
    x = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32)
    chunks.clear()
  if err != 0:
    raise TTSError(f"espeak-ng failed to speak with voice {name!r} (error {err})")
  if len(x) == 0:
    raise TTSError(f"espeak-ng produced no audio for voice {name!r}: {text[:40]!r}")
  # The formant shift: declare the rate to be ESPEAK_RATE * f, then resample (see module doc).
  x = soxr.resample(x, int(round(ESPEAK_RATE * v["formant"])), sample_rate, quality="HQ")
  return (x * (v["gain"] / max(np.abs(x).max(), 1e-6))).astype(np.float32)


def speak_utterance(seed, speaker, utterance, v=None, sample_rate=16000):
  """(text, float32 wave) of one utterance: its sentences spoken one by one with pauses of
  0.2-1.0 s between them and 0.05-0.3 s of silence at each end, so that the speech regions
  inside an utterance are not all one block (espeak's own sentence pauses are short)."""
  v = v or voice(seed, speaker)
  sentences = utterance_sentences(seed, speaker, utterance, v["language"])
  return lay_out(seed, speaker, utterance, sentences,
                 lambda text: synthesize(text, v, sample_rate), sample_rate)


def lay_out(seed, speaker, utterance, sentences, say, sample_rate):
  """(text, wave): say(sentence) for each sentence, 0.2-1.0 s apart, 0.05-0.3 s of silence at
  each end (drawn from (seed, speaker, utterance): deterministic). Shared by the TTS engines."""
  rng = np.random.default_rng([seed, speaker, utterance, 11])
  gap = lambda lo, hi: np.zeros(int(rng.uniform(lo, hi) * sample_rate), np.float32)  # noqa: E731
  parts = [gap(0.05, 0.3)]
  for i, text in enumerate(sentences):
    parts += ([gap(0.2, 1.0)] if i else []) + [say(text)]
  parts.append(gap(0.05, 0.3))
  return " ".join(sentences), np.concatenate(parts)


def speaker_name(speaker):
  return f"tts{speaker:04d}"

