"""The Generator surface and the load_generator factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.config import Settings
from assistant.generation.base import BACKENDS, Generator, load_generator
from assistant.generation.remote import RemoteGenerator
from assistant.types import Usage


class Echo(Generator):
    model_id = "echo"

    def stream(
        self, messages: list[dict[str, str]], *, max_new_tokens: int, usage: Usage | None = None
    ) -> Iterator[str]:
        yield from messages[-1]["content"].split(" ")[:max_new_tokens]


def test_generate_joins_the_stream() -> None:
    generator = Echo()
    assert generator.generate([{"role": "user", "content": "a b c"}], max_new_tokens=2) == "ab"
    assert generator.adapter_id is None


def test_a_generator_must_stream() -> None:
    class Mute(Generator):
        model_id = "mute"

    with pytest.raises(TypeError):
        Mute()


def test_load_generator_remote(tmp_path) -> None:
    settings = Settings(
        home=tmp_path,
        generator_backend="remote",
        remote_base_url="http://127.0.0.1:8001/v1/",
        remote_model="adapter-7",
        remote_api_key="sk-x",
        remote_timeout_s=9,
        temperature=0.2,
        _env_file=None,
    )
    generator = load_generator(settings)
    assert isinstance(generator, RemoteGenerator)
    assert (generator.url, generator.model_id) == ("http://127.0.0.1:8001/v1/chat/completions", "adapter-7")
    assert (generator.timeout_s, generator.temperature) == (9, 0.2)


def test_load_generator_remote_defaults_to_the_generator_name(tmp_path) -> None:
    settings = Settings(
        home=tmp_path, generator_backend="remote", remote_base_url="http://h/v1", _env_file=None
    )
    assert load_generator(settings).model_id == settings.generator


def test_load_generator_local_passes_the_settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.generation.local as local

    seen = {}

    def record(self, model, **kwargs) -> None:  # no model load: only what the settings pass
        seen.update(model=model, **kwargs)

    monkeypatch.setattr(local.LocalGenerator, "__init__", record)
    settings = Settings(home=tmp_path, adapter="/adapters/a1", quantize=False, num_threads=3, _env_file=None)
    assert isinstance(load_generator(settings), local.LocalGenerator)
    assert seen == {
        "model": settings.generator,
        "cache_dir": tmp_path / "models",
        "adapter": "/adapters/a1",
        "quantize": False,
        "num_threads": 3,
        "temperature": 0.0,
        "repetition_penalty": 1.2,
        "no_repeat_ngram": 0,
    }


def test_every_backend_the_settings_allow_is_registered() -> None:
    from typing import get_args

    assert set(get_args(Settings.model_fields["generator_backend"].annotation)) == set(BACKENDS)
