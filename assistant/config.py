"""Every setting and its default, in one place.

Settings come from the environment (prefix ``ASSISTANT_``) or a ``.env`` file. Use
:func:`get_settings` everywhere; tests build their own ``Settings(home=tmp_path, ...)``.

Over 400 lines on purpose: one class is the one place for every default and its description
(the settings table in docs/operations.md is generated from it); splitting it would make two.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_GENERATOR = "HuggingFaceTB/SmolLM2-135M-Instruct"
# the source checkout the package runs from: where `demo/`, `eval/data/` and `../shared` lie
PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    adapter: str = Field(
        "",
        description="Path of a LoRA adapter to load on the local generator, instead of the release's own "
        "(a cycle's adapters are then not served).",
    )
    starter_adapter: str = Field(
        "demo/starter-adapter",
        description="LoRA adapter the first release carries when it was trained for `ASSISTANT_GENERATOR` "
        "(its `starter.json` says; a relative path is looked up in the working folder, then the project's); "
        "empty: the first release answers with the base model. Built by `python -m training.starter`.",
    )
    remote_base_url: str = Field("", description="Base URL of the OpenAI-compatible server (…/v1).")
    remote_model: str = Field("", description="Model name to ask the remote server for.")
    remote_api_key: str = Field("", description="API key for the remote server (never logged).")
    remote_timeout_s: float = Field(60.0, description="Timeout for one remote generation.")
    remote_usage: bool = Field(
        True,
        description="Ask the remote server for token counts (`stream_options`); turn off for a "
        "server that rejects the field.",
    )
    quantize: bool = Field(
        True,
        description="Local generator: SmoothQuant int8 linear layers on CPU (about 2.5x faster answers "
        "and, measured, no worse; about 0.7 GB more peak memory). `false` runs fp32 only.",
    )
    num_threads: int = Field(0, description="Torch CPU threads; 0 means one per core.")
    max_new_tokens: int = Field(
        120, description="Upper bound on generated tokens per answer (2 to 4 sentences fit in 120)."
    )
    temperature: float = Field(0.0, description="0 means greedy decoding (reproducible answers).")
    repetition_penalty: float = Field(
        1.2,
        ge=1.0,
        description="Local generator: above 1, tokens the answer already used become less likely "
        "(the sources' words stay free).",
    )
    no_repeat_ngram: int = Field(
        0, ge=0, description="Local generator: forbid repeating any n-gram of this many tokens (0 or 1: off)."
    )

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
    top_k: int = Field(5, description="Documents retrieved per question (the search results).")
    prompt_sources: int = Field(
        3, ge=1, description="The best of them given to the generator (and citable by its answer)."
    )
    answer_check: bool = Field(
        True,
        description="Check generated answers sentence by sentence: stop loops, drop refusals, filler and "
        "unsupported sentences, answer from the best source when nothing is left (a larger model may "
        "not need it).",
    )
    prompt_sentences: int = Field(
        3,
        ge=0,
        description="Sentences of each such source shown to the generator: those closest to the question "
        "(0: the start of each source's text instead).",
    )
    lexical_weight: float = Field(
        0.2, description="Weight of BM25 in the hybrid fusion (dense gets the rest)."
    )
    min_confidence: float = Field(
        0.30, description="Below this retrieval confidence the assistant abstains and hands off."
    )

    # answers
    allowed_link_hosts: str = Field(
        "",
        description="Comma-separated hosts answers may link to (`docs.example.com`, subdomains too), "
        "besides the hosts of the retrieved sources' URLs; other links lose their URL.",
    )

    # review queue and curated answers
    flag_below_confidence: float = Field(
        0.45, description="Answers with a lower retrieval confidence are flagged for review."
    )
    cluster_similarity: float = Field(
        0.8, description="Flagged questions at least this similar (cosine) are grouped into one cluster."
    )
    vote_burst_voters: int = Field(
        20,
        ge=2,
        description="This many distinct voters 👍 the same answer text within `vote_burst_minutes`: "
        "those answers are flagged `vote_burst` (coordinated voting).",
    )
    vote_burst_minutes: float = Field(
        60.0, gt=0, description="The window (minutes) in which a burst of 👍 on one answer text is counted."
    )
    curated_min_similarity: float = Field(
        0.85, description="A curated answer is served when a question is at least this similar (cosine)."
    )

    # serving
    release_poll_seconds: float = Field(
        2.0, description="How often a server checks for a newly activated release."
    )
    api_keys: SecretStr = Field(
        "",
        validate_default=True,
        description="Comma-separated keys; when set, every `/v1/...` route answers only requests with "
        "`Authorization: Bearer <one of them>` (401 otherwise). Empty: `/v1` is open, for a server "
        "on loopback or behind a gateway that authenticates. Never logged.",
    )

    # conversation and limits
    history_turns: int = Field(3, description="Earlier user turns used to interpret a follow-up.")
    max_message_chars: int = Field(4000, description="Longest accepted message.")
    max_messages: int = Field(50, description="Most messages accepted in one chat request.")
    max_body_bytes: int = Field(262_144, description="Largest accepted HTTP request body.")
    max_concurrent_generations: int = Field(
        4,
        ge=0,
        description="Answers one server process generates at once (chat API and widget); more wait "
        "`generation_queue_seconds`, then get 503 with `Retry-After`. 0: no limit.",
    )
    generation_queue_seconds: float = Field(
        1.0, ge=0, description="How long a question waits for a free generation slot before the 503."
    )

    # web widget (the `/widget.js` snippet and its `/widget/v1/...` endpoints)
    widget_allowed_origins: str = Field(
        "",
        description="Comma-separated origins whose pages may use the widget (`https://www.example.com`); "
        "`*` allows any; empty allows only pages served by this server. Others get 403.",
    )
    widget_key: str = Field(
        "",
        description="Public widget key: when set, widget requests must send it (`data-key` in the snippet). "
        "Not an admin credential.",
    )
    widget_rate_limit_session: str = Field(
        "10/minute;100/hour",
        description="Questions one widget session may ask (`limits` syntax, `;` between limits); "
        "empty: no limit.",
    )
    widget_rate_limit_ip: str = Field(
        "60/minute",
        description="Widget requests (questions, feedback, history) per client IP; empty: no limit.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit counters live: `memory://` (one process) "
        "or `redis://host:6379` (shared by replicas).",
    )
    escalation_webhook_url: str = Field(
        "",
        description='When set, every escalation ("Talk to a human") is POSTed here as JSON '
        "with the transcript.",
    )
    escalation_webhook_secret: str = Field(
        "",
        description="When set, escalation webhooks carry `X-Assistant-Signature: sha256=<HMAC of the body>`.",
    )
    escalation_webhook_timeout_s: float = Field(5.0, description="Timeout for one escalation webhook call.")

    # admin UI
    admin_session_hours: float = Field(12.0, gt=0, description="How long an admin UI login lasts.")
    admin_cookie_secure: bool = Field(
        True,
        description="Send the admin session cookie over HTTPS only (browsers also accept it on localhost).",
    )

    # Slack (connectors/slack): HTTP mode in `assistant serve` when the bot token and signing
    # secret are set; Socket Mode with `assistant slack` (bot token and app token). Secrets are
    # SecretStr: never logged, shown as ********** in repr.
    slack_bot_token: SecretStr = Field(
        "", validate_default=True, description="Slack bot token (`xoxb-…`); never logged."
    )
    slack_signing_secret: SecretStr = Field(
        "",
        validate_default=True,
        description="Slack signing secret: with the bot token, `assistant serve` takes Slack events "
        "at `POST /slack/events`; never logged.",
    )
    slack_app_token: SecretStr = Field(
        "",
        validate_default=True,
        description="Slack app-level token (`xapp-…`, `connections:write`) for Socket Mode "
        "(`assistant slack`); never logged.",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Base URL of the Slack Web API (tests point it at a mock)."
    )
    slack_channels: str = Field(
        "",
        description="Comma-separated channel ids where mentions are answered; empty: every channel "
        "the app is in. Direct messages are always answered.",
    )
    slack_thread_replies: Literal["all", "mentions"] = Field(
        "all",
        description="In a thread the assistant already answered: `all` answers every reply, "
        "`mentions` only replies that mention it.",
    )
    slack_ignore_bots: bool = Field(True, description="Ignore messages from other bots (its own always are).")
    slack_escalation_channel: str = Field(
        "",
        description='Channel id where "Talk to a human" hand-offs are posted, with a link to the thread.',
    )
    slack_escalation_mention: str = Field(
        "",
        description="User group id (`S…`) or user id (`U…`) mentioned in each hand-off post.",
    )
    slack_review_channel: str = Field(
        "",
        description="Channel id where flagged Slack answers are posted for leads "
        "(Approve / Correct / Reject); empty: none.",
    )
    slack_review_all_flags: bool = Field(
        False, description="Post every flag (web, API, CLI too) to the review channel, not only Slack ones."
    )
    slack_lead_users: str = Field(
        "", description="Comma-separated Slack user ids allowed to review in Slack."
    )
    slack_lead_group: str = Field(
        "", description="Slack user group id (`S…`) whose members may review in Slack."
    )

    # learning cycle: datasets built from the conversation log (training/datasets/)
    dataset_min_sft_rows: int = Field(
        20, ge=1, description="Fewer SFT rows than this: the dataset build is skipped (too little new data)."
    )
    dataset_outcome_weight: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Weight of an unreviewed answer with 👍 and `resolved` in the SFT set (reviewed: 1.0).",
    )
    dataset_dev_share: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of conversations held out as the dev split (by conversation)."
    )
    dataset_max_rows_per_voter: int = Field(
        5,
        ge=1,
        description="Most interactions one voter's votes may turn into SFT outcome or preference rows "
        "(counted once per interaction).",
    )
    dataset_max_rows_per_conversation: int = Field(
        3, ge=1, description="Most vote-derived rows of each dataset kind one conversation may contribute."
    )
    dataset_max_rows_per_answer: int = Field(
        3,
        ge=1,
        description="Most vote-derived rows of each dataset kind that one answer text (normalised) may give; "
        "repeats add weight, not information (reviewed answers are not capped).",
    )
    dataset_pii_regions: str = Field(
        "US",
        description="Comma-separated default regions for phone numbers written without a country code "
        "(PII redaction).",
    )
    dataset_negative_min_similarity: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Word overlap (Jaccard) a 👎 question needs with a retriever anchor to give it a hard "
        "negative.",
    )

    # learning cycle: training stages, the release gate, running (training/stages.py, training/cycle.py)
    train_sft: bool = Field(True, description="Train a LoRA adapter on the SFT set in each cycle.")
    train_kto: bool = Field(False, description="Then tune it with KTO on 👍/👎 answers (needs both).")
    train_retriever: bool = Field(
        True, description="Fine-tune the embedder on the retriever pairs (the index is re-embedded)."
    )
    lora_r: int = Field(8, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(16, ge=1, description="LoRA alpha (scaling is alpha / r).")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA layers' input.")
    lora_target_modules: str = Field(
        "q_proj,k_proj,v_proj,o_proj",
        description="Comma-separated names of the generator's modules the LoRA adapter wraps "
        "(default: the attention projections of Llama-style models such as SmolLM2).",
    )
    lora_epochs: float = Field(2.0, gt=0, description="Passes over the SFT set.")
    lora_max_steps: int = Field(-1, description="Cap on optimizer steps (-1: no cap; epochs decide).")
    lora_learning_rate: float = Field(2e-4, gt=0, description="LoRA learning rate.")
    lora_batch_size: int = Field(4, ge=1, description="SFT examples per step.")
    lora_gradient_accumulation: int = Field(
        1, ge=1, description="SFT steps whose gradients add up into one optimizer step."
    )
    lora_max_length: int = Field(768, ge=64, description="Longest SFT example in tokens (prompt + answer).")
    train_launcher: str = Field(
        "",
        description="Run the SFT stage in its own processes with this command, e.g. "
        "`accelerate launch --num_processes 4` for 4 GPUs; empty: in the cycle's process.",
    )
    retriever_epochs: float = Field(1.0, gt=0, description="Passes over the retriever pairs.")
    retriever_max_steps: int = Field(
        -1, description="Cap on retriever optimizer steps (-1: no cap; epochs decide)."
    )
    retriever_batch_size: int = Field(
        16, ge=2, description="Pairs per step (the rest of a batch are negatives)."
    )
    retriever_learning_rate: float = Field(2e-5, gt=0, description="Retriever (embedder) learning rate.")
    retriever_warmup_ratio: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Share of the retriever's steps over which its learning rate warms up.",
    )
    train_seed: int = Field(0, description="Random seed of the LoRA SFT and retriever training runs.")
    golden_set: str = Field(
        "", description="CSV/JSONL of questions with expected `doc_ids` and/or `answer`, checked by the gate."
    )
    gate_max_drop: float = Field(
        0.02, ge=0.0, description="The gate fails a candidate when any metric falls more than this."
    )
    gate_max_answer_drop: float | None = Field(
        None,
        ge=0.0,
        description="When set (e.g. 0.15), the gate also fails a candidate whose answer to any golden "
        "question moves this much further from its reference (cosine): for golden sets of must-keep answers.",
    )
    gate_floors: dict[str, float] = Field(
        default_factory=dict,
        description='Minimum values per gate metric, as JSON (`{"dev.hit@1": 0.6, "oos.abstention": 0.9}`).',
    )
    gate_answer_samples: int = Field(
        10, ge=0, description="Questions per set the gate answers with each release (generation is slow)."
    )
    gate_oos_samples: int = Field(
        300, ge=0, description="Out-of-scope questions the gate checks abstention on."
    )
    cycle_activate: bool = Field(True, description="Activate a candidate that passes the gate.")
    cycle_retrieval_fallback: bool = Field(
        True,
        description="When a candidate with a new adapter and a tuned retriever fails the gate, gate a "
        "second one with its retrieval and the active release's adapter.",
    )
    cycle_lock_stale_minutes: float = Field(
        30.0, gt=0, description="A cycle lock without a heartbeat for this long was left by a crash."
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ValueError("lexical_weight must be between 0 and 1")
        if self.generator_backend == "remote" and not self.remote_base_url:
            raise ValueError("generator_backend=remote needs ASSISTANT_REMOTE_BASE_URL")
        self.widget_origins  # noqa: B018 (fails early, with a clear message, on a malformed origin)
        self.api_key_list  # noqa: B018 (the same for a key no HTTP header can carry)
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the setting, or SQLite in the data home."""
        return self.database_url or f"sqlite:///{(self.home / 'assistant.db').resolve()}"

    @property
    def widget_origins(self) -> frozenset[str]:
        """The allowed widget origins, normalised (``*`` means any)."""
        origins = set()
        for raw in self.widget_allowed_origins.split(","):
            origin = raw.strip().rstrip("/").lower()
            if not origin:
                continue
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(
                    f"ASSISTANT_WIDGET_ALLOWED_ORIGINS: {raw.strip()!r} is not an origin "
                    "(scheme and host, e.g. https://www.example.com)"
                )
            origins.add(origin)
        return frozenset(origins)

    @property
    def api_key_list(self) -> tuple[str, ...]:
        """The keys of the ``/v1`` API (empty: it is open)."""
        keys = tuple(k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip())
        for key in keys:
            if not re.fullmatch(r"[\x21-\x7e]+", key):  # never echo the key itself: it is a secret
                raise ValueError("ASSISTANT_API_KEYS: a key may hold only printable ASCII, no spaces")
        return keys

    @property
    def slack_channel_ids(self) -> frozenset[str]:
        """The channel allow-list (empty: every channel)."""
        return _ids(self.slack_channels)

    @property
    def slack_lead_user_ids(self) -> frozenset[str]:
        """Slack user ids named as leads."""
        return _ids(self.slack_lead_users)

    @property
    def link_hosts(self) -> frozenset[str]:
        """The configured link allow-list as bare hosts (a URL given counts as its host)."""
        hosts = set()
        for raw in _ids(self.allowed_link_hosts):
            host = urlsplit(raw).hostname if "://" in raw else raw.split("/", 1)[0]
            if host:
                hosts.add(host.lower())
        return frozenset(hosts)

    @property
    def slack_http_enabled(self) -> bool:
        """True when `assistant serve` should take Slack events (bot token and signing secret set)."""
        return bool(self.slack_bot_token.get_secret_value() and self.slack_signing_secret.get_secret_value())

    @property
    def releases_dir(self) -> Path:
        return self.home / "releases"

    @property
    def model_cache_dir(self) -> Path:
        return self.home / "models"


def _ids(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def settings_table() -> str:
    """Every setting as a Markdown table (the settings section of docs/operations.md is this output)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        shown = "(empty)" if default in ("", None, {}) else f"`{default}`"
        rows.append(f"| `ASSISTANT_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
