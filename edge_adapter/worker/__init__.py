"""The queue worker (`python -m edge_adapter.worker`)."""
