"""Live human handoff (issue 17): the desk the relay asks about each turn (desk.py), the handoffs
in the console's database (store.py), the funds' opening hours (hours.py) and the pub/sub that
carries updates to the consoles and events to the citizens' channels (bus.py)."""
