"""Chinese text processing shared by the bot, QA and reviews.

Normalisation, segmentation and sentiment.
"""
