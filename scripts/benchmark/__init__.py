"""`make bench`: the engine, the whole pipeline, the API and memory, measured side by side."""
