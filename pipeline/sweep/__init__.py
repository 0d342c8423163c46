"""`mnd sweep`: the width multiplier x resolution trade-off measured on a target."""
