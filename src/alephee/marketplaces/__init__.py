"""Marketplace channels: the catalogue of channels, the channel interface and the sandbox marketplace."""
