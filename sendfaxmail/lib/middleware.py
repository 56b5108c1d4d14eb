"""Middleware that knows no app."""

from __future__ import annotations
