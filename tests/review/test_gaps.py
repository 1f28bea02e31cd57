"""Knowledge gaps: grouped with counts and examples, exported, cleared by ingesting the article."""

from __future__ import annotations

from pathlib import Path

from assistant.review.actions import audit_trail, review
from assistant.review.gaps import gaps_csv, knowledge_gaps
from assistant.store.models import FlagRow

GIFT_CARDS = "# Gift cards\n\nGift cards can be bought in any amount from 10 to 500 euros and never expire.\n"


def test_gaps_are_grouped_and_cleared_by_ingesting_the_article(assistant, kb_dir: Path) -> None:
    for question in ("Do you sell gift cards?", "do u sell gift cards", "What is the airspeed of a swallow?"):
        assert assistant.ask(question).abstained
    with assistant.store.session() as session:
        gaps = knowledge_gaps(session)
        assert [g["count"] for g in gaps] == [2, 1]
        assert set(gaps[0]["examples"]) == {"Do you sell gift cards?", "do u sell gift cards"}
        swallow = session.query(FlagRow).filter(FlagRow.id == gaps[1]["flag_ids"][0]).one()
        review(session, swallow.id, "gap", expected_version=swallow.version, actor="lead", note="bird FAQ")
        assert knowledge_gaps(session)[1]["notes"] == ["bird FAQ"]
        assert "Do you sell gift cards?" in gaps_csv(session).splitlines()[1]

    (kb_dir / "gift-cards.md").write_text(GIFT_CARDS)
    assistant.ingest([kb_dir])

    with assistant.store.session() as session:
        remaining = knowledge_gaps(session)
        assert [g["examples"] for g in remaining] == [["What is the airspeed of a swallow?"]]
        cleared = session.query(FlagRow).filter(FlagRow.status == "cleared").all()
        assert len(cleared) == 2
        [audit] = audit_trail(session, cleared[0].id)
        assert audit.actor == "ingest" and audit.after["status"] == "cleared"
