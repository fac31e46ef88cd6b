"""Sanad's custom actions (rasa-sdk 3.6), split by concern:

    faq.py           answer from the knowledge base, clarify with buttons, decline
    conversation.py  small talk, human handoff, account balance entry point
    messages.py      every sentence the actions say, per language
    context.py       what an action needs to know about the turn (fund, language, decision)
"""
