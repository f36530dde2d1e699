"""Outbound webhooks: Standard Webhooks signatures and an SSRF-safe delivery client."""
