import os

from hypothesis import HealthCheck, settings

# Nothing in the tests may reach a model hub; code that would download fails fast instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("default")
