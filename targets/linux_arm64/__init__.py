"""Raspberry Pi and other 64-bit Arm Linux boards: over SSH, or emulated here (qemu-user, arm64 Debian)."""
