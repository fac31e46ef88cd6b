"""The web chat: session tokens, the WebSocket route, the widget's assets and the demo page."""
