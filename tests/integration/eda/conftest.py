"""The Azure fixtures (the fake ARM in-process, modules and playbooks run against it) for the Event Grid tests."""

from integration.azure.conftest import Azure, _arm_server, azure, fake_arm  # noqa: F401

__all__ = ["Azure"]
