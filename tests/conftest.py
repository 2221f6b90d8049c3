import os

import pytest
from hypothesis import HealthCheck, settings

# Nothing in the tests may reach a model hub; code that would download fails fast instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("default")


@pytest.fixture
def no_model_loads(monkeypatch):
    """For tests of what is refused before loading: loading a model fails the test."""
    import rft.models
    import rft.training.run

    def refuse(*args, **kwargs):
        pytest.fail("a model was loaded")

    monkeypatch.setattr(rft.training.run, "load_policy", refuse)
    monkeypatch.setattr(rft.models, "load_base", refuse)
