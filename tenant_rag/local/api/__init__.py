"""API layers (REST, gRPC) over the engine; thin translations only."""
