"""Bluetooth LE sources: our protocol's decoder, vendor decoders, the reader, the virtual radio."""
