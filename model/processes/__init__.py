"""The processes of a simulated year, one module each, in the order `AIRaceModel.step` runs them
(MODEL_SPEC "Process overview and scheduling"): demand, entry, strategy, inputs, investment,
partnerships, shares, money, acquisitions, recording.

Each is a function of the ledger, the parameters and (where it draws) its random stream: it writes
the ledger's columns and returns what the year's records need (market-level values, events).
"""
