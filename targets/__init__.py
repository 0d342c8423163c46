"""Deployment targets, each registered by name; see targets.base."""
