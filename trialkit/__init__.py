"""trialkit: reproducible analysis kit for the UC-MSC +/- plasma exchange trial in HBV-ACLF."""
from trialkit.data.trial import Trial
from trialkit.study import Study, load_study

__version__ = "0.1.0"
__all__ = ["Trial", "Study", "load_study", "__version__"]
