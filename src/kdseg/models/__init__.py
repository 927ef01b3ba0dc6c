"""A network as trained and applied: losses, sliding-window inference, the model file."""
