"""Sanad's channels gateway: the web chat widget and Telegram, in front of Rasa's REST channel.

    python -m gateway                  (or: uvicorn gateway.app.main:app)

See gateway/README.md for the settings (prefix SANAD_GATEWAY_)."""
