"""Our offline text–image guidance: frozen MiniLM sentence encoder + an image tower trained on our renders."""
