"""Channels: the web widget, the H5 chat page and other inbound paths into conversations."""
