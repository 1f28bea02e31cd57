"""Clusters: open flags grouped by meaning; the CLI's refresh loads a model only when it must."""

from __future__ import annotations

from assistant.review.clusters import recluster, refresh_clusters
from assistant.review.flags import flag_interaction, list_flags
from assistant.store import record_feedback
from assistant.store.models import FlagRow


def test_clustering_groups_paraphrases_and_separates_unrelated(assistant) -> None:
    questions = [
        "Do you ship to Canada?",
        "Do you ship orders to Canada?",
        "do u ship to canada",
        "Can I pay with bitcoin?",
        "can i pay using bitcoin",
        "Do you sell gift cards for weddings?",
    ]
    for question in questions:
        answer = assistant.ask(question)
        with assistant.store.session() as session:
            record_feedback(session, interaction_id=answer.interaction_id, rating="down")
            flag_interaction(session, answer.interaction_id, assistant.settings, assistant.embedder)
    with assistant.store.session() as session:
        assert recluster(session, assistant.settings, assistant.embedder) == 3
        items = {item["question"]: item for item in list_flags(session)}
    canada = {items[q]["cluster"] for q in questions[:3]}
    bitcoin = {items[q]["cluster"] for q in questions[3:5]}
    assert len(canada) == 1 and len(bitcoin) == 1 and canada != bitcoin
    assert items[questions[5]]["cluster"] not in canada | bitcoin
    assert canada == {str(min(items[q]["id"] for q in questions[:3]))}  # the oldest flag names the cluster
    assert items[questions[0]]["priority"] > items[questions[5]]["priority"]  # asked more often


def thumbs_down_unembedded(assistant, question: str) -> None:
    """A 👎 flag whose question is not embedded yet (flagged without an embedder, as votes are)."""
    answer = assistant.ask(question)
    with assistant.store.session() as session:
        record_feedback(session, interaction_id=answer.interaction_id, rating="down")
        flag_interaction(session, answer.interaction_id, assistant.settings)


def test_refresh_loads_the_embedder_only_for_questions_not_embedded_yet(assistant) -> None:
    loads: list[str] = []

    def load(settings):
        loads.append(settings.embedder)
        return assistant.embedder

    with assistant.store.session() as session:
        assert refresh_clusters(session, assistant.settings, load) == 0
    assert loads == []  # an empty queue needs no model
    for question in ("How do I reset my password?", "how do i reset my password"):  # confident answers
        thumbs_down_unembedded(assistant, question)
    with assistant.store.session() as session:
        assert refresh_clusters(session, assistant.settings, load) == 1
        assert all(flag.embedding for flag in session.query(FlagRow))
    assert loads == [assistant.settings.embedder]
    with assistant.store.session() as session:
        assert refresh_clusters(session, assistant.settings, load) == 1
        [first, second] = list_flags(session)
    assert loads == [assistant.settings.embedder]  # every question embedded: no model this time
    assert first["cluster"] == second["cluster"]
