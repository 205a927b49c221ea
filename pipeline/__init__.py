"""budgetdoc inference pipeline: extract -> classify -> fields -> assemble -> checks."""
__version__ = "0.1.0"
