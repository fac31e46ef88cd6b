"""Telegram: a python-telegram-bot Application (long polling in development, webhook in
production) in front of Rasa."""
