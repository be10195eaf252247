"""Sample sources behind one async interface: BLE (real and virtual), simulated, file replay."""
