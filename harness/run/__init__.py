"""A run: the engine that sequences a cell's stages, sessions, inputs, search, known failures."""
