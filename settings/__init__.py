"""Settings modules, one per environment; pick one with SETTINGS_MODULE or --settings."""
