"""The verified balance look-up (what people type is read by bot/nlu/userdata.py): a Rasa form (number, birth date, one-time code) whose
validation calls the fund's affiliate API over HTTP, then the balance reply.

    client.py    the affiliate API client (timeouts, service credential, typed outcomes)
    vault.py     short-lived server-side storage of secrets; slots hold opaque references only
    replies.py   the balance in the citizen's language: amounts and dates (Babel); the form's
                 sentences are in actions/messages.py
    form.py      the Rasa actions: ask, validate, show, cancel
"""
