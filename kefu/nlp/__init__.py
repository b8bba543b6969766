"""Chinese text processing shared by the bot, QA and reviews: normalisation, segmentation, sentiment."""
