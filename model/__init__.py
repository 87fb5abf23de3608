"""The AI investment race model."""

# Bumped whenever the dynamics change in a way that makes a calibration fitted to the older model
# meaningless; `calibration.store` refuses a posterior fitted with another version.
MODEL_VERSION = "2026.12.3"
