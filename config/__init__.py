"""Configuration: the only package that reads the environment."""

from config.settings import Settings, SettingsError, get_settings

__all__ = ["Settings", "SettingsError", "get_settings"]
