"""Data model: the Trial object, per-table schemas, loading and validation."""
from trialkit.data.trial import OPTIONAL_TABLES, REQUIRED_TABLES, TABLES, Trial

__all__ = ["Trial", "TABLES", "REQUIRED_TABLES", "OPTIONAL_TABLES"]
