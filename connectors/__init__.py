"""Channel connectors: ``connectors.slack`` (a slack-bolt app); each calls the answering pipeline."""
