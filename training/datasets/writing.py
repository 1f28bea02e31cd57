"""What a build writes: column types, the content hash, the manifest, and the dataset folder itself.

The content hash covers the format version, the config, the excluded users (hashed) and every
row's columns, so the same inputs give the same hash and a build can find its twin under
``out_dir`` (:func:`existing`). :func:`build_manifest` says where every row came from and how
the weight is spread (per voter, per answer text); :func:`write` saves each kind as a
``datasets.DatasetDict`` with the config and the manifest through a temporary folder renamed at
the end, so a reader never sees half a dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.retrieval.snapshot import IndexSnapshot
from training.config import DatasetConfig
from training.datasets.rows import Row

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
REVIEWED = "(reviewed)"  # the voter key that reviewed rows are attributed to in weight shares

Content = dict[str, dict[str, list[dict[str, Any]]]]  # kind -> split -> rows of column values


def features() -> dict[str, Any]:
    """The column types of each kind (explicit, so empty splits load back with their columns)."""
    from datasets import Features, List, Value

    message = List({"role": Value("string"), "content": Value("string")})
    provenance = {
        "source": Value("string"),
        "interaction_id": Value("string"),
        "conversation_id": Value("string"),
        "curated_answer_id": Value("string"),
        "feedback_ids": List(Value("int64")),
    }
    return {
        "sft": Features({"prompt": message, "completion": message, "weight": Value("float64"), **provenance}),
        "kto": Features({"prompt": message, "completion": message, "label": Value("bool"), **provenance}),
        "pairs": Features(
            {
                "anchor": Value("string"),
                "positive": Value("string"),
                "negative": Value("string"),
                "positive_chunk_id": Value("string"),
                "negative_chunk_id": Value("string"),
                **provenance,
            }
        ),
    }


def content_of(splits: dict[str, dict[str, list[Row]]], types: dict[str, Any]) -> Content:
    """The values of each kind's columns (those of ``types``), row by row: what is written and hashed."""
    return {
        kind: {s: [{c: r.columns[c] for c in types[kind]} for r in rows] for s, rows in by_split.items()}
        for kind, by_split in splits.items()
    }


def content_hash(content: Content, config: DatasetConfig, excluded_hashes: list[str]) -> str:
    """12 hex digits naming the dataset's content; part of its id."""
    return hashlib.sha256(
        json.dumps(
            {
                "format": FORMAT_VERSION,
                "config": config.to_dict(),
                "excluded": excluded_hashes,
                "rows": content,
            },
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        ).encode()
    ).hexdigest()[:12]


def existing(out_dir: Path, digest: str) -> Path | None:
    """A complete dataset under ``out_dir`` whose content hash is ``digest``, if there is one."""
    if not out_dir.is_dir():
        return None
    for folder in sorted(out_dir.glob(f"*-{digest}")):
        if (folder / MANIFEST_FILE).is_file():
            return folder
    return None


def weight_shares(rows: list[Row], weight: str | None) -> dict[str, float]:
    """Each voter's share of the rows' whole weight (column ``weight``, else 1 a row), largest first.

    A row's weight is split evenly between its voters; reviewed rows count for :data:`REVIEWED`.
    """
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        amount = float(row.columns[weight]) if weight else 1.0
        voters = row.voters or (REVIEWED,)
        for voter in voters:
            totals[voter] += amount / len(voters)
    whole = sum(totals.values())
    if not whole:
        return {}
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return {voter: round(amount / whole, 6) for voter, amount in ranked}


def max_answer_share(rows: list[Row], weight: str | None) -> float:
    """The largest share of the kind's whole weight that vote-derived rows with one answer text carry."""
    whole = 0.0
    by_answer: dict[str, float] = defaultdict(float)
    for row in rows:
        amount = float(row.columns[weight]) if weight else 1.0
        whole += amount
        if row.voters:
            by_answer[row.answer_key] += amount
    return round(max(by_answer.values()) / whole, 6) if by_answer and whole else 0.0


def build_manifest(
    *,
    dataset_id: str,
    created_at: datetime,
    digest: str,
    release_id: str | None,
    snapshot: IndexSnapshot,
    since: datetime | None,
    excluded_hashes: list[str],
    config: DatasetConfig,
    counts: dict[str, dict[str, int]],
    drops: dict[str, dict[str, int]],
    kept: dict[str, list[Row]],
    splits: dict[str, dict[str, list[Row]]],
) -> dict[str, Any]:
    """The manifest of a dataset: its inputs, counts, drops, redactions, weight shares and every row's source.

    ``kept`` holds the rows of each kind, ``splits`` the same rows by split.
    """
    redactions: Counter[str] = Counter()
    fallbacks = 0
    for row in kept["sft"] + kept["kto"] + kept["pairs"]:
        redactions.update(row.redactions)
        fallbacks += row.fallbacks
    return {
        "id": dataset_id,
        "format_version": FORMAT_VERSION,
        "created_at": created_at.isoformat(timespec="seconds"),
        "content_hash": digest,
        "release_id": release_id,
        "index": {"embedder": snapshot.info.embedder, "chunks": snapshot.info.chunks},
        "since": since.isoformat() if since else None,
        "excluded_users": {"count": len(excluded_hashes), "sha256": excluded_hashes},
        "config": config.to_dict(),
        "counts": counts,
        "drops": drops,
        "redactions": dict(sorted(redactions.items())),
        "source_fallbacks": fallbacks,
        "voter_weight_share": {
            "sft": weight_shares(kept["sft"], "weight"),
            "kto": weight_shares(kept["kto"], None),
            "pairs": weight_shares(kept["pairs"], None),
        },
        "max_answer_weight_share": {
            "sft": max_answer_share(kept["sft"], "weight"),
            "kto": max_answer_share(kept["kto"], None),
        },
        "rows": {
            kind: {
                s: [
                    {
                        "source": r.columns["source"],
                        "interaction_id": r.columns["interaction_id"],
                        "conversation_id": r.columns["conversation_id"],
                        "curated_answer_id": r.columns["curated_answer_id"],
                        "feedback_ids": r.columns["feedback_ids"],
                        **r.provenance,
                        "voters": list(r.voters),
                    }
                    for r in rows
                ]
                for s, rows in by_split.items()
            }
            for kind, by_split in splits.items()
        },
    }


def write(
    out_dir: Path,
    dataset_id: str,
    content: Content,
    types: dict[str, Any],
    manifest: dict[str, Any],
    config: DatasetConfig,
) -> None:
    """Save ``out_dir/<dataset_id>/``: one DatasetDict per kind, the config and the manifest, atomically."""
    from datasets import Dataset, DatasetDict

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".building-{dataset_id}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        for kind, by_split in content.items():
            DatasetDict(
                {
                    split: Dataset.from_dict(
                        {column: [row[column] for row in rows] for column in types[kind]},
                        features=types[kind],
                    )
                    for split, rows in by_split.items()
                }
            ).save_to_disk(
                str(staging / kind), num_shards=dict.fromkeys(by_split, 1)
            )  # empty splits load too
        config.save(staging)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, ensure_ascii=False, default=str))
        os.replace(staging, out_dir / dataset_id)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
