"""One module per subcommand (see ``nyeshc.cli``)."""
