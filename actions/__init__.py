"""Sanad's custom actions (rasa-sdk 3.6), split by concern:

    faq.py           answer from the knowledge base, clarify with buttons, decline
    conversation.py  small talk, human handoff, the one reply to what the dialogue does not expect
    balance/         the verified balance look-up: the form, the affiliate API client, the vault
    messages.py      every sentence the actions say, per language (the action server's one catalogue)
    reply.py         what replies share: the `custom.sanad` block, the official-channels sentence
    context.py       what an action needs to know about the turn (fund, language, decision)
    server.py        the entry point: rasa-sdk's server, closed to everyone but Rasa
"""
