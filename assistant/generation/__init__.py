"""Answer generation: local or remote generators, the prompt, and citation extraction.

``LocalGenerator`` lives in :mod:`assistant.generation.local` and is imported only when used
(it loads torch and transformers).
"""

from assistant.generation.base import GenerationError, Generator, load_generator
from assistant.generation.citations import extract_citations
from assistant.generation.prompts import PROMPT_VERSION, build_messages, rewrite_query
from assistant.generation.remote import RemoteGenerator

__all__ = [
    "PROMPT_VERSION",
    "GenerationError",
    "Generator",
    "RemoteGenerator",
    "build_messages",
    "extract_citations",
    "load_generator",
    "rewrite_query",
]
