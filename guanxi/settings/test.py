"""Test settings: the same as production but fast hashing and tasks run at once."""

from guanxi.settings.base import *  # noqa: F403  -- test settings extend the base module wholesale

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
