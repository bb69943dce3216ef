"""Converters that turn benchmark corpora into files the ingestion pipeline reads."""
