"""CVs: read into claims with stable IDs, stored beside the postings, and matched to a posting's items."""

from prepbot.cv.models import CV, Claim, CVSummary, Evidence, FitItem, FitMap
from prepbot.cv.parse import parse_cv
from prepbot.cv.read import read_cv

__all__ = ["CV", "CVSummary", "Claim", "Evidence", "FitItem", "FitMap", "parse_cv", "read_cv"]
