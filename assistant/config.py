"""Every setting and its default, in one place.

Settings come from the environment (prefix ``ASSISTANT_``) or a ``.env`` file. Use
:func:`get_settings` everywhere; tests build their own ``Settings(home=tmp_path, ...)``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_GENERATOR = "HuggingFaceTB/SmolLM2-135M-Instruct"


class Settings(BaseSettings):
    """Runtime configuration of the assistant; one instance per process or test."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    # where things live
    home: Path = Field(Path(".assistant"), description="Data home: database, releases, model cache.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite in the data home (WAL mode)."
    )

    # models
    embedder: str = Field(DEFAULT_EMBEDDER, description="Sentence-transformers model id or local path.")
    generator: str = Field(DEFAULT_GENERATOR, description="Causal LM id or local path (local backend).")
    generator_backend: Literal["local", "remote"] = Field(
        "local",
        description="`local` runs transformers in process; `remote` calls an OpenAI-compatible server.",
    )
    adapter: str = Field("", description="Path of a LoRA adapter to load on the local generator.")
    remote_base_url: str = Field("", description="Base URL of the OpenAI-compatible server (…/v1).")
    remote_model: str = Field("", description="Model name to ask the remote server for.")
    remote_api_key: str = Field("", description="API key for the remote server (never logged).")
    remote_timeout_s: float = Field(60.0, description="Timeout for one remote generation.")
    quantize: bool = Field(
        False,
        description="SmoothQuant int8 linear layers on CPU: faster, but answers drift (see Benchmarks).",
    )
    num_threads: int = Field(0, description="Torch CPU threads; 0 means one per core.")
    max_new_tokens: int = Field(160, description="Upper bound on generated tokens per answer.")
    temperature: float = Field(0.0, description="0 means greedy decoding (reproducible answers).")

    # ingestion
    chunk_tokens: int = Field(220, description="Target chunk size in embedder tokens (approximate).")
    chunk_overlap: int = Field(30, description="Tokens carried over between consecutive chunks.")
    faq_question_field: str = Field("question", description="JSONL/CSV FAQ column holding the question.")
    faq_answer_field: str = Field("answer", description="JSONL/CSV FAQ column holding the answer.")

    # retrieval
    retrieval_mode: Literal["hybrid", "dense", "lexical"] = Field(
        "hybrid", description="How chunks are found: `hybrid` (dense + BM25), `dense` or `lexical`."
    )
    index_type: Literal["flat", "ivf", "hnsw"] = Field(
        "flat", description="FAISS index: exact `flat`, or approximate `ivf`/`hnsw` for large corpora."
    )
    top_k: int = Field(5, description="Sources given to the generator and shown as citations.")
    lexical_weight: float = Field(
        0.2, description="Weight of BM25 in the hybrid fusion (dense gets the rest)."
    )
    min_confidence: float = Field(
        0.30, description="Below this retrieval confidence the assistant abstains and hands off."
    )

    # review queue and curated answers
    flag_below_confidence: float = Field(
        0.45, description="Answers with a lower retrieval confidence are flagged for review."
    )
    cluster_similarity: float = Field(
        0.8, description="Flagged questions at least this similar (cosine) are grouped into one cluster."
    )
    curated_min_similarity: float = Field(
        0.85, description="A curated answer is served when a question is at least this similar (cosine)."
    )

    # serving
    release_poll_seconds: float = Field(
        2.0, description="How often a server checks for a newly activated release."
    )

    # conversation and limits
    history_turns: int = Field(3, description="Earlier user turns used to interpret a follow-up.")
    max_message_chars: int = Field(4000, description="Longest accepted message.")
    max_messages: int = Field(50, description="Most messages accepted in one chat request.")
    max_body_bytes: int = Field(262_144, description="Largest accepted HTTP request body.")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError("lexical_weight must be between 0 and 1")
        if self.generator_backend == "remote" and not self.remote_base_url:
            raise ValueError("generator_backend=remote needs ASSISTANT_REMOTE_BASE_URL")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the setting, or SQLite in the data home."""
        return self.database_url or f"sqlite:///{(self.home / 'assistant.db').resolve()}"

    @property
    def releases_dir(self) -> Path:
        return self.home / "releases"

    @property
    def model_cache_dir(self) -> Path:
        return self.home / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def settings_table() -> str:
    """Every setting as a Markdown table (the README's settings section is this output)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(empty)" if default in ("", None) else f"`{default}`"
        rows.append(f"| `ASSISTANT_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
