"""The language server (``nyeshc lsp``): :mod:`.analysis` has the features, :mod:`.server` the protocol."""
